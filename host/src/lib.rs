//! The provisioning host: runs billing-platform provisioning modules
//! (WebAssembly components implementing `wit/provisioning.wit`) so that each
//! can reach only the HTTP origins its operator granted, within a memory cap
//! and a deadline, and nothing else: no files, no environment, no sockets
//! (the filesystem and sockets interfaces that JavaScript's and Python's
//! runtimes import are linked with nothing granted, [`import_grant`]).
//!
//! - [`Host`] loads modules and runs calls; [`ModuleLoadError`] tells why a
//!   module of a manifest did not load. [`Host::from_manifest`] makes a
//!   host with a manifest's journal, and [`Host::apply_manifest`] keeps it
//!   in step with the manifest as it changes ([`ReloadReport`]).
//! - [`Manifest`] is the operator's TOML description of the modules.
//! - [`Request`] / [`Response`] / [`CallError`] are one call's input, answer
//!   and failure; [`types`] holds the contract's records, and [`wire`] their
//!   one JSON form (the contract's own words) with its OpenAPI schemas.
//! - [`sync_usage`] reads usage for many services at once; every call, its
//!   and any other, is paced under its provider's [`RequestRate`].
//!
//! - [`BuildInfo`] says what this build is (version, commit, wasmtime,
//!   contract).
//! - [`telemetry`] names what the host counts and times (through the
//!   `metrics` facade) for whoever installs a recorder.
//!
//! The host knows no provider: everything provider-specific lives in the
//! components.

#![deny(missing_docs)]
// One exception, with its invariant: `compile_cache::map`.
#![deny(unsafe_code)]

mod bindings;
mod build_info;
mod call_runner;
mod capture;
mod compile_cache;
mod engine;
mod error;
mod grant;
mod guest_threads;
mod hex;
mod host;
mod http_client;
pub mod journal;
mod limits;
mod load_error;
pub mod logging;
mod manifest;
mod module;
pub mod oci;
mod outbound;
mod policy;
mod rate;
pub mod reconcile;
mod redact;
mod reload;
mod request;
mod reuse;
mod store;
pub mod telemetry;
mod usage_sync;
pub mod wire;

pub use bindings::types;
pub use build_info::BuildInfo;
pub use engine::{HostOptions, KEEP_RESIDENT_BYTES};
pub use error::{CallError, ErrorReport, error_kind, error_message};
pub use grant::{ImportGrant, import_grant};
pub use host::{Answer, CallOptions, Host};
pub use journal::{Journal, JournalLocation, PendingCall};
pub use limits::{Limits, RequestRate};
pub use load_error::{LoadErrorKind, ModuleLoadError};
pub use manifest::{
    JournalConfig, JournalSection, Manifest, ModuleEntry, RequestRateEntry, SettingSource,
    SignatureEntry,
};
pub use module::{Inspection, LoadedModule, ModuleConfig, SettingValue, file_sha256};
pub use policy::{Origin, OutboundPolicy};
pub use redact::{MASK, Redactor};
pub use reload::{Refused, ReloadReport, Removed, Swapped};
pub use request::{
    Effect, FUNCTIONS, Request, Response, function_effect, function_name, service_state_name,
    setting_kind_name, setting_scope_name,
};
pub use reuse::ReusePolicy;
pub use usage_sync::{
    DEFAULT_CLAIM_BATCH, DEFAULT_CLAIM_LEASE, SharedRun, SharedSyncSummary, SyncOptions,
    SyncSummary, UsageJob, UsageReport, UsageResult, live_services, sync_usage, sync_usage_shared,
};
