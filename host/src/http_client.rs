//! The HTTP client every module's outgoing requests share: keep-alive
//! connections pooled per origin (HTTP/1.1, TLS through rustls with the
//! webpki roots), so that a provider call does not pay a TCP and TLS
//! handshake each time. The allow-list check stays in front of it
//! ([`crate::outbound`]); this module only sends what was allowed.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions};

/// Idle keep-alive connections kept per origin. A provider seldom needs
/// more at once; beyond it, connections close after their request.
const MAX_IDLE_PER_ORIGIN: usize = 64;

/// How long an idle connection is kept: shorter than the keep-alive of
/// common servers, so that the pool rarely hands out one the provider has
/// already closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A pooled client; cheap to clone (clones share the pool).
#[derive(Clone)]
pub(crate) struct ProviderClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl ProviderClient {
    /// A client with an empty pool.
    pub(crate) fn new() -> ProviderClient {
        let mut http = HttpConnector::new();
        // The TLS layer above handles https; without this the plain
        // connector refuses every non-http URL.
        http.enforce_http(false);
        // Provider requests are small request/answer exchanges: waiting to
        // coalesce writes only adds latency.
        http.set_nodelay(true);
        let tls = rustls::ClientConfig::builder_with_provider(
            rustls::crypto::ring::default_provider().into(),
        )
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        })
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(MAX_IDLE_PER_ORIGIN)
            .pool_idle_timeout(IDLE_TIMEOUT)
            // Without a timer idle connections are never reaped.
            .pool_timer(TokioTimer::new())
            .build(connector);
        ProviderClient { client }
    }

    /// Sends `request` and waits for the answer's head within the first
    /// byte (and connect) timeout; the body then reads with the
    /// between-bytes timeout. Errors are the kinds `wasi:http` reports to
    /// the guest.
    pub(crate) async fn send(
        &self,
        request: http::Request<Full<Bytes>>,
        options: &RequestOptions,
    ) -> Result<http::Response<TimedBody>, HttpError> {
        let connect = options.connect_timeout.unwrap_or(Duration::MAX);
        let first_byte = options.first_byte_timeout.unwrap_or(Duration::MAX);
        let between_bytes = options
            .between_bytes_timeout
            .unwrap_or(Duration::from_secs(600));
        // A pooled request connects only when no idle connection is at
        // hand, so connecting and waiting for the answer's head share one
        // bound (both are clamped to the call's deadline already).
        let head_wait = connect.max(first_byte);
        let response = tokio::time::timeout(head_wait, self.client.request(request))
            .await
            .map_err(|_elapsed| HttpError::ConnectionReadTimeout)?
            .map_err(|error| classify(&error))?;
        Ok(response.map(|incoming| TimedBody::new(incoming, between_bytes)))
    }
}

/// Turns the client's error into the `wasi:http` error the guest sees.
fn classify(error: &hyper_util::client::legacy::Error) -> HttpError {
    let io = source_of::<std::io::Error>(error);
    if error.is_connect() {
        return match io {
            Some(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                HttpError::ConnectionRefused
            }
            Some(io) if io.kind() == std::io::ErrorKind::TimedOut => HttpError::ConnectionTimeout,
            // Keeps the kind and text, from which wasi:http tells DNS
            // failures apart.
            Some(io) => HttpError::Connect(std::io::Error::new(io.kind(), io.to_string())),
            None => HttpError::Connect(std::io::Error::other(error.to_string())),
        };
    }
    if let Some(rustls_error) = source_of::<rustls::Error>(error) {
        return match rustls_error {
            rustls::Error::InvalidCertificate(_) => HttpError::TlsCertificateError,
            _ => HttpError::TlsProtocolError,
        };
    }
    match source_of::<hyper::Error>(error) {
        Some(hyper) if hyper.is_timeout() => HttpError::HttpResponseTimeout,
        Some(hyper) if hyper.is_incomplete_message() => HttpError::HttpResponseIncomplete,
        Some(hyper) if hyper.is_parse() => HttpError::HttpProtocolError,
        _ if io.is_some() => HttpError::ConnectionTerminated,
        _ => HttpError::InternalError(Some(error.to_string())),
    }
}

/// The first error of type `E` in `error`'s chain of sources.
fn source_of<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<E>() {
            return Some(found);
        }
        next = current.source();
    }
    None
}

/// A response body that fails with `ConnectionReadTimeout` when the
/// provider sends nothing for `between_bytes`.
pub(crate) struct TimedBody {
    incoming: Incoming,
    between_bytes: Duration,
    timer: Pin<Box<Sleep>>,
}

impl TimedBody {
    fn new(incoming: Incoming, between_bytes: Duration) -> TimedBody {
        TimedBody {
            incoming,
            between_bytes,
            timer: Box::pin(tokio::time::sleep(between_bytes)),
        }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = Instant::now() + self.between_bytes;
                self.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(if error.is_timeout() {
                HttpError::HttpResponseTimeout
            } else if error.is_incomplete_message() {
                HttpError::HttpResponseIncomplete
            } else {
                HttpError::from(error)
            }))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}
