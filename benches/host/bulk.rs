//! Item 4: usage-data for every seeded service at a fixed concurrency,
//! calls per second through the host against the native client over the
//! same services at the same concurrency.
//!
//! The simulator finds a service by scanning its list under one lock, so
//! with 10,000 services each request costs it more than it would a real
//! provider; that cost is the same for both sides but lowers both rates.
//! A control run reads the single service (first in the list) as many
//! times, which shows the two sides with next to no lookup cost. Two more
//! runs go through `sync_usage`, the host's bulk read: with a fresh
//! instance per call, and with its opt-in instance reuse.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::task::JoinSet;

use crate::caller::Caller;
use provisioning_host::{Host, ReusePolicy, SyncOptions, UsageJob, sync_usage};

use crate::fixture::{Fixture, Hosts, MODULE, SINGLE_SERVICE, usage_service};
use crate::native::NativeClient;
use crate::scale::Scale;
use crate::summary::{Figure, Goal, Row, Summary};

/// One bulk run's outcome.
pub struct Throughput {
    calls: usize,
    pub elapsed: Duration,
    failures: Vec<String>,
    /// Connections the sandbox accepted during the timed run: how well the
    /// caller kept its connections alive.
    connections: u64,
}

impl Throughput {
    /// Calls per second, or why there is no honest figure.
    pub fn figure(&self) -> Figure {
        if self.failures.is_empty() {
            Figure::Rate(self.calls as f64 / self.elapsed.as_secs_f64())
        } else {
            Figure::Missing("calls failed, see the notes")
        }
    }

    /// The run's time, or why there is no honest figure.
    pub fn time(&self) -> Figure {
        if self.failures.is_empty() {
            Figure::Time(self.elapsed)
        } else {
            Figure::Missing("calls failed, see the notes")
        }
    }

    /// A note naming the first failure, when calls failed.
    pub fn report_failures(&self, who: &str, summary: &mut Summary) {
        if let Some(first) = self.failures.first() {
            summary.note(format!(
                "{who}: {} of {} calls failed; the first: {first}",
                self.failures.len(),
                self.calls
            ));
        }
    }
}

/// Measures and adds the throughput rows.
pub fn run(
    rt: &Runtime,
    fixture: &Fixture,
    hosts: &Hosts,
    native: &NativeClient,
    scale: &Scale,
    summary: &mut Summary,
) {
    let concurrency = scale.bulk_concurrency;
    let spread = &fixture.bulk_services;
    let repeated: Arc<[String]> = vec![SINGLE_SERVICE.to_owned(); spread.len()].into();
    let measure = |caller: Caller, services: &Arc<[String]>| {
        rt.block_on(throughput(caller, fixture, services, concurrency))
    };
    let native_client = Caller::native(native);
    let component = Caller::Component(hosts.default.clone());
    let per_connection = Caller::Component(hosts.per_connection.clone());
    let runs = [
        ("native client", measure(native_client.clone(), spread)),
        ("component", measure(component.clone(), spread)),
        (
            "component, connection per request",
            measure(per_connection, spread),
        ),
        (
            "native client, one service",
            measure(native_client, &repeated),
        ),
        ("component, one service", measure(component, &repeated)),
        (
            "sync_usage, fresh instances",
            rt.block_on(sync_throughput(
                &hosts.default,
                fixture,
                spread,
                concurrency,
                None,
            )),
        ),
        (
            "sync_usage, reused instances",
            rt.block_on(sync_throughput(
                &hosts.default,
                fixture,
                spread,
                concurrency,
                Some(ReusePolicy::default()),
            )),
        ),
    ];
    for (who, run) in &runs {
        run.report_failures(&format!("Bulk, {who}"), summary);
    }
    summary.note(format!(
        "Bulk: connections the sandbox accepted during each timed run: {}.",
        runs.iter()
            .map(|(who, run)| format!("{who}: {}", run.connections))
            .collect::<Vec<_>>()
            .join("; ")
    ));

    let [
        native,
        component,
        per_connection,
        native_one,
        component_one,
        sync_fresh,
        sync_reused,
    ] = runs.map(|(_, run)| run);
    let count = spread.len();
    let native_rate = (
        format!("native client, concurrency {concurrency}"),
        native.figure(),
    );
    summary.push(Row {
        part: "4. bulk",
        measure: format!("{count} services at concurrency {concurrency}, through the host"),
        value: component.figure(),
        baseline: Some(native_rate.clone()),
        goal: Goal::RatioAtLeast(0.65),
    });
    summary.push(Row {
        part: "4. bulk",
        measure: "same, connection per request (before pooled HTTP)".into(),
        value: per_connection.figure(),
        baseline: Some(native_rate.clone()),
        goal: Goal::Report,
    });
    summary.push(Row {
        part: "4. bulk",
        measure: "same, through sync_usage, a fresh instance per call".into(),
        value: sync_fresh.figure(),
        baseline: Some(native_rate.clone()),
        goal: Goal::Report,
    });
    summary.push(Row {
        part: "4. bulk",
        measure: format!(
            "same, through sync_usage reusing instances (at most {} calls each)",
            ReusePolicy::DEFAULT_MAX_CALLS
        ),
        value: sync_reused.figure(),
        baseline: Some(native_rate),
        goal: Goal::RatioAtLeast(0.80),
    });
    summary.push(Row {
        part: "4. bulk",
        measure: format!("control: one service {count} times (no lookup scan), through the host"),
        value: component_one.figure(),
        baseline: Some(("native client, same".into(), native_one.figure())),
        goal: Goal::Report,
    });
}

/// Reads each of `services` with `concurrency` calls in flight, after an
/// untimed warm-up of one call per worker (connections opened, pools
/// filled).
pub async fn throughput(
    caller: Caller,
    fixture: &Fixture,
    services: &Arc<[String]>,
    concurrency: usize,
) -> Throughput {
    let warm_up: Arc<[String]> = services.iter().take(concurrency).cloned().collect();
    drive(&caller, &warm_up, concurrency).await;
    timed(
        fixture,
        services.len(),
        drive(&caller, services, concurrency),
    )
    .await
}

/// Times `reads` (the reading of `calls` services, answering its
/// failures), counting the connections the sandbox accepted meanwhile.
async fn timed(
    fixture: &Fixture,
    calls: usize,
    reads: impl Future<Output = Vec<String>>,
) -> Throughput {
    let connections_before = fixture.sandbox.connections_accepted();
    let started = Instant::now();
    let failures = reads.await;
    let elapsed = started.elapsed();
    Throughput {
        calls,
        elapsed,
        failures,
        connections: fixture.sandbox.connections_accepted() - connections_before,
    }
}

/// Reads each of `services` through [`sync_usage`] at `concurrency`, with
/// `reuse`, after an untimed warm-up sync of one service per slot.
async fn sync_throughput(
    host: &Arc<Host>,
    fixture: &Fixture,
    services: &Arc<[String]>,
    concurrency: usize,
    reuse: Option<ReusePolicy>,
) -> Throughput {
    let options = SyncOptions {
        concurrency,
        reuse,
        ..SyncOptions::default()
    };
    let jobs = |services: &[String]| -> Vec<UsageJob> {
        services
            .iter()
            .map(|id| UsageJob {
                module: MODULE.to_owned(),
                service: usage_service(id),
                settings: Vec::new(),
            })
            .collect()
    };
    let warm_up = jobs(&services[..concurrency.min(services.len())]);
    sync_usage(host, warm_up, &options, |_| {}).await;
    let all = jobs(services);
    let reads = async {
        let mut failures = Vec::new();
        sync_usage(host, all, &options, |report| {
            if !report.is_ok() {
                failures.push(format!("{}: {}", report.service_id, report.kind()));
            }
        })
        .await;
        failures
    };
    timed(fixture, services.len(), reads).await
}

/// `concurrency` workers on the runtime, each taking the next service until
/// none is left. Returns the failures.
async fn drive(caller: &Caller, services: &Arc<[String]>, concurrency: usize) -> Vec<String> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (caller, services, next) = (caller.clone(), services.clone(), next.clone());
        workers.spawn(async move {
            let mut failures = Vec::new();
            while let Some(service) = services.get(next.fetch_add(1, Ordering::Relaxed)) {
                if let Err(why) = caller.usage_data(service).await {
                    failures.push(format!("{service}: {why}"));
                }
            }
            failures
        });
    }
    let mut failures = Vec::new();
    while let Some(worker) = workers.join_next().await {
        failures.extend(worker.expect("a bulk worker panicked"));
    }
    failures
}
