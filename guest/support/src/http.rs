//! Outgoing HTTP requests over `wasi:http` (through waki): JSON, form and
//! query requests, a bounded read of the answer, and transport failures
//! mapped to the WIT [`Error`].
//!
//! Error messages name the origin (`scheme://host[:port]`) of the request,
//! never its path or query, which may carry credentials.

use std::fmt;
use std::time::Duration;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use http::{HeaderName, HeaderValue, Uri};
use serde::Serialize;
use waki::{Client, ErrorCode};

/// The HTTP method of a [`Request`].
pub use waki::Method;

use crate::text;
use crate::types::Error;
use crate::url::origin_of;

/// Largest answer body read by default: 1 MiB. Provider answers are small;
/// anything bigger is a wrong endpoint or an attack on the guest's memory.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How much is asked of the input stream at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Sent unless the provider sets its own: some providers' firewalls reject
/// requests without one.
const DEFAULT_USER_AGENT: &str = concat!("provisioning-guest/", env!("CARGO_PKG_VERSION"));

/// Placeholder for the origin when the URL itself is unusable.
const UNKNOWN_ORIGIN: &str = "the provider";

/// An HTTP request being built. Problems found while building (a bad URL,
/// a header value that cannot be sent) are kept and returned by
/// [`Request::send`], so that building reads as one chain.
pub struct Request {
    method: Method,
    url: String,
    origin: String,
    query: Vec<(String, String)>,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Body,
    body_limit: usize,
    connect_timeout: Option<Duration>,
    problem: Option<Error>,
}

enum Body {
    Empty,
    Json(Vec<u8>),
    Form(Vec<(String, String)>),
}

impl Request {
    /// A request of `method` to the absolute http(s) `url`.
    pub fn new(method: Method, url: &str) -> Self {
        let (origin, problem) = match url.parse::<Uri>() {
            Ok(uri) => match origin_of(&uri) {
                Ok(origin) => (origin, None),
                Err(why) => (UNKNOWN_ORIGIN.to_owned(), Some(why)),
            },
            Err(_) => (UNKNOWN_ORIGIN.to_owned(), Some("is not a valid URL")),
        };
        Self {
            method,
            url: url.to_owned(),
            origin,
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Empty,
            body_limit: DEFAULT_BODY_LIMIT,
            connect_timeout: None,
            problem: problem.map(|why| Error::InvalidConfig(format!("the request URL {why}"))),
        }
    }

    /// A GET request to `url`.
    pub fn get(url: &str) -> Self {
        Self::new(Method::Get, url)
    }

    /// A POST request to `url`.
    pub fn post(url: &str) -> Self {
        Self::new(Method::Post, url)
    }

    /// The origin (`scheme://host[:port]`) the request goes to.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    fn fail(mut self, problem: Error) -> Self {
        // The first problem is the one to report.
        self.problem.get_or_insert(problem);
        self
    }

    /// Appends `pairs` to the URL's query, form-encoded. A key may repeat
    /// (array parameters).
    pub fn query<K, V>(mut self, pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        self.query.extend(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())),
        );
        self
    }

    /// Sets header `name` to `value`, replacing an earlier value (the
    /// default `User-Agent` and body `Content-Type` included).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
            return self.fail(Error::InvalidConfig(format!(
                "`{}` is not a valid HTTP header name",
                text::clean(name)
            )));
        };
        let Ok(value) = HeaderValue::from_str(value) else {
            // The value is often a credential: say where, not what.
            return self.fail(Error::InvalidConfig(format!(
                "the value for HTTP header `{header}` contains characters that cannot be sent"
            )));
        };
        self.headers.push((header, value));
        self
    }

    /// Sets a JSON body (and `Content-Type: application/json`).
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                self.body = Body::Json(bytes);
                self
            }
            Err(_) => self.fail(Error::InvalidInput(
                "the request body cannot be encoded as JSON".to_owned(),
            )),
        }
    }

    /// Sets a form body (`application/x-www-form-urlencoded`). A key may
    /// repeat.
    pub fn form<K, V>(mut self, pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        self.body = Body::Form(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
                .collect(),
        );
        self
    }

    /// Sets the largest answer body accepted (default
    /// [`DEFAULT_BODY_LIMIT`]).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Asks the host to give up connecting after `timeout`. The host's own
    /// limits apply either way.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sends the request and reads the whole answer, up to the body limit.
    ///
    /// Fails with `transport` or `timeout` when the provider cannot be
    /// reached (see [`transport_error`]), with `bad-response` when the
    /// answer is larger than the limit or not HTTP, and with the problem
    /// found while building. Any HTTP status is a successful send: see
    /// [`crate::response`] for what it means.
    pub fn send(self) -> Result<HttpResponse, Error> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        let mut builder = Client::new().request(self.method, &self.url);
        if !self.query.is_empty() {
            builder = builder.query(&self.query);
        }
        builder = builder.header(USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT));
        builder = match self.body {
            Body::Empty => builder,
            Body::Json(bytes) => builder
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(bytes),
            Body::Form(pairs) => builder.form(&pairs),
        };
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        if let Some(timeout) = self.connect_timeout {
            builder = builder.connect_timeout(timeout);
        }

        let response = builder
            .send()
            .map_err(|e| transport_error(&e, &self.origin))?;
        let status = response.status_code();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        let body = read_body(&response, self.body_limit, &self.origin)?;
        Ok(HttpResponse {
            status,
            headers,
            body,
            origin: self.origin,
        })
    }
}

/// Reads the body of `response` in chunks, giving up past `limit` bytes
/// instead of buffering whatever the other side sends.
fn read_body(response: &waki::Response, limit: usize, origin: &str) -> Result<Vec<u8>, Error> {
    let too_large = || {
        Error::BadResponse(format!(
            "{origin} answered with a body larger than {limit} bytes"
        ))
    };
    let declared = response
        .header(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        // Asking for one byte more than the room left tells a body that is
        // exactly at the limit from one that goes past it.
        let room = (limit - body.len()).saturating_add(1).min(READ_CHUNK);
        match response.chunk(room as u64) {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > limit {
                    return Err(too_large());
                }
            }
            Ok(None) => return Ok(body),
            Err(_) => {
                return Err(Error::Transport(format!(
                    "the connection to {origin} failed while reading the answer"
                )));
            }
        }
    }
}

/// Maps a failed send (waki's `anyhow::Error`) to the WIT error.
///
/// `wasi:http` error codes are mapped by meaning: the host's refusal of an
/// origin it has not granted (`HTTP-request-denied`), refused or reset
/// connections, DNS and TLS failures are `transport`; connect, read and
/// answer timeouts are `timeout`; a malformed HTTP answer is `bad-response`.
pub fn transport_error(err: &anyhow::Error, origin: &str) -> Error {
    if let Some(code) = err.downcast_ref::<ErrorCode>() {
        return error_code(code, origin);
    }
    // waki parses the answer's headers into `http` types; these two errors
    // can only come from there.
    if err.is::<http::header::InvalidHeaderName>() || err.is::<http::header::InvalidHeaderValue>() {
        return Error::BadResponse(format!(
            "{origin} answered with HTTP headers that cannot be read"
        ));
    }
    Error::Transport(format!(
        "request to {origin} failed: {}",
        text::clean(&err.to_string())
    ))
}

fn error_code(code: &ErrorCode, origin: &str) -> Error {
    use ErrorCode as C;
    let detail = || text::clean(&format!("{code:?}"));
    match code {
        C::HttpRequestDenied => Error::Transport(format!(
            "request to {origin} was denied by the host's allow-list \
             (the operator has not granted this module that origin)"
        )),
        C::DestinationIpProhibited => Error::Transport(format!(
            "the host refused to connect to the address of {origin}"
        )),
        C::DnsError(_) | C::DestinationNotFound => {
            Error::Transport(format!("the host name of {origin} could not be resolved"))
        }
        C::ConnectionRefused => Error::Transport(format!("{origin} refused the connection")),
        C::ConnectionTerminated => Error::Transport(format!(
            "the connection to {origin} was closed before the answer was complete"
        )),
        C::DestinationUnavailable | C::DestinationIpUnroutable => {
            Error::Transport(format!("{origin} is unreachable"))
        }
        C::TlsProtocolError | C::TlsCertificateError | C::TlsAlertReceived(_) => {
            Error::Transport(format!("TLS with {origin} failed ({})", detail()))
        }
        C::DnsTimeout => Error::Timeout(format!("resolving the host name of {origin} timed out")),
        C::ConnectionTimeout => Error::Timeout(format!("connecting to {origin} timed out")),
        C::ConnectionReadTimeout | C::ConnectionWriteTimeout => {
            Error::Timeout(format!("the connection to {origin} stalled ({})", detail()))
        }
        C::HttpResponseTimeout => Error::Timeout(format!("{origin} did not answer in time")),
        C::HttpResponseIncomplete
        | C::HttpResponseHeaderSectionSize(_)
        | C::HttpResponseHeaderSize(_)
        | C::HttpResponseBodySize(_)
        | C::HttpResponseTrailerSectionSize(_)
        | C::HttpResponseTrailerSize(_)
        | C::HttpResponseTransferCoding(_)
        | C::HttpResponseContentCoding(_)
        | C::HttpProtocolError
        | C::HttpUpgradeFailed => Error::BadResponse(format!(
            "{origin} sent an HTTP answer that cannot be read ({})",
            detail()
        )),
        _ => Error::Transport(format!("request to {origin} failed ({})", detail())),
    }
}

/// An HTTP answer read in full (up to the request's body limit).
///
/// Interpreting it (status, JSON, errors) is [`crate::response`]'s job.
#[derive(Clone)]
pub struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    origin: String,
}

impl HttpResponse {
    /// An answer from `origin`: for tests, and for answers obtained another
    /// way. Header names match ignoring ASCII case.
    pub fn new(status: u16, headers: Vec<(String, String)>, body: Vec<u8>, origin: &str) -> Self {
        Self {
            status,
            headers,
            body,
            origin: origin.to_owned(),
        }
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of header `name` (ignoring ASCII case) that is
    /// visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The raw body. Never put it in a message: it can echo secrets.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The origin (`scheme://host[:port]`) that answered.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl fmt::Debug for HttpResponse {
    // The body stays out of debug output: it can echo secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("origin", &self.origin)
            .field("content_type", &self.header("content-type"))
            .field("body_len", &self.body.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_fail_at_send_without_echoing_them() {
        for url in [
            "not a url",
            "ftp://h.example/x?key=sekrit",
            "/relative?key=sekrit",
        ] {
            match Request::get(url).send() {
                Err(Error::InvalidConfig(m)) => {
                    assert!(m.starts_with("the request URL"), "{m}");
                    assert!(!m.contains("sekrit"), "{m}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_header_values_are_not_echoed() {
        match Request::get("https://h.example")
            .header("X-API-KEY", "sek\nrit")
            .send()
        {
            Err(Error::InvalidConfig(m)) => {
                assert!(m.contains("x-api-key") && !m.contains("sek"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_codes_map_to_kinds() {
        let o = "https://h.example";
        let denied = transport_error(&anyhow::Error::new(ErrorCode::HttpRequestDenied), o);
        match denied {
            Error::Transport(m) => assert!(m.contains("allow-list") && m.contains(o), "{m}"),
            other => panic!("{other:?}"),
        }
        for code in [
            ErrorCode::ConnectionTimeout,
            ErrorCode::HttpResponseTimeout,
            ErrorCode::ConnectionReadTimeout,
        ] {
            assert!(matches!(
                transport_error(&anyhow::Error::new(code), o),
                Error::Timeout(_)
            ));
        }
        for code in [
            ErrorCode::ConnectionRefused,
            ErrorCode::ConnectionTerminated,
            ErrorCode::DnsError(waki::bindings::wasi::http::types::DnsErrorPayload {
                rcode: None,
                info_code: None,
            }),
        ] {
            assert!(matches!(
                transport_error(&anyhow::Error::new(code), o),
                Error::Transport(_)
            ));
        }
        assert!(matches!(
            transport_error(&anyhow::Error::new(ErrorCode::HttpResponseIncomplete), o),
            Error::BadResponse(_)
        ));
        assert!(matches!(
            transport_error(&anyhow::anyhow!("something else"), o),
            Error::Transport(_)
        ));
    }
}
