//! Item 10: HostMeNow's module in each language it is written in (Rust,
//! JavaScript, Python), each against the Rust module in the same run: the
//! component's size, a cold compile, a load from the compile cache, one
//! usage-data call with a fresh instance and with a reused one, and the
//! peak linear memory of a call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use provisioning_host::{
    CallOptions, Host, HostOptions, ModuleConfig, ReusePolicy, SyncOptions, UsageJob, sync_usage,
};
use tokio::runtime::Runtime;

use crate::fixture::{self, Fixture, MODULE, SINGLE_SERVICE, usage_request, usage_service};
use crate::scale::Scale;
use crate::stats::Latencies;
use crate::summary::{Figure, Goal, Row, Summary};

/// The part's name in the summary.
const PART: &str = "10. languages";

/// The module in each language, the Rust one (every row's baseline) first.
const LANGUAGES: [(&str, &str); 3] = [
    ("Rust", provisioning_components::HOSTMENOW),
    ("JavaScript", provisioning_polyglot_components::HOSTMENOW_JS),
    ("Python", provisioning_polyglot_components::HOSTMENOW_PY),
];

/// What one language's module measured.
struct Measured {
    size: Figure,
    cold_compile: Figure,
    cached_load: Figure,
    fresh_call: Figure,
    reused_call: Figure,
    peak_memory: Figure,
}

/// One figure of [`Measured`], for a row of each language.
type FigureOf = fn(&Measured) -> &Figure;

/// Measures every language and adds a row per figure and language.
pub fn run(rt: &Runtime, fixture: &Fixture, scale: &Scale, summary: &mut Summary) {
    let measured: Vec<(&str, Measured)> = LANGUAGES
        .iter()
        .map(|&(language, component)| (language, rt.block_on(measure(fixture, scale, component))))
        .collect();
    let rust = &measured[0].1;
    let rows: [(&str, FigureOf); 6] = [
        ("size of the component", |m| &m.size),
        ("cold compile (one)", |m| &m.cold_compile),
        ("load from the compile cache (median)", |m| &m.cached_load),
        ("usage-data, a fresh instance (sequential, mean)", |m| {
            &m.fresh_call
        }),
        ("usage-data, a reused instance (sequential, mean)", |m| {
            &m.reused_call
        }),
        ("peak linear memory of one call", |m| &m.peak_memory),
    ];
    for (measure, figure) in rows {
        for (language, of_language) in &measured[1..] {
            summary.push(Row {
                part: PART,
                measure: format!("HostMeNow in {language}: {measure}"),
                value: figure(of_language).clone(),
                baseline: Some(("the Rust module".into(), figure(rust).clone())),
                goal: Goal::Report,
            });
        }
    }
}

async fn measure(fixture: &Fixture, scale: &Scale, component: &str) -> Measured {
    let size = std::fs::metadata(component)
        .map_or(Figure::Missing("the component is not there"), |m| {
            Figure::Bytes(m.len())
        });
    let cold_compile = if scale.quick {
        // Seconds each for the large components, and meaningless in an
        // unoptimised build.
        Figure::Missing("not in the quick pass")
    } else {
        let cold = Host::with_options(HostOptions {
            compile_cache: None,
            ..HostOptions::default()
        })
        .expect("the host starts");
        Figure::Time(time(cold.prepare(ModuleConfig::new("cold", component))).await)
    };

    let host = Arc::new(Host::with_options(fixture::options(true, true)).expect("the host starts"));
    let config = ModuleConfig {
        component: component.into(),
        ..fixture.config(MODULE)
    };
    host.load(config.clone())
        .await
        .expect("the component loads (and fills the compile cache)");
    let mut loads = Vec::new();
    for _ in 0..scale.language_loads {
        loads.push(time(host.prepare(config.clone())).await);
    }
    let cached_load = Figure::Time(Latencies::new(loads).p50());

    let services = &fixture.bulk_services[..scale.language_calls];
    let fresh_call = Figure::Time(per_call(&host, services, None).await);
    let reused_call = Figure::Time(per_call(&host, services, Some(ReusePolicy::default())).await);

    let answer = host
        .execute(
            MODULE,
            &usage_request(SINGLE_SERVICE),
            &CallOptions::default(),
        )
        .await;
    if let Err(error) = &answer.result {
        panic!(
            "usage-data through {component} failed ({}): {error}",
            error.kind()
        );
    }
    let peak_memory = answer
        .memory_peak_bytes
        .map_or(Figure::Missing("the host reported no peak"), Figure::Bytes);
    Measured {
        size,
        cold_compile,
        cached_load,
        fresh_call,
        reused_call,
        peak_memory,
    }
}

/// How long `operation` took; it must succeed.
async fn time<T>(operation: impl Future<Output = anyhow::Result<T>>) -> Duration {
    let started = Instant::now();
    operation.await.expect("the component loads");
    started.elapsed()
}

/// The mean time of one usage-data read of `services`, one after another
/// through [`sync_usage`], with instance reuse or without.
async fn per_call(host: &Arc<Host>, services: &[String], reuse: Option<ReusePolicy>) -> Duration {
    let options = SyncOptions {
        concurrency: 1,
        reuse,
        ..SyncOptions::default()
    };
    let jobs: Vec<UsageJob> = services
        .iter()
        .map(|id| UsageJob {
            module: MODULE.to_owned(),
            service: usage_service(id),
            settings: Vec::new(),
        })
        .collect();
    let started = Instant::now();
    let summary = sync_usage(host, jobs, &options, |_| {}).await;
    let elapsed = started.elapsed();
    assert_eq!(
        summary.succeeded(),
        services.len(),
        "every read succeeded: {:?}",
        summary.outcomes
    );
    elapsed / services.len().max(1) as u32
}
