//! `provisioning conformance`: the real binary runs the kit on the real
//! components against the sandbox's simulators over loopback. The four
//! provider modules pass with changes allowed; the misbehaving and the
//! dishonest modules fail, each check they break named with its reason.
//! Behind TLS under a private CA, the kit's proxy reaches the provider
//! only when told to trust that CA (`--ca-file`).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{fresh_dir, provisioning, text};
use provisioning_sandbox::{Sandbox, blesta, hostmenow, logicboxes, webline};
use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::Value;

/// Each call's deadline in these runs: the slow fault waits for it once
/// per module.
const DEADLINE_SECS: &str = "3";

/// The secrets the manifests read from the environment.
const ENVS: &[(&str, &str)] = &[
    ("TEST_CK_HMN_KEY", hostmenow::API_KEY),
    ("TEST_CK_BLESTA_PASSWORD", blesta::PASSWORD),
    ("TEST_CK_WEBLINE_KEY", webline::API_KEY),
    ("TEST_CK_LOGICBOXES_KEY", logicboxes::API_KEY),
];

/// The dishonest module's password setting, which it declares as text.
const ACCOUNT_PASSWORD: &str = "Dishonest-Pw-31337";

/// A manifest of the four provider modules and the dishonest one (which
/// speaks HostMeNow's API), their secrets in the environment.
fn manifest(dir: &Path, sandbox: &Sandbox) -> PathBuf {
    TestManifest::new()
        .module(
            "hostmenow",
            Module::hostmenow(sandbox).secret_env("api-key", "TEST_CK_HMN_KEY"),
        )
        .module(
            "blesta",
            Module::blesta(sandbox).secret_env("password", "TEST_CK_BLESTA_PASSWORD"),
        )
        .module(
            "webline",
            Module::webline(sandbox).secret_env("api-key", "TEST_CK_WEBLINE_KEY"),
        )
        .module(
            "logicboxes",
            Module::logicboxes(sandbox)
                .secret_env("api-key", "TEST_CK_LOGICBOXES_KEY")
                .setting("order-id", logicboxes::ORDER_ID),
        )
        .module(
            "dishonest",
            Module::new(provisioning_components::DISHONEST)
                .setting("endpoint", &sandbox.hostmenow().endpoint())
                .secret_env("api-key", "TEST_CK_HMN_KEY"),
        )
        .write(dir.join("provisioning.toml"))
}

/// Runs `provisioning conformance` on a blocking thread (the sandbox
/// serves on the test's runtime meanwhile).
async fn conformance(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut all = vec!["conformance".to_owned()];
        all.extend(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        provisioning(&all, ENVS)
    })
    .await
    .expect("the command's thread ends")
}

/// The arguments that check module `name` of `manifest` with `--json`.
fn module_args(component: &str, manifest: &Path, name: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        component,
        "--json",
        "--manifest",
        manifest.to_str().unwrap(),
        "--module",
        name,
        "--deadline-secs",
        DEADLINE_SECS,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

/// The report printed with `--json`.
fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not a JSON report ({error}):\n{}\nstderr:\n{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

/// The check named `name` of a report.
fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {report:#}"))
}

/// The check `name` failed, its reason naming each of `words`.
fn assert_fails(report: &Value, name: &str, words: &[&str]) {
    let check = check(report, name);
    assert_eq!(check["result"], "fail", "{name}: {report:#}");
    let reason = check["reason"].as_str().unwrap();
    for word in words {
        assert!(
            reason.contains(word),
            "{name}'s reason names `{word}`: {reason}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_provider_module_passes_with_changes_allowed() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = fresh_dir("conformance-providers");
    let manifest = manifest(&dir, &sandbox);
    let logicboxes_service = ["--domain", logicboxes::ORDER_DOMAIN, "--username", "kit"];
    let runs = [
        ("hostmenow", provisioning_components::HOSTMENOW, &[][..]),
        ("blesta", provisioning_components::BLESTA, &[][..]),
        ("webline", provisioning_components::WEBLINE, &[][..]),
        (
            "logicboxes",
            provisioning_components::LOGICBOXES,
            &logicboxes_service[..],
        ),
    ];
    // The four runs at once, each its own process and its own proxy.
    let outputs = join_all(runs.iter().map(|(name, component, extra)| {
        let mut extra = extra.to_vec();
        extra.push("--allow-changes");
        conformance(module_args(component, &manifest, name, &extra))
    }))
    .await;
    for ((name, _, _), output) in runs.iter().zip(outputs) {
        let report = report(&output);
        for check in report["checks"].as_array().unwrap() {
            assert_ne!(check["result"], "fail", "{name}: {check:#}");
        }
        assert_eq!(output.status.code(), Some(0), "{name}: {report:#}");
        assert_eq!(report["passed"], true);
        assert_eq!(report["module"]["id"], *name);
        // The checks that prove something ran, not skipped.
        for proved in [
            "info-functions-answer",
            "info-undeclared-unsupported",
            "fault-500-json",
            "fault-502-html",
            "fault-200-html",
            "fault-200-empty",
            "fault-truncated",
            "fault-disconnect",
            "fault-429-retry-after",
            "fault-slow",
            "fault-huge",
            "create-retry",
            "reads-change-nothing",
            "secrets",
            "limits",
        ] {
            assert_eq!(
                check(&report, proved)["result"],
                "pass",
                "{name}: {report:#}"
            );
        }
        // Webline's reads tell the provider's state: compared around the
        // reads. Its API can only create; the others run a lifecycle.
        if *name == "webline" {
            let reads = check(&report, "reads-change-nothing");
            assert!(
                reads["reason"]
                    .as_str()
                    .unwrap()
                    .contains("the same before and after them: list-accounts, service-status"),
                "{reads:#}"
            );
        } else {
            let lifecycle = check(&report, "lifecycle");
            assert_eq!(lifecycle["result"], "pass", "{name}: {lifecycle:#}");
            assert!(
                lifecycle["reason"].as_str().unwrap().contains("terminate"),
                "{name}: {lifecycle:#}"
            );
        }
    }
    // Each module's accounts: created once, the retry adding none.
    assert_eq!(
        sandbox
            .webline()
            .accounts()
            .iter()
            .filter(|a| a.domain.ends_with(".example.test"))
            .count(),
        1
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dishonest_module_fails_each_check_it_lies_to() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = fresh_dir("conformance-dishonest");
    let manifest = manifest(&dir, &sandbox);
    let output = conformance(module_args(
        provisioning_components::DISHONEST,
        &manifest,
        "dishonest",
        &[
            "--allow-changes",
            "--package",
            "101",
            "--setting",
            &format!("account-password={ACCOUNT_PASSWORD}"),
        ],
    ))
    .await;
    let report = report(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    assert_eq!(report["passed"], false);
    assert_fails(
        &report,
        "info-functions-answer",
        &["usage-data", "unsupported"],
    );
    assert_fails(
        &report,
        "info-undeclared-unsupported",
        &["list-packages", "ok"],
    );
    assert_fails(&report, "info-settings", &["account-password", "secret"]);
    assert_fails(
        &report,
        "secrets",
        &[
            "test-connection's answer holds secret setting `api-key`",
            "the module's output",
            "usage-data's error holds secret setting `account-password`",
        ],
    );
    assert_fails(
        &report,
        "reads-change-nothing",
        &["service-status", "action=CreateAccount", "create-account"],
    );
    assert_fails(&report, "create-retry", &["second account"]);
    // What it does honestly still passes: its errors are the support
    // crate's.
    assert_eq!(check(&report, "fault-500-json")["result"], "pass");
    assert_eq!(check(&report, "limits")["result"], "pass");
    // Nothing in the kit's own output holds the secrets it leaked, not
    // even the one the host did not know was a secret.
    for secret in [hostmenow::API_KEY, ACCOUNT_PASSWORD] {
        assert!(!text(&output.stdout).contains(secret), "{report:#}");
        assert!(!text(&output.stderr).contains(secret));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// HostMeNow's module in Python and in JavaScript under the same kit as
/// the Rust one: both call wasi:http themselves, so a provider that never
/// answers reads as `timeout` (fault-slow) in each, and every check holds.
#[tokio::test(flavor = "multi_thread")]
async fn the_python_and_javascript_modules_pass_every_check() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = fresh_dir("conformance-languages");
    let manifest = manifest(&dir, &sandbox);
    let runs = [
        ("python", provisioning_polyglot_components::HOSTMENOW_PY),
        ("javascript", provisioning_polyglot_components::HOSTMENOW_JS),
    ];
    let outputs = join_all(runs.iter().map(|(_, component)| {
        conformance(module_args(
            component,
            &manifest,
            "hostmenow",
            &["--allow-changes"],
        ))
    }))
    .await;
    for ((language, _), output) in runs.iter().zip(&outputs) {
        let report = report(output);
        assert_eq!(output.status.code(), Some(0), "{language}: {report:#}");
        assert_eq!(report["module"]["id"], "hostmenow");
        for check in report["checks"].as_array().unwrap() {
            assert_eq!(check["result"], "pass", "{language}: {check:#}");
        }
        let slow = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|check| check["name"] == "fault-slow")
            .expect("the kit ran fault-slow");
        assert!(
            slow["reason"].as_str().unwrap().contains("timeout"),
            "{language}: {slow:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_misbehaving_module_fails_with_a_clear_reason() {
    // As a table this time: the reasons a person reads.
    let output = conformance(
        [
            provisioning_components::MISBEHAVING,
            "--setting",
            "behaviour=trap",
            "--deadline-secs",
            DEADLINE_SECS,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
    )
    .await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row `{name}`:\n{stdout}"))
            .to_owned()
    };
    assert!(line("limits").contains("fail"), "{stdout}");
    // Under the table, each failure's reason whole.
    let limits = line("limits:");
    assert!(
        limits.contains("test-connection answered trap: the module trapped"),
        "{stdout}"
    );
    // It never asks its provider anything, so no fault reaches it.
    assert!(line("fault-500-json").contains("fail"), "{stdout}");
    assert!(
        line("fault-500-json").contains("sent no request"),
        "{stdout}"
    );
    assert!(stdout.contains("misbehaving"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_past_its_memory_cap_fails_the_limits_check() {
    let output = conformance(
        [
            provisioning_components::MISBEHAVING,
            "--json",
            "--setting",
            "behaviour=memory",
            "--memory-mib",
            "16",
            "--deadline-secs",
            DEADLINE_SECS,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
    )
    .await;
    let report = report(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    assert_fails(
        &report,
        "limits",
        &[
            "test-connection answered memory-exhausted",
            "16777216 bytes",
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_that_does_not_load_fails_the_load_check() {
    let bytes = provisioning_test_support::component_importing_uncompilable(
        "wasi:keyvalue/store@0.2.0-draft",
    );
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-keyvalue.wasm");
    std::fs::write(&path, bytes).unwrap();
    let output = conformance(vec![path.display().to_string(), "--json".to_owned()]).await;
    let report = report(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    assert_fails(&report, "load", &["wasi:keyvalue/store"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2() {
    for args in [
        vec!["no-such-module.wasm", "--setting", "no-equals-sign"],
        vec![
            provisioning_components::HOSTMENOW,
            "--manifest",
            "no-such-manifest.toml",
            "--module",
            "x",
        ],
        vec!["no-such-module.wasm", "--manifest", "only-a-manifest.toml"],
    ] {
        let output = conformance(args.iter().map(|s| (*s).to_owned()).collect()).await;
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
}

/// Awaits every future, all at once (they run on the test's runtime).
async fn join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.expect("the run's task ends"));
    }
    outputs
}

/// TLS under the test's CA in front of `sandbox`: every connection is
/// decrypted and copied to the sandbox's port. Returns the https origin
/// and how many connections completed the handshake.
async fn tls_in_front_of(
    sandbox: &Sandbox,
    pair: &common::tls::Pair,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certificates = CertificateDer::pem_file_iter(&pair.cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&pair.key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certificates, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("https://{}", listener.local_addr().unwrap());
    let upstream = sandbox.origin().trim_start_matches("http://").to_owned();
    let handshakes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, upstream, counted) =
                (acceptor.clone(), upstream.clone(), counted.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return; // a client that does not trust the CA gives up
                };
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut plain = tokio::net::TcpStream::connect(&upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (origin, handshakes)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_endpoint_under_a_private_ca_passes_with_its_ca_file_and_fails_without() {
    common::tls::ensure_openssl();
    let sandbox = Sandbox::start().await.unwrap();
    let dir = fresh_dir("conformance-https");
    let pair = common::tls::make_pair(&dir, "provider", 1);
    let (origin, handshakes) = tls_in_front_of(&sandbox, &pair).await;
    let endpoint = sandbox
        .hostmenow()
        .endpoint()
        .replace(&sandbox.origin(), &origin);
    assert!(endpoint.starts_with("https://"), "{endpoint}");
    let manifest = TestManifest::new()
        .module(
            "hostmenow",
            Module::new(provisioning_components::HOSTMENOW)
                .allow(&origin)
                .setting("endpoint", &endpoint)
                .secret_env("api-key", "TEST_CK_HMN_KEY"),
        )
        .write(dir.join("provisioning.toml"));

    let ca = pair.ca.to_str().unwrap();
    let trusted = conformance(module_args(
        provisioning_components::HOSTMENOW,
        &manifest,
        "hostmenow",
        &["--allow-changes", "--ca-file", ca],
    ))
    .await;
    let passed = report(&trusted);
    assert_eq!(trusted.status.code(), Some(0), "{passed:#}");
    for check in passed["checks"].as_array().unwrap() {
        assert_eq!(check["result"], "pass", "{check:#}");
    }
    let seen = handshakes.load(std::sync::atomic::Ordering::SeqCst);
    assert!(seen > 0, "the proxy reached the provider over TLS");

    // Without the CA the proxy cannot reach the provider: the checks that
    // need an answer fail, and the kit's log says why.
    let untrusted = conformance(module_args(
        provisioning_components::HOSTMENOW,
        &manifest,
        "hostmenow",
        &[],
    ))
    .await;
    let failed = report(&untrusted);
    assert_eq!(untrusted.status.code(), Some(1), "{failed:#}");
    assert_fails(&failed, "connection", &["test-connection", "--ca-file"]);
    assert_eq!(
        handshakes.load(std::sync::atomic::Ordering::SeqCst),
        seen,
        "no handshake completed without the CA"
    );
    let stderr = text(&untrusted.stderr);
    assert!(
        stderr.contains("could not reach the provider") && stderr.contains("UnknownIssuer"),
        "{stderr}"
    );

    // A --ca-file that holds no certificate is a usage error.
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let refused = conformance(module_args(
        provisioning_components::HOSTMENOW,
        &manifest,
        "hostmenow",
        &["--ca-file", empty.to_str().unwrap()],
    ))
    .await;
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("holds no certificate"));
}
