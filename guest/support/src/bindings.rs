//! Rust bindings of world `provider`, generated from the contract.
//!
//! Provider crates do not use this module directly: they use
//! [`crate::Guest`], [`crate::types`] and [`crate::export!`]. It is public
//! only because the exported `export!` macro expands to paths inside it.

// Generated code: its unsafe ABI glue and undocumented helpers are not ours
// to fix.
#![allow(unsafe_code, missing_docs, clippy::all)]

wit_bindgen::generate!({
    world: "provider",
    path: "../../wit",
    // Lets provider crates write `provisioning_guest::export!(MyProvider)`.
    pub_export_macro: true,
    default_bindings_module: "provisioning_guest::bindings",
    // Lets tests (ours and the providers') compare results directly.
    additional_derives: [PartialEq],
});
