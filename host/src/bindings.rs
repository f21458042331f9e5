//! Rust types and call glue generated from `wit/provisioning.wit`.
//!
//! The WIT file is the contract; everything here is derived from it. Their
//! JSON form is [`crate::wire`]'s, every case in the contract's word: the
//! serde derives kept here would say Rust's names (`Active`), and remain
//! only for the journal's sealed credentials (a `Credential` has no case,
//! so its JSON is the same either way) until it stores them through
//! `wire` too.

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
