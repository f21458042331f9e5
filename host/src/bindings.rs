//! Rust types and call glue generated from `wit/provisioning.wit`.
//!
//! The WIT file is the contract; everything here is derived from it. The
//! records also derive serde so the CLI and embedders can speak JSON.

#![allow(missing_docs)] // generated; the WIT's own comments become the docs

wasmtime::component::bindgen!({
    path: "../wit",
    world: "provider",
    exports: { default: async },
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
});

/// The contract's records and the module error, as Rust types.
pub mod types {
    pub use super::billing::provisioning::types::*;
}
