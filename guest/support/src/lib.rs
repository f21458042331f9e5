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
//! A provider crate then only maps its API:
//!
//! ```ignore
//! use provisioning_guest::types::{ConnectionStatus, Error, Setting};
//! use provisioning_guest::{Guest, http::Request, settings::Settings};
//!
//! struct MyProvider;
//!
//! impl Guest for MyProvider {
//!     fn test_connection(settings: Vec<Setting>) -> Result<ConnectionStatus, Error> {
//!         let settings = Settings::parse(&settings, &specs())?;
//!         let endpoint = settings.endpoint("endpoint")?;
//!         let reply = Request::post(endpoint.as_str())
//!             .json(&serde_json::json!({"key": settings.require("api-key")?}))
//!             .send()?
//!             .into_json()?;
//!         reply.interpret(|reply| my_mapping(reply))
//!     }
//!     // ...every other function of the world...
//! }
//!
//! provisioning_guest::export!(MyProvider);
//! ```

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
