//! What an HTTP answer means: status and body shape mapped to the WIT
//! [`Error`], the same way for every provider.
//!
//! The flow for a JSON API:
//!
//! 1. [`HttpResponse::into_json`] turns `429` into `rate-limited` and a body
//!    that is not JSON (an HTML page, an empty or truncated body) into an
//!    error chosen by status, without ever quoting the body;
//! 2. [`JsonReply::interpret`] hands the decoded body to the provider's
//!    hook, which says what it means: success, a specific error, or "not a
//!    shape I know";
//! 3. for the last case, [`JsonReply::unrecognised`] picks the error from
//!    the status (`HTTP 500: <message>` for a 5xx, ...).

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::http::HttpResponse;
use crate::json;
use crate::types::{Error, RateLimit};
use crate::url::Endpoint;

impl HttpResponse {
    /// The `Retry-After` header in its seconds form (the HTTP-date form is
    /// not understood and gives `None`).
    pub fn retry_after_seconds(&self) -> Option<u32> {
        self.header("retry-after")?.trim().parse().ok()
    }

    /// The media type of the body (`text/html`), lower-cased, without
    /// parameters.
    pub fn media_type(&self) -> Option<String> {
        let value = self.header("content-type")?;
        let essence = value.split(';').next().unwrap_or_default().trim();
        (!essence.is_empty()).then(|| essence.to_ascii_lowercase())
    }

    /// Decodes the body as JSON, whatever the `Content-Type` says (PHP
    /// APIs often label JSON `text/html`).
    ///
    /// Fails with `rate-limited` on HTTP 429 (with `Retry-After` when given
    /// in seconds). A body that is not JSON fails, by status: 401/403
    /// `auth-failed`, 408/504 `timeout`, 5xx `provider`, anything else
    /// `bad-response`; the message says what the body was ("HTTP 200 with a
    /// text/html body", "an empty body", "truncated JSON...") and never
    /// quotes it.
    pub fn into_json(self) -> Result<JsonReply, Error> {
        let parsed = parse_json(self.body());
        if self.status() == 429 {
            let said = parsed.as_ref().ok().and_then(json::message);
            return Err(Error::RateLimited(RateLimit {
                retry_after_seconds: self.retry_after_seconds(),
                message: match said {
                    Some(m) => format!("HTTP 429 from {}: {m}", self.origin()),
                    None => format!("{} answered HTTP 429 (too many requests)", self.origin()),
                },
            }));
        }
        match parsed {
            Ok(body) => Ok(JsonReply {
                status: self.status(),
                origin: self.origin().to_owned(),
                redirect: redirect_origin(&self),
                body,
            }),
            Err(err) => {
                let message = format!(
                    "{} answered HTTP {} with {}",
                    self.origin(),
                    self.status(),
                    describe_non_json(&self, &err)
                );
                Err(by_status(self.status(), message, redirect_origin(&self)))
            }
        }
    }
}

/// Parses `bytes` as JSON, ignoring a UTF-8 byte order mark.
fn parse_json(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
}

/// What a body that failed to parse as JSON was, without quoting it.
fn describe_non_json(response: &HttpResponse, err: &serde_json::Error) -> String {
    let body = response.body();
    if body.iter().all(u8::is_ascii_whitespace) {
        return "an empty body".to_owned();
    }
    if let Some(media) = response.media_type().filter(|m| !m.contains("json")) {
        return format!("a {media} body");
    }
    if body.trim_ascii_start().starts_with(b"<") {
        return "an HTML or XML body".to_owned();
    }
    match err.classify() {
        serde_json::error::Category::Eof => format!(
            "truncated JSON (it ends at line {}, column {})",
            err.line(),
            err.column()
        ),
        _ => format!(
            "malformed JSON at line {}, column {}",
            err.line(),
            err.column()
        ),
    }
}

/// The origin a 3xx answer redirects to, when it says.
fn redirect_origin(response: &HttpResponse) -> Option<String> {
    if !(300..400).contains(&response.status()) {
        return None;
    }
    let location = response.header("location")?;
    Some(
        Endpoint::parse(location)
            .map(|e| e.origin().to_owned())
            .unwrap_or_else(|_| response.origin().to_owned()),
    )
}

/// The error for an answer that is an error by its status alone.
fn by_status(status: u16, message: String, redirect: Option<String>) -> Error {
    match status {
        300..=399 => Error::BadResponse(match redirect {
            Some(to) => format!("{message}; it redirects to {to}: check the endpoint setting"),
            None => format!("{message}; check the endpoint setting"),
        }),
        401 | 403 => Error::AuthFailed(message),
        404 => Error::BadResponse(format!("{message}; check the endpoint setting")),
        408 | 504 => Error::Timeout(message),
        500..=599 => Error::Provider(message),
        _ => Error::BadResponse(message),
    }
}

/// An answer whose body is JSON, waiting for the provider to say what it
/// means.
#[derive(Clone, Debug)]
pub struct JsonReply {
    status: u16,
    origin: String,
    redirect: Option<String>,
    body: Value,
}

impl JsonReply {
    /// A reply from `origin`: for tests of a provider's hook.
    pub fn new(status: u16, body: Value, origin: &str) -> Self {
        Self {
            status,
            origin: origin.to_owned(),
            redirect: None,
            body,
        }
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The decoded body.
    pub fn body(&self) -> &Value {
        &self.body
    }

    /// The decoded body, owned.
    pub fn into_body(self) -> Value {
        self.body
    }

    /// The origin (`scheme://host[:port]`) that answered.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The body's human message, if it has one (see [`json::message`]).
    pub fn message(&self) -> Option<String> {
        json::message(&self.body)
    }

    /// The answer's `status` word, for APIs whose every answer says
    /// `"status": "success"` or `"status": "error"` (case and surrounding
    /// blanks ignored). A success word with a non-2xx HTTP status is not
    /// taken as success.
    pub fn status_word(&self) -> StatusWord {
        let word = self
            .body
            .get("status")
            .and_then(Value::as_str)
            .map(str::trim);
        match word {
            Some(w) if w.eq_ignore_ascii_case("success") && self.is_success() => {
                StatusWord::Success
            }
            Some(w) if w.eq_ignore_ascii_case("error") => StatusWord::Error,
            _ => StatusWord::Other,
        }
    }

    /// Lets the provider's `hook` say what the reply means: `Some(Ok(..))`
    /// for success, `Some(Err(..))` for an error it recognises, `None` for
    /// a reply it does not understand, which then fails by status (see
    /// [`JsonReply::unrecognised`]).
    pub fn interpret<T>(
        self,
        hook: impl FnOnce(&JsonReply) -> Option<Result<T, Error>>,
    ) -> Result<T, Error> {
        hook(&self).unwrap_or_else(|| Err(self.unrecognised()))
    }

    /// [`JsonReply::interpret`] for a provider whose successful answer is
    /// the whole body: `hook` says only whether the reply is a success
    /// (`Some(Ok(()))`), and a success hands back the body itself rather
    /// than a copy of it.
    pub fn accept_body(
        self,
        hook: impl FnOnce(&JsonReply) -> Option<Result<(), Error>>,
    ) -> Result<Value, Error> {
        match hook(&self) {
            Some(Ok(())) => Ok(self.body),
            Some(Err(error)) => Err(error),
            None => Err(self.unrecognised()),
        }
    }

    /// The error for a reply the provider does not understand, by status:
    /// 2xx `bad-response` (unexpected shape), 401/403 `auth-failed`, 404
    /// `not-found`, 408/504 `timeout`, other 4xx and 5xx `provider`, each
    /// with the body's message (`"HTTP 500: <message>"`).
    pub fn unrecognised(&self) -> Error {
        let said = self.message();
        let message = format!(
            "HTTP {}: {}",
            self.status,
            said.as_deref().unwrap_or("no message")
        );
        match self.status {
            200..=299 => Error::BadResponse(match said {
                Some(m) => format!(
                    "{} answered HTTP {} with JSON of an unexpected shape (message: {m})",
                    self.origin, self.status
                ),
                None => format!(
                    "{} answered HTTP {} with JSON of an unexpected shape",
                    self.origin, self.status
                ),
            }),
            401 | 403 => Error::AuthFailed(message),
            404 => Error::NotFound(message),
            408 | 504 => Error::Timeout(message),
            400..=599 => Error::Provider(message),
            _ => by_status(self.status, message, self.redirect.clone()),
        }
    }

    /// Decodes the whole body into `T` (see [`decode`]).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        decode(&self.body, &format!("answer from {}", self.origin))
    }
}

/// Decodes `value` into `T`, or fails with `bad-response` saying that
/// `what` (e.g. "product list") does not have the expected shape. The
/// message names a missing field or the expected type, never the value
/// found.
pub fn decode<T: DeserializeOwned>(value: &Value, what: &str) -> Result<T, Error> {
    T::deserialize(value).map_err(|err| {
        Error::BadResponse(format!(
            "the {what} does not have the expected shape: {}",
            shape_problem(&err)
        ))
    })
}

/// serde's description of a mismatch, minus any quoted value.
fn shape_problem(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let text = full.split(" at line ").next().unwrap_or_default();
    if text.starts_with("missing field") {
        text.to_owned()
    } else if let Some((_, expected)) = text.split_once(", expected ") {
        format!("a value has the wrong type (expected {expected})")
    } else {
        "a value is not what was expected".to_owned()
    }
}

/// What an answer's `status` field says (see [`JsonReply::status_word`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusWord {
    /// `"success"`, with a 2xx HTTP status.
    Success,
    /// `"error"`.
    Error,
    /// Absent, another word, or `"success"` with a non-2xx HTTP status.
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ORIGIN: &str = "https://api.example.org";

    #[test]
    fn the_status_word_needs_a_2xx_to_mean_success() {
        let reply = |status, body| JsonReply::new(status, body, ORIGIN);
        assert_eq!(
            reply(200, json!({"status": " Success "})).status_word(),
            StatusWord::Success
        );
        assert_eq!(
            reply(500, json!({"status": "success"})).status_word(),
            StatusWord::Other
        );
        assert_eq!(
            reply(200, json!({"status": "ERROR"})).status_word(),
            StatusWord::Error
        );
        assert_eq!(
            reply(200, json!({"ok": true})).status_word(),
            StatusWord::Other
        );
    }

    fn answer(status: u16, content_type: Option<&str>, body: &str) -> HttpResponse {
        let headers = content_type
            .map(|c| vec![("Content-Type".to_owned(), c.to_owned())])
            .unwrap_or_default();
        HttpResponse::new(status, headers, body.as_bytes().to_vec(), ORIGIN)
    }

    fn failure(status: u16, content_type: Option<&str>, body: &str) -> Error {
        match answer(status, content_type, body).into_json() {
            Err(e) => e,
            Ok(r) => panic!("decoded {r:?}"),
        }
    }

    #[test]
    fn json_is_decoded_whatever_the_content_type() {
        let reply = answer(
            200,
            Some("text/html; charset=UTF-8"),
            "\u{feff}{\"status\":\"success\"}",
        )
        .into_json()
        .unwrap();
        assert_eq!(reply.body(), &json!({"status": "success"}));
    }

    #[test]
    fn non_json_bodies_are_described_not_quoted() {
        let secret = "<html>api_key=sekrit</html>";
        match failure(200, Some("text/html"), secret) {
            Error::BadResponse(m) => {
                assert_eq!(
                    m,
                    format!("{ORIGIN} answered HTTP 200 with a text/html body")
                );
            }
            e => panic!("{e:?}"),
        }
        match failure(200, None, " \n") {
            Error::BadResponse(m) => assert!(m.ends_with("with an empty body"), "{m}"),
            e => panic!("{e:?}"),
        }
        match failure(200, Some("application/json"), "{\"status\": \"succ") {
            Error::BadResponse(m) => assert!(m.contains("truncated JSON"), "{m}"),
            e => panic!("{e:?}"),
        }
        match failure(200, None, "{\"a\" 1}") {
            Error::BadResponse(m) => assert!(m.contains("malformed JSON at line 1"), "{m}"),
            e => panic!("{e:?}"),
        }
        match failure(200, None, secret) {
            Error::BadResponse(m) => assert!(m.contains("HTML") && !m.contains("sekrit"), "{m}"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn non_json_errors_go_by_status() {
        assert!(
            matches!(failure(502, Some("text/html"), "<h1>Bad gateway</h1>"), Error::Provider(m) if m.contains("HTTP 502"))
        );
        assert!(matches!(
            failure(403, Some("text/html"), "denied"),
            Error::AuthFailed(_)
        ));
        assert!(matches!(failure(504, None, ""), Error::Timeout(_)));
        match answer(301, Some("text/html"), "moved")
            .into_json()
            .map(|_| ())
        {
            Err(Error::BadResponse(m)) => assert!(m.contains("check the endpoint"), "{m}"),
            other => panic!("{other:?}"),
        }
        let moved = HttpResponse::new(
            302,
            vec![(
                "location".into(),
                "https://www.example.org/api.php?key=sekrit".into(),
            )],
            Vec::new(),
            ORIGIN,
        );
        match moved.into_json() {
            Err(Error::BadResponse(m)) => {
                assert!(m.contains("redirects to https://www.example.org:"), "{m}");
                assert!(!m.contains("sekrit"), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn too_many_requests_is_rate_limited() {
        let limited = HttpResponse::new(
            429,
            vec![("Retry-After".into(), " 120 ".into())],
            br#"{"message": "slow down"}"#.to_vec(),
            ORIGIN,
        );
        match limited.into_json() {
            Err(Error::RateLimited(RateLimit {
                retry_after_seconds,
                message,
            })) => {
                assert_eq!(retry_after_seconds, Some(120));
                assert!(message.contains("slow down"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let dated = HttpResponse::new(
            429,
            vec![("retry-after".into(), "Wed, 21 Oct 2015 07:28:00 GMT".into())],
            b"<html/>".to_vec(),
            ORIGIN,
        );
        assert!(matches!(
            dated.into_json(),
            Err(Error::RateLimited(RateLimit {
                retry_after_seconds: None,
                ..
            }))
        ));
    }

    #[test]
    fn hook_decides_first_then_status() {
        let reply = JsonReply::new(500, json!({"message": "database down"}), ORIGIN);
        let unknown: Result<(), Error> = reply.clone().interpret(|_| None);
        assert_eq!(
            unknown,
            Err(Error::Provider("HTTP 500: database down".into()))
        );
        let mapped: Result<(), Error> =
            reply.interpret(|r| Some(Err(Error::Provider(format!("mapped {}", r.status())))));
        assert_eq!(mapped, Err(Error::Provider("mapped 500".into())));

        let odd = JsonReply::new(200, json!([1, 2]), ORIGIN).unrecognised();
        assert!(matches!(odd, Error::BadResponse(m) if m.contains("unexpected shape")));
        let auth = JsonReply::new(403, json!({"error": "nope"}), ORIGIN).unrecognised();
        assert_eq!(auth, Error::AuthFailed("HTTP 403: nope".into()));
        let missing = JsonReply::new(404, json!({}), ORIGIN).unrecognised();
        assert_eq!(missing, Error::NotFound("HTTP 404: no message".into()));
        let bad = JsonReply::new(400, json!({"message": "x"}), ORIGIN).unrecognised();
        assert_eq!(bad, Error::Provider("HTTP 400: x".into()));
    }

    #[test]
    fn typed_decoding_does_not_echo_values() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Order {
            order_id: u32,
        }
        let wrong = decode::<Order>(&json!({"order_id": "sekrit"}), "order");
        match wrong {
            Err(Error::BadResponse(m)) => {
                assert!(m.contains("expected u32") && !m.contains("sekrit"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        let missing = decode::<Order>(&json!({}), "order");
        assert!(
            matches!(missing, Err(Error::BadResponse(m)) if m.ends_with("missing field `order_id`"))
        );
    }
}
