//! A reader that goes away is no error: `provisioning ... | head -1` or a
//! script that closes its end early must see the command's own exit code
//! (0 success, 1 the call or operation failed, 2 it could not run), never
//! a panic. Each command here writes into a pipe whose reader is gone.

use crate::common;

use std::path::PathBuf;
use std::process::Output;

use common::{provisioning, provisioning_into_closed_pipe, text};
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_test_support::manifest::{Module, TestManifest};

const API_KEY_VAR: &str = "TEST_PIPES_HMN_KEY";

/// Asserts the exit code and that nothing panicked.
#[track_caller]
fn assert_exits(output: &Output, code: i32, what: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{what}: {stderr}");
}

/// A HostMeNow manifest granting `origin` only, in a fresh directory.
fn manifest(name: &str, origin: &str) -> PathBuf {
    manifest_with(name, origin, TestManifest::new())
}

/// [`manifest`] added to `manifest` (one with a journal, say).
fn manifest_with(name: &str, origin: &str, manifest: TestManifest) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("provisioning-pipes-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    manifest
        .module(
            "hostmenow",
            Module::new(provisioning_components::HOSTMENOW)
                .allow(origin)
                .setting("endpoint", &format!("{origin}{}", hostmenow::PATH))
                .secret_env("api-key", API_KEY_VAR),
        )
        .write(dir.join("provisioning.toml"))
}

#[test]
fn commands_that_print_and_succeed_exit_0() {
    let component = provisioning_components::HOSTMENOW;
    for args in [
        &["--help"][..],
        &["journal", "keygen"],
        &["inspect", component],
        &["--json", "inspect", component],
    ] {
        let output = provisioning_into_closed_pipe(args, &[], false);
        assert_exits(&output, 0, &args.join(" "));
    }
}

#[test]
fn journal_pending_exits_0() {
    let keys: Vec<String> = (0..50).map(|i| format!("key-{i}")).collect();
    let manifest = common::journal_manifest("pipes-pending", &keys);
    let key = common::journal_key();
    let envs = [(common::JOURNAL_KEY_VAR, key.as_str())];
    let manifest = manifest.to_str().unwrap();
    for json in [false, true] {
        let mut args = vec!["journal", "pending", "--manifest", manifest];
        if json {
            args.insert(0, "--json");
        }
        let output = provisioning_into_closed_pipe(&args, &envs, false);
        assert_exits(&output, 0, &args.join(" "));
    }
    // `ack` of an entry that is not there is an operation that failed.
    let args = ["journal", "ack", "--manifest", manifest, "1", "999"];
    let output = provisioning_into_closed_pipe(&args, &envs, false);
    assert_exits(&output, 1, "journal ack of a missing entry");
    assert!(text(&output.stderr).contains("999"));
}

#[test]
fn a_call_that_cannot_run_exits_2() {
    let missing = std::env::temp_dir().join("provisioning-pipes-no-such-manifest.toml");
    let args = [
        "call",
        "--manifest",
        missing.to_str().unwrap(),
        "hostmenow",
        "test-connection",
    ];
    let output = provisioning_into_closed_pipe(&args, &[], false);
    assert_exits(&output, 2, "a call without its manifest");
    assert!(text(&output.stderr).contains("error:"));
    // With stderr gone too, there is nowhere to say why; the code still
    // tells.
    let output = provisioning_into_closed_pipe(&args, &[], true);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_call_that_fails_exits_1() {
    // A loopback port nothing listens on: the connection is refused.
    let (_held, port) = common::refused_port();
    let path = manifest("refused", &format!("http://127.0.0.1:{port}"));
    let path = path.to_str().unwrap();
    let envs = [(API_KEY_VAR, hostmenow::API_KEY)];
    let call = ["call", "--manifest", path, "hostmenow", "test-connection"];

    // The same call with a reader: it fails, and says so.
    let output = provisioning(&call, &envs);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stdout).starts_with("transport"));

    let output = provisioning_into_closed_pipe(&call, &envs, false);
    assert_exits(&output, 1, "a refused call");
    let json = [&["--json"][..], &call].concat();
    let output = provisioning_into_closed_pipe(&json, &envs, false);
    assert_exits(&output, 1, "a refused call, --json");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_that_succeeds_exits_0() {
    let sandbox = Sandbox::start().await.unwrap();
    let path = manifest("sandbox", &sandbox.origin());
    let path = path.to_str().unwrap().to_string();
    let outputs = tokio::task::spawn_blocking(move || {
        let envs = [(API_KEY_VAR, hostmenow::API_KEY)];
        let call = ["call", "--manifest", &path, "hostmenow", "test-connection"];
        let json = [&["--json"][..], &call].concat();
        (
            provisioning(&call, &envs),
            provisioning_into_closed_pipe(&call, &envs, false),
            provisioning_into_closed_pipe(&json, &envs, false),
        )
    })
    .await
    .unwrap();
    let (read, table, json) = outputs;
    assert_eq!(read.status.code(), Some(0), "{}", text(&read.stderr));
    assert!(text(&read.stdout).starts_with("ok"));
    assert_exits(&table, 0, "a call");
    assert_exits(&json, 0, "a call, --json");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_nobody_read_stays_in_the_journal() {
    let sandbox = Sandbox::start().await.unwrap();
    let journal = TestManifest::new().sqlite_journal("journal.sqlite3", common::JOURNAL_KEY_VAR);
    let path = manifest_with("journal", &sandbox.origin(), journal);
    let path = path.to_str().unwrap().to_string();
    let (unread, pending, read, still_pending) = tokio::task::spawn_blocking(move || {
        let key = common::journal_key();
        let envs = [
            (API_KEY_VAR, hostmenow::API_KEY),
            (common::JOURNAL_KEY_VAR, key.as_str()),
            ("TEST_PIPES_PW", "Pipes-Pa55word!"),
        ];
        let create = |service: &str| {
            [
                "call",
                "--manifest",
                &path,
                "hostmenow",
                "create-account",
                "--service-id",
                service,
                "--domain",
                "pipes.example.com",
                "--username",
                "pipesuser",
                "--password-env",
                "TEST_PIPES_PW",
                "--package",
                "101",
                "--billing-cycle",
                "monthly",
            ]
            .map(String::from)
        };
        let pending = || {
            let args = ["--json", "journal", "pending", "--manifest", &path];
            provisioning(&args, &envs)
        };
        let args = create("pipes-unread");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let unread = provisioning_into_closed_pipe(&args, &envs, false);
        let after_unread = pending();
        let args = create("pipes-read");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let read = provisioning(&args, &envs);
        (unread, after_unread, read, pending())
    })
    .await
    .unwrap();

    assert_exits(&unread, 0, "create-account into a closed pipe");
    assert!(sandbox.hostmenow().service("pipes-unread").is_some());
    let lines = |output: &Output| -> Vec<serde_json::Value> {
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        text(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    let pending = lines(&pending);
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["intent"]["service_id"], "pipes-unread");
    assert_eq!(pending[0]["state"], "answered");

    // An answer that reached its reader is acknowledged as before.
    assert_eq!(read.status.code(), Some(0), "{}", text(&read.stderr));
    assert_eq!(lines(&still_pending), pending);
}
