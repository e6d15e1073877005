//! Layering rules, checked by a machine: the domain core and the parsers stay free of I/O crates,
//! and the paths ARCHITECTURE.md names exist.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every package `package` depends on, directly or not, according to Cargo.lock (which merges normal,
/// dev and build dependencies, so this is stricter than `cargo tree`).
fn dependency_closure(package: &str) -> BTreeSet<String> {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock")).unwrap();
    let lock: toml::Value = toml::from_str(&lock).unwrap();
    let mut graph: HashMap<String, Vec<String>> = HashMap::new();
    for entry in lock["package"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap().to_string();
        let deps = entry
            .get("dependencies")
            .and_then(|d| d.as_array())
            .map(|deps| {
                // An entry is "name" or "name version" when several versions are locked.
                deps.iter().map(|d| d.as_str().unwrap().split(' ').next().unwrap().to_string()).collect()
            })
            .unwrap_or_default();
        graph.entry(name).or_default().extend::<Vec<String>>(deps);
    }
    let mut seen = BTreeSet::new();
    let mut stack = vec![package.to_string()];
    while let Some(next) = stack.pop() {
        for dep in graph.get(&next).cloned().unwrap_or_default() {
            if seen.insert(dep.clone()) {
                stack.push(dep);
            }
        }
    }
    seen
}

#[test]
fn core_and_import_do_no_io() {
    for package in ["saldo-core", "saldo-import"] {
        let deps = dependency_closure(package);
        assert!(deps.contains("rust_decimal"), "the lockfile walk found {package}'s dependencies");
        for banned in ["tokio", "sqlx", "reqwest", "hyper", "axum", "mio", "saldo-store"] {
            assert!(!deps.contains(banned), "{package} must not depend on {banned}");
        }
    }
}

#[test]
fn connectors_never_touch_the_database() {
    let deps = dependency_closure("saldo-connectors");
    assert!(deps.contains("saldo-core"));
    for banned in ["sqlx", "saldo-store", "libsqlite3-sys"] {
        assert!(!deps.contains(banned), "saldo-connectors must not depend on {banned}");
    }
}

#[test]
fn architecture_md_names_only_paths_that_exist() {
    let text = std::fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).unwrap();
    let mut checked = 0;
    for word in text.split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ')' || c == ',') {
        let word = word.trim_end_matches(['.', ':', ';']);
        if word.starts_with("crates/") {
            assert!(workspace_root().join(word).exists(), "ARCHITECTURE.md names {word}, which does not exist");
            checked += 1;
        }
    }
    assert!(checked >= 5, "ARCHITECTURE.md should name the crates' paths");
}

#[test]
fn readme_documents_every_setting() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let config = ["config.rs", "connector_config.rs"]
        .map(|file| std::fs::read_to_string(workspace_root().join("crates/saldo/src").join(file)).unwrap())
        .join("\n");
    let mut variables: Vec<&str> = config
        .split('"')
        .filter(|piece| piece.starts_with("SALDO_") && piece.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    variables.sort();
    variables.dedup();
    assert!(variables.len() >= 7, "found {variables:?}");
    for variable in variables {
        assert!(readme.contains(&format!("`{variable}`")), "README.md does not document {variable}");
    }
    for flag in ["--config", "--db", "--data-dir", "--listen", "--log-format", "--log-level"] {
        assert!(readme.contains(flag), "README.md does not document {flag}");
    }
}
