//! Every wire says the contract's own words: an enum or variant case is
//! the WIT's kebab-case word (`active`, `unlimited`, `{"value": ...}`,
//! `create-account`, `secret`), never Rust's name of it, in `call --json`,
//! `usage` lines, `inspect --json`, serve's answers and the journal's.

use crate::common;

use std::path::{Path, PathBuf};

use common::{JOURNAL_KEY_VAR, Serve, fresh_dir, journal_key, provisioning, text};
use provisioning_host::wire::Contract;
use provisioning_sandbox::{Sandbox, hostmenow, webline};
use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::{Value, json};

/// The providers' keys and the journal's.
fn envs() -> Vec<(&'static str, String)> {
    vec![
        ("TEST_HMN_KEY", hostmenow::API_KEY.to_string()),
        ("TEST_WL_KEY", webline::API_KEY.to_string()),
        (JOURNAL_KEY_VAR, journal_key()),
    ]
}

/// `provisioning` with [`envs`].
fn run(args: &[&str]) -> std::process::Output {
    let envs = envs();
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    provisioning(args, &envs)
}

/// Rust's names of the cases, as the JSON said them before the contract's
/// words: none may appear in any output.
const RUST_NAMES: &[&str] = &[
    "\"Active\"",
    "\"Pending\"",
    "\"Unlimited\"",
    "\"Value\"",
    "\"CreateAccount\"",
    "\"ServiceStatus\"",
    "\"Secret\"",
    "\"Text\"",
    "\"Server\"",
    "\"Product\"",
];

fn assert_no_rust_names(output: &str) {
    for name in RUST_NAMES {
        assert!(!output.contains(name), "{name} in\n{output}");
    }
}

/// A sandbox with one HostMeNow service whose disk has a limit and whose
/// bandwidth has none, and a manifest of HostMeNow and Webline with a
/// journal in `dir`.
fn setup(sandbox: &Sandbox, dir: &Path) -> PathBuf {
    let sim = sandbox.hostmenow();
    assert!(sim.seed_service("words-1", "words.example.com", "words", "Pw-1", "101"));
    assert!(sim.set_usage("words-1", 120.0, 5000, 3.5, 0));
    TestManifest::new()
        .sqlite_journal("journal.sqlite3", JOURNAL_KEY_VAR)
        .module(
            "hostmenow",
            Module::hostmenow(sandbox).secret_env("api-key", "TEST_HMN_KEY"),
        )
        .module(
            "webline",
            Module::webline(sandbox).secret_env("api-key", "TEST_WL_KEY"),
        )
        .write(dir.join("provisioning.toml"))
}

/// A Webline service to create, as the contract's JSON.
fn webline_service() -> Value {
    let service = provisioning_test_support::webline::service("words.co.tz", "1");
    serde_json::to_value(service.into_json()).unwrap()
}

/// The figures of a usage answer, by name: (used, limit).
fn limits(usage: &Value) -> Vec<(String, Value)> {
    usage["figures"]
        .as_array()
        .unwrap_or_else(|| panic!("no figures in {usage}"))
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_string(), f["limit"].clone()))
        .collect()
}

fn expected_limits() -> Vec<(String, Value)> {
    vec![
        ("disk".to_string(), json!({"value": 5000.0})),
        ("bandwidth".to_string(), json!("unlimited")),
    ]
}

/// One stdout of `provisioning`, succeeded, as JSON.
fn json_of(output: &std::process::Output) -> Value {
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert_no_rust_names(&stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("not JSON: {stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn call_json_and_usage_lines_say_the_contracts_words() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = fresh_dir("contract-words-cli");
    let manifest = setup(&sandbox, &dir);
    let manifest = manifest.to_str().unwrap().to_string();
    let service_file = dir.join("service.json");
    std::fs::write(&service_file, webline_service().to_string()).unwrap();
    let services = dir.join("services.jsonl");
    std::fs::write(
        &services,
        json!({"module": "hostmenow", "service": {"service_id": "words-1"}}).to_string(),
    )
    .unwrap();

    let (created, status, usage, lines) = tokio::task::spawn_blocking(move || {
        let call = |args: &[&str]| {
            let mut all = vec!["call", "--manifest", &manifest];
            all.extend_from_slice(args);
            all.push("--json");
            json_of(&run(&all))
        };
        let service_file = service_file.to_str().unwrap();
        let created = call(&["webline", "create-account", "--service", service_file]);
        let remote_id = created["ok"]["value"]["remote_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no remote id in {created}"))
            .to_string();
        let status = call(&[
            "webline",
            "service-status",
            "--service",
            service_file,
            "--remote-id",
            &remote_id,
        ]);
        let usage = call(&["hostmenow", "usage-data", "--service-id", "words-1"]);
        let lines = run(&[
            "usage",
            "--manifest",
            &manifest,
            "--services",
            services.to_str().unwrap(),
        ]);
        (created, status, usage, lines)
    })
    .await
    .unwrap();

    assert_eq!(created["ok"]["kind"], "created", "{created}");
    assert_eq!(created["ok"]["value"]["status"], "active", "{created}");
    assert_eq!(status["ok"]["kind"], "status", "{status}");
    assert_eq!(status["ok"]["value"]["state"], "active", "{status}");
    assert_eq!(usage["ok"]["kind"], "usage", "{usage}");
    assert_eq!(limits(&usage["ok"]["value"]), expected_limits(), "{usage}");
    let line = json_of(&lines);
    assert_eq!(limits(&line["ok"]), expected_limits(), "{line}");
}

#[test]
fn inspect_json_says_the_contracts_words() {
    let inspection = json_of(&provisioning(
        &["inspect", provisioning_components::WEBLINE, "--json"],
        &[],
    ));
    assert_eq!(
        inspection["info"]["functions"],
        json!([
            "test-connection",
            "create-account",
            "list-packages",
            "service-status",
            "list-accounts"
        ])
    );
    let api_key = inspection["info"]["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "api-key")
        .unwrap_or_else(|| panic!("no api-key in {inspection}"));
    assert_eq!(api_key["kind"], "secret");
    assert_eq!(api_key["scope"], "server");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_says_the_contracts_words() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = fresh_dir("contract-words-serve");
    let manifest = setup(&sandbox, &dir);
    let service = webline_service();
    let answers = tokio::task::spawn_blocking(move || {
        let envs = envs();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let serve = Serve::start(
            &manifest,
            ("TEST_SERVE_TOKEN", "contract-words-token-0123456789"),
            &envs,
            &[],
        );
        let (_, module) = serve.get("/v1/modules/webline");
        let call = |request: Value| {
            let (code, answer) =
                serve.post("/v1/modules/webline/call", &json!({ "request": request }));
            assert_eq!(code, 200, "{answer}");
            answer
        };
        let created = call(json!({"function": "create-account", "service": service}));
        let mut service = service.clone();
        service["remote_id"] = created["ok"]["value"]["remote_id"].clone();
        let status = call(json!({"function": "service-status", "service": service}));
        let (_, usage) = serve.post(
            "/v1/usage",
            &json!({"services": [{"module": "hostmenow", "service": {"service_id": "words-1"}}]}),
        );
        let (_, pending) = serve.get("/v1/journal/pending");
        [module, created, status, usage, expand(pending)]
    })
    .await
    .unwrap();
    for answer in &answers {
        assert_no_rust_names(&answer.to_string());
    }
    let [module, created, status, usage, pending] = answers;
    assert_eq!(module["info"]["functions"][1], "create-account", "{module}");
    let settings = module["info"]["settings"].as_array().unwrap();
    assert!(
        settings
            .iter()
            .any(|s| s["kind"] == "secret" && s["scope"] == "server"),
        "{module}"
    );
    assert_eq!(created["ok"]["value"]["status"], "active", "{created}");
    assert_eq!(status["ok"]["value"]["state"], "active", "{status}");
    assert_eq!(
        limits(&usage["results"][0]["ok"]),
        expected_limits(),
        "{usage}"
    );
    // The journal keeps the create's answer (not acknowledged yet) in the
    // same words.
    assert!(
        pending.to_string().contains(r#""status":"active""#),
        "{pending}"
    );
}

/// `value` with every string that holds a JSON object or list read as
/// JSON, however deep: the journal's entries carry requests and answers
/// as JSON text.
fn expand(value: Value) -> Value {
    match value {
        Value::String(text) => match serde_json::from_str::<Value>(&text) {
            Ok(inner @ (Value::Object(_) | Value::Array(_))) => expand(inner),
            _ => Value::String(text),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(expand).collect()),
        Value::Object(fields) => {
            Value::Object(fields.into_iter().map(|(k, v)| (k, expand(v))).collect())
        }
        other => other,
    }
}
