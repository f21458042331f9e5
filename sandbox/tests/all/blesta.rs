//! The Blesta simulator against the provider's document and notes.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use provisioning_sandbox::blesta::{self, Blesta, LicenseStatus};
use provisioning_sandbox::fault::Fault;
use serde_json::{Value, json};
use tower::ServiceExt;

const FORM: &str = "application/x-www-form-urlencoded";

fn simulator() -> (Blesta, Router) {
    let blesta = Blesta::new("http://sandbox.test");
    let router = blesta.router();
    (blesta, router)
}

/// Form-encodes `pairs` (enough for the tests' plain values and brackets).
fn encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", k.replace('[', "%5B").replace(']', "%5D"), v))
        .collect::<Vec<_>>()
        .join("&")
}

/// Sends one request and returns its status, content type and body.
async fn send(
    router: &Router,
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: String,
) -> (StatusCode, String, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        request = request.header(header::CONTENT_TYPE, ct);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let ct = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ct, body)
}

/// POSTs `action` with the right credentials plus `extra`, expecting HTTP
/// 200 JSON, and returns the body.
async fn post(router: &Router, action: &str, extra: &[(&str, &str)]) -> Value {
    let mut pairs = vec![
        ("action", action),
        ("uid", blesta::UID),
        ("password", blesta::PASSWORD),
    ];
    pairs.extend_from_slice(extra);
    let (status, ct, body) = send(
        router,
        Method::POST,
        blesta::PATH,
        Some(FORM),
        encode(&pairs),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "application/json");
    serde_json::from_slice(&body).unwrap()
}

fn code_of(body: &Value) -> i64 {
    body["response_code"]
        .as_i64()
        .expect("numeric response_code")
}

async fn add(router: &Router, domain: &str) -> String {
    let body = post(
        router,
        "addlicense",
        &[("term", "monthly"), ("domain", domain)],
    )
    .await;
    assert_eq!(code_of(&body), 200, "{body}");
    body["data"][0]["license"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn getcredit_works_by_get_and_post_with_the_documented_envelope() {
    let (_, router) = simulator();
    let uri = format!(
        "{}?action=getcredit&uid={}&password={}",
        blesta::PATH,
        blesta::UID,
        blesta::PASSWORD
    );
    let (status, _, body) = send(&router, Method::GET, &uri, None, String::new()).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body,
        json!({"response_code": 200, "response_text": "OK", "data": "500.00"})
    );
    assert_eq!(
        post(&router, "getcredit", &[]).await["data"],
        json!("500.00")
    );
}

#[tokio::test]
async fn wrong_credentials_or_json_bodies_are_code_100_over_http_200() {
    let (blesta, router) = simulator();
    let wrong = encode(&[
        ("action", "getcredit"),
        ("uid", blesta::UID),
        ("password", "nope"),
    ]);
    let (status, _, body) = send(&router, Method::POST, blesta::PATH, Some(FORM), wrong).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body,
        json!({"response_code": 100, "response_text": "Authentication failed", "data": null})
    );
    // PHP does not read a JSON body into its fields.
    let as_json = json!({"action": "getcredit", "uid": blesta::UID, "password": blesta::PASSWORD})
        .to_string();
    let (_, _, body) = send(
        &router,
        Method::POST,
        blesta::PATH,
        Some("application/json"),
        as_json,
    )
    .await;
    assert_eq!(code_of(&serde_json::from_slice(&body).unwrap()), 100);
    // A wrong parameter name is a missing parameter.
    let renamed = encode(&[
        ("action", "getcredit"),
        ("user", blesta::UID),
        ("password", blesta::PASSWORD),
    ]);
    let (_, _, body) = send(&router, Method::POST, blesta::PATH, Some(FORM), renamed).await;
    assert_eq!(code_of(&serde_json::from_slice(&body).unwrap()), 100);
    // The password is never recorded.
    assert!(
        blesta
            .requests()
            .iter()
            .all(|r| r.field("password").is_none())
    );
    let (status, _, _) = send(
        &router,
        Method::PUT,
        blesta::PATH,
        Some(FORM),
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _, _) = send(
        &router,
        Method::POST,
        "/ams/reseller",
        Some(FORM),
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn example_url_action_names_are_not_supported() {
    let (_, router) = simulator();
    let key = add(&router, "a.example.com").await;
    for action in ["suspend", "unsuspend", "cancel", ""] {
        let body = post(&router, action, &[("license", &key)]).await;
        assert_eq!(code_of(&body), 101, "{action}");
        assert_eq!(body["response_text"], "Action not supported");
    }
}

#[tokio::test]
async fn a_license_lives_and_dies_with_real_state_and_charges() {
    let (blesta, router) = simulator();
    let packages = post(&router, "getpackages", &[]).await;
    assert_eq!(
        packages["data"][0],
        json!({"name": "Blesta Monthly", "type": "license", "term": "monthly", "price": "15.95"})
    );

    let key = add(&router, "life.example.com").await;
    assert_eq!(key.len(), 16);
    assert_eq!(blesta.credit_cents(), 50_000 - 1_595);
    let record = blesta.license(&key).unwrap();
    assert_eq!(
        (record.domain.as_str(), record.term.as_str(), record.status),
        ("life.example.com", "monthly", LicenseStatus::Active)
    );

    assert_eq!(
        code_of(&post(&router, "suspendlicense", &[("license", &key)]).await),
        200
    );
    assert_eq!(
        blesta.license(&key).unwrap().status,
        LicenseStatus::Suspended
    );
    let listed = post(&router, "getlicenses", &[]).await;
    assert_ne!(listed["data"][&key][0]["date_suspended"], "0000-00-00");
    // The document's shape: keyed by license, each a list of one license
    // with exactly the document's fields.
    let entry = listed["data"][&key][0].as_object().unwrap();
    let mut fields: Vec<&str> = entry.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "date_added",
            "date_renews",
            "date_suspended",
            "domain",
            "license",
            "term",
            "type"
        ]
    );
    assert_eq!(
        (&entry["license"], &entry["domain"], &entry["term"]),
        (&json!(key), &json!("life.example.com"), &json!("monthly"))
    );
    assert_eq!(
        code_of(&post(&router, "unsuspendlicense", &[("license", &key)]).await),
        200
    );
    assert_eq!(blesta.license(&key).unwrap().status, LicenseStatus::Active);
    assert_eq!(
        code_of(
            &post(
                &router,
                "updatedomain",
                &[("license", &key), ("domain", "new.example.com")]
            )
            .await
        ),
        200
    );
    assert_eq!(blesta.license(&key).unwrap().domain, "new.example.com");
    assert_eq!(
        code_of(&post(&router, "cancellicense", &[("license", &key)]).await),
        200
    );
    assert_eq!(
        blesta.license(&key).unwrap().status,
        LicenseStatus::Cancelled
    );
    // A cancelled license no longer exists for the API.
    assert_eq!(
        code_of(&post(&router, "suspendlicense", &[("license", &key)]).await),
        102
    );
    assert!(
        post(&router, "getlicenses", &[]).await["data"]
            .as_object()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn addlicense_checks_in_the_documented_order() {
    let (blesta, router) = simulator();
    let cases: [(&[(&str, &str)], i64); 4] = [
        (&[("domain", "x.example.com")], 106),
        (&[("term", "monthly")], 107),
        (&[("term", "weekly"), ("domain", "x.example.com")], 108),
        (&[("term", "Monthly"), ("domain", "x.example.com")], 108),
    ];
    for (fields, expected) in cases {
        assert_eq!(
            code_of(&post(&router, "addlicense", fields).await),
            expected,
            "{fields:?}"
        );
    }
    add(&router, "dup.example.com").await;
    let again = post(
        &router,
        "addlicense",
        &[("term", "monthly"), ("domain", "DUP.example.com")],
    )
    .await;
    assert_eq!(code_of(&again), 103);
    blesta.set_credit_cents(100);
    assert_eq!(
        code_of(
            &post(
                &router,
                "addlicense",
                &[("term", "monthly"), ("domain", "poor.example.com")]
            )
            .await
        ),
        105
    );
    // Test mode is not charged.
    let free = post(
        &router,
        "addlicense",
        &[
            ("term", "monthly"),
            ("domain", "t.example.com"),
            ("test_mode", "true"),
        ],
    )
    .await;
    assert_eq!(code_of(&free), 200);
    assert_eq!(blesta.credit_cents(), 100);
    blesta.set_credit_cents(50_000);
    blesta.fail_next_add("Unable to provision at this time");
    let failed = post(
        &router,
        "addlicense",
        &[("term", "monthly"), ("domain", "f.example.com")],
    )
    .await;
    assert_eq!(
        (code_of(&failed), failed["response_text"].as_str()),
        (109, Some("Unable to provision at this time"))
    );
    assert_eq!(blesta.licenses().len(), 2);
    blesta.set_past_due(true);
    assert_eq!(
        code_of(
            &post(
                &router,
                "addlicense",
                &[("term", "monthly"), ("domain", "p.example.com")]
            )
            .await
        ),
        104
    );
    assert_eq!(code_of(&post(&router, "getcredit", &[]).await), 200);
    blesta.set_past_due(false);
    // A term withdrawn from the account is unknown to it.
    assert!(blesta.withdraw_package("yearly"));
    assert_eq!(
        code_of(
            &post(
                &router,
                "addlicense",
                &[("term", "yearly"), ("domain", "y.example.com")]
            )
            .await
        ),
        108
    );
    assert_eq!(
        post(&router, "getpackages", &[]).await["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn searchlicenses_needs_the_array_field_and_pages_by_25() {
    let (_, router) = simulator();
    for n in 0..30 {
        add(&router, &format!("site{n}.example.com")).await;
    }
    let target = add(&router, "example.com").await;
    // `search=...` (not an array) and no search at all are refused.
    assert_eq!(
        code_of(&post(&router, "searchlicenses", &[("search", "example.com")]).await),
        109
    );
    assert_eq!(code_of(&post(&router, "searchlicenses", &[]).await), 109);
    let first = post(
        &router,
        "searchlicenses",
        &[("search[domain]", "example.com")],
    )
    .await;
    assert_eq!(first["data"].as_array().unwrap().len(), blesta::PAGE_SIZE);
    let second = post(
        &router,
        "searchlicenses",
        &[("search[domain]", "example.com"), ("page", "2")],
    )
    .await;
    let rest = second["data"].as_array().unwrap();
    assert_eq!(rest.len(), 6);
    assert_eq!(rest.last().unwrap()["license"], json!(target));
    let by_key = post(&router, "searchlicenses", &[("search[license]", &target)]).await;
    assert_eq!(by_key["data"][0]["domain"], "example.com");
}

#[tokio::test]
async fn faults_come_before_the_account_and_leave_it_untouched() {
    let (blesta, router) = simulator();
    blesta.faults().inject(Fault::HtmlOk, 1);
    let body = encode(&[
        ("action", "addlicense"),
        ("uid", blesta::UID),
        ("password", blesta::PASSWORD),
        ("term", "monthly"),
        ("domain", "f.example.com"),
    ]);
    let (status, ct, _) = send(&router, Method::POST, blesta::PATH, Some(FORM), body).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/html"));
    assert!(blesta.licenses().is_empty());
}

#[tokio::test]
async fn control_routes_show_the_account_and_queue_faults() {
    let (_, router) = simulator();
    let key = add(&router, "c.example.com").await;
    let (status, _, body) = send(
        &router,
        Method::GET,
        "/_sandbox/blesta/licenses",
        None,
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["licenses"][0]["license"], json!(key));
    assert_eq!(body["credit_cents"], json!(50_000 - 1_595));
    let (_, _, body) = send(
        &router,
        Method::GET,
        "/_sandbox/blesta/requests",
        None,
        String::new(),
    )
    .await;
    assert!(!String::from_utf8(body).unwrap().contains(blesta::PASSWORD));
    let (status, _, body) = send(
        &router,
        Method::POST,
        "/_sandbox/blesta/faults",
        Some("application/json"),
        json!({"fault": "empty_body", "times": 2}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"pending": 2})
    );
}
