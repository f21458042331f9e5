//! Bulk usage sync through the real components in real wasmtime, against
//! the simulators over loopback: a thousand HostMeNow services each read
//! with its own figures, the providers without usage-data answered
//! `unsupported` without a request, a provider's rate limit kept, a 429
//! mid-run waited out, and a Retry-After longer than the sync waits holding
//! the provider's other services back without calling them. Every test
//! runs twice: with a fresh instance per call, and with the sync's opt-in
//! instance reuse.

use std::sync::Arc;
use std::time::{Duration, Instant};

use provisioning_host::types::{Limit, Service, Usage};
use provisioning_host::{
    Host, Limits, ModuleConfig, RequestRate, ReusePolicy, SyncOptions, UsageJob, UsageReport,
    UsageResult, sync_usage,
};
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::{Sandbox, blesta, hostmenow, logicboxes, webline};
use provisioning_test_support::{TEST_DEADLINE, hostmenow_config};

/// A sandbox and a host with every provider module loaded, HostMeNow
/// paced by `rate_limit` and given no retry of its own, so that a 429
/// reaches the sync.
async fn harness(rate_limit: RequestRate) -> (Sandbox, Arc<Host>) {
    let sandbox = Sandbox::start().await.expect("sandbox starts");
    let host = provisioning_test_support::host();
    let limits = Limits {
        deadline: TEST_DEADLINE,
        read_retries: 0,
        ..Limits::default()
    };
    let configs = [
        hostmenow_config(&sandbox, "hostmenow")
            .limits(limits)
            .rate_limit(rate_limit),
        granted(&sandbox, "blesta", provisioning_components::BLESTA)
            .setting("endpoint", sandbox.blesta().endpoint())
            .setting("uid", blesta::UID)
            .setting("password", blesta::PASSWORD),
        granted(&sandbox, "webline", provisioning_components::WEBLINE)
            .setting("endpoint", sandbox.webline().endpoint())
            .setting("api-key", webline::API_KEY),
        granted(&sandbox, "logicboxes", provisioning_components::LOGICBOXES)
            .setting("endpoint", sandbox.logicboxes().origin())
            .setting("auth-userid", logicboxes::AUTH_USERID)
            .setting("api-key", logicboxes::API_KEY)
            .setting("order-id", logicboxes::ORDER_ID),
    ];
    for config in configs {
        host.load(config).await.expect("the component loads");
    }
    (sandbox, Arc::new(host))
}

/// Each test once with a fresh instance per call, once reusing instances.
macro_rules! in_both_modes {
    ($($test:ident),* $(,)?) => {
        mod fresh_instances {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $test() {
                super::$test(None).await;
            })*
        }
        mod reused_instances {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $test() {
                super::$test(Some(provisioning_host::ReusePolicy::default())).await;
            })*
        }
    };
}

in_both_modes!(
    a_thousand_services_each_get_their_own_figures_and_a_429_is_waited_out,
    the_sync_keeps_under_the_providers_rate_limit,
    a_retry_after_longer_than_the_sync_waits_holds_the_providers_services_back_uncalled,
);

fn granted(sandbox: &Sandbox, name: &str, component: &str) -> ModuleConfig {
    ModuleConfig::new(name, component)
        .allow_hosts(&[sandbox.origin()])
        .expect("origin parses")
}

/// `count` HostMeNow services seeded in the simulator, each with usage
/// figures of its own, and their jobs.
fn seed(sim: &hostmenow::HostMeNow, count: usize) -> Vec<UsageJob> {
    (0..count)
        .map(|i| {
            let id = format!("svc-{i:04}");
            assert!(sim.seed_service(
                &id,
                &format!("{id}.example.com"),
                &format!("u{i}"),
                "Pw-seeded-1",
                "101"
            ));
            // Two decimals, as the provider prints them.
            assert!(sim.set_usage(&id, i as f64 + 0.25, 5000, 2.0 * i as f64 + 0.5, 10000));
            UsageJob {
                module: "hostmenow".into(),
                service: service(&id),
                settings: Vec::new(),
            }
        })
        .collect()
}

/// A service as a usage run knows it: no credentials, no client.
fn service(id: &str) -> Service {
    Service {
        username: None,
        password: None,
        client: None,
        ..provisioning_test_support::service(id)
    }
}

fn figure(usage: &Usage, name: &str) -> (f64, Limit) {
    let figure = usage
        .figures
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no {name} figure in {usage:?}"));
    (figure.used, figure.limit)
}

async fn a_thousand_services_each_get_their_own_figures_and_a_429_is_waited_out(
    reuse: Option<ReusePolicy>,
) {
    let generous = RequestRate::new(5000, Duration::from_secs(1)).unwrap();
    let (sandbox, host) = harness(generous).await;
    let sim = sandbox.hostmenow();
    let mut jobs = seed(sim, 1000);
    for module in ["blesta", "webline", "logicboxes"] {
        for i in 0..3 {
            jobs.push(UsageJob {
                module: module.into(),
                service: service(&format!("{module}-{i}")),
                settings: Vec::new(),
            });
        }
    }

    let options = SyncOptions {
        concurrency: 32,
        reuse,
        ..SyncOptions::default()
    };
    let mut reports: Vec<UsageReport> = Vec::new();
    let started = Instant::now();
    let summary = sync_usage(&host, jobs, &options, |report| {
        reports.push(report.clone());
        if reports.len() == 300 {
            // Mid-run, the provider turns the next three requests away.
            sim.faults().inject(
                Fault::TooManyRequests {
                    retry_after_secs: 1,
                },
                3,
            );
        }
    })
    .await;
    let elapsed = started.elapsed();
    eprintln!("{summary:?} in {elapsed:?}");

    assert_eq!(reports.len(), 1009);
    assert_eq!(summary.services, 1009);
    assert_eq!(summary.outcomes.get("ok"), Some(&1000));
    assert_eq!(summary.outcomes.get("unsupported"), Some(&9));
    assert_eq!(sim.faults().pending(), 0, "every 429 was served");

    let mut retried = 0;
    for report in reports.iter().filter(|r| r.module == "hostmenow") {
        let UsageResult::Ok(usage) = &report.outcome else {
            panic!("{report:?}")
        };
        let record = sim.service(&report.service_id).expect("a seeded service");
        assert_eq!(
            figure(usage, "disk"),
            (
                record.disk_used_mb,
                Limit::Value(record.disk_limit_mb as f64)
            ),
            "{}",
            report.service_id
        );
        assert_eq!(
            figure(usage, "bandwidth"),
            (
                record.bandwidth_used_mb,
                Limit::Value(record.bandwidth_limit_mb as f64)
            ),
            "{}",
            report.service_id
        );
        if report.attempts == 2 {
            retried += 1;
            assert!(
                report.elapsed_ms >= 1000,
                "waited its Retry-After: {report:?}"
            );
        } else {
            assert_eq!(report.attempts, 1, "{report:?}");
        }
    }
    assert_eq!(retried, 3, "each rate-limited service was tried again once");
    assert_eq!(summary.calls, 1003);

    for report in reports.iter().filter(|r| r.module != "hostmenow") {
        assert_eq!(report.kind(), "unsupported", "{report:?}");
        assert_eq!(report.attempts, 0);
    }
    assert!(sandbox.blesta().requests().is_empty());
    assert!(sandbox.webline().requests().is_empty());
    assert!(sandbox.logicboxes().requests().is_empty());
    assert_eq!(
        sim.requests()
            .iter()
            .filter(|r| r.action == "get_Bandwidth_Disk_Usage")
            .count(),
        1000,
        "one request reached the provider per service (the three 429s never did)"
    );
}

async fn the_sync_keeps_under_the_providers_rate_limit(reuse: Option<ReusePolicy>) {
    let tight = RequestRate::new(20, Duration::from_secs(1)).unwrap();
    let (sandbox, host) = harness(tight).await;
    let jobs = seed(sandbox.hostmenow(), 60);
    let options = SyncOptions {
        concurrency: 32,
        reuse,
        ..SyncOptions::default()
    };
    let started = Instant::now();
    let summary = sync_usage(&host, jobs, &options, |_| {}).await;
    let elapsed = started.elapsed();
    eprintln!("{summary:?} in {elapsed:?}");
    assert!(summary.all_succeeded(), "{summary:?}");
    // 60 calls, one every 50 ms: the last starts 59 x 50 ms after the
    // first. Any faster and some second held more than 20 of them.
    assert!(
        elapsed >= Duration::from_millis(2950),
        "60 calls at 20/s took only {elapsed:?}"
    );
    assert!(
        summary.calls_per_second <= 21.0,
        "{} calls/s",
        summary.calls_per_second
    );
}

async fn a_retry_after_longer_than_the_sync_waits_holds_the_providers_services_back_uncalled(
    reuse: Option<ReusePolicy>,
) {
    let generous = RequestRate::new(100, Duration::from_secs(1)).unwrap();
    let (sandbox, host) = harness(generous).await;
    let sim = sandbox.hostmenow();
    let jobs = seed(sim, 5);
    // The first request draws a 429 asking for two minutes.
    sim.faults().inject(
        Fault::TooManyRequests {
            retry_after_secs: 120,
        },
        1,
    );
    let options = SyncOptions {
        concurrency: 1,
        reuse,
        ..SyncOptions::default()
    };
    let mut reports: Vec<UsageReport> = Vec::new();
    let started = Instant::now();
    let summary = sync_usage(&host, jobs, &options, |report| reports.push(report.clone())).await;
    let elapsed = started.elapsed();
    eprintln!("{summary:?} in {elapsed:?}");

    assert_eq!(
        summary.outcomes.get("rate-limited"),
        Some(&5),
        "{summary:?}"
    );
    assert_eq!(summary.calls, 1, "only the first service was called");
    assert_eq!(reports[0].attempts, 1);
    for report in &reports[1..] {
        assert_eq!(report.attempts, 0, "{report:?}");
        let UsageResult::Error(error) = &report.outcome else {
            panic!("{report:?}")
        };
        assert!(
            error.retry_after_seconds.is_some_and(|s| s > 60),
            "{error:?}"
        );
    }
    assert!(
        sim.requests().is_empty(),
        "nothing reached the provider after the 429"
    );
    assert!(
        elapsed < Duration::from_secs(30),
        "not waited out: {elapsed:?}"
    );
}
