//! Layering rules, checked by a machine: the domain core and the parsers stay free of I/O crates,
//! and the paths ARCHITECTURE.md names exist.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The dependencies each workspace crate has only for its own tests and benchmarks: Cargo.lock lists
/// them among its dependencies, but nothing that depends on the crate gets them.
fn dev_only_dependencies() -> HashMap<String, BTreeSet<String>> {
    let mut all = HashMap::new();
    for entry in std::fs::read_dir(workspace_root().join("crates")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let manifest: toml::Value = toml::from_str(&text).unwrap();
        let names = |table: &str| -> BTreeSet<String> {
            manifest.get(table).and_then(|t| t.as_table()).map(|t| t.keys().cloned().collect()).unwrap_or_default()
        };
        let normal = names("dependencies");
        let dev_only = names("dev-dependencies").difference(&normal).cloned().collect();
        all.insert(manifest["package"]["name"].as_str().unwrap().to_string(), dev_only);
    }
    all
}

/// Every package `package` depends on, directly or not, for its library: Cargo.lock's graph (normal
/// and build dependencies, and the dev-dependencies of workspace crates, which are left out).
fn dependency_closure(package: &str) -> BTreeSet<String> {
    let dev_only = dev_only_dependencies();
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
        let skipped = dev_only.get(&next).cloned().unwrap_or_default();
        for dep in graph.get(&next).cloned().unwrap_or_default() {
            if skipped.contains(&dep) {
                continue;
            }
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
fn the_application_layer_knows_no_front_end() {
    let deps = dependency_closure("saldo-app");
    assert!(deps.contains("saldo-store") && deps.contains("tokio"), "the lockfile walk found saldo-app's dependencies");
    for banned in ["axum", "clap", "indicatif", "askama", "tera", "minijinja", "tracing-subscriber"] {
        assert!(!deps.contains(banned), "saldo-app must not depend on {banned}");
    }
    // hyper, tower and tower-http are in the closure only as the connectors' HTTP client (reqwest)
    // uses them.
    let direct = direct_dependencies("saldo-app");
    assert!(direct.contains("saldo-connectors"));
    for banned in ["hyper", "tower", "tower-http", "axum"] {
        assert!(!direct.contains(banned), "saldo-app must not use {banned}");
    }
}

/// The packages `package` names in its own manifest, according to Cargo.lock.
fn direct_dependencies(package: &str) -> BTreeSet<String> {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock")).unwrap();
    let lock: toml::Value = toml::from_str(&lock).unwrap();
    let entry = lock["package"].as_array().unwrap().iter().find(|p| p["name"].as_str() == Some(package)).unwrap();
    entry["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().split(' ').next().unwrap().to_string())
        .collect()
}

#[test]
fn no_use_case_finds_the_current_user_by_itself() {
    // Every use case gets an Actor from its front end; only front ends ask for the local user.
    let mut folders = vec![workspace_root().join("crates/saldo-app/src")];
    let mut checked = 0;
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let calls = text.matches(".local_user()").count();
            assert_eq!(calls, 0, "{} asks for the local user; take an Actor instead", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 10, "the walk found saldo-app's sources");
}

#[test]
fn the_binary_holds_only_configuration_the_command_line_and_wiring() {
    // Use cases belong in saldo-app, HTTP in saldo-web: a new file here needs a reason.
    let mut files: Vec<String> = std::fs::read_dir(workspace_root().join("crates/saldo/src"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let expected = [
        "cli.rs",
        "cli_accounts.rs",
        "cli_import.rs",
        "cli_sync.rs",
        "cli_users.rs",
        "config.rs",
        "connector_config.rs",
        "lib.rs",
        "main.rs",
        "progress.rs",
        "wiring.rs",
    ];
    assert_eq!(files, expected);
    let manifest = std::fs::read_to_string(workspace_root().join("crates/saldo/Cargo.toml")).unwrap();
    assert!(!manifest.contains("axum"), "the binary serves HTTP through saldo-web only");
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
