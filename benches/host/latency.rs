//! Item 1's goal: p50 and p99 of one usage-data call through the component
//! against the native client, from sequential calls interleaved in rounds
//! so that drift in the machine's load hits every contender alike.

use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::caller::Caller;
use crate::fixture::{Hosts, SINGLE_SERVICE};
use crate::native::NativeClient;
use crate::scale::Scale;
use crate::stats::Latencies;
use crate::summary::{Figure, Goal, Row, Summary};

/// Measures and adds the percentile rows.
pub fn run(
    rt: &Runtime,
    hosts: &Hosts,
    native: &NativeClient,
    scale: &Scale,
    summary: &mut Summary,
) {
    let callers = [
        Caller::Component(hosts.default.clone()),
        Caller::Component(hosts.per_connection.clone()),
        Caller::native(native),
    ];
    let [component, per_connection, native] = rt.block_on(interleaved(
        &callers,
        scale.latency_calls,
        scale.latency_round,
    ));
    let native_p50 = ("native client p50".to_owned(), Figure::Time(native.p50()));
    let native_p99 = ("native client p99".to_owned(), Figure::Time(native.p99()));
    let calls = scale.latency_calls;
    summary.push(Row {
        part: "1. one call",
        measure: format!("p50 of {calls} calls, component"),
        value: Figure::Time(component.p50()),
        baseline: Some(native_p50.clone()),
        goal: Goal::RatioAtMost(1.8),
    });
    summary.push(Row {
        part: "1. one call",
        measure: format!("p99 of {calls} calls, component"),
        value: Figure::Time(component.p99()),
        baseline: Some(native_p99.clone()),
        goal: Goal::Report,
    });
    summary.push(Row {
        part: "1. one call",
        measure: "p50, component, connection per request (before pooled HTTP)".into(),
        value: Figure::Time(per_connection.p50()),
        baseline: Some(native_p50),
        goal: Goal::Report,
    });
    summary.push(Row {
        part: "1. one call",
        measure: "p99, component, connection per request (before pooled HTTP)".into(),
        value: Figure::Time(per_connection.p99()),
        baseline: Some(native_p99),
        goal: Goal::Report,
    });
}

/// `calls` timed calls per caller, `round` at a time for each in turn,
/// after one untimed round each to open connections and warm caches.
async fn interleaved<const N: usize>(
    callers: &[Caller; N],
    calls: usize,
    round: usize,
) -> [Latencies; N] {
    for caller in callers {
        timed_calls(caller, round).await;
    }
    let mut latencies: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::with_capacity(calls));
    while latencies[0].len() < calls {
        let this_round = round.min(calls - latencies[0].len());
        for (caller, latencies) in callers.iter().zip(&mut latencies) {
            latencies.extend(timed_calls(caller, this_round).await);
        }
    }
    latencies.map(Latencies::new)
}

/// `count` sequential usage-data calls for the single service, each timed.
async fn timed_calls(caller: &Caller, count: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        caller.expect_usage_data(SINGLE_SERVICE).await;
        latencies.push(started.elapsed());
    }
    latencies
}
