//! The criterion measurements: one call (component against native), the
//! fresh store and instance every call makes (pooling allocator on and
//! off), and loading each component (cold compile against the cache).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode};
use provisioning_host::{Host, HostOptions, ModuleConfig};
use tokio::runtime::Runtime;

use crate::caller::Caller;
use crate::fixture::{self, Hosts, MODULE, SINGLE_SERVICE};
use crate::native::NativeClient;
use crate::stats::Samples;
use crate::summary::{Figure, Goal, Row, Summary};

/// Samples per benchmark of the fast groups (criterion's default).
const SAMPLES: usize = 100;

/// Samples per benchmark of the loading groups: a cold compile takes a
/// good part of a second.
const LOAD_SAMPLES: usize = 10;

/// The components, by the name they are loaded under.
const COMPONENTS: [(&str, &str); 4] = [
    ("hostmenow", provisioning_components::HOSTMENOW),
    ("blesta", provisioning_components::BLESTA),
    ("webline", provisioning_components::WEBLINE),
    ("logicboxes", provisioning_components::LOGICBOXES),
];

/// Runs every criterion group and adds their figures to the summary.
pub fn run(
    criterion: &mut Criterion,
    rt: &Runtime,
    hosts: &Hosts,
    native: &NativeClient,
    summary: &mut Summary,
) {
    one_call(criterion, rt, hosts, native, summary);
    instance_per_call(criterion, rt, hosts, summary);
    loading(criterion, rt, summary);
}

/// Item 1, as criterion sees it: the mean cost of one usage-data call.
/// (The percentiles and the goal are in the latency part.)
fn one_call(
    criterion: &mut Criterion,
    rt: &Runtime,
    hosts: &Hosts,
    native: &NativeClient,
    summary: &mut Summary,
) {
    let pooled = &Caller::Component(hosts.default.clone());
    let per_connection = &Caller::Component(hosts.per_connection.clone());
    let native = &Caller::native(native);
    let mut group = criterion.benchmark_group("one_call");
    group.sample_size(SAMPLES);
    let pooled = bench_async(&mut group, "component", rt, move || {
        pooled.expect_usage_data(SINGLE_SERVICE)
    });
    let per_connection = bench_async(
        &mut group,
        "component_connection_per_request",
        rt,
        move || per_connection.expect_usage_data(SINGLE_SERVICE),
    );
    let native = bench_async(&mut group, "native", rt, move || {
        native.expect_usage_data(SINGLE_SERVICE)
    });
    group.finish();

    let native = median(&native, SAMPLES);
    summary.push(Row {
        part: "1. one call",
        measure: "criterion, median of sample means, component".into(),
        value: median(&pooled, SAMPLES),
        baseline: Some(("native client".into(), native.clone())),
        goal: Goal::Report,
    });
    summary.push(Row {
        part: "1. one call",
        measure: "criterion, component, connection per request (before pooled HTTP)".into(),
        value: median(&per_connection, SAMPLES),
        baseline: Some(("native client".into(), native)),
        goal: Goal::Report,
    });
}

/// Item 2: a fresh store and instance from the pre-linked component, as
/// every call makes, with the pooling allocator and with on-demand
/// allocation.
fn instance_per_call(
    criterion: &mut Criterion,
    rt: &Runtime,
    hosts: &Hosts,
    summary: &mut Summary,
) {
    let module_of = |host: &Arc<Host>| host.module(MODULE).expect("HostMeNow is loaded");
    let pooled = &module_of(&hosts.default);
    let on_demand = &module_of(&hosts.on_demand);
    let mut group = criterion.benchmark_group("instance_per_call");
    group.sample_size(SAMPLES);
    let pooled = bench_async(&mut group, "pooling_allocator", rt, move || async move {
        pooled
            .instantiate_idle()
            .await
            .expect("a fresh store and instance");
    });
    let on_demand = bench_async(&mut group, "on_demand", rt, move || async move {
        on_demand
            .instantiate_idle()
            .await
            .expect("a fresh store and instance");
    });
    group.finish();

    summary.push(Row {
        part: "2. instance per call",
        measure: "fresh store + instance, pooling allocator".into(),
        value: median(&pooled, SAMPLES),
        baseline: Some((
            "on-demand allocation (before)".into(),
            median(&on_demand, SAMPLES),
        )),
        goal: Goal::AtMost(Figure::Time(Duration::from_micros(15))),
    });
}

/// Item 3: loading each component (compile or cache, pre-link, read its
/// info) with no compile cache, and from a warm one.
fn loading(criterion: &mut Criterion, rt: &Runtime, summary: &mut Summary) {
    let cold = Host::with_options(HostOptions {
        compile_cache: None,
        ..HostOptions::default()
    })
    .expect("the host starts");
    let cached = Host::with_options(fixture::options(true, true)).expect("the host starts");
    for (name, path) in COMPONENTS {
        rt.block_on(cached.prepare(ModuleConfig::new(name, path)))
            .expect("the component compiles into the cache");
    }

    let cold = load_group(criterion, rt, "load_cold", &cold, Duration::from_secs(10));
    let cached = load_group(
        criterion,
        rt,
        "load_cached",
        &cached,
        Duration::from_secs(5),
    );
    for ((name, cold), (_, cached)) in cold.iter().zip(&cached) {
        summary.push(Row {
            part: "3. loading",
            measure: format!("load {name} from the compile cache"),
            value: median(cached, LOAD_SAMPLES),
            baseline: Some(("cold compile".into(), median(cold, LOAD_SAMPLES))),
            goal: Goal::AtMost(Figure::Time(Duration::from_millis(5))),
        });
    }
}

/// One benchmark per component: `host.prepare` of a config naming only the
/// component (loading needs no settings).
fn load_group(
    criterion: &mut Criterion,
    rt: &Runtime,
    group_name: &str,
    host: &Host,
    measurement_time: Duration,
) -> Vec<(&'static str, Samples)> {
    let mut group = criterion.benchmark_group(group_name);
    group
        .sample_size(LOAD_SAMPLES)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(measurement_time);
    let samples = COMPONENTS
        .iter()
        .map(|&(name, path)| {
            let load = || async move {
                host.prepare(ModuleConfig::new(name, path))
                    .await
                    .expect("the component loads");
            };
            (name, bench_async(&mut group, name, rt, load))
        })
        .collect();
    group.finish();
    samples
}

/// Benchmarks an async operation: each criterion sample runs it `iters`
/// times in a row inside one `block_on`, so the runtime's entry cost is
/// spread over the sample. Returns the samples for the summary.
fn bench_async<F, Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    rt: &Runtime,
    mut operation: F,
) -> Samples
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let samples = Samples::default();
    group.bench_function(name, |bencher| {
        bencher.iter_custom(|iterations| {
            let elapsed = rt.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    operation().await;
                }
                started.elapsed()
            });
            samples.record(iterations, elapsed)
        })
    });
    samples
}

/// The summary's figure for a benchmark criterion ran (missing when a
/// filter left it out).
fn median(samples: &Samples, sample_size: usize) -> Figure {
    samples
        .median_per_iteration(sample_size)
        .map_or(Figure::Missing("not run"), Figure::Time)
}
