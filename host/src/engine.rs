//! The wasmtime engine, the linker and the HTTP client every module shares.
//!
//! Built once per host. The linker grants what [`crate::grant`] says a
//! provider module may import, and nothing else.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use anyhow::Context;
use tokio::sync::Semaphore;
use wasmtime::component::Component;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::compile_cache::CompileCache;
use crate::guest_threads::GuestThreads;
use crate::http_client::ProviderClient;
use crate::store::{CallState, EPOCH_TICK};

/// The largest memory cap a module may be given (1 GiB): far beyond what a
/// provider module needs, and the most a pooled memory may hold.
pub(crate) const MAX_MODULE_MEMORY: usize = 1 << 30;

/// How a [`crate::Host`] runs its modules. The defaults suit production;
/// each switch exists so that its effect can be measured (`benches/`).
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// Instances come from wasmtime's pooling allocator: memory, tables and
    /// stacks reserved once and reused, so a call's fresh instance costs
    /// microseconds. Off, each instance maps its own memory.
    pub pooling_allocator: bool,
    /// Calls (instances) running at once; further calls wait for a slot
    /// within their deadline. With the pooling allocator this is the size
    /// of the pool.
    pub max_concurrent_calls: u32,
    /// A directory for compiled components, keyed by the component's
    /// contents, the compiler's settings and wasmtime's version: a module
    /// loads in milliseconds (its artifact mapped, not compiled again), and
    /// a new build or a new host version compiles afresh. Only the host's
    /// own user may write there (a compiled artifact is machine code the
    /// host runs): a directory another user owns or may write in is
    /// refused. Artifacts unused for 30 days are removed when a new one is
    /// written.
    pub compile_cache: Option<PathBuf>,
    /// A directory for components pulled from OCI registries
    /// (`oci://…@sha256:…` in a manifest), kept by digest: a component is
    /// pulled once, and later loads and restarts read it from here without
    /// the registry (both digests checked again at every load). `None`:
    /// such a component is refused.
    pub module_cache: Option<PathBuf>,
    /// Guests' requests go through one client with pooled keep-alive
    /// connections. Off, each request opens (and closes) its own
    /// connection.
    pub pooled_http: bool,
    /// With the pooling allocator: a pooled memory keeps its first
    /// [`KEEP_RESIDENT_BYTES`] resident between instances and is reset in
    /// place, only the pages the last call dirtied where Linux can tell
    /// (`PAGEMAP_SCAN`, kernel 6.7 and later), instead of being decommitted
    /// and faulted in again by the next call. Off, every call's memory
    /// starts decommitted (about 11 more page faults per call, part 7 of
    /// `cargo bench`). The price is resident memory: up to
    /// [`KEEP_RESIDENT_BYTES`] for each pool slot that has run a call, so
    /// at most that times the most calls that ran at once.
    pub keep_resident: bool,
    /// Threads that run guest code, apart from the caller's runtime (at
    /// least one): guests computing on all of them still leave the
    /// caller's threads free to accept connections, answer health checks
    /// and reach the journal, and each guest yields them at every epoch
    /// tick so that other calls go on beside it. Default: one per CPU.
    pub guest_threads: usize,
}

/// How much of a pooled memory stays resident between instances when
/// [`HostOptions::keep_resident`]: twice a usage-data call's measured peak
/// (1.1 MiB, BENCHMARKS.md), so that a call's whole working set stays.
pub const KEEP_RESIDENT_BYTES: usize = 2 << 20;

impl Default for HostOptions {
    fn default() -> HostOptions {
        HostOptions {
            pooling_allocator: true,
            max_concurrent_calls: 256,
            compile_cache: None,
            module_cache: None,
            pooled_http: true,
            keep_resident: true,
            guest_threads: thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// The engine, the linker, the shared HTTP client and the epoch ticker.
pub(crate) struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<CallState>,
    /// `None` when each request opens its own connection.
    pub(crate) client: Option<ProviderClient>,
    /// One permit per call running; see [`HostOptions::max_concurrent_calls`].
    pub(crate) call_slots: Arc<Semaphore>,
    /// The number of call slots.
    pub(crate) call_capacity: usize,
    /// Where compiled components are kept, if anywhere.
    compile_cache: Option<CompileCache>,
    /// Where components pulled from registries are kept, if anywhere.
    pub(crate) module_cache: Option<PathBuf>,
    /// Where every call's guest work runs.
    pub(crate) guests: GuestThreads,
}

impl Runtime {
    /// Builds the engine and the linker and starts the epoch ticker thread,
    /// which ends by itself once the engine is dropped.
    pub(crate) fn new(options: &HostOptions) -> anyhow::Result<Arc<Runtime>> {
        let slots = options.max_concurrent_calls.max(1);
        let mut config = Config::new();
        // Deadlines: a guest spinning in pure computation never yields to
        // the async runtime, so time is checked by epoch interruption
        // (cheaper than fuel: one load and compare per loop back-edge).
        config.epoch_interruption(true);
        if options.pooling_allocator {
            // Every pool slot reserves the whole 32-bit address space of a
            // memory (address space, not memory), so that compiled guest
            // code needs no bounds check on its loads and stores: an access
            // past the memory lands in the reservation and traps. That
            // cut a call's guest instructions by a third (BENCHMARKS.md,
            // "Levers"). The module's cap is the limiter's.
            config.memory_reservation(BOUNDS_CHECK_FREE_RESERVATION);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(
                slots,
                options.keep_resident,
            )));
        }
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("creating the wasmtime engine")?;
        let compile_cache = options
            .compile_cache
            .as_deref()
            .map(|directory| CompileCache::open(directory, &engine))
            .transpose()?;

        let mut linker = Linker::new(&engine);
        crate::grant::link(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking the interfaces a module may import")?;
        spawn_epoch_ticker(&engine);
        Ok(Arc::new(Runtime {
            engine,
            linker,
            client: options.pooled_http.then(ProviderClient::new),
            call_slots: Arc::new(Semaphore::new(slots as usize)),
            call_capacity: slots as usize,
            compile_cache,
            module_cache: options.module_cache.clone(),
            guests: GuestThreads::start(options.guest_threads)?,
        }))
    }

    /// The component whose file held `bytes` (with sha256 `digest`), from
    /// the compile cache when it has it, else compiled.
    pub(crate) fn component(&self, bytes: &[u8], digest: &str) -> anyhow::Result<Component> {
        match &self.compile_cache {
            Some(cache) => cache.component(&self.engine, bytes, digest),
            None => Component::new(&self.engine, bytes).map_err(anyhow::Error::from),
        }
    }
}

/// What one call's instance may take from the instance pool; the pool
/// holds this for every call slot and its headroom, and wasmtime refuses,
/// when it compiles or maps a component, one whose instance needs more
/// (`compiling …: The component transitively contains 70 core module
/// instances, which exceeds the configured maximum of 64`): its calls
/// would otherwise find the pool empty under load with call slots free.
/// A core instance costs the pool a count, nothing reserved, so its share
/// is generous (a Python component instantiates 17, a Rust one 3); each
/// memory and table reserves address space, so theirs are what
/// components need.
struct PoolShare {
    core_instances: u32,
    memories: u32,
    tables: u32,
}

/// One call's share of the pool.
const CALL_SHARE: PoolShare = PoolShare {
    core_instances: 64,
    memories: 2,
    tables: 8,
};

/// How much of a pooled table stays resident with
/// [`HostOptions::keep_resident`].
const KEEP_RESIDENT_TABLE_BYTES: usize = 64 << 10;

/// What each pooled memory reserves: 4 GiB, every address a 32-bit
/// WebAssembly memory can name.
const BOUNDS_CHECK_FREE_RESERVATION: u64 = 4 << 30;

/// Pooled instances beyond the call bound, for loads and inspections: as
/// many as calls, within these bounds (a host with few call slots then
/// reserves little address space).
const LOAD_HEADROOM: std::ops::RangeInclusive<u32> = 4..=16;

/// The pool behind `slots` calls at once, each with [`CALL_SHARE`] (a
/// component that needs more is refused at load). Each memory slot
/// reserves address space, not memory: the module's own cap is enforced by
/// the call's limiter.
fn pooling(slots: u32, keep_resident: bool) -> PoolingAllocationConfig {
    // Loading a module (its `info`) and `inspect` instantiate outside the
    // call bound: a swap under full load must still find room.
    let headroom = slots.clamp(*LOAD_HEADROOM.start(), *LOAD_HEADROOM.end());
    let instances = slots.saturating_add(headroom);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(CALL_SHARE.core_instances))
        .max_core_instances_per_component(CALL_SHARE.core_instances)
        .max_memories_per_component(CALL_SHARE.memories)
        .max_tables_per_component(CALL_SHARE.tables)
        .total_memories(instances.saturating_mul(CALL_SHARE.memories))
        .total_tables(instances.saturating_mul(CALL_SHARE.tables))
        .total_stacks(instances)
        .max_memory_size(MAX_MODULE_MEMORY);
    if keep_resident {
        // Without PAGEMAP_SCAN (an older kernel) the whole kept region is
        // reset with memset on every reuse, which still beats faulting it
        // in page by page for a working set this small.
        pool.linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_TABLE_BYTES)
            .pagemap_scan(wasmtime::Enabled::Auto);
    }
    pool
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
