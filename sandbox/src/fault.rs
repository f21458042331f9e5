//! Fault injection shared by every simulator.
//!
//! A [`FaultInjector`] holds a FIFO queue of [`Fault`]s. Its [`middleware`]
//! sits in front of a simulator's route: each request takes the next queued
//! fault, if any, and gets the faulty answer instead of reaching the
//! simulator, so a faulted request never changes the simulator's state.
//! [`Fault::Slow`] and [`Fault::AnswerLost`] are the exceptions: the first
//! only delays a normal answer, the second lets the simulator act and loses
//! its answer on the way back.
//!
//! Some faults are about the transport rather than the answer's content:
//! [`Fault::DisconnectMidBody`] drops the connection in the middle of the
//! body, [`Fault::OversizedBody`] streams a body far larger than any client
//! should read (without ever holding it in memory), and
//! [`Fault::RedirectTo`] sends the client elsewhere.
//!
//! [`control_router`] offers the same queue over HTTP for tests that run the
//! sandbox in another process.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
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
    /// HTTP 200 with `application/json` headers announcing a
    /// `Content-Length` of [`DISCONNECTED_JSON_LENGTH`] bytes, the first
    /// bytes of a JSON document ([`DISCONNECTED_JSON`]), then the
    /// connection is dropped: the body never completes.
    DisconnectMidBody,
    /// HTTP 200, `application/json`, a body of `bytes` bytes (at least
    /// [`OVERSIZED_MIN_BYTES`]) of the shape `{"data":"xxxx…"}`, sent in
    /// chunks with no `Content-Length` (chunked transfer coding), so that a
    /// client must count what it reads to stop. The body is generated as it
    /// is sent, never built whole in memory.
    OversizedBody {
        /// Size of the whole body.
        bytes: u64,
    },
    /// The simulator handles the request (its state changes as it would),
    /// then its answer is lost on the way back: the client gets what
    /// [`Fault::DisconnectMidBody`] sends. A provider that acted and a
    /// caller who cannot know it.
    AnswerLost,
    /// HTTP 302 Found with this `Location` (meant to be an origin the
    /// client was not granted, e.g. `http://ungranted.invalid/steal`) and
    /// a small `text/html` page.
    RedirectTo {
        /// Value of the `Location` header.
        location: String,
    },
}

/// The body of a [`Fault::ServerErrorHtml`] answer.
pub const SERVER_ERROR_HTML: &str = "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n<body><h1>Internal Server Error</h1><p>The server encountered an internal error and was unable to complete your request.</p></body></html>\n";

/// The body of a [`Fault::HtmlOk`] answer.
pub const MAINTENANCE_HTML: &str = "<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head>\n<body><h1>We'll be back soon</h1><p>Scheduled maintenance is in progress. Please try again later.</p></body></html>\n";

/// The body of a [`Fault::TruncatedJson`] answer: valid JSON up to a point.
pub const TRUNCATED_JSON: &str =
    r#"{"status":"success","message":"Action completed successfully","data":{"serviceid":"4"#;

/// What a [`Fault::DisconnectMidBody`] answer sends before the connection
/// drops: the start of a JSON document.
pub const DISCONNECTED_JSON: &str = r#"{"status":"success","message":"Action completed"#;

/// The `Content-Length` a [`Fault::DisconnectMidBody`] answer announces:
/// more than [`DISCONNECTED_JSON`], which is all it sends.
pub const DISCONNECTED_JSON_LENGTH: u64 = 512;

/// How long a [`Fault::DisconnectMidBody`] answer waits after the partial
/// body before dropping the connection, so that the headers and the
/// partial body reach the client first.
const DISCONNECT_AFTER: Duration = Duration::from_millis(50);

/// The body of a [`Fault::RedirectTo`] answer.
pub const REDIRECT_HTML: &str = "<!DOCTYPE html>\n<html><head><title>302 Found</title></head>\n<body><h1>Found</h1><p>The document has moved.</p></body></html>\n";

/// Start of a [`Fault::OversizedBody`] body.
const OVERSIZED_PREFIX: &[u8] = br#"{"data":""#;

/// End of a [`Fault::OversizedBody`] body.
const OVERSIZED_SUFFIX: &[u8] = br#""}"#;

/// The smallest body a [`Fault::OversizedBody`] answer sends: its JSON
/// wrapper, `{"data":""}`.
pub const OVERSIZED_MIN_BYTES: u64 = (OVERSIZED_PREFIX.len() + OVERSIZED_SUFFIX.len()) as u64;

/// What the string of an oversized body is made of, one chunk at a time.
static FILLER: [u8; 64 * 1024] = [b'x'; 64 * 1024];

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
            Fault::AnswerLost => return Fault::DisconnectMidBody.response(),
            Fault::DisconnectMidBody => {
                let mut response = (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    Body::new(Disconnecting::new()),
                )
                    .into_response();
                // Announced, never delivered in full.
                response.headers_mut().insert(
                    header::CONTENT_LENGTH,
                    HeaderValue::from(DISCONNECTED_JSON_LENGTH),
                );
                response
            }
            Fault::OversizedBody { bytes } => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                Body::new(OversizedJson::new(*bytes)),
            )
                .into_response(),
            Fault::RedirectTo { location } => match HeaderValue::from_str(location) {
                Ok(location) => (
                    StatusCode::FOUND,
                    [
                        (header::LOCATION, location),
                        (
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("text/html; charset=UTF-8"),
                        ),
                    ],
                    REDIRECT_HTML,
                )
                    .into_response(),
                // Refused when queued over HTTP; only a direct `inject`
                // can get here.
                Err(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the injected redirect's location is not a valid header value",
                )
                    .into_response(),
            },
        };
        Some(response)
    }
}

/// The body of a [`Fault::DisconnectMidBody`] answer: [`DISCONNECTED_JSON`],
/// a short pause (so that it is flushed), then an error, on which hyper
/// aborts the connection.
struct Disconnecting {
    /// Started once the partial body is out (not before: a timer needs the
    /// runtime, which building the answer does not).
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Disconnecting {
    fn new() -> Disconnecting {
        Disconnecting { pause: None }
    }
}

impl HttpBody for Disconnecting {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        let Some(pause) = self.pause.as_mut() else {
            self.pause = Some(Box::pin(tokio::time::sleep(DISCONNECT_AFTER)));
            return Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(
                DISCONNECTED_JSON.as_bytes(),
            )))));
        };
        match pause.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "fault injection: connection dropped mid-body",
            )))),
        }
    }
}

/// The body of a [`Fault::OversizedBody`] answer, generated chunk by chunk
/// as it is sent.
struct OversizedJson {
    stage: Stage,
}

/// Where an [`OversizedJson`] body is.
enum Stage {
    Prefix { filler: u64 },
    Filler { left: u64 },
    Done,
}

impl OversizedJson {
    fn new(bytes: u64) -> OversizedJson {
        OversizedJson {
            stage: Stage::Prefix {
                filler: bytes.saturating_sub(OVERSIZED_MIN_BYTES),
            },
        }
    }
}

impl HttpBody for OversizedJson {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let chunk: &'static [u8] = match self.stage {
            Stage::Prefix { filler } => {
                self.stage = Stage::Filler { left: filler };
                OVERSIZED_PREFIX
            }
            Stage::Filler { left: 0 } => {
                self.stage = Stage::Done;
                OVERSIZED_SUFFIX
            }
            Stage::Filler { left } => {
                let n = left.min(FILLER.len() as u64);
                self.stage = Stage::Filler { left: left - n };
                // n <= FILLER.len(), which is a usize.
                &FILLER[..n as usize]
            }
            Stage::Done => return Poll::Ready(None),
        };
        Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.stage, Stage::Done)
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
    if fault == Fault::AnswerLost {
        // The simulator acts; what it answered never reaches the client.
        drop(next.run(request).await);
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
    /// [`Fault::DisconnectMidBody`].
    DisconnectMidBody,
    /// [`Fault::AnswerLost`].
    AnswerLost,
    /// [`Fault::OversizedBody`].
    OversizedBody {
        /// Size of the whole body.
        bytes: u64,
    },
    /// [`Fault::RedirectTo`].
    RedirectTo {
        /// Value of the `Location` header.
        location: String,
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
            FaultSpec::DisconnectMidBody => Fault::DisconnectMidBody,
            FaultSpec::AnswerLost => Fault::AnswerLost,
            FaultSpec::OversizedBody { bytes } => Fault::OversizedBody { bytes },
            FaultSpec::RedirectTo { location } => Fault::RedirectTo { location },
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
///   e.g. `{"fault":"server_error_html","times":2}`,
///   `{"fault":"oversized_body","bytes":52428800}` or
///   `{"fault":"redirect_to","location":"http://ungranted.invalid/steal"}`,
///   queues a fault;
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
    if let FaultSpec::RedirectTo { location } = &request.fault
        && HeaderValue::from_str(location).is_err()
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid fault: the location cannot be sent as a header"})),
        )
            .into_response();
    }
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

    #[test]
    fn transport_fault_specs_parse_from_snake_case_json() {
        let parse =
            |text: &str| Fault::from(serde_json::from_str::<InjectRequest>(text).unwrap().fault);
        assert_eq!(
            parse(r#"{"fault":"disconnect_mid_body"}"#),
            Fault::DisconnectMidBody
        );
        assert_eq!(
            parse(r#"{"fault":"oversized_body","bytes":52428800}"#),
            Fault::OversizedBody { bytes: 50 << 20 }
        );
        assert_eq!(
            parse(r#"{"fault":"redirect_to","location":"http://ungranted.invalid/steal"}"#),
            Fault::RedirectTo {
                location: "http://ungranted.invalid/steal".into()
            }
        );
        for text in [
            r#"{"fault":"oversized_body"}"#,
            r#"{"fault":"redirect_to"}"#,
        ] {
            assert!(
                serde_json::from_str::<InjectRequest>(text).is_err(),
                "{text}"
            );
        }
    }

    /// Reads `response`'s body frame by frame: the data, and whether it
    /// ended in an error.
    async fn read_frames(response: Response) -> (Vec<Bytes>, bool) {
        use http_body_util::BodyExt as _;
        let mut body = response.into_body();
        let mut frames = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => frames.extend(frame.into_data().ok()),
                Err(_) => return (frames, true),
            }
        }
        (frames, false)
    }

    #[tokio::test]
    async fn an_oversized_body_is_streamed_json_of_the_exact_size() {
        let response = Fault::OversizedBody { bytes: 300_000 }.response().unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        // No length is announced: a client has to count.
        assert_eq!(response.headers().get(header::CONTENT_LENGTH), None);
        let (frames, failed) = read_frames(response).await;
        assert!(!failed);
        assert!(frames.len() > 4, "sent in chunks");
        assert!(frames.iter().all(|f| f.len() <= FILLER.len()));
        let body: Vec<u8> = frames.concat();
        assert_eq!(body.len(), 300_000);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["data"].as_str().unwrap().len(), 300_000 - 11);
    }

    #[tokio::test]
    async fn an_oversized_body_is_at_least_its_json_wrapper() {
        let response = Fault::OversizedBody { bytes: 3 }.response().unwrap();
        let (frames, _) = read_frames(response).await;
        assert_eq!(frames.concat(), br#"{"data":""}"#);
        assert_eq!(OVERSIZED_MIN_BYTES, 11);
    }

    #[tokio::test]
    async fn an_oversized_body_is_generated_lazily() {
        // A terabyte: only what is read is ever produced.
        let response = Fault::OversizedBody { bytes: 1 << 40 }.response().unwrap();
        use http_body_util::BodyExt as _;
        let mut body = response.into_body();
        let mut read = 0;
        while read < 1 << 20 {
            read += body
                .frame()
                .await
                .unwrap()
                .unwrap()
                .into_data()
                .unwrap()
                .len();
        }
        assert!(!body.is_end_stream());
    }

    #[tokio::test]
    async fn a_disconnect_announces_more_than_it_sends_then_fails() {
        let response = Fault::DisconnectMidBody.response().unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            response.headers()[header::CONTENT_LENGTH],
            DISCONNECTED_JSON_LENGTH.to_string().as_str()
        );
        let (frames, failed) = read_frames(response).await;
        assert_eq!(frames.concat(), DISCONNECTED_JSON.as_bytes());
        assert!(failed, "the body ends in an error");
        assert!((DISCONNECTED_JSON.len() as u64) < DISCONNECTED_JSON_LENGTH);
        assert!(serde_json::from_str::<serde_json::Value>(DISCONNECTED_JSON).is_err());
    }

    #[tokio::test]
    async fn a_redirect_is_a_302_to_the_location() {
        let location = "http://ungranted.invalid/steal";
        let response = Fault::RedirectTo {
            location: location.into(),
        }
        .response()
        .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(response.headers()[header::LOCATION], location);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let (frames, failed) = read_frames(response).await;
        assert!(!failed);
        assert_eq!(frames.concat(), REDIRECT_HTML.as_bytes());
    }
}
