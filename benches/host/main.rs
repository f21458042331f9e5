//! Benchmarks of the provisioning host, each cost measured against a
//! native Rust client doing the same HostMeNow call in the same run (or,
//! for the host's own optimisations, against the host without them), as
//! BENCHMARKS.md describes:
//!
//! 1. one call: criterion, then p50/p99 from interleaved timed calls;
//! 2. a fresh store and instance per call (criterion);
//! 3. loading each component, cold and from the compile cache (criterion);
//! 4. bulk usage-data at concurrency 64 (calls per second);
//! 5. memory of idle modules and of one call;
//! 6. call latency during hot swaps;
//! 7. counts per call that do not wobble: instructions under callgrind,
//!    page faults and context switches;
//! 8. against the PHP client it replaces, one read after another and with
//!    `curl_multi`;
//! 9. bulk reads from a provider 50 ms away;
//! 10. HostMeNow's module in JavaScript and Python against the Rust one.
//!
//! `cargo bench --bench host` runs it in full; `cargo test --benches` runs
//! every part once at tiny counts. The closing table is printed and
//! written to `target/benchmarks/summary.md`.

#[cfg(feature = "bench-mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bulk;
mod caller;
mod callgrind;
mod counts;
mod distant;
mod fixture;
mod languages;
mod latency;
mod memory;
mod micro;
mod native;
mod parity;
mod php;
mod scale;
mod stats;
mod summary;
mod swap;

use criterion::Criterion;
use provisioning_sandbox::hostmenow;
use tokio::runtime::Runtime;

use fixture::{Fixture, Hosts};
use native::NativeClient;
use scale::Scale;
use summary::Summary;

fn main() {
    // A copy of this benchmark started by part 7 to make its calls.
    if counts::run_copy() {
        return;
    }
    let scale = Scale::from_args();
    let mut criterion = Criterion::default().configure_from_args();
    let rt = runtime();
    let mut summary = Summary::default();
    let fixture = rt.block_on(Fixture::start(scale.bulk_services));

    if !scale.listing {
        // First, while the process has done little else.
        memory::run(&rt, &fixture, &scale, &mut summary);
        rt.block_on(parity::check(&fixture, &mut summary));
    }
    let hosts = rt.block_on(Hosts::load(&fixture));
    let native =
        NativeClient::new(&fixture.endpoint(), hostmenow::API_KEY).expect("the endpoint parses");
    micro::run(&mut criterion, &rt, &hosts, &native, &mut summary);
    if !scale.listing {
        latency::run(&rt, &hosts, &native, &scale, &mut summary);
        bulk::run(&rt, &fixture, &hosts, &native, &scale, &mut summary);
        swap::run(&rt, &fixture, &scale, &mut summary);
        php::run(&rt, &fixture, &hosts, &native, &scale, &mut summary);
        distant::run(&rt, &fixture, &hosts, &native, &scale, &mut summary);
        languages::run(&rt, &fixture, &scale, &mut summary);
        counts::run(&scale, &mut summary);
        summary.publish(&scale, &fixture::results_dir());
    }
    criterion.final_summary();
}

/// The runtime every part runs on, sandbox included: one worker per core,
/// as a host process would have.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}
