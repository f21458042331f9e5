//! What an operator watches of a running `provisioning serve`, tried on
//! the real process with the real components and the sandbox: the
//! Prometheus scrape after a known sequence of calls (read by a real
//! text-format parser), liveness and readiness without the token, and the
//! JSON log lines with their request id and correlation fields.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Serve, answer};
use provisioning_host::types::Service;
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_test_support::manifest::{Module, TestManifest};
use provisioning_test_support::service_json;
use serde_json::{Value, json};

const TOKEN: &str = "observe-test-token-0123456789";
const TOKEN_VAR: &str = "TEST_OBSERVE_TOKEN";
const JOURNAL_KEY_VAR: &str = "TEST_OBSERVE_JOURNAL_KEY";
/// A key an operator wrote into the manifest itself, on a line that does
/// not parse.
const INLINE_KEY: &str = "Inline-Api-Key-4242";

/// A fresh directory with a manifest: HostMeNow granted the sandbox, the
/// misbehaving module granted nothing but the sandbox (so its reach for
/// another origin is denied) with a short deadline, and a journal holding
/// one entry whose host died mid-call (its outcome unknown).
fn setup(sandbox: &Sandbox, name: &str) -> PathBuf {
    let dir = common::fresh_dir(&format!("observe-{name}"));
    common::seed_dead_host_entries(
        &dir.join("journal.sqlite3"),
        "svc-gone",
        &["create-svc-gone".to_string()],
    );
    let manifest = dir.join("provisioning.toml");
    TestManifest::new()
        .sqlite_journal("journal.sqlite3", JOURNAL_KEY_VAR)
        .module(
            "hostmenow",
            Module::hostmenow(sandbox).secret_env("api-key", "TEST_HMN_KEY"),
        )
        .module(
            "misbehaving",
            Module::misbehaving("ok")
                .allow(&sandbox.origin())
                .deadline(Duration::from_millis(1500)),
        )
        .write(&manifest);
    manifest
}

fn start(manifest: &Path, extra: &[&str]) -> Serve {
    Serve::start(
        manifest,
        (TOKEN_VAR, TOKEN),
        &[
            (JOURNAL_KEY_VAR, &"ab".repeat(32)),
            ("TEST_HMN_KEY", hostmenow::API_KEY),
        ],
        extra,
    )
}

/// The password of every [`service`]: never in a metric or a log.
const PASSWORD: &str = "Observe-Pa55word!";

fn service(id: &str) -> Value {
    service_json(&Service {
        password: Some(PASSWORD.into()),
        ..provisioning_test_support::service(id)
    })
}

/// Calls a module; returns the result's error kind, or `ok`.
fn call(server: &Serve, module: &str, request: Value, settings: Value) -> String {
    let (status, body) = server.post(
        &format!("/v1/modules/{module}/call"),
        &json!({ "request": request, "settings": settings }),
    );
    assert_eq!(status, 200, "{body}");
    match body["error"]["kind"].as_str() {
        Some(kind) => kind.to_string(),
        None => {
            assert!(body["ok"].is_object(), "{body}");
            "ok".to_string()
        }
    }
}

/// `GET path` without the token.
fn get_open(server: &Serve, path: &str) -> (u16, String) {
    match ureq::get(&format!("{}{path}", server.base)).call() {
        Ok(response) => (response.status(), response.into_string().unwrap()),
        Err(ureq::Error::Status(status, response)) => (status, response.into_string().unwrap()),
        Err(error) => panic!("transport error: {error}"),
    }
}

/// The scrape, parsed by a Prometheus text-format parser: each sample's
/// value by its name and sorted labels.
struct Scrape {
    samples: BTreeMap<(String, Vec<(String, String)>), f64>,
}

impl Scrape {
    fn of(server: &Serve) -> (Scrape, String) {
        let response = ureq::get(&format!("{}/metrics", server.base))
            .call()
            .expect("the scrape needs no token");
        assert!(
            response
                .header("content-type")
                .unwrap()
                .starts_with("text/plain; version=0.0.4"),
            "the exposition format's content type"
        );
        let text = response.into_string().unwrap();
        let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
            .expect("the exposition parses");
        let mut samples = BTreeMap::new();
        for sample in parsed.samples {
            let mut labels: Vec<(String, String)> = sample
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.sort();
            let value = match sample.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(buckets) => {
                    // The parser folds `_bucket` lines into one sample; the
                    // `+Inf` bucket is the count.
                    buckets
                        .iter()
                        .find(|bucket| bucket.less_than.is_infinite())
                        .map(|bucket| bucket.count)
                        .unwrap_or(0.0)
                }
                prometheus_parse::Value::Summary(_) => continue,
            };
            samples.insert((sample.metric.clone(), labels), value);
        }
        (Scrape { samples }, text)
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        self.samples.get(&(name.to_string(), labels)).copied()
    }

    fn of_name(&self, name: &str) -> Vec<(&Vec<(String, String)>, f64)> {
        self.samples
            .iter()
            .filter(|((metric, _), _)| metric == name)
            .map(|((_, labels), value)| (labels, *value))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scrape_counts_exactly_the_calls_that_were_made() {
    let sandbox = Sandbox::start().await.unwrap();
    let manifest = setup(&sandbox, "scrape");
    let server = start(&manifest, &[]);

    // The known sequence: two successes, a provider's refusal, a reach
    // for an ungranted origin and a guest that runs past its deadline.
    let connection = json!({ "function": "test-connection" });
    assert_eq!(
        call(&server, "hostmenow", connection.clone(), json!([])),
        "ok"
    );
    assert_eq!(call(&server, "hostmenow", connection, json!([])), "ok");
    let unknown_service = json!({ "function": "suspend", "service": service("svc-missing") });
    let refused = call(&server, "hostmenow", unknown_service, json!([]));
    assert_eq!(refused, "not-found");
    let denied = call(
        &server,
        "misbehaving",
        json!({ "function": "test-connection" }),
        json!([
            { "name": "behaviour", "value": "ungranted-host" },
            { "name": "target-url", "value": "http://127.0.0.1:9/elsewhere" }
        ]),
    );
    assert_eq!(denied, "transport");
    let stopped = call(
        &server,
        "misbehaving",
        json!({ "function": "test-connection" }),
        json!([{ "name": "behaviour", "value": "loop" }]),
    );
    assert_eq!(stopped, "deadline-exceeded");

    let (scrape, text) = Scrape::of(&server);
    let calls = |module, function, outcome| {
        scrape
            .value(
                "provisioning_calls_total",
                &[
                    ("module", module),
                    ("function", function),
                    ("outcome", outcome),
                ],
            )
            .unwrap_or(0.0)
    };
    assert_eq!(calls("hostmenow", "test-connection", "ok"), 2.0);
    assert_eq!(calls("hostmenow", "suspend", "not-found"), 1.0);
    assert_eq!(calls("misbehaving", "test-connection", "transport"), 1.0);
    assert_eq!(
        calls("misbehaving", "test-connection", "deadline-exceeded"),
        1.0
    );
    let total: f64 = scrape
        .of_name("provisioning_calls_total")
        .iter()
        .map(|(_, value)| value)
        .sum();
    assert_eq!(total, 5.0, "no other call was counted:\n{text}");
    assert_eq!(
        scrape.value(
            "provisioning_outbound_denied_total",
            &[("module", "misbehaving")]
        ),
        Some(1.0)
    );
    assert_eq!(
        scrape.value(
            "provisioning_call_duration_seconds",
            &[("module", "hostmenow"), ("function", "test-connection")]
        ),
        Some(2.0),
        "two durations observed"
    );
    // Every attempt waited for a slot: three HostMeNow calls, one attempt
    // each (the refusal is definite, a mutating call is never repeated).
    assert_eq!(
        scrape.value(
            "provisioning_call_slot_wait_seconds",
            &[("module", "hostmenow")]
        ),
        Some(3.0)
    );
    assert_eq!(
        scrape.value(
            "provisioning_guest_memory_peak_bytes",
            &[("module", "hostmenow")]
        ),
        Some(3.0)
    );
    assert_eq!(
        scrape.value("provisioning_instances_in_use", &[]),
        Some(0.0)
    );
    assert!(
        scrape
            .value("provisioning_instances_capacity", &[])
            .unwrap()
            >= 1.0
    );
    // The suspend is on record, answered and not acknowledged; the entry
    // of the host that died is unknown.
    assert_eq!(
        scrape.value("provisioning_journal_pending_entries", &[]),
        Some(2.0)
    );
    assert_eq!(
        scrape.value("provisioning_journal_unknown_entries", &[]),
        Some(1.0)
    );
    let (_, module) = server.get("/v1/modules/hostmenow");
    let digest = module["digest"].as_str().unwrap();
    assert_eq!(
        scrape.value(
            "provisioning_module_info",
            &[("module", "hostmenow"), ("digest", digest)]
        ),
        Some(1.0)
    );
    let started = scrape.value("process_start_time_seconds", &[]).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        started > now - 600.0 && started <= now,
        "{started} vs {now}"
    );

    // Counts only: no secret, no service, no key.
    for private in [
        hostmenow::API_KEY,
        PASSWORD,
        "svc-missing",
        "svc-gone",
        "create-svc-gone",
        TOKEN,
    ] {
        assert!(!text.contains(private), "the scrape shows {private}");
    }
    // Text logs into a pipe (a file, journald) carry no colour codes.
    let log = server.log();
    assert!(log.contains("call succeeded"), "{log}");
    assert!(!log.contains('\u{1b}'), "no ANSI escapes in {log}");
    // Every series has a HELP and a TYPE line.
    for name in [
        "provisioning_calls_total",
        "provisioning_call_duration_seconds",
        "provisioning_journal_unknown_entries",
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{name}:\n{text}");
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}:\n{text}");
    }
}

/// Writes a watched file in one step (a new file renamed over the old),
/// so that the server's watcher never reads it half-written and reloads
/// twice.
fn replace_file(path: &Path, text: impl AsRef<[u8]>) {
    let new = path.with_extension("new");
    std::fs::write(&new, text).unwrap();
    std::fs::rename(&new, path).unwrap();
}

fn ready(server: &Serve) -> (u16, Value) {
    let (status, body) = get_open(server, "/v1/health/ready");
    (status, serde_json::from_str(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn liveness_and_readiness_answer_without_the_token_and_tell_what_is_wrong() {
    let sandbox = Sandbox::start().await.unwrap();
    let manifest = setup(&sandbox, "health");
    let server = start(&manifest, &["--watch-interval-ms", "100"]);

    let (status, body) = get_open(&server, "/v1/health/live");
    assert_eq!((status, body.contains("live")), (200, true));
    let (status, body) = ready(&server);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(body["modules"], json!({ "loaded": 2, "not_ready": 0 }));
    assert_eq!(body["journal"]["writable"], true);
    assert_eq!(body["last_reload"], Value::Null);
    // The token-protected health route stays protected.
    let (status, _) = get_open(&server, "/v1/health");
    assert_eq!(status, 401);

    // Another process holds the journal's write lock: not ready once the
    // probe has gone unanswered (a second), each answer prompt meanwhile.
    let dir = manifest.parent().unwrap();
    let holder = rusqlite::Connection::open(dir.join("journal.sqlite3")).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let prompt_ready = || {
        let asked = std::time::Instant::now();
        let answer = ready(&server);
        let took = asked.elapsed();
        assert!(
            took < std::time::Duration::from_secs(1),
            "readiness took {took:?}"
        );
        answer
    };
    server.wait_until("readiness to see the lock", || prompt_ready().0 == 503);
    let (_, body) = prompt_ready();
    assert_eq!(body["ready"], false);
    assert_eq!(body["journal"]["writable"], false);
    holder.execute_batch("ROLLBACK;").unwrap();
    drop(holder);
    server.wait_until("readiness to see the lock gone", || prompt_ready().0 == 200);

    // A manifest naming a module whose component is missing: the reload
    // is refused for that module, which is not ready; the others serve.
    let text = std::fs::read_to_string(&manifest).unwrap();
    replace_file(
        &manifest,
        format!(
            "{text}\n{}",
            TestManifest::new()
                .module("absent", Module::new("no-such.wasm"))
                .toml()
        ),
    );
    server.wait_until("the reload", || {
        ready(&server).1["last_reload"] != Value::Null
    });
    let (status, body) = ready(&server);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["modules"], json!({ "loaded": 2, "not_ready": 1 }));
    // A module that did not load is "not ready", not a refused version.
    assert_eq!(body["last_reload"]["result"], "accepted", "{body}");

    // A manifest that does not parse, on a line holding an inline key:
    // refused. Readiness says so in states and counts; the reason (which
    // names the manifest's path) only behind the token, and neither shows
    // the line.
    replace_file(
        &manifest,
        format!(
            "{text}\n[modules.extra]\ncomponent = \"x.wasm\"\n[modules.extra.settings]\napi-key = \"{INLINE_KEY}\" oops\n"
        ),
    );
    server.wait_until("the refused reload", || {
        ready(&server).1["last_reload"]["result"] == "refused"
    });
    let (_, body) = ready(&server);
    assert_eq!(
        body["last_reload"]["refused"],
        json!({ "manifest": true, "modules": 0, "tls": false }),
        "{body}"
    );
    assert!(body["last_reload"].get("reason").is_none(), "{body}");
    let shown = body.to_string();
    for private in [
        INLINE_KEY,
        "hostmenow",
        "misbehaving",
        "absent",
        "extra",
        "provisioning.toml",
        dir.to_str().unwrap(),
    ] {
        assert!(
            !shown.contains(private),
            "readiness shows {private}: {shown}"
        );
    }
    let (status, health) = server.get("/v1/health");
    assert_eq!(status, 200, "{health}");
    let reason = health["last_reload"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("provisioning.toml") && reason.contains("line "),
        "{health}"
    );
    assert!(!reason.contains(INLINE_KEY), "{health}");
    assert!(!server.log().contains(INLINE_KEY), "{}", server.log());
    let (scrape, _) = Scrape::of(&server);
    assert_eq!(
        scrape.value("provisioning_reloads_total", &[("result", "accepted")]),
        Some(1.0)
    );
    assert_eq!(
        scrape.value("provisioning_reloads_total", &[("result", "refused")]),
        Some(1.0)
    );
    // Nothing in readiness a stranger should not see.
    let text = body.to_string();
    assert!(!text.contains(hostmenow::API_KEY) && !text.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_the_request_id_and_the_calls_fields_on_every_line() {
    let sandbox = Sandbox::start().await.unwrap();
    let manifest = setup(&sandbox, "logs");
    let server = start(&manifest, &["--log-format", "json"]);

    let response = ureq::post(&format!("{}/v1/modules/hostmenow/call", server.base))
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .set("X-Request-Id", "platform-req-42")
        .send_json(json!({
            "request": { "function": "create-account", "service": service("svc-log") },
            "idempotency_key": "create-svc-log",
        }))
        .unwrap();
    assert_eq!(response.header("x-request-id"), Some("platform-req-42"));
    let (status, body) = answer(Ok(response));
    assert_eq!(status, 200);
    let entry = body["journal_entry"].as_i64().unwrap();
    // Without an id of its own, the client is given one.
    let response = ureq::get(&format!("{}/v1/health/live", server.base))
        .call()
        .unwrap();
    let made = response.header("x-request-id").unwrap().to_string();
    assert_eq!(made.len(), 32, "{made}");

    server.wait_until("the access lines", || {
        server.log().matches("\"provisioning::access\"").count() >= 2
    });
    let log = server.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    for line in &lines {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(line.get(field).is_some(), "{field} missing in {line}");
        }
    }
    let access = lines
        .iter()
        .find(|line| line["target"] == "provisioning::access" && line["method"] == "POST")
        .expect("an access line for the call");
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["route"], "/v1/modules/{module}/call");
    assert_eq!(access["status"], 200);
    assert_eq!(access["module"], "hostmenow");
    assert_eq!(access["function"], "create-account");
    assert!(access["duration_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(access["spans"][0]["request_id"], "platform-req-42");
    let live = lines
        .iter()
        .find(|line| line["target"] == "provisioning::access" && line["route"] == "/v1/health/live")
        .expect("an access line for the health check");
    assert_eq!(live["spans"][0]["request_id"], made.as_str());

    // Every event of the call carries the same correlation fields.
    let of_call: Vec<&Value> = lines
        .iter()
        .filter(|line| {
            line["spans"]
                .as_array()
                .is_some_and(|spans| spans.iter().any(|span| span["name"] == "call"))
        })
        .collect();
    assert!(
        of_call
            .iter()
            .any(|line| line["message"] == "call succeeded"),
        "{log}"
    );
    for line in &of_call {
        let spans = line["spans"].as_array().unwrap();
        assert_eq!(spans[0]["request_id"], "platform-req-42", "{line}");
        let call = spans.iter().find(|span| span["name"] == "call").unwrap();
        assert_eq!(call["module"], "hostmenow", "{line}");
        assert_eq!(call["function"], "create-account", "{line}");
        assert_eq!(call["service_id"], "svc-log", "{line}");
        assert_eq!(call["idempotency_key"], "create-svc-log", "{line}");
        if line["message"] == "call succeeded" {
            assert_eq!(call["journal_entry"], entry, "{line}");
        }
    }
    assert!(!log.contains(PASSWORD), "the password is masked");
    assert!(!log.contains(hostmenow::API_KEY), "the API key is masked");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_serve_token_is_never_logged_nor_echoed_even_as_a_request_id() {
    let sandbox = Sandbox::start().await.unwrap();
    let manifest = setup(&sandbox, "token-id");
    let server = start(&manifest, &["--log-format", "json"]);

    // The token as the request id, alone or inside one, on the API and on
    // an open route; a module's key as one too.
    let mut echoed = Vec::new();
    for id in [
        TOKEN.to_string(),
        format!("req-{TOKEN}-1"),
        hostmenow::API_KEY.to_string(),
    ] {
        let response = ureq::post(&format!("{}/v1/modules/hostmenow/call", server.base))
            .set("Authorization", &format!("Bearer {TOKEN}"))
            .set("X-Request-Id", &id)
            .send_json(json!({ "request": { "function": "test-connection" } }))
            .unwrap();
        echoed.push(response.header("x-request-id").unwrap().to_string());
        let response = ureq::get(&format!("{}/v1/health/live", server.base))
            .set("X-Request-Id", &id)
            .call()
            .unwrap();
        echoed.push(response.header("x-request-id").unwrap().to_string());
    }
    for id in &echoed {
        assert_eq!(id.len(), 32, "a new id instead: {id}");
        assert!(!id.contains(TOKEN) && !id.contains(hostmenow::API_KEY));
    }
    // A refusal quoting what was sent does not quote the token back.
    let (status, refused) = server.post(
        "/v1/modules/hostmenow/call",
        &json!({ "request": { "function": TOKEN } }),
    );
    assert_eq!(status, 400, "{refused}");
    assert!(!refused.to_string().contains(TOKEN), "{refused}");

    server.wait_until("the access lines", || {
        server.log().matches("\"provisioning::access\"").count() >= 7
    });
    let log = server.log();
    assert!(!log.contains(TOKEN), "the token is in the log:\n{log}");
    assert!(!log.contains(hostmenow::API_KEY), "{log}");
    // A plain id is still kept.
    let response = ureq::get(&format!("{}/v1/health/live", server.base))
        .set("X-Request-Id", "platform-req-43")
        .call()
        .unwrap();
    assert_eq!(response.header("x-request-id"), Some("platform-req-43"));
}
