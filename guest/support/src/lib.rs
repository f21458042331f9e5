//! Everything provider modules share, written once.
//!
//! A provider module is a WebAssembly component implementing world
//! `provider` of `billing:provisioning`. This crate gives it:
//!
//! - the bindings: [`Guest`], the WIT records under [`types`], and
//!   [`export!`];
//! - [`settings`]: the call's settings checked against the module's
//!   declared [`spec`]s, with defaults applied;
//! - [`http`]: outgoing requests over `wasi:http` with a bounded body read
//!   and transport failures mapped to the WIT [`Error`];
//! - [`response`]: HTTP status and body shape mapped to the WIT [`Error`],
//!   with a hook through which the provider says what a decoded body means;
//! - small helpers for JSON values ([`json`]), the service record
//!   ([`input`]), URLs ([`url`]) and provider text ([`text`]).
//!
//! A provider crate then only maps its API. One function of a module, as
//! the example module maps it:
//!
//! ```no_run
//! use provisioning_guest::http::Request;
//! use provisioning_guest::settings::Settings;
//! use provisioning_guest::types::{ConnectionStatus, Error, Setting, SettingSpec};
//!
//! /// The settings the module declares in its `info`.
//! fn specs() -> Vec<SettingSpec> {
//!     vec![
//!         SettingSpec::text("endpoint", "API endpoint").required(),
//!         SettingSpec::secret("api-key", "API key").required(),
//!     ]
//! }
//!
//! /// `test-connection`: whether the endpoint accepts the key.
//! fn test_connection(settings: Vec<Setting>) -> Result<ConnectionStatus, Error> {
//!     let settings = Settings::parse(&settings, &specs())?;
//!     let endpoint = settings.endpoint("endpoint")?;
//!     let key = settings.require("api-key")?;
//!     let reply = Request::post(&endpoint.join("check"))
//!         .json(&serde_json::json!({ "key": key }))
//!         .send()?
//!         .into_json()?;
//!     // Success is the provider's to recognise; any other answer fails by
//!     // its HTTP status.
//!     reply.interpret(|reply| {
//!         reply.is_success().then(|| {
//!             Ok(ConnectionStatus {
//!                 message: reply.message().unwrap_or_else(|| "connected".to_owned()),
//!                 details: Vec::new(),
//!             })
//!         })
//!     })
//! }
//! # fn main() {}
//! ```
//!
//! A whole module (its `info`, that function, every other function
//! answering `unsupported`, and [`export!`]) is this crate's example,
//! `examples/module.rs`: the starting point `provisioning new-module NAME
//! --lang rust` writes, with this crate beside it. A module is built with
//! `cargo build --release --target wasm32-wasip2`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod bindings;
pub mod http;
pub mod input;
pub mod json;
pub mod response;
pub mod settings;
pub mod spec;
pub mod text;
pub mod url;

/// The WIT records, enums and variants of interface `types`.
pub mod types {
    pub use crate::bindings::billing::provisioning::types::*;
}

/// Exports a type implementing [`Guest`] as the component's `module`:
/// `provisioning_guest::export!(MyProvider);` once, at the crate root.
pub use crate::bindings::export;
/// The trait a provider module implements: one method per function of
/// interface `module`.
pub use crate::bindings::exports::billing::provisioning::module::Guest;
pub use crate::types::Error;
