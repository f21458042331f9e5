//! What one call's store holds: a WASI context that grants nothing (its
//! filesystem and sockets are linked for the runtimes that import them, but
//! have no directory and refuse every address), the HTTP context with the
//! module's allow-list, and the memory limiter.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::capture::CapturedOutput;
use crate::http_client::ProviderClient;
use crate::limits::Limits;
use crate::outbound::OutboundHooks;
use crate::policy::OutboundPolicy;

/// How often the engine's epoch advances: a guest yields its thread to
/// other calls at each tick, and a runaway guest is stopped within one
/// tick of its deadline.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The data of one call's [`wasmtime::Store`].
pub(crate) struct CallState {
    /// When the guest is stopped (checked at each epoch tick).
    deadline: Instant,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundHooks,
    table: ResourceTable,
    pub(crate) memory: MemoryLimiter,
    pub(crate) stdout: CapturedOutput,
    pub(crate) stderr: CapturedOutput,
}

impl CallState {
    /// A fresh state: no files (no preopened directory), no environment,
    /// no arguments, no sockets (TCP, UDP and name lookups off, and every
    /// address refused besides), no inherited stdio; output is captured
    /// (bounded) for the host's log.
    pub(crate) fn new(
        module: Arc<str>,
        policy: Arc<OutboundPolicy>,
        limits: &Limits,
        deadline: Instant,
        client: Option<ProviderClient>,
    ) -> CallState {
        let stdout = CapturedOutput::new(limits.output_bytes);
        let stderr = CapturedOutput::new(limits.output_bytes);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            // wasmtime's default check refuses too; said here so that the
            // refusal does not rest on a default.
            .socket_addr_check(|_, _| Box::pin(std::future::ready(false)))
            .build();
        CallState {
            deadline,
            wasi,
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks::new(module, policy, deadline, limits.response_bytes, client),
            table: ResourceTable::new(),
            memory: MemoryLimiter::new(limits.memory_bytes),
            stdout,
            stderr,
        }
    }

    /// Whether the guest filled its stdout or stderr to the cap (its next
    /// write then fails, which Rust's `print!` turns into a panic).
    pub(crate) fn output_exhausted(&self) -> bool {
        self.stdout.is_full() || self.stderr.is_full()
    }

    /// Whether the guest asked for an origin it was not granted.
    pub(crate) fn denied_requests(&self) -> bool {
        self.hooks.denied()
    }
}

/// Readies a store that has served a call for the next one of a reused
/// instance ([`crate::reuse`]): the next call's own deadline (for the
/// guest and its HTTP requests) and output emptied, so that it logs only
/// its own lines and gets the whole cap. The instance's memory stays as it
/// is: that is the point of reuse, and why only calls with the same
/// settings share an instance.
pub(crate) fn begin_next_call(store: &mut Store<CallState>, deadline: Instant) {
    let state = store.data_mut();
    state.deadline = deadline;
    state.hooks.set_deadline(deadline);
    state.stdout.clear();
    state.stderr.clear();
}

/// A store for one call (or one `info` read): `state`, its memory limiter,
/// and epoch interruption: at every tick the guest yields its thread to the
/// runtime's other work (a guest that computes without end must not hold a
/// thread another call or the accept loop needs), and once the state's
/// deadline has passed it traps ([`wasmtime::Trap::Interrupt`]).
pub(crate) fn call_store(engine: &Engine, state: CallState) -> Store<CallState> {
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.memory);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|store| {
        if Instant::now() >= store.data().deadline {
            return Ok(UpdateDeadline::Interrupt);
        }
        // tokio's yield_now puts the task behind every other task ready on
        // the thread and lets the thread poll for I/O first, which a plain
        // wake-up would not.
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(tokio::task::yield_now()),
        ))
    });
    store
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Caps linear memory and remembers whether the cap was hit, so that the
/// host can tell "ran out of memory" from any other trap.
pub(crate) struct MemoryLimiter {
    cap_bytes: usize,
    exhausted: bool,
    peak_bytes: usize,
}

impl MemoryLimiter {
    fn new(cap_bytes: usize) -> MemoryLimiter {
        MemoryLimiter {
            cap_bytes,
            exhausted: false,
            peak_bytes: 0,
        }
    }

    /// Whether the guest tried to grow past the cap.
    pub(crate) fn memory_exhausted(&self) -> bool {
        self.exhausted
    }

    /// The largest linear memory the guest was granted, in bytes.
    pub(crate) fn peak_bytes(&self) -> usize {
        self.peak_bytes
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap_bytes {
            self.exhausted = true;
            // An error traps the guest at once, rather than letting a
            // failed grow send it into its own out-of-memory handling.
            wasmtime::bail!("memory cap of {} bytes reached", self.cap_bytes);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a provider module needs few.
        Ok(desired <= 100_000)
    }
}
