//! The document the answers are held to: the one the library generates
//! (the kept file is checked equal to it in `document.rs`), checked with
//! the tests' shared OpenAPI conformance (`provisioning_test_support::openapi`).

use serde_json::Value;

pub use provisioning_test_support::openapi::conforms;

/// The document the library generates, as JSON.
pub fn document() -> Value {
    serde_json::to_value(provisioning_serve::openapi()).expect("the document is JSON")
}
