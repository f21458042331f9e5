//! The workspace's top-level package: it holds no code of its own.
//!
//! Its `tests/` run the whole system end to end (real components in real
//! wasmtime, real HTTP over loopback to the sandbox's simulators), its
//! `examples/` show how a billing platform embeds the host, and its
//! `benches/` measure it. The crates themselves live in `host/`, `sandbox/`
//! and `guest/`; the contract in `wit/`.
