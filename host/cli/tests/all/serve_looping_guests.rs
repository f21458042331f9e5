//! Guests that compute without end cannot freeze the server: with four
//! looping calls per CPU running in the real `provisioning serve`, its
//! liveness route still answers within 100 ms (p99), and an unrelated
//! create on the same server completes normally, its account made at the
//! provider and its journal entry settled. (Once, as many looping guests
//! as CPUs held every thread of the server's runtime until their deadline:
//! liveness timed out and the create ended `deadline-exceeded`.)

use crate::common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::Serve;
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::json;

const TOKEN_VAR: &str = "TEST_LOOPING_TOKEN";
const TOKEN: &str = "looping-guests-token-5e1f";
const JOURNAL_KEY_VAR: &str = "TEST_LOOPING_JOURNAL_KEY";

/// Looping calls per CPU, as the issue that found the freeze asked.
const LOOPING_PER_CPU: usize = 4;

/// How long a looping call runs before its deadline stops it: longer than
/// the measurement below.
const LOOP_DEADLINE_MS: u64 = 12_000;

/// Liveness probes sent while the guests loop, one every 20 ms.
const PROBES: usize = 100;

fn manifest(sandbox: &Sandbox) -> PathBuf {
    let dir = common::fresh_dir("looping-guests");
    let manifest = dir.join("provisioning.toml");
    TestManifest::new()
        .sqlite_journal("journal.sqlite3", JOURNAL_KEY_VAR)
        .module(
            "hostmenow",
            Module::hostmenow(sandbox).secret_env("api-key", "TEST_HMN_KEY"),
        )
        .module(
            "misbehaving",
            Module::misbehaving("loop")
                .allow(&sandbox.origin())
                .deadline(Duration::from_millis(LOOP_DEADLINE_MS)),
        )
        .write(&manifest);
    manifest
}

/// The `p`th percentile of `samples` (nearest rank).
fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

#[tokio::test(flavor = "multi_thread")]
async fn looping_guests_on_every_cpu_leave_health_and_other_calls_served() {
    let sandbox = Sandbox::start().await.unwrap();
    let manifest = manifest(&sandbox);
    let server = std::sync::Arc::new(Serve::start(
        &manifest,
        (TOKEN_VAR, TOKEN),
        &[
            (JOURNAL_KEY_VAR, &"cd".repeat(32)),
            ("TEST_HMN_KEY", hostmenow::API_KEY),
        ],
        &[],
    ));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let looping = LOOPING_PER_CPU * cpus;

    let loops: Vec<_> = (0..looping)
        .map(|_| {
            let server = server.clone();
            std::thread::spawn(move || {
                server.post(
                    "/v1/modules/misbehaving/call",
                    &json!({ "request": { "function": "test-connection" } }),
                )
            })
        })
        .collect();
    // Until every looping call holds an instance (the gauge is read on the
    // scrape, which itself must not wait for the guests).
    server.wait_until("every looping call to be running", || {
        instances_in_use(&server) >= looping as f64
    });

    let probes = {
        let base = server.base.clone();
        std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .build();
            let mut latencies = Vec::with_capacity(PROBES);
            for _ in 0..PROBES {
                let sent = Instant::now();
                let response = agent.get(&format!("{base}/v1/health/live")).call();
                latencies.push(sent.elapsed());
                assert_eq!(response.map(|r| r.status()).ok(), Some(200));
                std::thread::sleep(Duration::from_millis(20));
            }
            latencies
        })
    };
    let create = {
        let server = server.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let answer = server.post(
                "/v1/modules/hostmenow/call",
                &json!({
                    "request": { "function": "create-account", "service": {
                        "service_id": "beside-loops", "domain": "beside-loops.example.com",
                        "username": "ubeside", "password": "Beside-L00ps-pw!", "package": "101",
                        "billing_cycle": "monthly",
                        "client": { "first_name": "Test", "last_name": "Client", "email": "c@example.com" }
                    } },
                    "idempotency_key": "create-beside-loops"
                }),
            );
            (answer, started.elapsed())
        })
    };

    let mut latencies = probes.join().unwrap();
    let ((status, body), create_took) = create.join().unwrap();
    let p99 = percentile(&mut latencies, 99.0);
    let worst = *latencies.last().unwrap();
    println!(
        "{looping} looping guests on {cpus} CPUs: liveness p50 {:?}, p99 {p99:?}, worst {worst:?}; \
         the create took {create_took:?}",
        percentile(&mut latencies, 50.0)
    );
    assert!(
        p99 < Duration::from_millis(100),
        "liveness p99 {p99:?} with {looping} looping guests"
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["ok"].is_object(), "the create completed: {body}");
    assert!(
        create_took < Duration::from_millis(LOOP_DEADLINE_MS),
        "the create did not wait for the looping guests' deadline ({create_took:?})"
    );
    assert!(
        sandbox.hostmenow().service("beside-loops").is_some(),
        "the account exists at the provider"
    );
    let (_, pending) = server.get("/v1/journal/pending");
    let entry = pending["pending"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|entry| entry["intent"]["idempotency_key"] == json!("create-beside-loops"))
        .cloned();
    assert_eq!(
        entry.as_ref().map(|entry| entry["state"].clone()),
        Some(json!("answered")),
        "the create's entry has its outcome: {pending}"
    );

    for looping in loops {
        let (status, body) = looping.join().unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["error"]["kind"], "deadline-exceeded", "{body}");
    }
}

/// The `provisioning_instances_in_use` gauge of the server's scrape.
fn instances_in_use(server: &Serve) -> f64 {
    let Ok(response) = ureq::get(&format!("{}/metrics", server.base)).call() else {
        return 0.0;
    };
    let text = response.into_string().unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix("provisioning_instances_in_use "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}
