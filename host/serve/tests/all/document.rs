//! The OpenAPI document: the kept file is the generated one, and it says
//! what the contract and the router have.

use provisioning_host::{FUNCTIONS, Response};
use serde_json::Value;

use crate::conformance::document;

#[test]
fn the_kept_openapi_json_is_the_generated_document() {
    let generated = provisioning_serve::openapi_json();
    let kept = std::fs::read_to_string(provisioning_serve::OPENAPI_PATH).unwrap_or_default();
    assert!(
        kept == generated,
        "{} is not the document the code generates: run `cargo run -p provisioning-serve --example openapi` and commit it",
        provisioning_serve::OPENAPI_PATH
    );
}

#[test]
fn the_document_is_openapi_3_1_with_every_route_and_the_bearer_scheme() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    let mut operations: Vec<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{method} {path}"))
        })
        .collect();
    operations.sort();
    assert_eq!(
        operations,
        [
            "get /metrics",
            "get /v1/health",
            "get /v1/health/live",
            "get /v1/health/ready",
            "get /v1/journal/pending",
            "get /v1/modules",
            "get /v1/modules/{module}",
            "get /v1/modules/{module}/services/{service}/pending",
            "get /v1/modules/{module}/services/{service}/remote-id",
            "post /v1/journal/reconcile",
            "post /v1/journal/{entry}/ack",
            "post /v1/modules/{module}/call",
            "post /v1/usage",
        ]
    );
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(document["security"], serde_json::json!([{ "bearer": [] }]));
}

/// Every function of the contract's one table is a request the document
/// describes, and every kind of answer an answer it describes.
#[test]
fn the_document_describes_every_function_and_answer_kind() {
    let document = document();
    let schemas = &document["components"]["schemas"];
    let cases = |schema: &Value, tag: &str| -> Vec<String> {
        schema["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|case| {
                case["properties"][tag]["enum"][0]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let requests = cases(&schemas["Request"], "function");
    for (_, name, _) in FUNCTIONS {
        assert!(
            requests.iter().any(|r| r == name),
            "{name} is not in {requests:?}"
        );
    }
    assert_eq!(requests.len(), FUNCTIONS.len(), "{requests:?}");
    assert_eq!(
        document["components"]["schemas"]["CallRequest"]["properties"]["request"]["$ref"],
        "#/components/schemas/Request"
    );
    let kinds = cases(&schemas["Response"], "kind");
    let kind = serde_json::to_value(Response::Accounts(Vec::new())).unwrap()["kind"].clone();
    assert!(
        kinds.iter().any(|k| *k == kind),
        "{kind} is not in {kinds:?}"
    );
}

/// Every `$ref` points at something the document has, as a client
/// generator needs: a schema a type names but no route brings into the
/// components would be a dangling reference.
#[test]
fn every_reference_in_the_document_resolves() {
    fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(object) => {
                if let Some(Value::String(reference)) = object.get("$ref") {
                    found.push(reference);
                }
                object.values().for_each(|v| references(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, found)),
            _ => {}
        }
    }
    let document = document();
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(found.len() > 50, "{} references", found.len());
    for reference in found {
        let pointer = reference.strip_prefix('#').unwrap_or(reference);
        assert!(
            document.pointer(pointer).is_some(),
            "{reference} does not resolve"
        );
    }
}
