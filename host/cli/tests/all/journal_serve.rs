//! The journal's promises through a running `provisioning serve`: the real
//! binary, a real SQLite file, the sandbox over loopback. A call still
//! running cannot be acknowledged and keeps its outcome; concurrent callers
//! of one key share one call; a locked journal refuses mutating calls
//! unsent while health and reads go on; a key names one request; a key is
//! bounded; a server killed mid-call leaves an unknown entry that an
//! operator resolves through the API; a lost answer is reconciled with the
//! provider by the background pass.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Serve;
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::{Sandbox, hostmenow, webline};
use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::{Value, json};

const TOKEN: &str = "journal-serve-token-0123456789";
const TOKEN_VAR: &str = "TEST_JS_TOKEN";

/// A fresh directory with a manifest serving Webline and HostMeNow from
/// the sandbox, with a journal whose leases last one second.
fn setup(sandbox: &Sandbox, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provisioning-journal-serve-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("provisioning.toml");
    TestManifest::new()
        .sqlite_journal("journal.sqlite3", "TEST_JS_JOURNAL_KEY")
        .lease_seconds(1)
        .module(
            "webline",
            Module::webline(sandbox)
                .deadline(Duration::from_secs(10))
                .secret_env("api-key", "TEST_JS_WEBLINE")
                .setting("activation-wait-seconds", "0"),
        )
        .module(
            "hostmenow",
            Module::hostmenow(sandbox)
                .deadline(Duration::from_secs(3))
                .secret_env("api-key", "TEST_JS_HMN"),
        )
        .write(&manifest);
    manifest
}

fn start(manifest: &Path) -> Serve {
    start_with(manifest, &[])
}

fn start_with(manifest: &Path, extra: &[&str]) -> Serve {
    let journal_key = "cd".repeat(32);
    Serve::start(
        manifest,
        (TOKEN_VAR, TOKEN),
        &[
            ("TEST_JS_JOURNAL_KEY", &journal_key),
            ("TEST_JS_WEBLINE", webline::API_KEY),
            ("TEST_JS_HMN", hostmenow::API_KEY),
        ],
        extra,
    )
}

fn webline_service(id: &str) -> Value {
    json!({
        "service_id": id, "domain": format!("{id}.co.tz"), "package": "1",
        "billing_cycle": "monthly",
        "client": {
            "first_name": "Asha", "last_name": "Mushi", "email": "asha@example.co.tz",
            "phone": "+255712345678", "country": "TZ"
        },
        "custom_fields": []
    })
}

fn hostmenow_service(id: &str) -> Value {
    json!({
        "service_id": id, "remote_id": "7001", "domain": format!("{id}.example.com"),
        "username": "u1", "password": "Serve-Pa55word!", "package": "101",
        "billing_cycle": "monthly",
        "client": { "first_name": "Test", "last_name": "Client", "email": "c@example.com" },
        "custom_fields": []
    })
}

/// `POST /v1/modules/{module}/call` with a key: the status and body.
fn call(server: &Serve, module: &str, request: Value, key: &str) -> (u16, Value) {
    server.post(
        &format!("/v1/modules/{module}/call"),
        &json!({ "request": request, "idempotency_key": key }),
    )
}

fn create(server: &Serve, id: &str, key: &str) -> Value {
    let (status, body) = call(
        server,
        "webline",
        json!({ "function": "create-account", "service": webline_service(id) }),
        key,
    );
    assert_eq!(status, 200, "{body}");
    body
}

fn pending(server: &Serve) -> Vec<Value> {
    let (status, body) = server.get("/v1/journal/pending");
    assert_eq!(status, 200, "{body}");
    body["pending"].as_array().unwrap().clone()
}

/// Polls `pending` until `done` holds for it (20 s at most).
fn wait_for_pending(server: &Serve, mut done: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let entries = pending(server);
        if done(&entries) {
            return entries;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{entries:#?}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn credential(value: &Value, name: &str) -> Option<String> {
    value["credentials"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
        .map(|c| c["value"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_still_running_cannot_be_acknowledged_and_keeps_its_outcome() {
    let sandbox = Sandbox::start().await.unwrap();
    let server = start(&setup(&sandbox, "running"));
    sandbox
        .webline()
        .faults()
        .inject(Fault::Slow(Duration::from_secs(2)), 1);
    let (entry_after, answer, ack) = tokio::task::spawn_blocking(move || {
        std::thread::scope(|scope| {
            let running = scope.spawn(|| create(&server, "running-1", "create-running-1"));
            let entries = wait_for_pending(&server, |e| !e.is_empty());
            assert_eq!(entries[0]["state"], "in-flight", "{entries:#?}");
            let id = entries[0]["id"].as_i64().unwrap();
            let ack = server.post(&format!("/v1/journal/{id}/ack"), &json!({}));
            let resolve = server.post(
                &format!("/v1/journal/{id}/ack"),
                &json!({ "finding": "not-done" }),
            );
            assert_eq!(resolve.0, 409, "{}", resolve.1);
            let answer = running.join().unwrap();
            (pending(&server), answer, ack)
        })
    })
    .await
    .unwrap();
    assert_eq!(ack.0, 409, "{}", ack.1);
    assert_eq!(ack.1["error"]["kind"], "in-flight");
    assert_eq!(answer["ok"]["kind"], "created", "{answer}");
    // The outcome was recorded, generated password sealed, still pending.
    let account = sandbox.webline().accounts()[0].clone();
    assert_eq!(entry_after.len(), 1);
    assert_eq!(entry_after[0]["state"], "answered");
    assert_eq!(
        credential(&entry_after[0], "password").as_deref(),
        Some(account.password.as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_callers_of_one_key_all_get_the_one_answer() {
    let sandbox = Sandbox::start().await.unwrap();
    let server = start(&setup(&sandbox, "twenty"));
    sandbox
        .webline()
        .faults()
        .inject(Fault::Slow(Duration::from_secs(1)), 1);
    let answers = tokio::task::spawn_blocking(move || {
        std::thread::scope(|scope| {
            let calls: Vec<_> = (0..20)
                .map(|_| scope.spawn(|| create(&server, "twenty-1", "create-twenty-1")))
                .collect();
            calls
                .into_iter()
                .map(|c| c.join().unwrap())
                .collect::<Vec<_>>()
        })
    })
    .await
    .unwrap();
    assert_eq!(sandbox.webline().accounts().len(), 1, "one account");
    let entry = answers[0]["journal_entry"].clone();
    assert!(entry.is_i64(), "{}", answers[0]);
    let password = credential(&answers[0]["ok"]["value"], "password").unwrap();
    for answer in &answers {
        assert_eq!(answer["ok"]["kind"], "created", "{answer}");
        assert_eq!(answer["journal_entry"], entry);
        assert_eq!(
            credential(&answer["ok"]["value"], "password").as_deref(),
            Some(password.as_str()),
            "every caller gets the generated password"
        );
    }
    let ran = answers.iter().filter(|a| a["replayed"] == false).count();
    assert_eq!(ran, 1, "one call ran; the others got its answer");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_journal_refuses_changes_unsent_while_health_and_reads_go_on() {
    let sandbox = Sandbox::start().await.unwrap();
    let manifest = setup(&sandbox, "locked");
    let server = start(&manifest);
    // The journal exists once the server is up; another process (this
    // test) takes its write lock and holds it.
    let locker = rusqlite::Connection::open(manifest.with_file_name("journal.sqlite3")).unwrap();
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();

    let server = std::sync::Arc::new(server);
    let (suspends, health, read, health_at, suspended_at) = {
        let server = server.clone();
        tokio::task::spawn_blocking(move || {
            std::thread::scope(|scope| {
                let suspends: Vec<_> = (0..4)
                    .map(|i| {
                        let server = &server;
                        scope.spawn(move || {
                            let answer = call(
                                server,
                                "hostmenow",
                                json!({ "function": "suspend", "service": hostmenow_service(&format!("lock-{i}")) }),
                                &format!("suspend-lock-{i}"),
                            );
                            (answer, Instant::now())
                        })
                    })
                    .collect();
                // Give the suspends a head start, so they hold the journal's
                // queue when health and a read arrive.
                std::thread::sleep(Duration::from_millis(300));
                let health = server.get("/v1/health");
                let read = call(
                    &server,
                    "webline",
                    json!({ "function": "test-connection" }),
                    "read-1",
                );
                let health_at = Instant::now();
                let suspends: Vec<_> = suspends.into_iter().map(|s| s.join().unwrap()).collect();
                let suspended_at = suspends.iter().map(|(_, at)| *at).min().unwrap();
                (
                    suspends.into_iter().map(|(a, _)| a).collect::<Vec<_>>(),
                    health,
                    read,
                    health_at,
                    suspended_at,
                )
            })
        })
        .await
        .unwrap()
    };
    assert_eq!(health.0, 200, "{}", health.1);
    assert_eq!(read.0, 200);
    assert_eq!(read.1["ok"]["kind"], "connection", "{}", read.1);
    assert!(
        health_at < suspended_at,
        "health and a read answered while every mutating call still waited for the journal: {suspends:?}"
    );
    for (status, body) in &suspends {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["error"]["kind"], "journal", "{body}");
    }
    let sent = sandbox
        .hostmenow()
        .requests()
        .iter()
        .filter(|r| r.action == "SuspendAccount")
        .count();
    assert_eq!(sent, 0, "nothing mutating reached the provider");

    // The lock goes: the journal works again, and the refused calls were
    // not left behind as running or unknown.
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    let server = std::sync::Arc::try_unwrap(server).ok().unwrap();
    let (answer, entries) = tokio::task::spawn_blocking(move || {
        let answer = call(
            &server,
            "hostmenow",
            json!({ "function": "suspend", "service": hostmenow_service("lock-0") }),
            "suspend-lock-0",
        );
        (answer, pending(&server))
    })
    .await
    .unwrap();
    // Journaled and sent this time (the sandbox has no such service).
    assert!(answer.1["journal_entry"].is_i64(), "{}", answer.1);
    assert_eq!(answer.1["error"]["kind"], "not-found", "{}", answer.1);
    assert!(
        entries
            .iter()
            .all(|e| e["state"] != "in-flight" && e["state"] != "unknown"),
        "{entries:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_names_one_request_and_is_bounded() {
    let sandbox = Sandbox::start().await.unwrap();
    let server = start(&setup(&sandbox, "conflict"));
    let (first, changed, long) = tokio::task::spawn_blocking(move || {
        let first = create(&server, "conflict-1", "create-conflict-1");
        let mut other = webline_service("conflict-1");
        other["domain"] = json!("another.co.tz");
        let changed = call(
            &server,
            "webline",
            json!({ "function": "create-account", "service": other }),
            "create-conflict-1",
        );
        let long = call(
            &server,
            "webline",
            json!({ "function": "create-account", "service": webline_service("conflict-2") }),
            &"k".repeat(70_000),
        );
        let _ = pending(&server);
        (first, changed, long)
    })
    .await
    .unwrap();
    assert_eq!(first["ok"]["kind"], "created");
    assert_eq!(changed.0, 200);
    assert_eq!(
        changed.1["error"]["kind"], "idempotency-conflict",
        "{}",
        changed.1
    );
    assert_eq!(changed.1["replayed"], false);
    assert_eq!(long.1["error"]["kind"], "invalid-input", "{}", long.1);
    assert!(long.1.to_string().len() < 1_000, "the key is not echoed");
    assert_eq!(sandbox.webline().accounts().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_mid_call_leaves_an_unknown_entry_an_operator_resolves() {
    let sandbox = Sandbox::start().await.unwrap();
    let manifest = setup(&sandbox, "killed");
    let mut server = start(&manifest);
    sandbox
        .webline()
        .faults()
        .inject(Fault::Slow(Duration::from_secs(3)), 1);
    let (server_gone, id) = tokio::task::spawn_blocking(move || {
        let base = server.base.clone();
        std::thread::spawn(move || {
            // The answer never comes: the server dies first.
            let _ = ureq::post(&format!("{base}/v1/modules/webline/call"))
                .set("Authorization", &format!("Bearer {TOKEN}"))
                .send_json(json!({
                    "request": { "function": "create-account", "service": webline_service("killed-1") },
                    "idempotency_key": "create-killed-1",
                }));
        });
        let entries = wait_for_pending(&server, |e| !e.is_empty());
        assert_eq!(entries[0]["state"], "in-flight");
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        (server, entries[0]["id"].as_i64().unwrap())
    })
    .await
    .unwrap();
    drop(server_gone);
    // The provider's delay runs out; the cut-off request changed nothing.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(sandbox.webline().accounts().is_empty());

    let server = start(&manifest);
    let (unknown, repeat, plain, done, replay) = tokio::task::spawn_blocking(move || {
        // Unknown once the lease has run out; an operator's finding is
        // taken once the call's deadline has passed too.
        let unknown = wait_for_pending(&server, |e| {
            e.first()
                .is_some_and(|e| e["state"] == "unknown" && e["attempt_over"] == true)
        });
        let repeat = create(&server, "killed-1", "create-killed-1");
        let plain = server.post(&format!("/v1/journal/{id}/ack"), &json!({}));
        // The operator finds the account at the provider after all (say
        // it was made by hand meanwhile) and records it.
        let done = server.post(
            &format!("/v1/journal/{id}/ack"),
            &json!({ "finding": "done", "remote_id": "4242", "note": "made by hand, ticket 17" }),
        );
        let replay = create(&server, "killed-1", "create-killed-1");
        (unknown, repeat, plain, done, replay)
    })
    .await
    .unwrap();
    assert_eq!(unknown[0]["id"], id);
    assert_eq!(repeat["error"]["kind"], "outcome-unknown", "{repeat}");
    assert_eq!(repeat["journal_entry"], id, "the refusal names the entry");
    assert_eq!(plain.0, 409, "{}", plain.1);
    assert_eq!(plain.1["error"]["kind"], "finding-required");
    assert_eq!(done.0, 200, "{}", done.1);
    assert_eq!(replay["replayed"], true, "{replay}");
    assert_eq!(replay["journal_entry"], id);
    assert_eq!(replay["ok"]["value"]["remote_id"], "4242");
    assert!(
        sandbox.webline().accounts().is_empty(),
        "nothing sent again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_background_pass_reconciles_a_lost_answer_with_the_provider() {
    let sandbox = Sandbox::start().await.unwrap();
    let manifest = setup(&sandbox, "reconcile-every");
    sandbox.webline().faults().inject(Fault::AnswerLost, 1);
    let sim = sandbox.webline().clone();
    tokio::task::spawn_blocking(move || {
        let server = start_with(&manifest, &["--reconcile-every-secs", "1"]);
        let lost = create(&server, "rec1", "rec-every");
        assert!(lost["error"].is_object(), "{lost}");
        assert_eq!(sim.accounts().len(), 1, "the provider did create it");
        let remote_id = sim.accounts()[0].id.to_string();
        // Unknown at first; the pass resolves it within a second or two.
        wait_for_pending(&server, |entries| entries.is_empty());
        let again = create(&server, "rec1", "rec-every");
        assert_eq!(again["replayed"], true, "{again}");
        assert_eq!(
            again["ok"]["value"]["remote_id"],
            remote_id.as_str(),
            "{again}"
        );
        assert_eq!(sim.accounts().len(), 1, "no second account");
        let log = server.log();
        assert!(
            log.contains("reconcile pass") && log.contains("resolved=1"),
            "{log}"
        );
    })
    .await
    .unwrap();
}
