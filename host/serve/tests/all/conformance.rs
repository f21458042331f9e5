//! Checks an answer against the document: the schema the document gives
//! its route and status, validated as JSON Schema 2020-12 (the dialect of
//! OpenAPI 3.1's schemas) by the `jsonschema` crate, references resolved
//! within the whole document.

use serde_json::{Value, json};

/// The document the library generates, as JSON.
pub fn document() -> Value {
    serde_json::to_value(provisioning_serve::openapi()).expect("the document is JSON")
}

/// JSON Pointer escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Where the body schema of `method path`'s answer `status` is in the
/// document (its response's `$ref` followed), or why there is none.
pub fn schema_pointer(
    document: &Value,
    method: &str,
    path: &str,
    status: u16,
    content_type: &str,
) -> Result<String, String> {
    let mut pointer = format!("/paths/{}/{method}/responses/{status}", escape(path));
    let mut response = document
        .pointer(&pointer)
        .ok_or_else(|| format!("{method} {path} does not document {status}"))?;
    if let Some(reference) = response["$ref"].as_str() {
        pointer = reference.trim_start_matches('#').to_string();
        response = document.pointer(&pointer).unwrap();
    }
    if response["content"][content_type].is_null() {
        return Err(format!(
            "{method} {path} {status} documents no {content_type} body: {response}"
        ));
    }
    Ok(format!("{pointer}/content/{}/schema", escape(content_type)))
}

/// Whether `body`, answered by `method path` with `status`, is what the
/// document says that answer is.
pub fn conforms(
    document: &Value,
    method: &str,
    path: &str,
    status: u16,
    body: &Value,
) -> Result<(), String> {
    let pointer = schema_pointer(document, method, path, status, "application/json")?;
    // The whole document as the root, so that its `#/components/...`
    // references resolve; the root's `$ref` picks the answer's schema.
    let mut root = document.clone();
    // (A URI fragment: the path's braces percent-encoded.)
    let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
    root["$ref"] = json!(format!("#{fragment}"));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .map_err(|error| format!("the document's schema at {pointer}: {error}"))?;
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{method} {path} {status}: {}\n{body:#}",
            errors.join("; ")
        ))
    }
}
