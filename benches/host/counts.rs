//! Part 7: what one call costs in counts that do not wobble, the component
//! against the native client: instructions under callgrind (as
//! `callgrind.rs` says: two copies of this benchmark, `CALLS` and twice as
//! many calls, their difference on the calling thread and the host's one
//! guest thread), and the calling thread's minor page faults and context
//! switches, read natively. Each copy runs the sandbox on threads of its
//! own and the calls on a current-thread runtime, so that the calling
//! thread and the guest thread do the caller's whole share of the work
//! (the HTTP client's connection task, on the guest thread, included).
//!
//! Only in the full run: the quick pass leaves the counts to
//! `tests/call_instructions.rs`.

use std::process::Command;
use std::time::Duration;

use provisioning_host::{Host, HostOptions, Limits};
use provisioning_sandbox::{Sandbox, hostmenow};

use crate::callgrind::{self, Counted, ThreadCounters};
use crate::fixture::{self, MODULE, SINGLE_SERVICE};
use crate::native::NativeClient;
use crate::scale::Scale;
use crate::summary::{Figure, Goal, Row, Summary};

/// Set in a copy of the benchmark that makes calls: `component` or
/// `native`, and how many calls it measures.
const ROLE: &str = "PROVISIONING_BENCH_COUNT_ROLE";
const CALLS: &str = "PROVISIONING_BENCH_COUNT_CALLS";

/// The goal for a call's instructions: 40% fewer than the 479,439 counted
/// the same way before any of the levers of BENCHMARKS.md's "Levers".
const INSTRUCTIONS_GOAL: f64 = 479_439.0 * 0.6;

/// Calls measured in the smaller copy, after [`WARM_UP`] that are not.
const MEASURED: u64 = 20;
const WARM_UP: usize = 5;

const PART: &str = "7. counts";

/// In a copy started by [`run`]: makes its calls and returns `true` (the
/// benchmark's `main` then ends).
pub fn run_copy() -> bool {
    let (Ok(role), Ok(calls)) = (std::env::var(ROLE), std::env::var(CALLS)) else {
        return false;
    };
    make_calls(&role, calls.parse().expect("a number of calls"));
    true
}

/// The rows of part 7.
pub fn run(scale: &Scale, summary: &mut Summary) {
    if scale.quick {
        summary.push(Row {
            part: PART,
            measure: "instructions per call (callgrind)".into(),
            value: Figure::Missing("quick pass: tests/call_instructions.rs counts"),
            baseline: None,
            goal: Goal::Report,
        });
        return;
    }
    callgrind::ensure_valgrind();
    // Natively first: the counters that are not instructions.
    let thread = |role: &str| {
        let output = copy(role, MEASURED).output().expect("the copy runs");
        assert!(output.status.success(), "{output:?}");
        ThreadCounters::parse_line(&String::from_utf8_lossy(&output.stdout)).unwrap_or((
            f64::NAN,
            f64::NAN,
            f64::NAN,
        ))
    };
    let (component_faults, component_voluntary, component_involuntary) = thread("component");
    let (native_faults, native_voluntary, native_involuntary) = thread("native");
    let (decommit_faults, _, _) = thread("component-decommit");
    callgrind::fill_compile_cache(copy("component", 0));
    let out = fixture::results_dir().join("callgrind");
    let count = |role: &str| -> Counted {
        let once = callgrind::count(copy(role, MEASURED), &out.join(format!("{role}-once")));
        let twice = callgrind::count(copy(role, 2 * MEASURED), &out.join(format!("{role}-twice")));
        once.per_call_to(&twice, MEASURED)
    };
    let component = count("component");
    let native = count("native");
    let decommit = count("component-decommit");
    summary.push(Row {
        part: PART,
        measure: "instructions per call, component, memory kept resident".into(),
        value: Figure::Count(component.total as f64),
        baseline: Some((
            "decommitted after each call (before)".into(),
            Figure::Count(decommit.total as f64),
        )),
        goal: Goal::Report,
    });
    summary.push(Row {
        part: PART,
        measure: "minor page faults per call, component, memory kept resident".into(),
        value: Figure::Count(component_faults),
        baseline: Some((
            "decommitted after each call (before)".into(),
            Figure::Count(decommit_faults),
        )),
        goal: Goal::Report,
    });
    summary.push(Row {
        part: PART,
        measure: "instructions per call (callgrind, calling and guest threads), component".into(),
        value: Figure::Count(component.total as f64),
        baseline: Some(("native client".into(), Figure::Count(native.total as f64))),
        goal: Goal::AtMost(Figure::Count(INSTRUCTIONS_GOAL)),
    });
    summary.push(Row {
        part: PART,
        measure: "minor page faults per call (calling thread), component".into(),
        value: Figure::Count(component_faults),
        baseline: Some(("native client".into(), Figure::Count(native_faults))),
        goal: Goal::Report,
    });
    summary.push(Row {
        part: PART,
        measure: "context switches per call (calling thread, voluntary + involuntary), component"
            .into(),
        value: Figure::Count(component_voluntary + component_involuntary),
        baseline: Some((
            "native client".into(),
            Figure::Count(native_voluntary + native_involuntary),
        )),
        goal: Goal::Report,
    });
    for (what, _) in callgrind::COUNTED_CALLS {
        let per_call = |counted: &Counted| Figure::Count(counted.calls[what] as f64);
        summary.push(Row {
            part: PART,
            measure: format!("{what} per call (callgrind), component"),
            value: per_call(&component),
            baseline: Some(("native client".into(), per_call(&native))),
            goal: Goal::Report,
        });
    }
    let parts: Vec<String> = component
        .by_part
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(part, count)| {
            format!(
                "{part} {count} ({:.0}%)",
                100.0 * *count as f64 / component.total.max(1) as f64
            )
        })
        .collect();
    summary.note(format!(
        "Where a call's {} instructions go (self cost by crate, calling and guest threads): {}. The native \
         client's {}: {:?}.",
        component.total,
        parts.join(", "),
        native.total,
        native.by_part
    ));
}

/// A copy of this benchmark that makes `calls` measured calls as `role`.
fn copy(role: &str, calls: u64) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the benchmark's path"));
    command.env(ROLE, role).env(CALLS, calls.to_string());
    command
}

/// The copy's work: the sandbox with the one service on threads of its
/// own, then the calls on this thread.
fn make_calls(role: &str, calls: u64) {
    let (started, sandbox) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("the sandbox's runtime");
        runtime.block_on(async move {
            let sandbox = Sandbox::start().await.expect("the sandbox starts");
            let simulator = sandbox.hostmenow();
            assert!(simulator.seed_service(
                SINGLE_SERVICE,
                "counted.example.com",
                "ucounted",
                "Pw-seeded-1",
                "101"
            ));
            assert!(simulator.set_usage(SINGLE_SERVICE, 1.25, 5000, 2.5, 10000));
            started
                .send((sandbox.origin(), simulator.endpoint()))
                .expect("the copy waits");
            std::future::pending::<()>().await;
        });
    });
    let (origin, endpoint) = sandbox.recv().expect("the sandbox started");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the calling runtime");
    let call: Box<dyn Fn()> = match role {
        "component" | "component-decommit" => {
            let host = Host::with_options(HostOptions {
                compile_cache: Some(fixture::compile_cache_dir()),
                // valgrind cannot map the default pool's reservations.
                max_concurrent_calls: 2,
                // One guest thread: no work stealing between two to count.
                guest_threads: 1,
                keep_resident: role == "component",
                ..HostOptions::default()
            })
            .expect("the host starts");
            let config = fixture::hostmenow_config(MODULE, &origin, &endpoint).limits(Limits {
                // valgrind runs the guest some fifty times slower.
                deadline: Duration::from_secs(120),
                ..Limits::default()
            });
            runtime
                .block_on(host.load(config))
                .expect("the component loads");
            let request = fixture::usage_request(SINGLE_SERVICE);
            Box::new(move || {
                runtime
                    .block_on(host.call(MODULE, &request))
                    .expect("usage-data");
            })
        }
        _ => {
            let client = NativeClient::new(&endpoint, hostmenow::API_KEY).expect("the endpoint");
            Box::new(move || {
                runtime
                    .block_on(client.usage_data(SINGLE_SERVICE))
                    .expect("usage-data");
            })
        }
    };
    for _ in 0..WARM_UP {
        call();
    }
    let before = ThreadCounters::now();
    measured_calls(&*call, calls);
    println!("{}", before.line_to(&ThreadCounters::now(), calls));
}

/// The calls measured; its name ([`callgrind::MEASURED_FUNCTION`]) tells
/// the calling thread's callgrind file from the others'.
#[inline(never)]
fn measured_calls(call: &dyn Fn(), calls: u64) {
    for _ in 0..calls {
        call();
    }
}
