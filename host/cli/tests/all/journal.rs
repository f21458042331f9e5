//! Nothing is lost when the host dies: the real `provisioning` binary is
//! killed (SIGKILL) after the provider answered and before the caller got
//! the answer, or while the provider is still working; after a restart,
//! `journal pending` shows the answer with its credentials, or the call as
//! unknown, and `journal ack` clears it. A repeated idempotency key gets the
//! recorded answer instead of a second account. `journal rekey` re-seals
//! the pending credentials under a new key (the old key is then refused,
//! saying so) and `journal purge` deletes acknowledged entries only.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::text;
use provisioning_host::types::Service;
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::{Sandbox, webline};
use provisioning_test_support::manifest::{Module, TestManifest};
use provisioning_test_support::service_json;

const KEY_VAR: &str = "TEST_JOURNAL_KEY";
const API_KEY_VAR: &str = "TEST_WEBLINE_KEY";

fn command(args: &[&str], key: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_provisioning"));
    command
        .args(args)
        .env_remove("RUST_LOG")
        .env(KEY_VAR, key)
        .env(API_KEY_VAR, webline::API_KEY);
    command
}

fn run(args: &[&str], key: &str) -> Output {
    command(args, key).output().expect("the binary runs")
}

/// A manifest for Webline in the sandbox with a journal, in a fresh
/// directory; also writes the service file. Returns (manifest, service).
fn setup(sandbox: &Sandbox, name: &str) -> (String, String) {
    let manifest = write_manifest(sandbox, name);
    setup_service(&manifest, name)
}

/// A fresh directory with a manifest for Webline in the sandbox, with a
/// journal.
fn write_manifest(sandbox: &Sandbox, name: &str) -> String {
    let dir = std::env::temp_dir().join(format!(
        "provisioning-journal-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("provisioning.toml");
    TestManifest::new()
        .sqlite_journal("journal.sqlite3", KEY_VAR)
        .lease_seconds(1)
        .module(
            "webline",
            Module::webline(sandbox)
                .deadline(Duration::from_secs(10))
                .secret_env("api-key", API_KEY_VAR)
                .setting("activation-wait-seconds", "0"),
        )
        .write(&manifest);
    path_str(manifest)
}

/// Writes the service file `<name>.json` beside the manifest, for
/// `svc-<name>` on `<name>.co.tz`. Returns (manifest, service).
fn setup_service(manifest: &str, name: &str) -> (String, String) {
    let service = std::path::Path::new(manifest).with_file_name(format!("{name}.json"));
    std::fs::write(
        &service,
        service_json(&Service {
            service_id: format!("svc-{name}"),
            ..provisioning_test_support::webline::service(&format!("{name}.co.tz"), "1")
        })
        .to_string(),
    )
    .unwrap();
    (manifest.to_string(), path_str(service))
}

fn path_str(path: PathBuf) -> String {
    path.to_str().unwrap().to_string()
}

fn create_args<'a>(manifest: &'a str, service: &'a str, key: &'a str) -> Vec<&'a str> {
    vec![
        "call",
        "--manifest",
        manifest,
        "webline",
        "create-account",
        "--service",
        service,
        "--idempotency-key",
        key,
        "--json",
    ]
}

/// Reads the child's stderr until a line contains `marker`.
fn wait_for_stderr(child: &mut Child, marker: &str) -> String {
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the child ended before saying {marker:?}"))
            .unwrap();
        if line.contains(marker) {
            return line;
        }
    }
}

fn pending(manifest: &str, key: &str) -> Vec<serde_json::Value> {
    let output = run(
        &["journal", "pending", "--manifest", manifest, "--json"],
        key,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Starts a create-account under `idempotency_key` and kills the process
/// (SIGKILL) as soon as its intent is on record; answers the pending
/// entries as they were then.
async fn kill_once_recorded(
    manifest: &str,
    service: &str,
    idempotency_key: &str,
    key: &str,
) -> Vec<serde_json::Value> {
    let mut child = command(&create_args(manifest, service, idempotency_key), key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (m, k) = (manifest.to_string(), key.to_string());
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let entries = loop {
            let entries = pending(&m, &k);
            if !entries.is_empty() {
                break entries;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no intent recorded"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        child.kill().unwrap();
        child.wait().unwrap();
        entries
    })
    .await
    .unwrap()
}

/// Runs a create-account under `idempotency_key` that halts once the
/// provider has answered, before the caller hears of it, and SIGKILLs it
/// there: the answer is only in the journal. What the process printed.
fn killed_before_answer(
    manifest: &str,
    service: &str,
    idempotency_key: &str,
    key: &str,
) -> std::process::Output {
    let mut args = create_args(manifest, service, idempotency_key);
    args.push("--halt-before-answer");
    let mut child = command(&args, key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_stderr(&mut child, "halting before the answer");
    child.kill().unwrap(); // SIGKILL
    child.wait_with_output().unwrap()
}

fn journal_key() -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_provisioning"))
        .args(["journal", "keygen"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let key = text(&output.stdout).trim().to_string();
    assert_eq!(key.len(), 64);
    key
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_survive_a_kill_between_answer_and_caller() {
    let sandbox = Sandbox::start().await.unwrap();
    let (manifest, service) = setup(&sandbox, "killed");
    let key = journal_key();

    let (m, s, k) = (manifest.clone(), service.clone(), key.clone());
    let child = tokio::task::spawn_blocking(move || killed_before_answer(&m, &s, "order-4711", &k))
        .await
        .unwrap();
    assert!(
        !text(&child.stdout).contains("password"),
        "the caller never got the answer"
    );

    // The provider did act, once, and generated a password.
    let accounts = sandbox.webline().accounts();
    assert_eq!(accounts.len(), 1);
    let account = accounts[0].clone();

    let (manifest2, key2) = (manifest.clone(), key.clone());
    let entries = tokio::task::spawn_blocking(move || pending(&manifest2, &key2))
        .await
        .unwrap();
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let entry = &entries[0];
    assert_eq!(entry["state"], "answered");
    assert_eq!(entry["intent"]["function"], "create-account");
    assert_eq!(entry["intent"]["idempotency_key"], "order-4711");
    let credential = |name: &str| {
        entry["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["value"].as_str().unwrap().to_string())
    };
    assert_eq!(
        credential("password").as_deref(),
        Some(account.password.as_str())
    );
    assert_eq!(
        credential("username").as_deref(),
        Some(account.username.as_str())
    );
    // The stored record itself holds no password in the clear.
    let journal_file = std::fs::read(PathBuf::from(&manifest).with_file_name("journal.sqlite3"))
        .unwrap_or_default();
    let wal = std::fs::read(PathBuf::from(&manifest).with_file_name("journal.sqlite3-wal"))
        .unwrap_or_default();
    for bytes in [&journal_file, &wal] {
        assert!(
            !bytes
                .windows(account.password.len())
                .any(|w| w == account.password.as_bytes()),
            "the password is sealed on disk"
        );
    }

    // The caller repeats the call with its key: the recorded answer, no
    // second account.
    let (m, s, k) = (manifest.clone(), service.clone(), key.clone());
    let repeat = tokio::task::spawn_blocking(move || run(&create_args(&m, &s, "order-4711"), &k))
        .await
        .unwrap();
    assert!(repeat.status.success(), "{}", text(&repeat.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&repeat.stdout).unwrap();
    assert_eq!(answer["ok"]["kind"], "created");
    let replayed_password = answer["ok"]["value"]["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "password")
        .unwrap()["value"]
        .clone();
    assert_eq!(replayed_password, account.password.as_str());
    assert_eq!(sandbox.webline().accounts().len(), 1, "no second account");

    // The repeat delivered the answer and acknowledged the entry.
    let (m, k) = (manifest.clone(), key.clone());
    let after = tokio::task::spawn_blocking(move || pending(&m, &k))
        .await
        .unwrap();
    assert!(after.is_empty(), "{after:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_killed_in_flight_is_unknown_once_its_lease_ends_and_an_operator_frees_its_key() {
    let sandbox = Sandbox::start().await.unwrap();
    let (manifest, service) = setup(&sandbox, "inflight");
    let key = journal_key();
    // The provider takes its time; the host dies meanwhile.
    sandbox
        .webline()
        .faults()
        .inject(Fault::Slow(Duration::from_secs(3)), 1);

    let entries = kill_once_recorded(&manifest, &service, "order-9", &key).await;
    // While it ran, it was in flight on a live host, not unknown.
    assert_eq!(entries[0]["state"], "in-flight");
    assert!(entries[0]["owner"].as_str().unwrap().contains(':'));
    let id = entries[0]["id"].as_i64().unwrap();

    // The provider's delay runs out; the request cut off with its host
    // never reached the simulator's state (the operator will find nothing).
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(sandbox.webline().accounts().is_empty());

    // Its host is gone: once its lease has run out, the outcome is unknown;
    // once its deadline has passed, the call cannot reach the provider any
    // more, and an operator's finding is taken.
    let (m, k) = (manifest.clone(), key.clone());
    let entries = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        loop {
            let entries = pending(&m, &k);
            if entries[0]["state"] == "unknown" && entries[0]["attempt_over"] == true {
                break entries;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "{entries:#?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    assert_eq!(entries[0]["id"], id);

    // Repeating the key is refused: nobody knows whether it acted.
    let (m, s, k) = (manifest.clone(), service.clone(), key.clone());
    let repeat = tokio::task::spawn_blocking(move || run(&create_args(&m, &s, "order-9"), &k))
        .await
        .unwrap();
    assert_eq!(repeat.status.code(), Some(1));
    let answer: serde_json::Value = serde_json::from_slice(&repeat.stdout).unwrap();
    assert_eq!(answer["error"]["kind"], "outcome-unknown");

    // A plain acknowledgement is refused: the operator says what they
    // found. Not there: the key is freed, and the next call runs.
    let (m, k) = (manifest.clone(), key.clone());
    let (plain, resolved, after, again) = tokio::task::spawn_blocking(move || {
        let id = id.to_string();
        let plain = run(&["journal", "ack", "--manifest", &m, &id], &k);
        let resolved = run(
            &[
                "journal",
                "ack",
                "--manifest",
                &m,
                "--found-not-done",
                "--note",
                "not in the panel",
                &id,
            ],
            &k,
        );
        let again = run(&["journal", "ack", "--manifest", &m, &id], &k);
        (plain, resolved, pending(&m, &k), again)
    })
    .await
    .unwrap();
    assert_eq!(plain.status.code(), Some(1));
    assert!(
        text(&plain.stderr).contains("unknown outcome"),
        "{}",
        text(&plain.stderr)
    );
    assert!(resolved.status.success(), "{}", text(&resolved.stderr));
    assert!(after.is_empty(), "{after:#?}");
    assert_eq!(again.status.code(), Some(1), "acknowledged once only");
    let accounts_before = sandbox.webline().accounts().len();
    let (m, s, k) = (manifest.clone(), service.clone(), key.clone());
    let retried = tokio::task::spawn_blocking(move || run(&create_args(&m, &s, "order-9"), &k))
        .await
        .unwrap();
    assert!(retried.status.success(), "{}", text(&retried.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&retried.stdout).unwrap();
    assert_eq!(answer["ok"]["kind"], "created");
    assert_eq!(sandbox.webline().accounts().len(), accounts_before + 1);
}

#[test]
fn a_journal_opened_with_another_key_cannot_read_the_credentials() {
    // Sealing is exercised end to end above; here, the wrong key is a clear
    // error, never garbage.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = rt.block_on(Sandbox::start()).unwrap();
    let (manifest, service) = setup(&sandbox, "wrongkey");
    let key = journal_key();
    killed_before_answer(&manifest, &service, "order-1", &key);

    let output = run(
        &["journal", "pending", "--manifest", &manifest],
        &journal_key(),
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("wrong journal key"), "{stderr}");
    drop(sandbox);
}

#[tokio::test(flavor = "multi_thread")]
async fn journal_reconcile_resolves_what_the_provider_shows_a_killed_call_and_a_lost_answer() {
    let sandbox = Sandbox::start().await.unwrap();
    let (manifest, killed_service) = setup(&sandbox, "reckill");
    let (_, lost_service) = setup_service(&manifest, "reclost");
    let key = journal_key();

    // One create killed with its host while the provider takes its time
    // (the provider never acts: the request dies with its connection)...
    sandbox
        .webline()
        .faults()
        .inject(Fault::Slow(Duration::from_secs(3)), 1);
    kill_once_recorded(&manifest, &killed_service, "rec-killed", &key).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;

    // ...and one whose answer was lost after the provider created it.
    sandbox.webline().faults().inject(Fault::AnswerLost, 1);
    let (m, s, k) = (manifest.clone(), lost_service.clone(), key.clone());
    let lost = tokio::task::spawn_blocking(move || run(&create_args(&m, &s, "rec-lost"), &k))
        .await
        .unwrap();
    assert_eq!(lost.status.code(), Some(1), "{}", text(&lost.stdout));
    let accounts = sandbox.webline().accounts();
    assert_eq!(accounts.len(), 1, "only the lost answer's account exists");
    let lost_id = accounts[0].id.to_string();

    // Once the killed host's lease is over, both are unknown, and once
    // their deadlines have passed one reconcile pass resolves both from
    // the provider's list.
    let (m, k) = (manifest.clone(), key.clone());
    let (report, after) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        while !pending(&m, &k)
            .iter()
            .all(|e| e["state"] == "unknown" && e["attempt_over"] == true)
        {
            assert!(started.elapsed() < Duration::from_secs(20));
            std::thread::sleep(Duration::from_millis(100));
        }
        let report = run(&["journal", "reconcile", "--manifest", &m, "--json"], &k);
        (report, pending(&m, &k))
    })
    .await
    .unwrap();
    assert!(report.status.success(), "{}", text(&report.stderr));
    let lines: Vec<serde_json::Value> = text(&report.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let by_service = |id: &str| {
        lines
            .iter()
            .find(|l| l["service_id"] == id)
            .unwrap_or_else(|| panic!("{id}: {lines:#?}"))
    };
    assert_eq!(by_service("svc-reckill")["verdict"], "not-done");
    let lost_line = by_service("svc-reclost");
    assert_eq!(lost_line["verdict"], "done");
    assert_eq!(lost_line["remote_id"], lost_id.as_str());
    assert!(after.is_empty(), "{after:#?}");

    // The lost one's key answers with its account; the killed one's runs.
    let (m, k) = (manifest.clone(), key.clone());
    let (again_lost, again_killed) = tokio::task::spawn_blocking(move || {
        (
            run(&create_args(&m, &lost_service, "rec-lost"), &k),
            run(&create_args(&m, &killed_service, "rec-killed"), &k),
        )
    })
    .await
    .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&again_lost.stdout).unwrap();
    assert_eq!(
        answer["ok"]["value"]["remote_id"],
        lost_id.as_str(),
        "{answer}"
    );
    assert!(
        again_killed.status.success(),
        "{}",
        text(&again_killed.stderr)
    );
    assert_eq!(sandbox.webline().accounts().len(), 2);
}

#[test]
fn journal_rekey_reseals_pending_credentials_and_journal_purge_deletes_only_acknowledged_entries() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = rt.block_on(Sandbox::start()).unwrap();
    let (manifest, service) = setup(&sandbox, "rekey");
    let key = journal_key();
    // An answered entry whose generated password is sealed in the journal.
    killed_before_answer(&manifest, &service, "order-r", &key);
    let password = sandbox.webline().accounts()[0].password.clone();

    // The new key from a file; the manifest's key is the current one.
    let new_key = journal_key();
    let new_key_file = PathBuf::from(&manifest).with_file_name("new.key");
    std::fs::write(&new_key_file, format!("{new_key}\n")).unwrap();
    let rekeyed = run(
        &[
            "journal",
            "rekey",
            "--manifest",
            &manifest,
            "--new-key-file",
            new_key_file.to_str().unwrap(),
        ],
        &key,
    );
    let (stdout, stderr) = (text(&rekeyed.stdout), text(&rekeyed.stderr));
    assert!(
        rekeyed.status.success(),
        "{:?}: {stdout}\n{stderr}",
        rekeyed.status
    );
    assert!(
        stdout.contains("re-sealed the credentials of 1 pending entries under the new key")
            && stdout.contains(&format!(
                "put the new key in the environment variable {KEY_VAR}"
            ))
            && stdout.contains("restart every host"),
        "{stdout}"
    );
    for secret in [&key, &new_key, &password] {
        assert!(!stdout.contains(secret.as_str()) && !stderr.contains(secret.as_str()));
    }

    // The old key: refused, saying it is the previous one.
    let old = run(&["journal", "pending", "--manifest", &manifest], &key);
    assert_eq!(old.status.code(), Some(2));
    let stderr = text(&old.stderr);
    assert!(
        stderr.contains("this is the journal's previous key, replaced on ")
            && stderr.contains("use the new one"),
        "{stderr}"
    );
    // An unrelated key: refused, differently.
    let unrelated = run(
        &["journal", "pending", "--manifest", &manifest],
        &journal_key(),
    );
    assert_eq!(unrelated.status.code(), Some(2));
    let stderr = text(&unrelated.stderr);
    assert!(
        stderr.contains("wrong journal key") && !stderr.contains("previous key"),
        "{stderr}"
    );
    // The new key: the credentials read as before.
    let entries = pending(&manifest, &new_key);
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert!(
        entries[0]["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "password" && c["value"] == password.as_str()),
        "{entries:#?}"
    );

    // Again, from an environment variable, and refused while a key is not
    // given at all.
    let third = journal_key();
    let rekeyed = command(
        &[
            "journal",
            "rekey",
            "--manifest",
            &manifest,
            "--new-key-env",
            "TEST_NEW_JOURNAL_KEY",
        ],
        &new_key,
    )
    .env("TEST_NEW_JOURNAL_KEY", &third)
    .output()
    .unwrap();
    assert!(rekeyed.status.success(), "{}", text(&rekeyed.stderr));
    let keyless = run(&["journal", "rekey", "--manifest", &manifest], &third);
    assert_eq!(keyless.status.code(), Some(2), "clap's usage error");
    assert_eq!(pending(&manifest, &third).len(), 1);

    // Purging: the answered entry is not acknowledged, so it stays.
    let purge_all = [
        "journal",
        "purge",
        "--manifest",
        &manifest,
        "--older-than-days",
        "0",
    ];
    let purged = run(&purge_all, &third);
    assert!(purged.status.success(), "{}", text(&purged.stderr));
    assert!(text(&purged.stdout).contains("purged 0 acknowledged entries"));
    assert_eq!(pending(&manifest, &third).len(), 1);
    // Without a retention in the manifest, a plain purge says what to do.
    let plain = run(&["journal", "purge", "--manifest", &manifest], &third);
    assert_eq!(plain.status.code(), Some(2));
    assert!(
        text(&plain.stderr).contains("keeps acknowledged entries for good"),
        "{}",
        text(&plain.stderr)
    );

    // After two rotations the caller's repeat is still the same request:
    // the recorded answer, no second account; it acknowledges the entry.
    let repeat = run(&create_args(&manifest, &service, "order-r"), &third);
    assert!(repeat.status.success(), "{}", text(&repeat.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&repeat.stdout).unwrap();
    assert_eq!(answer["ok"]["kind"], "created", "{answer}");
    assert_eq!(sandbox.webline().accounts().len(), 1, "no second account");
    assert!(pending(&manifest, &third).is_empty());

    std::thread::sleep(Duration::from_millis(20));
    let purged = run(&purge_all, &third);
    assert!(purged.status.success(), "{}", text(&purged.stderr));
    assert!(
        text(&purged.stdout).contains("purged 1 acknowledged entries"),
        "{}",
        text(&purged.stdout)
    );
    let again = run(
        &[
            "journal",
            "purge",
            "--manifest",
            &manifest,
            "--older-than-days",
            "0",
            "--json",
        ],
        &third,
    );
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again, serde_json::json!({ "purged": 0 }));
    drop(sandbox);
}
