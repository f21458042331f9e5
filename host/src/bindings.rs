//! Rust types and call glue generated from `wit/provisioning.wit`.
//!
//! The WIT file is the contract; everything here is derived from it. These
//! types have no serde form of their own: their JSON is [`crate::wire`]'s,
//! every case in the contract's word, and what the journal stores is its
//! own frozen format (`journal::format`). A derived one would say Rust's
//! names (`Active`) and change silently with a renamed WIT field.

#![allow(missing_docs)] // generated; the WIT's own comments become the docs

wasmtime::component::bindgen!({
    path: "../wit",
    world: "provider",
    exports: { default: async },
    additional_derives: [PartialEq],
});

/// The contract's records and the module error, as Rust types.
pub mod types {
    pub use super::billing::provisioning::types::*;
}
