//! The provider faults the kit's proxy plays, each with the answer it sends
//! and the contract's errors a module may turn it into: the one table of
//! both ([`FAULTS`]).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body::Frame;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;

/// The body every answer of the proxy has: a forwarded one, a canned one or
/// one that fails on purpose (which makes hyper drop the connection).
pub(crate) type ProxyBody = BoxBody<Bytes, std::io::Error>;

/// One way for a provider to fail, played by the proxy for every request
/// of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500 with a JSON body.
    ServerErrorJson,
    /// HTTP 502 with an HTML page (a proxy in front of the provider).
    BadGatewayHtml,
    /// HTTP 200 with an HTML page (a maintenance page).
    HtmlOk,
    /// HTTP 200 with an empty body.
    EmptyOk,
    /// HTTP 200 announcing a longer body than it sends, then the
    /// connection is closed.
    Truncated,
    /// The connection is closed without any answer.
    Disconnect,
    /// HTTP 429 with `Retry-After: 7`.
    RateLimited,
    /// No answer within the kit's deadline.
    Slow,
    /// HTTP 200 with a JSON body far larger than any module should read,
    /// streamed.
    Huge,
}

/// The `Retry-After` of [`Fault::RateLimited`], which the module's
/// `rate-limited` error must carry.
pub const RETRY_AFTER_SECONDS: u32 = 7;

/// Size of [`Fault::Huge`]'s body: 256 MiB, far above the host's cap on a
/// response body, generated as it is sent.
const HUGE_BYTES: u64 = 256 << 20;

/// What [`Fault::Truncated`] sends before the connection drops, and the
/// longer length it announces.
const TRUNCATED_BODY: &str = r#"{"status":"success","message":"Action comp"#;
const TRUNCATED_ANNOUNCED: u64 = 512;

/// A fault's name (as its check is named: `fault-<name>`), what the proxy
/// answers, and the error kinds of the contract a module may answer with.
pub struct FaultSpec {
    /// The fault.
    pub fault: Fault,
    /// Its name, kebab-case.
    pub name: &'static str,
    /// What the proxy does, for a person.
    pub answer: &'static str,
    /// The contract's error kinds that are a correct answer to it.
    pub accepted: &'static [&'static str],
}

/// Every fault the kit plays, in the order it plays them. A closed
/// connection before the body is complete is a `transport` failure to a
/// wasi:http client as much as a `bad-response`, so both are accepted
/// there; a body too large to read must be refused by the module itself
/// (`bad-response`), not left to the host's cap.
pub const FAULTS: &[FaultSpec] = &[
    FaultSpec {
        fault: Fault::ServerErrorJson,
        name: "500-json",
        answer: "HTTP 500 with a JSON body",
        accepted: &["provider", "bad-response"],
    },
    FaultSpec {
        fault: Fault::BadGatewayHtml,
        name: "502-html",
        answer: "HTTP 502 with an HTML page",
        accepted: &["provider", "bad-response"],
    },
    FaultSpec {
        fault: Fault::HtmlOk,
        name: "200-html",
        answer: "HTTP 200 with an HTML page",
        accepted: &["bad-response"],
    },
    FaultSpec {
        fault: Fault::EmptyOk,
        name: "200-empty",
        answer: "HTTP 200 with an empty body",
        accepted: &["bad-response"],
    },
    FaultSpec {
        fault: Fault::Truncated,
        name: "truncated",
        answer: "HTTP 200 with a Content-Length longer than the body, then a close",
        accepted: &["bad-response", "transport"],
    },
    FaultSpec {
        fault: Fault::Disconnect,
        name: "disconnect",
        answer: "the connection closed without an answer",
        accepted: &["transport", "bad-response"],
    },
    FaultSpec {
        fault: Fault::RateLimited,
        name: "429-retry-after",
        answer: "HTTP 429 with Retry-After: 7",
        accepted: &["rate-limited"],
    },
    FaultSpec {
        fault: Fault::Slow,
        name: "slow",
        answer: "no answer within the deadline",
        accepted: &["timeout"],
    },
    FaultSpec {
        fault: Fault::Huge,
        name: "huge",
        answer: "HTTP 200 with a 256 MiB JSON body, streamed",
        accepted: &["bad-response"],
    },
];

/// Why the proxy closed a connection without answering (hyper drops a
/// connection whose service fails).
#[derive(Debug)]
pub(crate) struct Disconnected;

impl std::fmt::Display for Disconnected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the conformance kit closed the connection on purpose")
    }
}

impl std::error::Error for Disconnected {}

impl Fault {
    /// The proxy's answer for this fault; `hold` is how long
    /// [`Fault::Slow`] waits before answering (past the call's deadline).
    pub(crate) async fn answer(self, hold: Duration) -> Result<Response<ProxyBody>, Disconnected> {
        Ok(match self {
            Fault::ServerErrorJson => canned(
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                r#"{"error":"internal server error"}"#,
            ),
            Fault::BadGatewayHtml => canned(
                StatusCode::BAD_GATEWAY,
                "text/html; charset=UTF-8",
                "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n\
                 <body><h1>Bad Gateway</h1></body></html>\n",
            ),
            Fault::HtmlOk => canned(
                StatusCode::OK,
                "text/html; charset=UTF-8",
                "<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head>\n\
                 <body><h1>We'll be back soon</h1></body></html>\n",
            ),
            Fault::EmptyOk => canned(StatusCode::OK, "application/json", ""),
            Fault::Truncated => {
                let mut response = Response::new(Truncating::default().boxed());
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                headers.insert(
                    header::CONTENT_LENGTH,
                    HeaderValue::from(TRUNCATED_ANNOUNCED),
                );
                response
            }
            Fault::Disconnect => return Err(Disconnected),
            Fault::RateLimited => {
                let mut response = canned(
                    StatusCode::TOO_MANY_REQUESTS,
                    "application/json",
                    r#"{"error":"too many requests"}"#,
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
                response
            }
            Fault::Slow => {
                tokio::time::sleep(hold).await;
                canned(
                    StatusCode::GATEWAY_TIMEOUT,
                    "application/json",
                    r#"{"error":"too late"}"#,
                )
            }
            Fault::Huge => {
                let mut response = Response::new(HugeJson { left: HUGE_BYTES }.boxed());
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
        })
    }
}

/// An answer with a fixed body.
pub(crate) fn canned(
    status: StatusCode,
    content_type: &'static str,
    body: &'static str,
) -> Response<ProxyBody> {
    let body = http_body_util::Full::new(Bytes::from_static(body.as_bytes()))
        .map_err(|never: Infallible| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// [`Fault::Truncated`]'s body: the start of a JSON document, a pause so
/// that it reaches the client, then an error, on which hyper closes the
/// connection.
#[derive(Default)]
struct Truncating {
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl http_body::Body for Truncating {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let Some(pause) = self.pause.as_mut() else {
            self.pause = Some(Box::pin(tokio::time::sleep(Duration::from_millis(50))));
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
                TRUNCATED_BODY.as_bytes(),
            )))));
        };
        pause.as_mut().poll(cx).map(|()| {
            Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the conformance kit cut the body short on purpose",
            )))
        })
    }
}

/// [`Fault::Huge`]'s body: `{"data":"xxx…"}`, generated chunk by chunk as
/// the client reads it (never held whole).
struct HugeJson {
    left: u64,
}

/// What the huge body's string is made of.
static FILLER: [u8; 64 * 1024] = [b'x'; 64 * 1024];

impl http_body::Body for HugeJson {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let chunk: &'static [u8] = if self.left == HUGE_BYTES {
            br#"{"data":""#
        } else if self.left == 0 {
            return Poll::Ready(None);
        } else if self.left <= 2 {
            self.left = 0;
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(br#""}"#)))));
        } else {
            let n = (self.left - 2).min(FILLER.len() as u64);
            // n <= FILLER.len(), a usize.
            &FILLER[..n as usize]
        };
        self.left -= chunk.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(chunk)))))
    }
}
