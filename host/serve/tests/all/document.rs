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

/// The document describes a call's request in prose until the contract's
/// records carry schemas, so it is held against the contract's one table
/// of functions here rather than listed twice.
#[test]
fn the_document_names_every_function_and_answer_kind() {
    let document = document();
    let request =
        document["components"]["schemas"]["CallRequest"]["properties"]["request"]["description"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
    for (_, name, _) in FUNCTIONS {
        assert!(
            request.contains(&format!(" {name},"))
                || request.contains(&format!(" {name} ("))
                || request.contains(&format!(" {name}.")),
            "CallRequest does not name {name}: {request}"
        );
    }
    let answer: &Value = &document["components"]["schemas"]["Response"];
    let described = answer.to_string();
    let kind = serde_json::to_value(Response::Accounts(Vec::new())).unwrap()["kind"].clone();
    assert!(
        described.contains(kind.as_str().unwrap()),
        "{kind} is not in {described}"
    );
}
