//! Several hosts, one journal: two real `provisioning serve` processes on
//! one journal (a SQLite file they share, or a real PostgreSQL server) and
//! one sandbox. The same idempotency key sent to both at once reaches the
//! provider exactly once, and every caller of a key gets the same answer.
//! A host killed mid-call leaves an entry the other host sees as unknown
//! once the lease is over, and reconciles from the provider's state. On a
//! PostgreSQL journal the hosts share the module's rate limit: together
//! they keep to it, and a provider's Retry-After seen by one holds both.

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::Serve;
use provisioning_host::types::Service;
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::{Sandbox, webline};
use provisioning_test_support::manifest::{Module, TestManifest};
use provisioning_test_support::service_json;
use serde_json::{Value, json};

const TOKEN: &str = "several-hosts-token-0123456789";
const TOKEN_VAR: &str = "TEST_SH_TOKEN";

/// Calls in all, and distinct keys among them.
const CALLS: usize = 50;
const KEYS: usize = 10;

/// A manifest serving Webline from the sandbox, with `journal`'s
/// `[journal]` section, in a fresh directory.
fn setup(sandbox: &Sandbox, name: &str, journal: TestManifest) -> PathBuf {
    let webline = webline_module(sandbox).deadline(Duration::from_secs(20));
    setup_with(name, journal, webline)
}

/// Webline from the sandbox, its key from `TEST_SH_WEBLINE`.
fn webline_module(sandbox: &Sandbox) -> Module {
    Module::webline(sandbox)
        .secret_env("api-key", "TEST_SH_WEBLINE")
        .setting("activation-wait-seconds", "0")
}

/// The journal on the PostgreSQL database at `TEST_SH_JOURNAL_URL`.
fn postgres() -> TestManifest {
    TestManifest::new().postgres_journal("TEST_SH_JOURNAL_URL", "TEST_SH_JOURNAL_KEY")
}

/// [`setup`] with the module entry `webline`.
fn setup_with(name: &str, journal: TestManifest, webline: Module) -> PathBuf {
    let dir = common::fresh_dir(&format!("several-hosts-{name}"));
    let manifest = dir.join("provisioning.toml");
    journal
        .lease_seconds(1)
        .module("webline", webline)
        .write(&manifest);
    manifest
}

fn start(manifest: &std::path::Path, journal_key: &str, envs: &[(&str, &str)]) -> Serve {
    let mut all = vec![
        ("TEST_SH_JOURNAL_KEY", journal_key),
        ("TEST_SH_WEBLINE", webline::API_KEY),
    ];
    all.extend_from_slice(envs);
    Serve::start(manifest, (TOKEN_VAR, TOKEN), &all, &[])
}

/// The service a key creates: one request per key, whichever host gets it.
fn service(key: usize) -> Value {
    service_json(&Service {
        service_id: format!("svc-{key}"),
        ..provisioning_test_support::webline::service(&format!("shared{key}.co.tz"), "1")
    })
}

/// 50 concurrent create-account calls over both hosts with 10 keys: the
/// simulator ends with exactly 10 accounts, and every answer for a key
/// names the same account. Returns the answers by key, for the caller to
/// report.
fn fifty_creates_over_two_hosts(
    sandbox: &Sandbox,
    hosts: [&Serve; 2],
) -> BTreeMap<usize, Vec<Value>> {
    // Each create waits at the provider, so that callers of one key on
    // both hosts overlap.
    sandbox
        .webline()
        .faults()
        .inject(Fault::Slow(Duration::from_millis(300)), KEYS);
    let answers: Vec<(usize, Value)> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..CALLS)
            .map(|i| {
                let (key, host) = (i % KEYS, hosts[i % 2]);
                scope.spawn(move || {
                    let (status, body) = host.post(
                        "/v1/modules/webline/call",
                        &json!({
                            "request": { "function": "create-account", "service": service(key) },
                            "idempotency_key": format!("shared-create-{key}"),
                        }),
                    );
                    assert_eq!(status, 200, "{body}");
                    (key, body)
                })
            })
            .collect();
        calls.into_iter().map(|call| call.join().unwrap()).collect()
    });
    let mut by_key: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    for (key, answer) in answers {
        by_key.entry(key).or_default().push(answer);
    }
    let accounts = sandbox.webline().accounts();
    assert_eq!(
        accounts.len(),
        KEYS,
        "one account per key: {:#?}",
        accounts.iter().map(|a| &a.domain).collect::<Vec<_>>()
    );
    for (key, answers) in &by_key {
        let remote_ids: Vec<&Value> = answers
            .iter()
            .map(|a| &a["ok"]["value"]["remote_id"])
            .collect();
        assert!(
            remote_ids
                .iter()
                .all(|id| id.is_string() && *id == remote_ids[0]),
            "every answer for key {key} names one account: {answers:#?}"
        );
        let domain = format!("shared{key}.co.tz");
        let account = accounts.iter().find(|a| a.domain == domain).unwrap();
        assert_eq!(remote_ids[0], &json!(account.id.to_string()));
    }
    by_key
}

/// Two hosts on the journal `journal` (with `envs`) run
/// [`fifty_creates_over_two_hosts`]; prints the figures.
async fn two_hosts(name: &str, journal: TestManifest, envs: &[(&str, &str)]) {
    let sandbox = std::sync::Arc::new(Sandbox::start().await.unwrap());
    let manifest = setup(&sandbox, name, journal);
    let key = "ef".repeat(32);
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let first = start(&manifest, &key, &envs);
        let second = start(&manifest, &key, &envs);
        let started = std::time::Instant::now();
        let answers = fifty_creates_over_two_hosts(&sandbox, [&first, &second]);
        let replayed = answers
            .values()
            .flatten()
            .filter(|a| a["replayed"] == true)
            .count();
        println!(
            "{name}: {CALLS} calls, {KEYS} keys, two hosts: {} accounts, {replayed} answers \
             replayed, {:.2} s",
            sandbox.webline().accounts().len(),
            started.elapsed().as_secs_f64()
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hosts_on_one_sqlite_journal_create_each_key_once() {
    let journal = TestManifest::new().sqlite_journal("journal.sqlite3", "TEST_SH_JOURNAL_KEY");
    two_hosts("sqlite", journal, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hosts_on_one_postgres_journal_create_each_key_once() {
    let url = tokio::task::spawn_blocking(|| {
        provisioning_test_postgres::PgServer::shared().database("several_hosts")
    })
    .await
    .unwrap();
    two_hosts("postgres", postgres(), &[("TEST_SH_JOURNAL_URL", &url)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_killed_mid_create_leaves_an_entry_the_other_host_reconciles() {
    let url = tokio::task::spawn_blocking(|| {
        provisioning_test_postgres::PgServer::shared().database("killed_host")
    })
    .await
    .unwrap();
    let sandbox = Sandbox::start().await.unwrap();
    // A deadline the provider's delay fits in: nothing decides the entry
    // before it has passed.
    let webline = webline_module(&sandbox).deadline(Duration::from_secs(5));
    let manifest = setup_with("killed", postgres(), webline);
    // The provider takes its time; the first host dies meanwhile, and the
    // request dies with its connection (the provider never acts).
    sandbox
        .webline()
        .faults()
        .inject(Fault::Slow(Duration::from_secs(3)), 1);
    let sim = sandbox.webline().clone();
    tokio::task::spawn_blocking(move || {
        let key = "ef".repeat(32);
        let envs = [("TEST_SH_JOURNAL_URL", url.as_str())];
        let mut doomed = start(&manifest, &key, &envs);
        let survivor = start(&manifest, &key, &envs);
        let base = doomed.base.clone();
        let caller = std::thread::spawn(move || {
            // Cut off when its host dies: no answer.
            let _ = ureq::post(&format!("{base}/v1/modules/webline/call"))
                .set("Authorization", &format!("Bearer {TOKEN}"))
                .send_json(json!({
                    "request": { "function": "create-account", "service": service(7) },
                    "idempotency_key": "killed-create",
                }));
        });
        let pending = |host: &Serve| -> Vec<Value> {
            let (status, body) = host.get("/v1/journal/pending");
            assert_eq!(status, 200, "{body}");
            body["pending"].as_array().unwrap().clone()
        };
        survivor.wait_until("the intent on record", || !pending(&survivor).is_empty());
        doomed.child.kill().unwrap();
        doomed.child.wait().unwrap();
        caller.join().unwrap();
        std::thread::sleep(Duration::from_millis(3500));
        assert!(sim.accounts().is_empty(), "the provider never acted");
        survivor.wait_until("the dead host's entry unknown", || {
            pending(&survivor)[0]["state"] == "unknown"
        });
        // The same key on the survivor is refused until it is resolved.
        let (_, refused) = survivor.post(
            "/v1/modules/webline/call",
            &json!({
                "request": { "function": "create-account", "service": service(7) },
                "idempotency_key": "killed-create",
            }),
        );
        assert_eq!(refused["error"]["kind"], "outcome-unknown", "{refused}");
        survivor.wait_until("the dead host's attempt over", || {
            pending(&survivor)[0]["attempt_over"] == true
        });
        let (status, report) = survivor.post("/v1/journal/reconcile", &json!({}));
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["resolved"], 1, "{report}");
        assert_eq!(report["entries"][0]["verdict"], "not-done", "{report}");
        assert!(pending(&survivor).is_empty());
        // Freed: the key runs once more, on the survivor.
        let (_, created) = survivor.post(
            "/v1/modules/webline/call",
            &json!({
                "request": { "function": "create-account", "service": service(7) },
                "idempotency_key": "killed-create",
            }),
        );
        assert_eq!(created["ok"]["kind"], "created", "{created}");
        assert_eq!(sim.accounts().len(), 1);
    })
    .await
    .unwrap();
}

/// A PostgreSQL database of its own on the tests' shared server, by URL.
async fn postgres_database(name: &'static str) -> String {
    tokio::task::spawn_blocking(move || {
        provisioning_test_postgres::PgServer::shared().database(name)
    })
    .await
    .unwrap()
}

/// Two hosts on one PostgreSQL journal, each paced at 80 calls a second,
/// send 300 calls to a provider that takes 100 a second: together they
/// keep to 80 (alone, each would send 80 a second and the two 160), so the
/// provider turns none away, and the calls take the time that one budget
/// of 80 a second takes.
#[tokio::test(flavor = "multi_thread")]
async fn two_hosts_on_one_postgres_journal_share_the_rate_limit() {
    const CALLS: usize = 300;
    const CALLERS: usize = 20;
    const PACED: usize = 80;
    let url = postgres_database("shared_rate").await;
    let sandbox = Sandbox::start().await.unwrap();
    let sim = sandbox.webline().clone();
    sim.set_rate_limit(webline::RATE_LIMIT, Duration::from_secs(1));
    let webline = webline_module(&sandbox)
        .deadline(Duration::from_secs(20))
        .rate_limit(PACED as u32, 1);
    let manifest = setup_with("shared-rate", postgres(), webline);
    let elapsed = test_connections_through_two_hosts(manifest, url, CALLS, CALLERS).await;
    let (reached, refused) = (sim.requests().len(), sim.rate_limited());
    println!(
        "shared rate: {CALLS} calls over two hosts paced at {PACED}/s together in {:.2} s; \
         {reached} requests reached the provider, {refused} answered 429",
        elapsed.as_secs_f64()
    );
    assert_eq!(refused, 0, "the provider turned requests away");
    assert_eq!(reached, CALLS, "one request a call, none retried");
    // One budget: 300 turns spaced 1/80 s apart span 299 intervals (two
    // budgets would take half that).
    let one_budget = Duration::from_secs_f64((CALLS - 1) as f64 / PACED as f64);
    assert!(
        elapsed >= one_budget,
        "{CALLS} calls took {elapsed:?}, less than one budget's {one_budget:?}"
    );
}

/// `calls` Webline test-connections from `callers` threads, each caller
/// on one of two serve processes on `manifest`'s PostgreSQL journal at
/// `url`, every one answered; how long they took.
async fn test_connections_through_two_hosts(
    manifest: std::path::PathBuf,
    url: String,
    calls: usize,
    callers: usize,
) -> Duration {
    tokio::task::spawn_blocking(move || {
        let key = "ef".repeat(32);
        let envs = [("TEST_SH_JOURNAL_URL", url.as_str())];
        let hosts = [start(&manifest, &key, &envs), start(&manifest, &key, &envs)];
        let call = json!({ "request": { "function": "test-connection" } });
        let started = std::time::Instant::now();
        std::thread::scope(|scope| {
            for caller in 0..callers {
                let (host, call) = (&hosts[caller % 2], &call);
                scope.spawn(move || {
                    for _ in 0..calls / callers {
                        let (status, body) = host.post("/v1/modules/webline/call", call);
                        assert_eq!(status, 200, "{body}");
                        assert_eq!(body["ok"]["kind"], "connection", "{body}");
                    }
                });
            }
        });
        started.elapsed()
    })
    .await
    .unwrap()
}

/// Two hosts on one PostgreSQL journal, paced at exactly the provider's
/// published 10 calls per 2 s, send 60 calls from 12 callers, from a cold
/// start: the provider never sees more than 10 requests in any window of
/// 2 s by its own clock (spaced alone, the jitter of requests' arrivals
/// between hosts put 11 or 12 in some), and turns none away.
#[tokio::test(flavor = "multi_thread")]
async fn two_hosts_at_the_providers_own_rate_never_put_more_in_a_window() {
    const CALLS: usize = 60;
    const CALLERS: usize = 12;
    const LIMIT: usize = 10;
    const WINDOW: Duration = Duration::from_secs(2);
    let url = postgres_database("shared_window").await;
    let sandbox = Sandbox::start().await.unwrap();
    let sim = sandbox.webline().clone();
    sim.set_rate_limit(LIMIT, WINDOW);
    let webline = webline_module(&sandbox)
        .deadline(Duration::from_secs(60))
        .rate_limit(LIMIT as u32, WINDOW.as_secs());
    let manifest = setup_with("shared-window", postgres(), webline);
    let elapsed = test_connections_through_two_hosts(manifest, url, CALLS, CALLERS).await;
    let busiest = sim.busiest_window(WINDOW);
    println!(
        "shared window: {CALLS} calls over two hosts at {LIMIT} per {WINDOW:?} in {:.2} s; \
         the provider saw at most {busiest} in any {WINDOW:?}, answered {} with 429",
        elapsed.as_secs_f64(),
        sim.rate_limited()
    );
    assert!(
        busiest <= LIMIT,
        "the provider saw {busiest} requests in one window of {WINDOW:?}"
    );
    assert_eq!(sim.rate_limited(), 0, "the provider turned requests away");
}

/// A provider's Retry-After drawn by one host holds the other too: its
/// call within the hold is answered `rate-limited` without being sent, and
/// once the hold is over it goes through.
#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_drawn_on_one_host_holds_the_other() {
    let url = postgres_database("shared_hold").await;
    let sandbox = Sandbox::start().await.unwrap();
    let sim = sandbox.webline().clone();
    let webline = webline_module(&sandbox)
        .deadline(Duration::from_millis(1500))
        .rate_limit(90, 1);
    let manifest = setup_with("shared-hold", postgres(), webline);
    tokio::task::spawn_blocking(move || {
        let key = "ef".repeat(32);
        let envs = [("TEST_SH_JOURNAL_URL", url.as_str())];
        let (first, second) = (start(&manifest, &key, &envs), start(&manifest, &key, &envs));
        let call = json!({ "request": { "function": "test-connection" } });
        // Both hosts have reached the provider once: each has its limiter
        // and its way to the database.
        for host in [&first, &second] {
            let (_, body) = host.post("/v1/modules/webline/call", &call);
            assert_eq!(body["ok"]["kind"], "connection", "{body}");
        }
        sim.faults().inject(
            Fault::TooManyRequests {
                retry_after_secs: 3,
            },
            1,
        );
        let (_, drawn) = first.post("/v1/modules/webline/call", &call);
        let held_at = std::time::Instant::now();
        assert_eq!(drawn["error"]["kind"], "rate-limited", "{drawn}");
        let sent = sim.requests().len();
        let (_, held) = second.post("/v1/modules/webline/call", &call);
        assert_eq!(held["error"]["kind"], "rate-limited", "{held}");
        let message = held["error"]["message"].as_str().unwrap();
        assert!(message.contains("not sent"), "{message}");
        assert!(
            held["error"]["retry_after_seconds"].as_u64().unwrap() >= 1,
            "{held}"
        );
        assert_eq!(sim.requests().len(), sent, "the held host sent nothing");
        // After the hold, the other host's calls go through again.
        std::thread::sleep(Duration::from_secs(3).saturating_sub(held_at.elapsed()));
        let (_, after) = second.post("/v1/modules/webline/call", &call);
        assert_eq!(after["ok"]["kind"], "connection", "{after}");
    })
    .await
    .unwrap();
}
