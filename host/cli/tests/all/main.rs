//! The CLI's tests, as one test binary (one link, as wasmtime's
//! `tests/all/` and ripgrep's `tests/` do): each module drives the real
//! `provisioning` binary, or a real serve with real php for the platform
//! adapters, in one area. What they share is `common`.

mod common;

mod chaos;
mod cli;
mod conformance;
mod contract_package;
mod contract_words;
mod features;
mod journal;
mod journal_serve;
mod module_registry;
mod module_signature;
mod new_module;
mod package;
mod php_blesta;
mod php_fossbilling;
mod php_platforms;
mod php_whmcs;
mod pipes;
mod serve;
mod serve_journal_locked;
mod serve_looping_guests;
mod serve_observe;
mod serve_rate;
mod serve_slow_clients;
mod serve_systemd;
mod serve_tls;
mod serve_usage;
mod several_hosts;
mod stalled_host;
mod usage;
mod usage_several_hosts;
