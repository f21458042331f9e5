//! Fault injection shared by every simulator.
//!
//! A [`FaultInjector`] holds a FIFO queue of [`Fault`]s. Its [`middleware`]
//! sits in front of a simulator's route: each request takes the next queued
//! fault, if any, and gets the faulty answer instead of reaching the
//! simulator, so a faulted request never changes the simulator's state.
//! [`Fault::Slow`] is the exception: it only delays a normal answer.
//!
//! [`control_router`] offers the same queue over HTTP for tests that run the
//! sandbox in another process.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

/// One way for a provider to misbehave on a single request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500 with `{"status":"error","message":"Internal server error"}`.
    ServerErrorJson,
    /// HTTP 500 with a `text/html` error page.
    ServerErrorHtml,
    /// HTTP 200 with a `text/html` page (a maintenance page, say).
    HtmlOk,
    /// HTTP 200, `application/json`, zero bytes of body.
    EmptyBody,
    /// HTTP 200, `application/json`, a JSON document cut in the middle.
    TruncatedJson,
    /// HTTP 429 with a `Retry-After` header of this many seconds.
    TooManyRequests {
        /// Value of the `Retry-After` header.
        retry_after_secs: u32,
    },
    /// Waits this long, then lets the request through to be answered normally.
    Slow(Duration),
}

/// The body of a [`Fault::ServerErrorHtml`] answer.
pub const SERVER_ERROR_HTML: &str = "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n<body><h1>Internal Server Error</h1><p>The server encountered an internal error and was unable to complete your request.</p></body></html>\n";

/// The body of a [`Fault::HtmlOk`] answer.
pub const MAINTENANCE_HTML: &str = "<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head>\n<body><h1>We'll be back soon</h1><p>Scheduled maintenance is in progress. Please try again later.</p></body></html>\n";

/// The body of a [`Fault::TruncatedJson`] answer: valid JSON up to a point.
pub const TRUNCATED_JSON: &str =
    r#"{"status":"success","message":"Action completed successfully","data":{"serviceid":"4"#;

impl Fault {
    /// The answer this fault gives in place of the real one, or `None` for
    /// [`Fault::Slow`], which answers normally.
    pub fn response(&self) -> Option<Response> {
        let response = match self {
            Fault::ServerErrorJson => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"status": "error", "message": "Internal server error"})),
            )
                .into_response(),
            Fault::ServerErrorHtml => html(StatusCode::INTERNAL_SERVER_ERROR, SERVER_ERROR_HTML),
            Fault::HtmlOk => html(StatusCode::OK, MAINTENANCE_HTML),
            Fault::EmptyBody => json_bytes(""),
            Fault::TruncatedJson => json_bytes(TRUNCATED_JSON),
            Fault::TooManyRequests { retry_after_secs } => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({"status": "error", "message": "Too many requests"})),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
                response
            }
            Fault::Slow(_) => return None,
        };
        Some(response)
    }
}

fn html(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        body,
    )
        .into_response()
}

fn json_bytes(body: &'static str) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// A FIFO queue of faults for the next requests of one simulator.
///
/// Cheap to clone: clones share the queue.
#[derive(Clone, Debug, Default)]
pub struct FaultInjector {
    queue: Arc<Mutex<VecDeque<Fault>>>,
}

impl FaultInjector {
    /// An injector with nothing queued.
    pub fn new() -> FaultInjector {
        FaultInjector::default()
    }

    /// Queues `fault` for the next `times` requests, after whatever is
    /// already queued.
    pub fn inject(&self, fault: Fault, times: usize) {
        let mut queue = self.queue.lock().unwrap();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Drops every queued fault.
    pub fn clear(&self) {
        self.queue.lock().unwrap().clear();
    }

    /// How many requests will still be faulted.
    pub fn pending(&self) -> usize {
        self.queue.lock().unwrap().len()
    }

    /// Takes the fault for the request being served, if any.
    fn next(&self) -> Option<Fault> {
        self.queue.lock().unwrap().pop_front()
    }
}

/// Middleware for `axum::middleware::from_fn_with_state(injector, middleware)`:
/// answers with the next queued fault, or passes the request on.
pub async fn middleware(
    State(injector): State<FaultInjector>,
    request: Request,
    next: Next,
) -> Response {
    let Some(fault) = injector.next() else {
        return next.run(request).await;
    };
    tracing::debug!(?fault, path = %request.uri().path(), "injecting fault");
    if let Fault::Slow(delay) = fault {
        tokio::time::sleep(delay).await;
        return next.run(request).await;
    }
    // Every other variant has a canned answer; the request never reaches
    // the simulator, so its state stays untouched.
    fault
        .response()
        .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A fault as asked for over HTTP, e.g. `{"fault":"slow","millis":3000}`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum FaultSpec {
    /// [`Fault::ServerErrorJson`].
    ServerErrorJson,
    /// [`Fault::ServerErrorHtml`].
    ServerErrorHtml,
    /// [`Fault::HtmlOk`].
    HtmlOk,
    /// [`Fault::EmptyBody`].
    EmptyBody,
    /// [`Fault::TruncatedJson`].
    TruncatedJson,
    /// [`Fault::TooManyRequests`].
    TooManyRequests {
        /// Value of the `Retry-After` header.
        retry_after_secs: u32,
    },
    /// [`Fault::Slow`], with the delay in milliseconds.
    Slow {
        /// Delay before the normal answer.
        millis: u64,
    },
}

impl From<FaultSpec> for Fault {
    fn from(spec: FaultSpec) -> Fault {
        match spec {
            FaultSpec::ServerErrorJson => Fault::ServerErrorJson,
            FaultSpec::ServerErrorHtml => Fault::ServerErrorHtml,
            FaultSpec::HtmlOk => Fault::HtmlOk,
            FaultSpec::EmptyBody => Fault::EmptyBody,
            FaultSpec::TruncatedJson => Fault::TruncatedJson,
            FaultSpec::TooManyRequests { retry_after_secs } => {
                Fault::TooManyRequests { retry_after_secs }
            }
            FaultSpec::Slow { millis } => Fault::Slow(Duration::from_millis(millis)),
        }
    }
}

/// The body of `POST .../faults`: a [`FaultSpec`] plus how many requests it
/// applies to (1 when absent).
#[derive(Clone, Debug, Deserialize)]
struct InjectRequest {
    #[serde(flatten)]
    fault: FaultSpec,
    #[serde(default = "one")]
    times: usize,
}

fn one() -> usize {
    1
}

/// Routes to drive `injector` over HTTP, meant to be nested under
/// `/_sandbox/<simulator>/faults`:
///
/// - `POST` with a [`FaultSpec`] body plus an optional `times` (default 1),
///   e.g. `{"fault":"server_error_html","times":2}`, queues a fault;
/// - `GET` tells how many are pending;
/// - `DELETE` clears the queue.
///
/// Each answers `{"pending": N}`.
pub fn control_router(injector: FaultInjector) -> Router {
    Router::new()
        .route(
            "/",
            get(pending_handler)
                .post(inject_handler)
                .delete(clear_handler),
        )
        .with_state(injector)
}

async fn inject_handler(
    State(injector): State<FaultInjector>,
    body: axum::body::Bytes,
) -> Response {
    // Parsed by hand so a bad body gets a JSON answer naming the problem
    // rather than axum's plain-text rejection.
    let request: InjectRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("invalid fault: {error}")})),
            )
                .into_response();
        }
    };
    injector.inject(request.fault.into(), request.times);
    pending_handler(State(injector)).await
}

async fn pending_handler(State(injector): State<FaultInjector>) -> Response {
    Json(json!({"pending": injector.pending()})).into_response()
}

async fn clear_handler(State(injector): State<FaultInjector>) -> Response {
    injector.clear();
    pending_handler(State(injector)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_come_out_in_the_order_they_were_queued() {
        let injector = FaultInjector::new();
        injector.inject(Fault::EmptyBody, 2);
        injector.inject(Fault::HtmlOk, 1);
        assert_eq!(injector.pending(), 3);
        assert_eq!(injector.next(), Some(Fault::EmptyBody));
        assert_eq!(injector.next(), Some(Fault::EmptyBody));
        assert_eq!(injector.next(), Some(Fault::HtmlOk));
        assert_eq!(injector.next(), None);
    }

    #[test]
    fn clear_drops_everything_queued() {
        let injector = FaultInjector::new();
        injector.inject(Fault::ServerErrorJson, 5);
        injector.clone().clear();
        assert_eq!(injector.pending(), 0);
    }

    #[test]
    fn specs_parse_from_snake_case_json() {
        let parse = |text: &str| serde_json::from_str::<InjectRequest>(text).unwrap();
        let request = parse(r#"{"fault":"server_error_html","times":3}"#);
        assert_eq!(request.fault, FaultSpec::ServerErrorHtml);
        assert_eq!(request.times, 3);
        let request = parse(r#"{"fault":"too_many_requests","retry_after_secs":7}"#);
        assert_eq!(
            Fault::from(request.fault),
            Fault::TooManyRequests {
                retry_after_secs: 7
            }
        );
        assert_eq!(request.times, 1);
        let request = parse(r#"{"fault":"slow","millis":3000}"#);
        assert_eq!(
            Fault::from(request.fault),
            Fault::Slow(Duration::from_secs(3))
        );
        assert!(serde_json::from_str::<InjectRequest>(r#"{"fault":"explode"}"#).is_err());
    }

    #[test]
    fn truncated_json_does_not_parse() {
        assert!(serde_json::from_str::<serde_json::Value>(TRUNCATED_JSON).is_err());
    }
}
