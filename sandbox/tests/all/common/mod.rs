//! Helpers shared by the integration tests: requests through
//! `tower::ServiceExt::oneshot`, without a socket.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use provisioning_sandbox::hostmenow::{self, HostMeNow};
use serde_json::{Value, json};
use tower::ServiceExt;

/// An answer, fully read.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON; panics when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

/// A fresh simulator (its endpoint is never dialled in these tests).
pub fn simulator() -> (HostMeNow, Router) {
    let hostmenow = HostMeNow::new("http://sandbox.test");
    let router = hostmenow.router();
    (hostmenow, router)
}

/// Sends one request with the given method, content type and body.
pub async fn send(
    router: &Router,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let response = router
        .clone()
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

/// POSTs a raw JSON body to the API.
pub async fn post_json(router: &Router, body: &Value) -> Answer {
    send(
        router,
        Method::POST,
        hostmenow::PATH,
        Some("application/json"),
        body.to_string(),
    )
    .await
}

/// Calls `action` with the sandbox key; returns the status and JSON body.
pub async fn call(router: &Router, action: &str, params: Value) -> (StatusCode, Value) {
    let answer = post_json(
        router,
        &json!({"api_key": hostmenow::API_KEY, "action": action, "params": params}),
    )
    .await;
    (answer.status, answer.json())
}

/// The documented CreateAccount params for `serviceid` on `product`, monthly.
pub fn create_params(service_id: &str, product: &str) -> Value {
    json!({
        "serviceid": service_id,
        "billingcycle": "monthly",
        "qty": "1",
        "domain": format!("site{service_id}.example"),
        "username": format!("user{service_id}"),
        "password": "SecurePassword123!",
        "ip_address": "192.168.1.100",
        "selected_product": product,
    })
}

/// Creates a service and checks it succeeded.
pub async fn create(router: &Router, service_id: &str, product: &str) {
    let (status, body) = call(router, "CreateAccount", create_params(service_id, product)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "success", "{body}");
}

/// `{"status":"error","message":message}`.
pub fn error(message: &str) -> Value {
    json!({"status": "error", "message": message})
}
