//! The Webline simulator against the provider's document and notes.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use provisioning_sandbox::webline::{
    self, AccountStatus, Provisioning, STARTING_CREDIT_TZS, Webline,
};
use serde_json::{Value, json};
use tower::ServiceExt;

fn simulator() -> (Webline, Router) {
    let webline = Webline::new("http://sandbox.test");
    let router = webline.router();
    (webline, router)
}

/// Sends one request; `key` goes in `X-API-KEY` when given.
async fn send(
    router: &Router,
    method: Method,
    content_type: Option<&str>,
    key: Option<&str>,
    body: String,
) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::builder().method(method).uri(webline::PATH);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(key) = key {
        request = request.header("X-API-KEY", key);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, retry_after, body)
}

/// POSTs `body` as JSON with the right key in the header.
async fn call(router: &Router, body: Value) -> (StatusCode, Value) {
    let (status, _, body) = send(
        router,
        Method::POST,
        Some("application/json"),
        Some(webline::API_KEY),
        body.to_string(),
    )
    .await;
    (status, body)
}

fn error(message: &str) -> Value {
    json!({"status": "error", "message": message})
}

fn create_body(domain: &str, package: Value) -> Value {
    json!({
        "action": "createAccount", "package_id": package, "domain": domain,
        "first_name": "Asha", "last_name": "Mushi",
        "email": "asha@example.co.tz", "phone": "+255712345678"
    })
}

#[tokio::test]
async fn only_json_posts_with_the_key_get_through() {
    let (sim, router) = simulator();
    let body = json!({"action": "getPackages"}).to_string();
    let (status, _, answer) = send(
        &router,
        Method::GET,
        None,
        Some(webline::API_KEY),
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer, error(webline::METHOD_NOT_ALLOWED));
    let (status, _, answer) = send(
        &router,
        Method::POST,
        Some("application/x-www-form-urlencoded"),
        Some(webline::API_KEY),
        "action=getPackages".into(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer, error(webline::NOT_JSON_CONTENT_TYPE));
    for key in [None, Some("wrong")] {
        let (status, _, answer) = send(
            &router,
            Method::POST,
            Some("application/json"),
            key,
            body.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer, error(webline::INVALID_API_KEY));
    }
    // The key is also accepted in the body, as documented.
    let (status, _, answer) = send(
        &router,
        Method::POST,
        Some("application/json"),
        None,
        json!({"action": "getPackages", "api_key": webline::API_KEY}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["status"], "success");
    let recorded = sim.requests();
    assert_eq!(recorded.len(), 1);
    assert!(!recorded[0].key_in_header);
    assert!(recorded[0].fields.get("api_key").is_none());
}

#[tokio::test]
async fn unknown_or_missing_actions_are_refused() {
    let (_, router) = simulator();
    let (status, body) = call(&router, json!({"action": "suspendAccount"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, error(webline::INVALID_ACTION));
    let (status, body) = call(&router, json!({"Action": "getPackages"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, error("Missing required field: action"));
}

#[tokio::test]
async fn packages_are_listed_in_tzs_and_mb() {
    let (_, router) = simulator();
    let (status, body) = call(&router, json!({"action": "getPackages"})).await;
    assert_eq!(status, StatusCode::OK);
    let first = &body["data"][0];
    assert_eq!(first["id"], 1);
    assert_eq!(first["price_monthly"], 25000);
    assert_eq!(first["disk_space_mb"], 5000);
    assert_eq!(first["directadmin_package"], "basic");
}

#[tokio::test]
async fn create_generates_credentials_charges_and_keeps_state() {
    let (sim, router) = simulator();
    let (status, body) = call(&router, create_body("Shop.co.tz", json!(1))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Hosting account created successfully");
    let data = &body["data"];
    let id = data["account_id"].as_u64().unwrap();
    let record = sim.account(id).unwrap();
    assert_eq!(data["username"], record.username.as_str());
    assert_eq!(data["password"], record.password.as_str());
    assert_eq!(record.domain, "shop.co.tz");
    assert_eq!(record.status, AccountStatus::Active);
    assert_eq!(data["price_charged"], 25000);
    assert_eq!(sim.credit(), STARTING_CREDIT_TZS - 25000);

    let (_, got) = call(&router, json!({"action": "getAccount", "account_id": id})).await;
    assert_eq!(got["data"]["disk_space_mb"], 5000);
    assert_eq!(got["data"]["client_name"], "Asha Mushi");
    assert!(got["data"].get("password").is_none());
    let (_, listed) = call(&router, json!({"action": "listAccounts"})).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    // The document's fields, no more: a package by name, no client email.
    let entry = listed["data"][0].as_object().unwrap();
    let mut fields: Vec<&str> = entry.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "created_at",
            "domain",
            "id",
            "package_name",
            "server_name",
            "status",
            "username"
        ]
    );
    assert_eq!(listed["data"][0]["id"], id);
    assert_eq!(listed["data"][0]["package_name"], "Basic Hosting");
    assert_eq!(listed["data"][0]["status"], "active");

    let (status, again) = call(&router, create_body("shop.co.tz", json!("2"))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(again, error(webline::DOMAIN_EXISTS));
    assert_eq!(sim.accounts().len(), 1);
}

#[tokio::test]
async fn wrong_field_names_and_values_fail_validation() {
    let (sim, router) = simulator();
    let mut renamed = create_body("a.co.tz", json!(1));
    let phone = renamed.as_object_mut().unwrap().remove("phone").unwrap();
    renamed["telephone"] = phone;
    let (status, body) = call(&router, renamed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, error("Missing required field: phone"));
    let mut renamed = create_body("a.co.tz", json!(1));
    renamed.as_object_mut().unwrap().remove("package_id");
    renamed["package"] = json!(1);
    assert_eq!(
        call(&router, renamed).await.1,
        error("Missing required field: package_id")
    );
    assert_eq!(
        call(&router, create_body("a.co.tz", json!(99))).await.1,
        error(webline::INVALID_PACKAGE)
    );
    assert_eq!(
        call(&router, create_body("not_a_domain", json!(1))).await.1,
        error(webline::INVALID_DOMAIN)
    );
    sim.set_credit(1000);
    let (status, body) = call(&router, create_body("a.co.tz", json!(1))).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        body["message"],
        "Insufficient credit balance. Required: 25000 TZS, Available: 1000 TZS"
    );
    assert!(sim.accounts().is_empty());
    assert_eq!(sim.credit(), 1000);
}

#[tokio::test]
async fn new_accounts_can_stay_pending_then_settle() {
    let (sim, router) = simulator();
    sim.set_provisioning(Provisioning::After(Duration::from_millis(200)));
    let (_, body) = call(&router, create_body("p.co.tz", json!(1))).await;
    let id = body["data"]["account_id"].as_u64().unwrap();
    let status_of = || {
        call(
            &router,
            json!({"action": "getAccountStatus", "account_id": id}),
        )
    };
    assert_eq!(status_of().await.1["data"]["status"], "pending");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(status_of().await.1["data"]["status"], "active");

    sim.set_provisioning(Provisioning::FailAfter(Duration::ZERO));
    let (_, body) = call(&router, create_body("f.co.tz", json!(1))).await;
    let id = body["data"]["account_id"].as_u64().unwrap();
    assert_eq!(sim.account(id).unwrap().status, AccountStatus::Failed);

    let (status, body) = call(
        &router,
        json!({"action": "getAccountStatus", "account_id": 999}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, error(webline::ACCOUNT_NOT_FOUND));
}

#[tokio::test]
async fn the_101st_request_in_five_minutes_is_429_with_retry_after() {
    let (_, router) = simulator();
    for _ in 0..webline::RATE_LIMIT {
        assert_eq!(
            call(&router, json!({"action": "getPackages"})).await.0,
            StatusCode::OK
        );
    }
    let (status, retry_after, body) = send(
        &router,
        Method::POST,
        Some("application/json"),
        Some(webline::API_KEY),
        json!({"action": "getPackages"}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body, error(webline::RATE_LIMITED));
    let wait: u64 = retry_after.unwrap().parse().unwrap();
    assert!(wait > 290 && wait <= 300, "{wait}");
}

#[tokio::test]
async fn repeated_bad_keys_are_blocked() {
    let (_, router) = simulator();
    let bad = || {
        send(
            &router,
            Method::POST,
            Some("application/json"),
            Some("guess"),
            json!({"action": "getPackages"}).to_string(),
        )
    };
    for _ in 0..10 {
        assert_eq!(bad().await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, retry_after, body) = bad().await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body, error(webline::TOO_MANY_AUTH_FAILURES));
    assert_eq!(retry_after.as_deref(), Some("900"));
}

#[tokio::test]
async fn faults_and_state_are_reachable_over_the_control_routes() {
    let (sim, router) = simulator();
    let control = |method: Method, path: &str, body: &str| {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", webline::CONTROL_PREFIX))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    let queued = control(Method::POST, "/faults", r#"{"fault":"html_ok","times":1}"#).await;
    assert_eq!(queued["pending"], 1);
    let (status, _) = call(&router, create_body("x.co.tz", json!(1))).await;
    assert_eq!(status, StatusCode::OK, "the maintenance page is a 200");
    assert!(
        sim.accounts().is_empty(),
        "a faulted request changes nothing"
    );
    call(&router, create_body("x.co.tz", json!(1))).await;
    let accounts = control(Method::GET, "/accounts", "").await;
    assert_eq!(accounts["credit"], STARTING_CREDIT_TZS - 25000);
    assert_eq!(accounts["accounts"][0]["domain"], "x.co.tz");
    assert!(accounts["accounts"][0].get("password").is_none());
    let requests = control(Method::GET, "/requests", "").await;
    assert_eq!(requests[0]["action"], "createAccount");
}
