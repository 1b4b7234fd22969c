//! The embedded OpenAPI document matches the router.

use std::collections::BTreeSet;

use serde_json::Value;

use super::OPENAPI_JSON;
use crate::routes::ROUTES;

/// It parses, is OpenAPI 3.1, and lists exactly the router's paths and methods.
#[test]
fn document_lists_every_route() {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).expect("valid JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let Value::Object(paths) = &doc["paths"] else {
        panic!("paths must be an object");
    };
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            let Value::Object(ops) = item else {
                panic!("path item {path} must be an object");
            };
            ops.keys()
                .map(|method| (path.clone(), method.to_ascii_uppercase()))
                .collect::<Vec<_>>()
        })
        .collect();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|(path, methods)| {
            methods
                .iter()
                .map(|method| ((*path).to_owned(), (*method).to_owned()))
        })
        .collect();
    assert_eq!(documented, served);
    // Every operation documents at least one response, and every $ref resolves.
    let schemas = &doc["components"]["schemas"];
    let text = OPENAPI_JSON;
    for part in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = part.split('"').next().expect("quoted");
        assert!(schemas.get(name).is_some(), "unresolved schema {name}");
    }
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("object") {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} has no responses"
            );
        }
    }
}

/// The document declares the bearer tokens, optional at the top (protected mode serves
/// loopback without one) and absent on `/health`.
#[test]
fn document_declares_bearer_tokens() {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).expect("valid JSON");
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"]),
        (&"http".into(), &"bearer".into())
    );
    assert_eq!(doc["security"], serde_json::json!([{ "bearer": [] }, {}]));
    assert_eq!(
        doc["paths"]["/health"]["get"]["security"],
        serde_json::json!([])
    );
}
