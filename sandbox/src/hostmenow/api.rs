//! The provider's single endpoint: envelope checks, then the action.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::HostMeNow;
use super::actions::Action;
use super::protocol::{FORBIDDEN, INVALID_API_KEY, IP_NOT_WHITELISTED, Params, Reply};
use super::state::{self, RecordedRequest};

/// Message for a request that is not a POST (HTTP 405).
pub const METHOD_NOT_ALLOWED: &str = "Method not allowed";
/// Message for a request without `Content-Type: application/json` (HTTP 400).
pub const NOT_JSON_CONTENT_TYPE: &str = "Content-Type must be application/json";
/// Message for a body that is not a JSON object (HTTP 400).
pub const INVALID_JSON: &str = "Invalid JSON";

/// Answers one request to [`super::PATH`].
pub(crate) async fn handle(
    State(hostmenow): State<HostMeNow>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        let mut response =
            Reply::with_status(StatusCode::METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED).into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if !is_json(&headers) {
        return Reply::bad_request(NOT_JSON_CONTENT_TYPE).into_response();
    }
    let envelope = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(envelope)) => envelope,
        _ => return Reply::bad_request(INVALID_JSON).into_response(),
    };
    let action = envelope
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // Run and record under one lock so the record order is the order in
    // which requests changed the state.
    let reply = {
        let mut state = hostmenow.lock();
        let reply = authorize_and_run(&envelope, &mut state);
        state.requests.push(RecordedRequest {
            action: action.to_owned(),
            params: envelope.get("params").cloned().unwrap_or(Value::Null),
            http_status: reply.status.as_u16(),
        });
        reply
    };
    // Only the action and outcome: the envelope holds the API key and
    // params may hold passwords.
    let message = reply.body.get("message").and_then(Value::as_str);
    tracing::debug!(
        action,
        http_status = reply.status.as_u16(),
        outcome = reply.outcome(),
        message,
        "hostmenow request"
    );
    reply.into_response()
}

/// `Content-Type: application/json`, with or without parameters.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The provider's order of checks: key, IP, action, permission, params.
fn authorize_and_run(envelope: &Map<String, Value>, state: &mut state::State) -> Reply {
    if envelope.get("api_key").and_then(Value::as_str) != Some(super::API_KEY) {
        return Reply::forbidden(INVALID_API_KEY);
    }
    if !state.ip_whitelisted {
        return Reply::forbidden(IP_NOT_WHITELISTED);
    }
    let name = match envelope.get("action") {
        None | Some(Value::Null) => return Reply::bad_request("Missing required field: action"),
        Some(Value::String(name)) if name.is_empty() => {
            return Reply::bad_request("Missing required field: action");
        }
        Some(Value::String(name)) => name,
        Some(_) => return Reply::bad_request("Invalid value for field: action"),
    };
    let Some(action) = Action::from_name(name) else {
        return Reply::bad_request(&format!("Invalid action: {name}"));
    };
    if state.denied_actions.contains(action.name()) {
        return Reply::forbidden(FORBIDDEN);
    }
    match Params::from_value(envelope.get("params")) {
        Ok(params) => action.run(&params, state),
        Err(reply) => reply,
    }
}
