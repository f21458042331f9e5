//! The whole router called in process (tower's `oneshot`, no socket): a
//! real host with the HostMeNow component, a journal and one module that
//! does not load, the HostMeNow simulator behind it. Every operation of
//! the document answers, with and without the token, and each answer,
//! refusals included, is what the document says for its route and status.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use provisioning_host::{Host, JournalSection, Manifest, SettingSource};
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_serve::{App, BodyLimits, ReloadStatus, Token};
use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::conformance::{conforms, document};

const TOKEN: &str = "router-test-token-0123456789";

/// The most a test body may be here: small, so that 413 is cheap to reach.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// A fresh directory with the HostMeNow key and the journal's in files,
/// and a manifest of HostMeNow (a one-second deadline, so that a lost
/// answer's attempt is over soon) and of `broken` (a component that is
/// not there), with a journal.
fn manifest(sandbox: &Sandbox, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provisioning-serve-router-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hostmenow.key"), hostmenow::API_KEY).unwrap();
    std::fs::write(dir.join("journal.key"), "ab".repeat(32)).unwrap();
    TestManifest::new()
        .module(
            "hostmenow",
            Module::hostmenow(sandbox)
                .secret_file("api-key", "hostmenow.key")
                .deadline(Duration::from_secs(1)),
        )
        .module(
            "broken",
            Module::new("missing.wasm").allow(&sandbox.origin()),
        )
        .journal(JournalSection {
            path: Some("journal.sqlite3".into()),
            url: None,
            key: SettingSource::File {
                file: "journal.key".into(),
            },
            lease_seconds: None,
            retain_acknowledged_days: None,
        })
        .write(dir.join("provisioning.toml"))
}

/// The application over a host of [`manifest`].
async fn app(sandbox: &Sandbox, name: &str) -> Router {
    let manifest = Manifest::from_file(&manifest(sandbox, name)).unwrap();
    let host = Arc::new(
        Host::from_manifest(&manifest, provisioning_test_support::host_options()).unwrap(),
    );
    let failures = host.load_manifest_lenient(&manifest).await;
    assert_eq!(failures.len(), 1, "only `broken` fails: {failures:?}");
    provisioning_serve::router(App {
        host,
        token: Token::new(TOKEN).unwrap(),
        limits: BodyLimits {
            max_body_bytes: MAX_BODY_BYTES,
            max_usage_body_bytes: MAX_BODY_BYTES,
        },
        reloads: ReloadStatus::default(),
        // A recorder of the test's own, not installed process-wide.
        metrics: metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle(),
    })
}

/// One answer: its status, headers and body (JSON when it parses).
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

/// Sends one request through the router: `body` as JSON, with the token
/// when `with_token`.
async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<&Value>,
    with_token: bool,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if with_token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        headers,
        body,
    }
}

fn service(id: &str) -> Value {
    json!({
        "service_id": id, "domain": format!("{id}.example.com"), "username": format!("u{id}"),
        "password": "Router-Pa55word!", "package": "101", "billing_cycle": "monthly",
        "client": { "first_name": "Test", "last_name": "Client", "email": "c@example.com" },
        "custom_fields": []
    })
}

/// The body each documented operation is exercised with.
fn body_of(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("post", "/v1/modules/{module}/call") => {
            Some(json!({ "request": { "function": "usage-data", "service": service("r1") } }))
        }
        // One service read, one whose module is unknown, one whose module
        // did not load: a result each, the last two their errors.
        ("post", "/v1/usage") => Some(json!({ "services": [
            { "module": "hostmenow", "service": service("r1") },
            { "module": "nowhere", "service": { "service_id": "x" } },
            { "module": "broken", "service": { "service_id": "y" } },
        ] })),
        ("post", _) => Some(json!({})),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_answers_as_the_document_says_with_and_without_the_token() {
    let document = document();
    let sandbox = Sandbox::start().await.unwrap();
    let app = app(&sandbox, "operations").await;

    // An entry to acknowledge, and a pending list that is not empty.
    let created = send(
        &app,
        "POST",
        "/v1/modules/hostmenow/call",
        Some(&json!({ "request": { "function": "create-account", "service": service("r1") } })),
        true,
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    conforms(
        &document,
        "post",
        "/v1/modules/{module}/call",
        200,
        &created.body,
    )
    .unwrap();
    assert_eq!(created.body["ok"]["kind"], "created", "{}", created.body);
    let entry = created.body["journal_entry"].as_i64().unwrap();

    let mut exercised = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let uri = path
                .replace("{module}", "hostmenow")
                .replace("{service}", "r1")
                .replace("{entry}", &entry.to_string());
            let body = body_of(method, path);
            let verb = method.to_uppercase();
            let open = operation["security"] == json!([]);
            let answer = send(&app, &verb, &uri, body.as_ref(), true).await;
            let status = answer.status.as_u16();
            // Readiness is 503 here: `broken` did not load.
            let expected = if path == "/v1/health/ready" { 503 } else { 200 };
            assert_eq!(status, expected, "{method} {path}: {}", answer.body);
            if path == "/metrics" {
                let content_type = answer.headers[header::CONTENT_TYPE].to_str().unwrap();
                assert!(content_type.starts_with("text/plain"), "{content_type}");
                assert!(
                    document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
                        ["text/plain"]
                        .is_object()
                );
            } else {
                conforms(&document, method, path, status, &answer.body).unwrap();
            }
            assert!(
                answer.headers.contains_key("x-request-id"),
                "{method} {path}: every answer carries its request id"
            );
            let without = send(&app, &verb, &uri, body.as_ref(), false).await;
            if open {
                assert_eq!(without.status.as_u16(), status, "{method} {path} is open");
            } else {
                assert_eq!(without.status, 401, "{method} {path}: {}", without.body);
                assert_eq!(without.headers[header::WWW_AUTHENTICATE], "Bearer");
                assert_eq!(without.body["error"]["kind"], "unauthorized");
                conforms(&document, method, path, 401, &without.body).unwrap();
            }
            exercised += 1;
        }
    }
    assert_eq!(exercised, 13, "every operation was exercised");
}

/// A request the API refuses: method, URI, the documented path, body, and
/// the status and error kind it is refused with.
struct Refusal(
    &'static str,
    &'static str,
    &'static str,
    Option<Value>,
    u16,
    &'static str,
);

#[tokio::test(flavor = "multi_thread")]
async fn refusals_are_the_documented_error_bodies() {
    let document = document();
    let sandbox = Sandbox::start().await.unwrap();
    let app = app(&sandbox, "refusals").await;
    let call = "/v1/modules/{module}/call";
    let cases = [
        Refusal(
            "GET",
            "/v1/modules/nowhere",
            "/v1/modules/{module}",
            None,
            404,
            "unknown-module",
        ),
        Refusal(
            "GET",
            "/v1/modules/broken",
            "/v1/modules/{module}",
            None,
            503,
            "module-not-ready",
        ),
        Refusal(
            "POST",
            "/v1/modules/broken/call",
            call,
            Some(json!({ "request": { "function": "test-connection" } })),
            503,
            "module-not-ready",
        ),
        Refusal(
            "POST",
            "/v1/modules/hostmenow/call",
            call,
            Some(json!({ "request": { "function": "fly" } })),
            400,
            "malformed-request",
        ),
        Refusal(
            "POST",
            "/v1/modules/hostmenow/call",
            call,
            Some(json!({ "request": {}, "extra": 1 })),
            400,
            "malformed-request",
        ),
        Refusal(
            "POST",
            "/v1/modules/hostmenow/call",
            call,
            Some(
                json!({ "request": { "function": "test-connection" }, "idempotency_key": "x".repeat(MAX_BODY_BYTES) }),
            ),
            413,
            "body-too-large",
        ),
        Refusal(
            "POST",
            "/v1/usage",
            "/v1/usage",
            Some(json!({ "services": [], "concurrency": 0 })),
            400,
            "malformed-request",
        ),
        Refusal(
            "POST",
            "/v1/journal/999999/ack",
            "/v1/journal/{entry}/ack",
            Some(json!({})),
            404,
            "not-pending",
        ),
        Refusal(
            "POST",
            "/v1/journal/seven/ack",
            "/v1/journal/{entry}/ack",
            Some(json!({})),
            400,
            "malformed-request",
        ),
    ];
    for Refusal(method, uri, path, body, status, kind) in cases {
        let answer = send(&app, method, uri, body.as_ref(), true).await;
        assert_eq!(
            answer.status.as_u16(),
            status,
            "{method} {uri}: {}",
            answer.body
        );
        assert_eq!(
            answer.body["error"]["kind"], kind,
            "{method} {uri}: {}",
            answer.body
        );
        conforms(
            &document,
            &method.to_lowercase(),
            path,
            status,
            &answer.body,
        )
        .unwrap();
    }
    // Why a module is not ready travels with the refusal.
    let not_ready = send(&app, "GET", "/v1/modules/broken", None, true).await;
    assert_eq!(
        not_ready.body["error"]["reason"]["kind"], "load-failed",
        "{}",
        not_ready.body
    );

    // A body that is not JSON: 415, the error body all the same.
    let request = Request::post("/v1/modules/hostmenow/call")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from("request=test-connection"))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 415);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let refused: Value = serde_json::from_slice(&bytes).unwrap();
    conforms(&document, "post", call, 415, &refused).unwrap();

    // A route nobody has: the typed 404 too (behind the token).
    let unknown = send(&app, "GET", "/v1/nothing", None, true).await;
    assert_eq!(
        (unknown.status.as_u16(), &unknown.body["error"]["kind"]),
        (404, &json!("unknown-route"))
    );

    // A call that ran and failed answers 200 with its typed error.
    let failed = send(
        &app,
        "POST",
        "/v1/modules/hostmenow/call",
        Some(&json!({ "request": { "function": "suspend", "service": service("never-made") } })),
        true,
    )
    .await;
    assert_eq!(failed.status, 200, "{}", failed.body);
    assert!(failed.body["error"]["kind"].is_string(), "{}", failed.body);
    assert!(failed.body.get("ok").is_none(), "{}", failed.body);
    conforms(&document, "post", call, 200, &failed.body).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_answer_is_pending_unknown_refused_without_a_finding_and_reconciled_as_documented() {
    let document = document();
    let sandbox = Sandbox::start().await.unwrap();
    let app = app(&sandbox, "reconcile").await;
    sandbox.hostmenow().faults().inject(Fault::AnswerLost, 1);
    let lost = send(
        &app,
        "POST",
        "/v1/modules/hostmenow/call",
        Some(&json!({ "request": { "function": "create-account", "service": service("lost1") } })),
        true,
    )
    .await;
    assert_eq!(lost.status, 200, "{}", lost.body);
    assert_eq!(lost.body["error"]["uncertain"], true, "{}", lost.body);
    conforms(
        &document,
        "post",
        "/v1/modules/{module}/call",
        200,
        &lost.body,
    )
    .unwrap();
    let entry = lost.body["journal_entry"].as_i64().unwrap();

    let pending = send(&app, "GET", "/v1/journal/pending", None, true).await;
    assert_eq!(
        pending.body["pending"][0]["state"], "unknown",
        "{}",
        pending.body
    );
    assert!(
        pending.body["pending"][0]["outcome"]["error"].is_object(),
        "{}",
        pending.body
    );
    conforms(&document, "get", "/v1/journal/pending", 200, &pending.body).unwrap();

    let ack = format!("/v1/journal/{entry}/ack");
    let refused = send(&app, "POST", &ack, Some(&json!({})), true).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.body["error"]["kind"], "finding-required");
    conforms(
        &document,
        "post",
        "/v1/journal/{entry}/ack",
        409,
        &refused.body,
    )
    .unwrap();

    // Once the attempt's deadline has passed, the provider's state decides.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let pass = send(&app, "POST", "/v1/journal/reconcile", None, true).await;
    assert_eq!(pass.status, 200, "{}", pass.body);
    let entries = pass.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", pass.body);
    assert_eq!(entries[0]["function"], "create-account", "{}", pass.body);
    assert!(entries[0]["verdict"].is_string(), "{}", pass.body);
    conforms(&document, "post", "/v1/journal/reconcile", 200, &pass.body).unwrap();
}

#[test]
fn the_check_refuses_an_answer_the_document_does_not_describe() {
    let document = document();
    assert!(
        conforms(
            &document,
            "get",
            "/v1/health/live",
            200,
            &json!({ "status": "live" })
        )
        .is_ok()
    );
    for wrong in [
        json!({ "status": "dead" }),
        json!({}),
        json!({ "status": 1 }),
    ] {
        assert!(
            conforms(&document, "get", "/v1/health/live", 200, &wrong).is_err(),
            "{wrong} passed"
        );
    }
    let refused = json!({ "error": { "kind": "unknown-module", "message": "no" } });
    assert!(conforms(&document, "get", "/v1/modules/{module}", 404, &refused).is_ok());
    assert!(
        conforms(
            &document,
            "get",
            "/v1/modules/{module}",
            404,
            &json!({ "error": "no" })
        )
        .is_err()
    );
    assert!(conforms(&document, "get", "/v1/modules/{module}", 418, &refused).is_err());
}
