//! A module's rate limit in `provisioning serve`: the real binary, the
//! real Webline component, the simulator over loopback enforcing its
//! documented 100 requests per window per key (the window shortened to a
//! second). Concurrent callers send 300 calls through the server to the
//! module limited in its manifest to that same rate, and the simulator
//! turns none of them away.

use crate::common;

use std::time::{Duration, Instant};

use common::Serve;
use provisioning_sandbox::{Sandbox, webline};
use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::{Value, json};

const TOKEN: &str = "serve-rate-test-token-0123456789";
const TOKEN_VAR: &str = "TEST_SERVE_RATE_TOKEN";
const KEY_VAR: &str = "TEST_SERVE_RATE_WEBLINE_KEY";

/// Calls in all, and callers sending them at once.
const CALLS: usize = 300;
const CALLERS: usize = 20;

#[tokio::test(flavor = "multi_thread")]
async fn three_hundred_calls_at_the_providers_own_rate_draw_no_429() {
    let sandbox = Sandbox::start().await.unwrap();
    let sim = sandbox.webline().clone();
    let window = Duration::from_secs(1);
    sim.set_rate_limit(webline::RATE_LIMIT, window);

    let dir = common::fresh_dir("serve-rate");
    let manifest = dir.join("provisioning.toml");
    TestManifest::new()
        .module(
            "webline",
            Module::new(provisioning_components::WEBLINE)
                .allow(&sandbox.origin())
                .deadline(Duration::from_secs(10))
                .rate_limit(webline::RATE_LIMIT as u32, window.as_secs())
                .setting("endpoint", &sim.endpoint())
                .secret_env("api-key", KEY_VAR),
        )
        .write(&manifest);

    let answers = tokio::task::spawn_blocking(move || {
        let server = Serve::start(
            &manifest,
            (TOKEN_VAR, TOKEN),
            &[(KEY_VAR, webline::API_KEY)],
            &[],
        );
        let call = json!({ "request": { "function": "test-connection" } });
        let started = Instant::now();
        let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
            let callers: Vec<_> = (0..CALLERS)
                .map(|_| {
                    scope.spawn(|| {
                        (0..CALLS / CALLERS)
                            .map(|_| server.post("/v1/modules/webline/call", &call))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            callers
                .into_iter()
                .flat_map(|caller| caller.join().unwrap())
                .collect()
        });
        let elapsed = started.elapsed();
        let scrape = ureq::get(&format!("{}/metrics", server.base))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        (answers, elapsed, scrape)
    })
    .await
    .unwrap();
    let (answers, elapsed, scrape) = answers;

    let rate_limited = sim.rate_limited();
    let reached = sim.requests().len();
    eprintln!(
        "{CALLS} calls in {elapsed:?}: {reached} requests reached the simulator, {rate_limited} answered 429"
    );
    assert_eq!(answers.len(), CALLS);
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["ok"]["kind"], "connection", "{body}");
    }
    assert_eq!(rate_limited, 0, "the simulator turned requests away");
    assert_eq!(reached, CALLS, "one request a call, none retried");
    // 100 calls a window: the 201st cannot start before two have passed.
    assert!(elapsed >= 2 * window, "{CALLS} calls took only {elapsed:?}");
    // The scrape shows the waits: every call took a turn, and together
    // they waited at least the windows the calls were spread over.
    let parsed = prometheus_parse::Scrape::parse(scrape.lines().map(|l| Ok(l.to_string())))
        .expect("the exposition parses");
    let sample = |name: &str| {
        parsed
            .samples
            .iter()
            .find(|s| s.metric == name && s.labels.get("module") == Some("webline"))
            .map(|s| match &s.value {
                prometheus_parse::Value::Histogram(buckets) => buckets
                    .iter()
                    .find(|b| b.less_than.is_infinite())
                    .map(|b| b.count)
                    .unwrap(),
                prometheus_parse::Value::Untyped(v) | prometheus_parse::Value::Counter(v) => *v,
                other => panic!("{name}: {other:?}"),
            })
    };
    assert_eq!(
        sample("provisioning_rate_limit_wait_seconds"),
        Some(CALLS as f64),
        "one turn per call:\n{scrape}"
    );
    let waited: f64 = scrape
        .lines()
        .find(|line| {
            line.starts_with("provisioning_rate_limit_wait_seconds_sum{module=\"webline\"}")
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .expect("the wait's sum");
    assert!(
        waited > window.as_secs_f64(),
        "the calls waited {waited} s in all"
    );
    assert_eq!(
        sample("provisioning_rate_limit_refusals_total"),
        None,
        "none refused"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
