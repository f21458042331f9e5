//! Item 6: latency of calls while the module is swapped again and again
//! (prepare + install, as a reload does), against the same calls with no
//! swap, on the same host.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use provisioning_host::{Host, ModuleConfig};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

use crate::caller::Caller;
use crate::fixture::{self, Fixture, MODULE, SINGLE_SERVICE};
use crate::scale::Scale;
use crate::stats::Latencies;
use crate::summary::{Figure, Goal, Row, Summary};

/// Pause between the end of one swap and the start of the next.
const SWAP_INTERVAL: Duration = Duration::from_millis(5);

/// Measures and adds the hot-swap rows.
pub fn run(rt: &Runtime, fixture: &Fixture, scale: &Scale, summary: &mut Summary) {
    // The compile cache makes a swap's prepare take milliseconds, so that
    // swaps can come every few milliseconds.
    let host = rt.block_on(fixture::loaded_host(fixture, fixture::options(true, true)));
    let calls = scale.swap_calls;
    let concurrency = scale.swap_concurrency;
    let steady = rt.block_on(timed_calls(&host, calls, concurrency));
    let (swapping, swaps) = rt.block_on(timed_calls_during_swaps(
        &host,
        fixture.config(MODULE),
        calls,
        concurrency,
    ));

    let label = |p: &str| format!("{p} without swaps");
    summary.push(Row {
        part: "6. hot swap",
        measure: format!("p50 of {calls} calls at concurrency {concurrency} during swaps"),
        value: Figure::Time(swapping.p50()),
        baseline: Some((label("p50"), Figure::Time(steady.p50()))),
        goal: Goal::Report,
    });
    summary.push(Row {
        part: "6. hot swap",
        measure: "p99, same calls during swaps".into(),
        value: Figure::Time(swapping.p99()),
        baseline: Some((label("p99"), Figure::Time(steady.p99()))),
        goal: Goal::Report,
    });
    summary.note(format!(
        "Hot swap: swaps finished while the {calls} calls ran: {swaps} (each a prepare \
         from the compile cache + install, {} ms after the last); none of the calls failed.",
        SWAP_INTERVAL.as_millis()
    ));
}

/// The same calls as [`timed_calls`] while a task swaps the module in a
/// loop. Returns their latencies and how many swaps finished meanwhile.
async fn timed_calls_during_swaps(
    host: &Arc<Host>,
    config: ModuleConfig,
    calls: usize,
    concurrency: usize,
) -> (Latencies, usize) {
    let swaps = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = tokio::spawn(swap_until_stopped(
        host.clone(),
        config,
        swaps.clone(),
        stop.clone(),
    ));
    // The calls start once swapping is under way.
    while swaps.load(Ordering::Acquire) == 0 && !swapper.is_finished() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let before = swaps.load(Ordering::Acquire);
    let latencies = timed_calls(host, calls, concurrency).await;
    let during = swaps.load(Ordering::Acquire) - before;
    stop.store(true, Ordering::Release);
    swapper.await.expect("the swapping task panicked");
    (latencies, during)
}

/// Prepares and installs the module again and again until told to stop.
async fn swap_until_stopped(
    host: Arc<Host>,
    config: ModuleConfig,
    swaps: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Acquire) {
        let module = host
            .prepare(config.clone())
            .await
            .expect("the new version prepares");
        host.install(module).expect("the new version installs");
        swaps.fetch_add(1, Ordering::AcqRel);
        tokio::time::sleep(SWAP_INTERVAL).await;
    }
}

/// `calls` usage-data calls for the single service, `concurrency` at a
/// time, each timed. A failed call ends the run: a swap must drop nothing.
async fn timed_calls(host: &Arc<Host>, calls: usize, concurrency: usize) -> Latencies {
    let caller = Caller::Component(host.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (caller, next) = (caller.clone(), next.clone());
        workers.spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < calls {
                let started = Instant::now();
                caller.expect_usage_data(SINGLE_SERVICE).await;
                latencies.push(started.elapsed());
            }
            latencies
        });
    }
    let mut latencies = Vec::with_capacity(calls);
    while let Some(worker) = workers.join_next().await {
        latencies.extend(worker.expect("a call failed during the run"));
    }
    Latencies::new(latencies)
}
