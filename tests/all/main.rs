//! The end-to-end tests of the host with the real components and the
//! sandbox, as one test binary (one link of wasmtime, as wasmtime's own
//! `tests/all/` does): a module per area. What they share is the
//! `provisioning-test-support` crate.
//!
//! Apart, in binaries of their own because they take something
//! process-wide: `tests/logs/` (the global log subscriber),
//! `tests/rate_limit.rs` (the global metrics recorder) and
//! `tests/call_instructions.rs` (runs itself under callgrind).

mod blesta;
mod call_settings;
mod examples;
mod fault_matrix;
mod guest_isolation;
mod host_runtime;
mod hostmenow_errors;
mod hostmenow_lifecycle;
mod hot_swap;
mod instance_reuse;
mod journal;
mod list_accounts;
mod logicboxes;
mod oci_registry;
mod polyglot_concurrency;
mod polyglot_parity;
mod reconcile;
mod reload;
mod usage_sync;
mod webline_errors;
mod webline_lifecycle;
