//! The kit's reverse proxy: what the module under test is granted instead
//! of its provider. It forwards each request to the provider's origin (or
//! answers in its place with a [`Fault`], or refuses it) and records what
//! it saw, with the call that was running.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::fault::{Disconnected, Fault, ProxyBody, canned};

/// The largest request body the proxy reads from a module: a provider
/// request is small, and the proxy must not be made to hold anything big.
const MAX_REQUEST_BODY: usize = 8 << 20;

/// Headers that belong to one connection, never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// What the proxy does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Forward it to the provider.
    Forward,
    /// Answer 503 without forwarding: nothing reaches the provider.
    Block,
    /// Answer with the fault instead of the provider.
    Fault(Fault),
}

/// One request the module sent, as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    /// The kit's call that was running (its index in the run).
    pub(crate) call: usize,
    /// The HTTP method.
    pub(crate) method: String,
    /// The path.
    pub(crate) path: String,
    /// The query string, if any.
    pub(crate) query: Option<String>,
    /// Size of the request's body, in bytes.
    pub(crate) body_bytes: usize,
    /// The provider's action, when the request names one in a field
    /// `action` (of the query, a form or a JSON object body).
    pub(crate) action: Option<String>,
}

impl Seen {
    /// What identifies the provider operation asked for: method, path and
    /// action.
    pub(crate) fn operation(&self) -> String {
        match &self.action {
            Some(action) => format!("{} {} action={action}", self.method, self.path),
            None => format!("{} {}", self.method, self.path),
        }
    }
}

/// What every proxy of a run shares: the mode, the running call and the
/// record.
pub(crate) struct Shared {
    mode: Mutex<Mode>,
    call: Mutex<usize>,
    seen: Mutex<Vec<Seen>>,
    /// Ends a [`Fault::Slow`] wait once the call is over.
    released: Notify,
    /// How long a slow answer waits at most.
    hold: Duration,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Shared {
    /// Forwarding, nothing seen; a slow fault waits at most `hold`. An
    /// https upstream is trusted by the webpki roots, as the host's own
    /// client trusts a provider, and by `extra_roots`.
    pub(crate) fn new(
        hold: Duration,
        extra_roots: &[CertificateDer<'static>],
    ) -> anyhow::Result<Arc<Shared>> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        for root in extra_roots {
            roots
                .add(root.clone())
                .context("a certificate authority the kit was given to trust is not valid")?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(
            rustls::crypto::ring::default_provider().into(),
        )
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Arc::new(Shared {
            mode: Mutex::new(Mode::Forward),
            call: Mutex::new(0),
            seen: Mutex::new(Vec::new()),
            released: Notify::new(),
            hold,
            client: Client::builder(TokioExecutor::new()).build(https),
        }))
    }

    /// Sets what the following requests get, and whose call they are.
    pub(crate) fn begin(&self, call: usize, mode: Mode) {
        *lock(&self.call) = call;
        *lock(&self.mode) = mode;
    }

    /// Back to forwarding; a slow answer still waiting ends.
    pub(crate) fn end(&self) {
        *lock(&self.mode) = Mode::Forward;
        self.released.notify_waiters();
    }

    /// Everything seen so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        lock(&self.seen).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One proxy: a loopback origin standing for one provider origin.
pub(crate) struct Proxy {
    origin: String,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Listens on 127.0.0.1 on a free port and serves, forwarding to
    /// `upstream` (`scheme://host[:port]`).
    pub(crate) async fn start(shared: Arc<Shared>, upstream: String) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .context("binding the conformance proxy")?;
        let origin = format!("http://{}", listener.local_addr()?);
        let upstream: Arc<str> = upstream.into();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of file descriptors, say: wait rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let shared = shared.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        handle(shared.clone(), upstream.clone(), request)
                    });
                    // A connection ending in an error is what some faults
                    // are made of.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Proxy { origin, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }
}

/// Records the request, then forwards it, blocks it or plays the fault.
async fn handle(
    shared: Arc<Shared>,
    upstream: Arc<str>,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Disconnected> {
    let (parts, body) = request.into_parts();
    let Ok(body) = Limited::new(body, MAX_REQUEST_BODY).collect().await else {
        return Err(Disconnected);
    };
    let body = body.to_bytes();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let seen = Seen {
        call: *lock(&shared.call),
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        body_bytes: body.len(),
        action: action(parts.uri.query(), content_type, &body),
    };
    lock(&shared.seen).push(seen);
    let mode = *lock(&shared.mode);
    match mode {
        Mode::Forward => Ok(forward(&shared, &upstream, parts, body).await),
        Mode::Block => Ok(canned(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "blocked by the conformance kit: this call must not reach the provider",
        )),
        Mode::Fault(Fault::Slow) => {
            tokio::select! {
                answer = Fault::Slow.answer(shared.hold) => answer,
                () = shared.released.notified() => Err(Disconnected),
            }
        }
        Mode::Fault(fault) => fault.answer(shared.hold).await,
    }
}

/// Sends the request on to `upstream`, its Host rewritten, and hands back
/// the provider's answer as it streams.
async fn forward(
    shared: &Shared,
    upstream: &str,
    mut parts: http::request::Parts,
    body: Bytes,
) -> Response<ProxyBody> {
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let Ok(uri) = format!("{upstream}{path}").parse::<Uri>() else {
        return canned(
            StatusCode::BAD_GATEWAY,
            "text/plain",
            "the conformance proxy could not build the upstream URL",
        );
    };
    for name in HOP_BY_HOP {
        parts.headers.remove(*name);
    }
    if let Some(authority) = uri.authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        parts.headers.insert(header::HOST, host);
    }
    parts.uri = uri;
    let request = Request::from_parts(parts, Full::new(body));
    match shared.client.request(request).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            for name in HOP_BY_HOP {
                parts.headers.remove(*name);
            }
            Response::from_parts(parts, body.map_err(std::io::Error::other).boxed())
        }
        Err(error) => {
            // The client's own words ("client error (Connect)") hide the
            // cause, an unknown certificate authority say: name the chain.
            let mut why = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                why = format!("{why}: {cause}");
                source = cause.source();
            }
            tracing::warn!(%upstream, "the conformance proxy could not reach the provider: {why}");
            canned(
                StatusCode::BAD_GATEWAY,
                "text/plain",
                "the conformance proxy could not reach the provider",
            )
        }
    }
}

/// The provider's action a request names in a field `action`: of its
/// query, its form body or its JSON object body.
fn action(query: Option<&str>, content_type: &str, body: &[u8]) -> Option<String> {
    let field = |text: &str| {
        text.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| *name == "action")
            .map(|(_, value)| value.to_owned())
    };
    if let Some(action) = query.and_then(field) {
        return Some(action);
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return std::str::from_utf8(body).ok().and_then(field);
    }
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("action")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An upstream that answers every request with the Host it was sent.
    async fn echo_host() -> String {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
                    let host = request.headers()[header::HOST].to_str().unwrap().to_owned();
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(host))))
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        origin
    }

    /// Sends a raw HTTP/1.1 POST to `origin` and reads until the server
    /// closes: what a client gets back, byte for byte.
    async fn raw_post(origin: &str, body: &str) -> String {
        let address = origin.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!(
            "POST /api?x=1 HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[tokio::test]
    async fn the_proxy_forwards_records_and_plays_faults() {
        let upstream = echo_host().await;
        let shared = Shared::new(Duration::from_secs(5), &[]).unwrap();
        let proxy = Proxy::start(shared.clone(), upstream.clone())
            .await
            .unwrap();

        shared.begin(0, Mode::Forward);
        let forwarded = raw_post(proxy.origin(), r#"{"action":"GetProducts"}"#).await;
        assert!(forwarded.starts_with("HTTP/1.1 200"), "{forwarded}");
        let upstream_host = upstream.trim_start_matches("http://");
        assert!(
            forwarded.ends_with(upstream_host),
            "Host rewritten: {forwarded}"
        );

        shared.begin(1, Mode::Fault(Fault::RateLimited));
        let limited = raw_post(proxy.origin(), "{}").await;
        assert!(limited.starts_with("HTTP/1.1 429"), "{limited}");
        assert!(
            limited.to_lowercase().contains("retry-after: 7"),
            "{limited}"
        );

        shared.begin(2, Mode::Fault(Fault::Disconnect));
        assert_eq!(raw_post(proxy.origin(), "{}").await, "", "no answer at all");

        shared.begin(3, Mode::Fault(Fault::Truncated));
        let truncated = raw_post(proxy.origin(), "{}").await;
        assert!(truncated.contains("content-length: 512"), "{truncated}");
        let body = truncated.split("\r\n\r\n").nth(1).unwrap();
        assert!(body.len() < 512, "the body stops short: {truncated}");

        shared.begin(4, Mode::Block);
        assert!(
            raw_post(proxy.origin(), "{}")
                .await
                .starts_with("HTTP/1.1 503")
        );
        shared.end();

        let seen = shared.seen();
        assert_eq!(
            seen.iter().map(|s| s.call).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(seen[0].operation(), "POST /api action=GetProducts");
        assert_eq!(seen[0].query.as_deref(), Some("x=1"));
        assert_eq!(seen[0].body_bytes, 24);
    }

    #[test]
    fn the_action_comes_from_the_query_a_form_or_a_json_body() {
        assert_eq!(
            action(Some("a=1&action=getcredit"), "", b""),
            Some("getcredit".into())
        );
        assert_eq!(
            action(
                None,
                "application/x-www-form-urlencoded",
                b"uid=1&action=addlicense"
            ),
            Some("addlicense".into())
        );
        assert_eq!(
            action(
                None,
                "application/json",
                br#"{"action":"CreateAccount","params":{}}"#
            ),
            Some("CreateAccount".into())
        );
        assert_eq!(action(Some("x=1"), "application/json", b"[1]"), None);
    }
}
