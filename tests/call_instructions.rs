//! The work of one call, counted in instructions rather than timed: a
//! figure that does not wobble with the machine's load, so that a change
//! that makes every call do much more work is seen in `cargo test`.
//!
//! The test runs itself again under valgrind's callgrind (installing
//! valgrind with apt-get when it is missing, as the PHP tests do php-cli),
//! as `benches/host/callgrind.rs` describes: the difference between a copy
//! making [`MEASURED`] calls and one making twice as many, on the calling
//! thread, is what [`MEASURED`] calls cost the host, wasmtime, wasi-http,
//! the guest and the HTTP client. The calls are HostMeNow's usage-data
//! against the sandbox over loopback, each on a fresh instance from the
//! pooling allocator (two slots: valgrind cannot map the reservations of
//! the default pool), with the component loaded from a compile cache the
//! test fills under valgrind first (`callgrind::fill_compile_cache`).
//!
//! The figure is for the test profile's build, so it is compared with
//! [`DEBUG_INSTRUCTIONS_PER_CALL`], measured the same way; `cargo bench`
//! gives the release build's against the native client (BENCHMARKS.md).

#[path = "../benches/host/callgrind.rs"]
mod callgrind;
// The benchmarks' HostMeNow configuration and request, so that the test
// counts the call the benchmarks count.
#[allow(dead_code)]
#[path = "../benches/host/fixture.rs"]
mod fixture;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use callgrind::ThreadCounters;
use provisioning_host::{Host, HostOptions, Limits, Request};
use provisioning_sandbox::Sandbox;

/// Instructions per call in the test profile, as this test measured them
/// (2.599 million with pooled memory kept resident, only the called export
/// type-checked and guest code free of bounds checks; 2.675 million once
/// guest work moved to the host's guest threads, counted with the calling
/// thread, and yields at epoch ticks, December 2026; runs repeat within
/// 0.01%). Update it with the figure the test prints when a change moves
/// it on purpose.
const DEBUG_INSTRUCTIONS_PER_CALL: u64 = 2_675_000;

/// How far the count may stray from [`DEBUG_INSTRUCTIONS_PER_CALL`]
/// before the test fails: doubling the work is caught, noise is not.
const TOLERANCE: f64 = 1.5;

/// Calls counted, after [`WARM_UP`] calls that are not.
const MEASURED: usize = 10;
const WARM_UP: usize = 3;

/// Set in the copy of this test that makes the calls: how many to measure.
const CALLS: &str = "PROVISIONING_CALL_COUNT_CALLS";
/// The compile cache the copies share.
const CACHE: &str = "PROVISIONING_CALL_COUNT_CACHE";

const TEST_NAME: &str = "a_call_does_about_the_work_on_record";

#[test]
fn a_call_does_about_the_work_on_record() {
    if let Ok(calls) = std::env::var(CALLS) {
        make_calls(calls.parse().unwrap());
        return;
    }
    callgrind::ensure_valgrind();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("call-instructions");
    let out = dir.join(format!("out-{}", std::process::id()));
    let cache = dir.join("compile-cache");

    // Natively first: reads the counters that are not instructions.
    let native = copy(&cache, MEASURED).output().unwrap();
    let said = String::from_utf8_lossy(&native.stdout);
    assert!(native.status.success(), "{said}");
    if let Some((faults, voluntary, involuntary)) = ThreadCounters::parse_line(&said) {
        println!(
            "natively, per call: {faults:.1} minor page faults, {voluntary:.1} voluntary and \
             {involuntary:.1} involuntary context switches on the calling thread"
        );
    }

    callgrind::fill_compile_cache(copy(&cache, 0));
    let once = callgrind::count(copy(&cache, MEASURED), &out.join("once"));
    let twice = callgrind::count(copy(&cache, 2 * MEASURED), &out.join("twice"));
    let per_call = once.per_call_to(&twice, MEASURED as u64);
    let ratio = per_call.total as f64 / DEBUG_INSTRUCTIONS_PER_CALL as f64;
    println!(
        "{} instructions per call, {ratio:.2} of the {DEBUG_INSTRUCTIONS_PER_CALL} on record: {:?}",
        per_call.total, per_call.by_part
    );
    assert!(
        ratio <= TOLERANCE,
        "a call now does {ratio:.2} times the work on record ({} instructions against \
         {DEBUG_INSTRUCTIONS_PER_CALL}): find what grew, or update DEBUG_INSTRUCTIONS_PER_CALL",
        per_call.total
    );
    assert!(
        ratio >= 1.0 / TOLERANCE,
        "a call now does {ratio:.2} of the work on record ({} instructions against \
         {DEBUG_INSTRUCTIONS_PER_CALL}): update DEBUG_INSTRUCTIONS_PER_CALL, so that the \
         check keeps catching growth",
        per_call.total
    );
}

/// A copy of this test that makes `calls` measured calls.
fn copy(cache: &Path, calls: usize) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CALLS, calls.to_string())
        .env(CACHE, cache);
    command
}

/// The copy that makes the calls: the sandbox on threads of its own, the
/// host on this thread's runtime.
fn make_calls(calls: usize) {
    let cache = PathBuf::from(std::env::var(CACHE).unwrap());
    let (started, sandbox) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let sandbox = Sandbox::start().await.unwrap();
            let simulator = sandbox.hostmenow();
            assert!(simulator.seed_service(
                "counted",
                "counted.example.com",
                "ucounted",
                "Pw-seeded-1",
                "101"
            ));
            assert!(simulator.set_usage("counted", 1.25, 5000, 2.5, 10000));
            started
                .send((sandbox.origin(), simulator.endpoint()))
                .unwrap();
            std::future::pending::<()>().await;
        });
    });
    let (origin, endpoint) = sandbox.recv().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let host = Host::with_options(HostOptions {
        compile_cache: Some(cache),
        max_concurrent_calls: 2,
        // One guest thread: no work stealing between two to count.
        guest_threads: 1,
        ..HostOptions::default()
    })
    .unwrap();
    let config = fixture::hostmenow_config(fixture::MODULE, &origin, &endpoint).limits(Limits {
        // valgrind runs the guest some fifty times slower.
        deadline: Duration::from_secs(120),
        ..Limits::default()
    });
    runtime.block_on(host.load(config)).unwrap();
    let request = fixture::usage_request("counted");
    for _ in 0..WARM_UP {
        runtime
            .block_on(host.call(fixture::MODULE, &request))
            .unwrap();
    }
    let before = ThreadCounters::now();
    measured_calls(&runtime, &host, &request, calls);
    println!("{}", before.line_to(&ThreadCounters::now(), calls as u64));
}

/// The calls measured; its name ([`callgrind::MEASURED_FUNCTION`]) tells
/// the calling thread's callgrind file from the others'.
#[inline(never)]
fn measured_calls(runtime: &tokio::runtime::Runtime, host: &Host, request: &Request, calls: usize) {
    for _ in 0..calls {
        runtime
            .block_on(host.call(fixture::MODULE, request))
            .unwrap();
    }
}
