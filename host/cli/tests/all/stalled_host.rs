//! A host that stalls mid-call, and a journal that stops taking writes
//! mid-call: two real `provisioning serve` processes on one throwaway
//! PostgreSQL journal (a server of the test's own, so that it can be
//! stopped) and the sandbox, whose Webline is slowed so that the stall or
//! the outage falls between a call's intent and its outcome.
//!
//! - A host stopped (SIGSTOP) mid-create: the other host sees its entry
//!   unknown once the lease is over, but nothing decides it, nor runs its
//!   key again, before the attempt's deadline; after it, reconcile
//!   decides from the provider, and the stalled host's late outcome, once
//!   it resumes, does not reopen the decided entry. The provider sees one
//!   create for the key.
//! - The journal's database stopped between a create's intent and its
//!   outcome: the caller gets the answer saying it is not journaled yet; a
//!   repeat of the key on the host is answered from memory; an
//!   acknowledgement is refused plainly; once the database is back the
//!   outcome is written and the entry acknowledged. The same with a SQLite
//!   journal whose file another process holds locked.

use crate::common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::Serve;
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::{Sandbox, webline};
use provisioning_test_postgres::PgServer;
use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::{Value, json};

const TOKEN: &str = "stalled-host-token-0123456789";
const TOKEN_VAR: &str = "TEST_STALL_TOKEN";

/// A manifest serving Webline from the sandbox with a journal at the URL
/// in `TEST_STALL_JOURNAL_URL`, leases of a second and `deadline`.
fn setup(sandbox: &Sandbox, name: &str, deadline: Duration) -> PathBuf {
    let journal =
        TestManifest::new().postgres_journal("TEST_STALL_JOURNAL_URL", "TEST_STALL_JOURNAL_KEY");
    setup_on(sandbox, name, deadline, journal)
}

/// [`setup`] with `journal`'s `[journal]` section.
fn setup_on(sandbox: &Sandbox, name: &str, deadline: Duration, journal: TestManifest) -> PathBuf {
    let dir = common::fresh_dir(&format!("stalled-host-{name}"));
    let manifest = dir.join("provisioning.toml");
    journal
        .lease_seconds(1)
        .module(
            "webline",
            Module::webline(sandbox)
                .deadline(deadline)
                .secret_env("api-key", "TEST_STALL_WEBLINE")
                .setting("activation-wait-seconds", "0"),
        )
        .write(&manifest);
    manifest
}

fn start(manifest: &std::path::Path, url: &str) -> Serve {
    let key = "ab".repeat(32);
    Serve::start(
        manifest,
        (TOKEN_VAR, TOKEN),
        &[
            ("TEST_STALL_JOURNAL_URL", url),
            ("TEST_STALL_JOURNAL_KEY", &key),
            ("TEST_STALL_WEBLINE", webline::API_KEY),
        ],
        &[],
    )
}

fn create(key: &str) -> Value {
    json!({
        "request": {
            "function": "create-account",
            "service": {
                "service_id": "svc-stall", "domain": "stalled.co.tz", "package": "1",
                "billing_cycle": "monthly",
                "client": {
                    "first_name": "Asha", "last_name": "Mushi", "email": "asha@example.co.tz",
                    "phone": "+255712345678", "country": "TZ"
                },
                "custom_fields": []
            }
        },
        "idempotency_key": key,
    })
}

fn pending(host: &Serve) -> Vec<Value> {
    let (status, body) = host.get("/v1/journal/pending");
    assert_eq!(status, 200, "{body}");
    body["pending"].as_array().unwrap().clone()
}

/// `POST` from a thread of its own, the answer handed back when it ends.
fn post_in_background(
    host: &Serve,
    path: &str,
    body: Value,
) -> std::thread::JoinHandle<(u16, Value)> {
    let url = format!("{}{path}", host.base);
    std::thread::spawn(move || {
        common::answer(
            ureq::post(&url)
                .set("Authorization", &format!("Bearer {TOKEN}"))
                .send_json(body),
        )
    })
}

fn signal(host: &Serve, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &host.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal}");
}

/// Create-account requests that reached the provider.
fn creates(sim: &provisioning_sandbox::webline::Webline) -> usize {
    sim.requests()
        .iter()
        .filter(|request| request.action == "createAccount")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_hosts_entry_is_decided_only_after_its_deadline_and_stays_decided() {
    const DEADLINE: Duration = Duration::from_secs(6);
    let url = tokio::task::spawn_blocking(|| PgServer::shared().database("stalled_host"))
        .await
        .unwrap();
    let sandbox = Sandbox::start().await.unwrap();
    let manifest = setup(&sandbox, "stalled", DEADLINE);
    // The provider takes half the deadline; the first host stalls
    // meanwhile, well past its lease.
    sandbox
        .webline()
        .faults()
        .inject(Fault::Slow(Duration::from_secs(3)), 1);
    let sim = sandbox.webline().clone();
    tokio::task::spawn_blocking(move || {
        let stalled = start(&manifest, &url);
        let other = start(&manifest, &url);
        let started = Instant::now();
        let first = post_in_background(&stalled, "/v1/modules/webline/call", create("stall-1"));
        other.wait_until("the intent on record", || !pending(&other).is_empty());
        signal(&stalled, "-STOP");
        other.wait_until("the stalled host's entry unknown", || {
            pending(&other)[0]["state"] == "unknown"
        });
        let entry = pending(&other)[0].clone();
        let id = entry["id"].as_i64().unwrap();
        assert_eq!(entry["attempt_over"], false, "{entry}");
        let waited_for_unknown = started.elapsed();

        // Before the deadline: reconcile decides nothing, an operator's
        // finding is refused, the key does not run again.
        let (status, report) = other.post("/v1/journal/reconcile", &json!({}));
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["resolved"], 0, "{report}");
        assert_eq!(report["entries"][0]["verdict"], "undecided", "{report}");
        let (status, refused) = other.post(
            &format!("/v1/journal/{id}/ack"),
            &json!({ "finding": "not-done" }),
        );
        assert_eq!(status, 409, "{refused}");
        assert_eq!(refused["error"]["kind"], "attempt-running", "{refused}");
        let (_, retried) = other.post("/v1/modules/webline/call", &create("stall-1"));
        assert_eq!(retried["error"]["kind"], "outcome-unknown", "{retried}");

        // After it, reconcile decides from what the provider shows.
        other.wait_until("the attempt's deadline passed", || {
            pending(&other)[0]["attempt_over"] == true
        });
        assert!(started.elapsed() >= DEADLINE, "{:?}", started.elapsed());
        let (status, report) = other.post("/v1/journal/reconcile", &json!({}));
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["resolved"], 1, "{report}");
        let verdict = report["entries"][0]["verdict"].clone();
        // Whichever it is, the platform's retry now gets one account.
        let (_, retried) = other.post("/v1/modules/webline/call", &create("stall-1"));
        assert_eq!(retried["ok"]["kind"], "created", "{retried}");

        // The stalled host resumes: its call ends past its deadline, its
        // outcome is fenced out, its caller hears an uncertain failure.
        signal(&stalled, "-CONT");
        let (status, late) = first.join().unwrap();
        assert_eq!(status, 200, "{late}");
        assert!(late["ok"].is_null(), "{late}");
        assert_eq!(late["error"]["uncertain"], true, "{late}");
        assert_eq!(late["journaled"], false, "{late}");
        // The decision stands: the entry is not pending again.
        std::thread::sleep(Duration::from_millis(500));
        let left: Vec<i64> = pending(&other)
            .iter()
            .filter_map(|entry| entry["id"].as_i64())
            .collect();
        assert!(!left.contains(&id), "entry {id} reopened: {left:?}");
        let reached = creates(&sim);
        println!(
            "stalled host: unknown after {:.1} s, decided after {:.1} s ({verdict}), \
             {reached} create(s) reached the provider, {} account(s)",
            waited_for_unknown.as_secs_f64(),
            DEADLINE.as_secs_f64(),
            sim.accounts().len()
        );
        assert!(
            reached <= 1,
            "{reached} creates reached the provider for one key"
        );
        assert_eq!(sim.accounts().len(), 1);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outcome_the_stopped_database_did_not_take_is_said_kept_and_written_once_it_is_back() {
    // A server of the test's own: it is stopped mid-call.
    let server = tokio::task::spawn_blocking(PgServer::start).await.unwrap();
    let sandbox = Sandbox::start().await.unwrap();
    let manifest = setup(&sandbox, "stopped-db", Duration::from_secs(10));
    // The provider takes its time: the database is stopped meanwhile.
    sandbox
        .webline()
        .faults()
        .inject(Fault::Slow(Duration::from_secs(2)), 1);
    let sim = sandbox.webline().clone();
    tokio::task::spawn_blocking(move || {
        let url = server.database("stopped_db");
        let host = start(&manifest, &url);
        let call = post_in_background(&host, "/v1/modules/webline/call", create("held-1"));
        host.wait_until("the intent on record", || !pending(&host).is_empty());
        server.stop();
        let (status, answer) = call.join().unwrap();
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["ok"]["kind"], "created", "{answer}");
        assert_eq!(answer["journaled"], false, "the answer says so: {answer}");
        let id = answer["journal_entry"].as_i64().unwrap();
        let remote_id = answer["ok"]["value"]["remote_id"].clone();
        let password = answer["ok"]["value"]["credentials"].clone();
        assert!(
            password.as_array().is_some_and(|c| !c.is_empty()),
            "{answer}"
        );

        // While it is held: a repeat of the key is answered from memory,
        // nothing sent; an acknowledgement is refused, plainly.
        let (_, repeated) = host.post("/v1/modules/webline/call", &create("held-1"));
        assert_eq!(
            repeated["ok"]["value"]["remote_id"], remote_id,
            "{repeated}"
        );
        assert_eq!(
            repeated["ok"]["value"]["credentials"], password,
            "{repeated}"
        );
        assert_eq!(repeated["replayed"], true, "{repeated}");
        assert_eq!(repeated["journaled"], false, "{repeated}");
        let (status, refused) = host.post(&format!("/v1/journal/{id}/ack"), &json!({}));
        assert_eq!(status, 409, "{refused}");
        assert_eq!(refused["error"]["kind"], "not-journaled", "{refused}");

        // Back: the outcome is written, the entry answered, then
        // acknowledged.
        server.start_again();
        let back = Instant::now();
        host.wait_until("the held outcome written", || {
            let (status, body) = host.get("/v1/journal/pending");
            status == 200
                && body["pending"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|e| e["id"] == id && e["state"] == "answered"))
        });
        let written_after = back.elapsed();
        let (_, repeated) = host.post("/v1/modules/webline/call", &create("held-1"));
        assert_eq!(
            repeated["ok"]["value"]["remote_id"], remote_id,
            "{repeated}"
        );
        assert_eq!(repeated["journaled"], true, "{repeated}");
        let (status, acked) = host.post(&format!("/v1/journal/{id}/ack"), &json!({}));
        assert_eq!(status, 200, "{acked}");
        assert!(pending(&host).is_empty());
        assert_eq!(creates(&sim), 1, "one create reached the provider");
        println!(
            "stopped database: answered journaled=false, outcome written {:.1} s after the \
             database came back, then acknowledged",
            written_after.as_secs_f64()
        );
    })
    .await
    .unwrap();
}

/// The same on SQLite: another process holds the journal file's write lock
/// between the intent and the outcome (as `journal` commands or a full disk
/// would stop its writes).
#[tokio::test(flavor = "multi_thread")]
async fn an_outcome_a_locked_sqlite_journal_did_not_take_is_written_once_it_is_free() {
    let sandbox = Sandbox::start().await.unwrap();
    let manifest = setup_on(
        &sandbox,
        "locked-db",
        Duration::from_secs(10),
        TestManifest::new().sqlite_journal("journal.sqlite3", "TEST_STALL_JOURNAL_KEY"),
    );
    sandbox
        .webline()
        .faults()
        .inject(Fault::Slow(Duration::from_secs(2)), 1);
    tokio::task::spawn_blocking(move || {
        let host = start(&manifest, "unused");
        let call = post_in_background(&host, "/v1/modules/webline/call", create("held-2"));
        host.wait_until("the intent on record", || !pending(&host).is_empty());
        let locker =
            rusqlite::Connection::open(manifest.with_file_name("journal.sqlite3")).unwrap();
        locker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (status, answer) = call.join().unwrap();
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["ok"]["kind"], "created", "{answer}");
        assert_eq!(answer["journaled"], false, "{answer}");
        let id = answer["journal_entry"].as_i64().unwrap();
        let (status, refused) = host.post(&format!("/v1/journal/{id}/ack"), &json!({}));
        assert_eq!(status, 409, "{refused}");
        assert_eq!(refused["error"]["kind"], "not-journaled", "{refused}");

        locker.execute_batch("ROLLBACK").unwrap();
        host.wait_until("the held outcome written", || {
            pending(&host)
                .iter()
                .any(|e| e["id"] == id && e["state"] == "answered")
        });
        let (status, acked) = host.post(&format!("/v1/journal/{id}/ack"), &json!({}));
        assert_eq!(status, 200, "{acked}");
    })
    .await
    .unwrap();
}
