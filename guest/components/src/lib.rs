//! Paths of the guest components, built for `wasm32-wasip2` by this crate's
//! build script whenever the workspace is built.
//!
//! The host itself never depends on this crate: it loads whatever component
//! file its manifest names. The CLI's demo, the tests, the examples and the
//! benchmarks use these paths so that a fresh checkout works with plain cargo
//! commands.

include!(concat!(env!("OUT_DIR"), "/components.rs"));
