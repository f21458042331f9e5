//! `provisioning usage` as a billing platform's nightly job runs it: the
//! real binary, piped, against the sandbox over loopback.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{provisioning, text};
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::{Value, json};

/// A fresh directory for one test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str, sandbox: &Sandbox) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "provisioning-usage-{test}-{}-{}",
            std::process::id(),
            sandbox.addr().port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A manifest for the sandbox's HostMeNow with a rate limit, added to
/// `manifest` (one with a journal, say).
fn manifest(dir: &Path, sandbox: &Sandbox, manifest: TestManifest) -> String {
    let path = manifest
        .module(
            "hostmenow",
            Module::hostmenow(sandbox)
                .rate_limit(200, 1)
                .secret_env("api-key", "TEST_HMN_KEY"),
        )
        .write(dir.join("provisioning.toml"));
    path.to_str().unwrap().to_string()
}

const ENVS: &[(&str, &str)] = &[
    ("TEST_HMN_KEY", hostmenow::API_KEY),
    (
        "TEST_JOURNAL_KEY",
        "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
    ),
    ("TEST_PW", "Usage-Pa55word!"),
];

/// Each stdout line as JSON.
fn lines(output: &Output) -> Vec<Value> {
    text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each stdout line is JSON"))
        .collect()
}

/// What a progress bar would leave in the stream: carriage returns,
/// terminal escapes, bar glyphs, its ETA.
fn assert_no_progress_bar(stderr: &str) {
    for mark in ["\r", "\u{1b}[", "█", "░", "ETA"] {
        assert!(
            !stderr.contains(mark),
            "a progress bar in piped stderr ({mark:?}):\n{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_prints_a_json_line_per_service_and_no_progress_bar_when_piped() {
    usage_prints_a_line_per_service(&[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_reusing_instances_prints_the_same() {
    usage_prints_a_line_per_service(&["--reuse"]).await;
    usage_prints_a_line_per_service(&["--reuse", "3"]).await;
}

/// The run of `usage` with `extra` arguments (the same in both instance
/// modes).
async fn usage_prints_a_line_per_service(extra: &'static [&'static str]) {
    let sandbox = Sandbox::start().await.unwrap();
    let sim = sandbox.hostmenow();
    let dir = TempDir::new("services", &sandbox);
    let manifest = manifest(&dir.0, &sandbox, TestManifest::new());
    let mut services = String::new();
    for i in 0..20 {
        let id = format!("cli-{i:02}");
        assert!(sim.seed_service(
            &id,
            &format!("{id}.example.com"),
            &format!("u{i}"),
            "Pw-1",
            "101"
        ));
        assert!(sim.set_usage(&id, 100.0 + i as f64, 5000, 200.5 + i as f64, 10000));
        // Only the fields usage-data needs; custom_fields may be left out.
        services
            .push_str(&json!({"module": "hostmenow", "service": {"service_id": id}}).to_string());
        services.push('\n');
    }
    let all = dir.0.join("services.jsonl");
    std::fs::write(&all, &services).unwrap();
    let with_missing = dir.0.join("with-missing.jsonl");
    std::fs::write(
        &with_missing,
        services
            + "\n"
            + &json!({"module": "hostmenow", "service": {"service_id": "gone"}}).to_string(),
    )
    .unwrap();

    let (all_ok, one_missing) = tokio::task::spawn_blocking({
        let manifest = manifest.clone();
        move || {
            let run = |file: &Path| {
                let mut args = vec![
                    "usage",
                    "--manifest",
                    &manifest,
                    "--services",
                    file.to_str().unwrap(),
                    "--concurrency",
                    "8",
                ];
                args.extend_from_slice(extra);
                provisioning(&args, ENVS)
            };
            (run(&all), run(&with_missing))
        }
    })
    .await
    .unwrap();

    let stderr = text(&all_ok.stderr);
    assert!(
        all_ok.status.success(),
        "{}\n{stderr}",
        text(&all_ok.stdout)
    );
    let reports = lines(&all_ok);
    assert_eq!(reports.len(), 20);
    for report in &reports {
        assert_eq!(report["module"], "hostmenow");
        assert_eq!(report["attempts"], 1);
        let id = report["service_id"].as_str().unwrap();
        let record = sim.service(id).unwrap();
        let disk = report["ok"]["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "disk")
            .unwrap();
        assert_eq!(disk["used"], record.disk_used_mb, "{report}");
    }
    assert_eq!(stderr.lines().count(), 1, "one summary line:\n{stderr}");
    assert!(stderr.starts_with("usage: 20 services (20 ok)"), "{stderr}");
    assert_no_progress_bar(&stderr);
    assert!(!stderr.contains(hostmenow::API_KEY));

    assert_eq!(
        one_missing.status.code(),
        Some(1),
        "{}",
        text(&one_missing.stderr)
    );
    let reports = lines(&one_missing);
    assert_eq!(reports.len(), 21);
    let gone = reports.iter().find(|r| r["service_id"] == "gone").unwrap();
    assert_eq!(gone["error"]["kind"], "not-found", "{gone}");
    assert_no_progress_bar(&text(&one_missing.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_from_the_journal_reads_the_services_created_and_not_terminated() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = TempDir::new("journal", &sandbox);
    let journal = TestManifest::new().sqlite_journal("journal.sqlite3", "TEST_JOURNAL_KEY");
    let manifest = manifest(&dir.0, &sandbox, journal);
    let outputs = tokio::task::spawn_blocking(move || {
        let call = |function: &str, id: &str| {
            provisioning(
                &[
                    "call",
                    "--manifest",
                    &manifest,
                    "hostmenow",
                    function,
                    "--service-id",
                    id,
                    "--domain",
                    &format!("{id}.example.com"),
                    "--username",
                    &format!("u{}", id.replace('-', "")),
                    "--password-env",
                    "TEST_PW",
                    "--package",
                    "101",
                    "--billing-cycle",
                    "monthly",
                ],
                ENVS,
            )
        };
        let steps = vec![
            call("create-account", "kept-1"),
            call("create-account", "ended-1"),
            call("create-account", "kept-2"),
            call("terminate", "ended-1"),
        ];
        let usage = provisioning(&["usage", "--manifest", &manifest, "--from-journal"], ENVS);
        (steps, usage)
    })
    .await
    .unwrap();
    let (steps, usage) = outputs;
    for step in &steps {
        assert!(step.status.success(), "{}", text(&step.stderr));
    }
    assert!(usage.status.success(), "{}", text(&usage.stderr));
    let mut ids: Vec<String> = lines(&usage)
        .iter()
        .map(|r| {
            assert!(r["ok"].is_object(), "{r}");
            r["service_id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["kept-1", "kept-2"]);
    let stdout = text(&usage.stdout);
    assert!(!stdout.contains("Usage-Pa55word!"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_of_a_module_that_does_not_load_gets_an_error_line_and_the_rest_are_read() {
    let sandbox = Sandbox::start().await.unwrap();
    let sim = sandbox.hostmenow();
    let dir = TempDir::new("broken", &sandbox);
    let blesta = TestManifest::new().module(
        "blesta",
        Module::blesta(&sandbox).secret_env("password", "TEST_BLESTA_PASSWORD_SURELY_UNSET"),
    );
    let manifest = manifest(&dir.0, &sandbox, blesta);
    let mut services = String::new();
    for id in ["ok-1", "ok-2"] {
        assert!(sim.seed_service(id, &format!("{id}.example.com"), "u1", "Pw-1", "101"));
        assert!(sim.set_usage(id, 100.0, 5000, 200.5, 10000));
        services
            .push_str(&json!({"module": "hostmenow", "service": {"service_id": id}}).to_string());
        services.push('\n');
    }
    services.push_str(&json!({"module": "blesta", "service": {"service_id": "b-1"}}).to_string());
    let file = dir.0.join("services.jsonl");
    std::fs::write(&file, services).unwrap();

    let output = tokio::task::spawn_blocking(move || {
        provisioning(
            &[
                "usage",
                "--manifest",
                &manifest,
                "--services",
                file.to_str().unwrap(),
            ],
            ENVS,
        )
    })
    .await
    .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}\n{stderr}",
        text(&output.stdout)
    );
    let reports = lines(&output);
    assert_eq!(reports.len(), 3, "{reports:?}");
    for id in ["ok-1", "ok-2"] {
        let report = reports.iter().find(|r| r["service_id"] == id).unwrap();
        assert!(report["ok"].is_object(), "{report}");
    }
    let broken = reports.iter().find(|r| r["service_id"] == "b-1").unwrap();
    assert_eq!(broken["module"], "blesta");
    assert_eq!(broken["error"]["kind"], "invalid-config", "{broken}");
    assert_eq!(broken["attempts"], 0);
    assert!(
        broken["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TEST_BLESTA_PASSWORD_SURELY_UNSET"),
        "{broken}"
    );
    assert!(
        stderr.contains("usage: 3 services (1 invalid-config, 2 ok)"),
        "{stderr}"
    );
}
