//! The work of one call, counted in instructions rather than timed: a
//! figure that does not wobble with the machine's load, so that a change
//! that makes every call do much more work is seen in `cargo test`.
//!
//! The test runs itself again, twice, under valgrind's callgrind
//! (installing valgrind with apt-get when it is missing, as the PHP tests
//! do php-cli): once making [`MEASURED`] calls after the warm-up, once
//! twice as many. The difference between the two runs' counts on the
//! thread that makes the calls is what [`MEASURED`] calls cost: the host's
//! bookkeeping, wasmtime, wasi-http, the guest and the HTTP client, but not
//! the sandbox answering on its own threads, nor the kernel. (Counting only
//! while a function is on the stack would miss the guest: wasmtime runs it
//! on a fiber, a stack of its own.) The calls are HostMeNow's
//! usage-data against the sandbox over loopback, each on a fresh instance
//! from the pooling allocator (two slots: valgrind cannot map the
//! reservations of the default pool), after warm-up calls, with the
//! component loaded from a compile cache the test fills natively first.
//!
//! The figure is for the test profile's build, so it is compared with
//! [`DEBUG_INSTRUCTIONS_PER_CALL`], measured the same way; `cargo bench`
//! gives the release build's (BENCHMARKS.md). Callgrind's counts repeat
//! within a fraction of a percent from run to run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use provisioning_host::types::Service;
use provisioning_host::{Host, HostOptions, Limits, ModuleConfig, Request};
use provisioning_sandbox::{Sandbox, hostmenow};

/// Instructions per call in the test profile, as this test measured them
/// (2.823 million, three runs within 0.01% of each other, December 2026).
/// Update it with the figure the test prints when a change moves it on
/// purpose.
const DEBUG_INSTRUCTIONS_PER_CALL: u64 = 2_823_000;

/// How far the count may stray from [`DEBUG_INSTRUCTIONS_PER_CALL`]
/// before the test fails: doubling the work is caught, noise is not.
const TOLERANCE: f64 = 1.5;

/// Calls counted, after [`WARM_UP`] calls that are not.
const MEASURED: usize = 10;
const WARM_UP: usize = 3;

/// Set in the copy of this test that makes the calls: `native` or
/// `callgrind`.
const ROLE: &str = "PROVISIONING_CALL_COUNT_ROLE";
/// How many calls that copy measures.
const CALLS: &str = "PROVISIONING_CALL_COUNT_CALLS";
/// The compile cache both runs share.
const CACHE: &str = "PROVISIONING_CALL_COUNT_CACHE";

const TEST_NAME: &str = "a_call_does_about_the_work_on_record";

#[test]
fn a_call_does_about_the_work_on_record() {
    if let Ok(role) = std::env::var(ROLE) {
        make_calls(&role);
        return;
    }
    ensure_valgrind();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("call-instructions");
    let out = dir.join(format!("out-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let cache = dir.join("compile-cache");

    // Natively first: fills the compile cache (compiling under valgrind
    // would take minutes) and reads the counters that are not
    // instructions.
    let native = this_test()
        .env(ROLE, "native")
        .env(CACHE, &cache)
        .output()
        .unwrap();
    assert!(native.status.success(), "{}", common_text(&native));
    let native_said = common_text(&native);
    // libtest may have begun the line with the test's name.
    if let Some(line) = native_said.lines().find_map(|l| l.split_once("per call:")) {
        println!("natively, per call:{}", line.1);
    }

    let once = counted_run(&out.join("once"), &cache, MEASURED);
    let twice = counted_run(&out.join("twice"), &cache, 2 * MEASURED);
    let _ = std::fs::remove_dir_all(&out);
    let total = twice.saturating_sub(once);
    let per_call = total / MEASURED as u64;
    let ratio = per_call as f64 / DEBUG_INSTRUCTIONS_PER_CALL as f64;
    println!(
        "{per_call} instructions per call ({total} over {MEASURED} calls), {ratio:.2} of the \
         {DEBUG_INSTRUCTIONS_PER_CALL} on record"
    );
    assert!(
        ratio <= TOLERANCE,
        "a call now does {ratio:.2} times the work on record ({per_call} instructions against \
         {DEBUG_INSTRUCTIONS_PER_CALL}): find what grew, or update DEBUG_INSTRUCTIONS_PER_CALL"
    );
    assert!(
        ratio >= 1.0 / TOLERANCE,
        "a call now does {ratio:.2} of the work on record ({per_call} instructions against \
         {DEBUG_INSTRUCTIONS_PER_CALL}): update DEBUG_INSTRUCTIONS_PER_CALL, so that the \
         check keeps catching growth"
    );
}

/// The instructions callgrind counts on the calling thread of a copy of
/// this test that makes `calls` measured calls, its output in `out`.
fn counted_run(out: &Path, cache: &Path, calls: usize) -> u64 {
    std::fs::create_dir_all(out).unwrap();
    let counted = Command::new("valgrind")
        .args(["--tool=callgrind", "--separate-threads=yes"])
        .arg(format!(
            "--callgrind-out-file={}",
            out.join("callgrind.out").display()
        ))
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(ROLE, "callgrind")
        .env(CACHE, cache)
        .env(CALLS, calls.to_string())
        .output()
        .unwrap();
    assert!(counted.status.success(), "{}", common_text(&counted));
    measured_thread_total(out)
}

/// This test binary, running only this test.
fn this_test() -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"]);
    command
}

fn common_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// valgrind on PATH, installed from Debian's packages when missing.
fn ensure_valgrind() {
    let present = || Command::new("valgrind").arg("--version").output().is_ok();
    if present() {
        return;
    }
    let _ = Command::new("apt-get").arg("update").status();
    let installed = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "valgrind"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    assert!(
        present(),
        "valgrind is needed to count a call's instructions, and apt-get could not install it ({installed:?})"
    );
}

/// The instructions callgrind counted on the thread that ran the calls:
/// with `--separate-threads`, each thread has a file of its own, and only
/// that thread's names the measured function.
fn measured_thread_total(out: &Path) -> u64 {
    let mut totals = Vec::new();
    for entry in std::fs::read_dir(out).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if !text.contains("measured_calls") {
            continue;
        }
        let total = text
            .lines()
            .find_map(|line| line.strip_prefix("summary: "))
            .or_else(|| text.lines().find_map(|line| line.strip_prefix("totals: ")))
            .and_then(|value| value.trim().parse::<u64>().ok());
        totals.extend(total);
    }
    assert_eq!(totals.len(), 1, "one thread ran the calls: {totals:?}");
    assert!(totals[0] > 0, "callgrind counted nothing");
    totals[0]
}

/// The copy that makes the calls: the sandbox on threads of its own, the
/// host on this thread's runtime.
fn make_calls(role: &str) {
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
        ..HostOptions::default()
    })
    .unwrap();
    let config = ModuleConfig::new("hostmenow", provisioning_components::HOSTMENOW)
        .allow_hosts(&[origin.as_str()])
        .unwrap()
        .setting("endpoint", endpoint)
        .setting("api-key", hostmenow::API_KEY)
        .limits(Limits {
            // valgrind runs the guest some fifty times slower.
            deadline: Duration::from_secs(120),
            ..Limits::default()
        });
    runtime.block_on(host.load(config)).unwrap();
    let request = Request::UsageData {
        service: Service {
            service_id: "counted".into(),
            remote_id: None,
            domain: None,
            username: None,
            password: None,
            package: None,
            billing_cycle: None,
            client: None,
            custom_fields: Vec::new(),
        },
    };
    for _ in 0..WARM_UP {
        runtime.block_on(host.call("hostmenow", &request)).unwrap();
    }
    let before = ThreadCounters::now();
    let calls = std::env::var(CALLS)
        .ok()
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(MEASURED);
    measured_calls(&runtime, &host, &request, calls);
    let after = ThreadCounters::now();
    if role == "native" {
        println!(
            "per call: {:.1} minor page faults, {:.1} voluntary and {:.1} involuntary context switches on the calling thread",
            (after.minor_faults - before.minor_faults) as f64 / calls as f64,
            (after.voluntary_switches - before.voluntary_switches) as f64 / calls as f64,
            (after.involuntary_switches - before.involuntary_switches) as f64 / calls as f64,
        );
    }
}

/// The calls measured (its name tells the calling thread's callgrind file
/// from the others').
#[inline(never)]
fn measured_calls(runtime: &tokio::runtime::Runtime, host: &Host, request: &Request, calls: usize) {
    for _ in 0..calls {
        runtime.block_on(host.call("hostmenow", request)).unwrap();
    }
}

/// The calling thread's own counters, from /proc/thread-self.
struct ThreadCounters {
    minor_faults: u64,
    voluntary_switches: u64,
    involuntary_switches: u64,
}

impl ThreadCounters {
    fn now() -> ThreadCounters {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
        // Fields after the command name (which is in parentheses and may
        // hold spaces): state is the 3rd field, minflt the 10th.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let minor_faults = after_name
            .split_whitespace()
            .nth(7)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        ThreadCounters {
            minor_faults,
            voluntary_switches: field("voluntary_ctxt_switches:"),
            involuntary_switches: field("nonvoluntary_ctxt_switches:"),
        }
    }
}
