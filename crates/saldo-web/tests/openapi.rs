//! The committed OpenAPI document (docs/openapi.json) is what the code generates: a change to the
//! API shows in review as a change to the document. `SALDO_WRITE_OPENAPI=1 cargo test -p
//! saldo-web --test openapi` rewrites it.

#![allow(clippy::unwrap_used)]

#[test]
fn the_committed_document_is_what_the_code_generates() {
    let generated = saldo_web::openapi_document().to_pretty_json().unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    #[allow(clippy::disallowed_methods)] // A test switch, not configuration.
    let rewrite = std::env::var_os("SALDO_WRITE_OPENAPI").is_some();
    if rewrite {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from what the code generates: run SALDO_WRITE_OPENAPI=1 cargo test -p saldo-web --test openapi and review the change"
    );
    let document: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"), "OpenAPI 3.1");
    // Every operation has the error answer and says how it is authenticated.
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(operation["responses"]["default"].is_object(), "{method} {path} lacks the error answer");
            assert!(operation["security"].is_array(), "{method} {path} says nothing of credentials");
        }
    }
}
