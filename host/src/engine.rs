//! The wasmtime engine and linker every module shares.
//!
//! Built once per host. The linker grants the only imports a provider module
//! may have: `wasi:http` (checked per request against the module's
//! allow-list) and the few WASI interfaces the Rust standard library needs
//! (io, clocks, random, cli streams and environment), each backed by a
//! context that grants nothing.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::Context;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::p2::bindings::{cli, random};
use wasmtime_wasi::random::WasiRandom;

use crate::store::CallState;

/// How often the epoch advances; a runaway guest is stopped within one tick
/// of its deadline.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine, the linker and the epoch ticker.
pub(crate) struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<CallState>,
}

impl Runtime {
    /// Builds the engine and the linker and starts the epoch ticker thread,
    /// which ends by itself once the engine is dropped.
    pub(crate) fn new() -> anyhow::Result<Arc<Runtime>> {
        let mut config = Config::new();
        // Deadlines: a guest spinning in pure computation never yields to
        // the async runtime, so time is checked by epoch interruption.
        config.epoch_interruption(true);
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("creating the wasmtime engine")?;

        let mut linker = Linker::new(&engine);
        link_granted_interfaces(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking the interfaces a module may import")?;
        spawn_epoch_ticker(&engine);
        Ok(Arc::new(Runtime { engine, linker }))
    }
}

/// The contract's types-only interface: provider components import it to
/// share the record types; it has no functions.
const CONTRACT_TYPES: &str = "billing:provisioning/types@0.1.0";

/// Links exactly what a module may import (see `module::ALLOWED_IMPORTS`):
/// no filesystem, no sockets. Each interface is backed by a context that
/// grants nothing (empty environment, captured stdio).
fn link_granted_interfaces(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    // io, clocks, random, stdin/stdout/stderr.
    wasmtime_wasi::p2::add_to_linker_proxy_interfaces_async(linker)?;
    let l = linker;
    // What the Rust standard library adds: it reads its (empty) environment
    // and arguments at start-up, may call exit, asks whether stdio is a
    // terminal, and seeds its hash maps.
    cli::environment::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::exit::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_input::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_output::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_stdin::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_stdout::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_stderr::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    random::insecure_seed::add_to_linker::<CallState, WasiRandom>(l, |state| {
        state.ctx().ctx.random()
    })?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(l)?;
    l.instance(CONTRACT_TYPES)?;
    Ok(())
}

fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    thread::Builder::new()
        .name("provisioning-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch ticker thread");
}
