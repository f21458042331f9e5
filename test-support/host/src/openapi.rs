//! Holds an answer of serve to its OpenAPI document: the schema the
//! document gives the answer's route and status, validated as JSON Schema
//! 2020-12 (the dialect of OpenAPI 3.1's schemas) by the `jsonschema`
//! crate, the document's `$ref`s resolved within it.

use serde_json::{Value, json};

/// JSON Pointer escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Where the `content_type` body schema of `method path`'s answer
/// `status` is in the document (a JSON Pointer, the response's `$ref`
/// followed), or why there is none.
pub fn answer_schema(
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
        response = document
            .pointer(&pointer)
            .ok_or_else(|| format!("{reference} is not in the document"))?;
    }
    if response["content"][content_type].is_null() {
        return Err(format!(
            "{method} {path} {status} documents no {content_type} body: {response}"
        ));
    }
    Ok(format!("{pointer}/content/{}/schema", escape(content_type)))
}

/// Whether `value` is what the document's schema at `pointer` (a JSON
/// Pointer into it, e.g. `/components/schemas/ErrorBody`) describes.
pub fn fits(document: &Value, pointer: &str, value: &Value) -> Result<(), String> {
    // The whole document as the root, so that its `#/components/...`
    // references resolve; the root's `$ref` (a URI fragment: braces
    // percent-encoded) picks the schema.
    let mut root = document.clone();
    let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
    root["$ref"] = json!(format!("#{fragment}"));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .map_err(|error| format!("the document's schema at {pointer}: {error}"))?;
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{pointer}: {}\n{value:#}", errors.join("; ")))
    }
}

/// Whether `body`, answered by `method path` (the document's path, with
/// its `{parameters}`) with `status`, is what the document says that
/// answer is.
pub fn conforms(
    document: &Value,
    method: &str,
    path: &str,
    status: u16,
    body: &Value,
) -> Result<(), String> {
    let pointer = answer_schema(document, method, path, status, "application/json")?;
    fits(document, &pointer, body).map_err(|error| format!("{method} {path} {status}: {error}"))
}
