//! The serve library's tests, one binary: the generated OpenAPI document
//! (kept file, contract coverage) and the router called in process with a
//! real host, the real components and the provider simulators.

mod conformance;
mod document;
mod router;
