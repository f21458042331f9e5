//! serve's transport: the accept loop, HTTP/1 over plain TCP or TLS, the
//! bounds that keep slow and abusive clients from holding the server, and
//! graceful shutdown.
//!
//! - **Connections are capped** (`--max-connections`). At the cap the loop
//!   stops accepting: further connections wait in the kernel's accept
//!   queue (tokio's listen backlog, 1024, bounded by `net.core.somaxconn`)
//!   and are served as soon as a connection closes. Waiting rather than
//!   closing them at once means a burst of a platform's own calls is
//!   served late instead of refused, and a flood costs the process
//!   nothing: no memory, no file descriptor, until it is accepted.
//! - **The request head must arrive in time** (`--header-timeout-ms`):
//!   from the connection's start, or the end of the previous response on a
//!   kept-alive one, to the last header line. So this is also how long an
//!   idle connection is kept. With TLS, the handshake gets the same bound
//!   before it. A stalled connection is closed, and its slot freed.
//! - **The body must arrive in time** (`--body-timeout-ms`): from the end
//!   of the head to the body's last byte. A late one is answered 408
//!   `request-timeout` and the connection closed.
//!
//! SIGTERM (the `shutdown` future) stops the accepting; every open
//! connection is told to finish the request it is serving and close, and
//! the loop returns once every connection has.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::error::ApiError;
use crate::tls::Tls;

/// How serve's transport runs.
#[derive(Debug, Clone)]
pub struct Transport {
    /// Serve HTTPS with this certificate chain (PEM, the server's
    /// certificate first) and its private key (PEM: PKCS#8, PKCS#1 or
    /// SEC1); both read again on every reload.
    pub tls: Option<TlsFiles>,
    /// How long a client has to send a request's head (and, with TLS, to
    /// complete the handshake before it); also how long an idle
    /// kept-alive connection stays open.
    pub header_timeout: Duration,
    /// How long a client has to send a request's body once its head has
    /// arrived.
    pub body_timeout: Duration,
    /// Most connections open at once; more wait in the kernel's accept
    /// queue until one closes.
    pub max_connections: u32,
}

/// The certificate chain and key files of HTTPS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, the server's first.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

impl Transport {
    /// The certificate and key, when serving HTTPS.
    pub fn tls(&self) -> anyhow::Result<Option<Arc<Tls>>> {
        self.tls
            .as_ref()
            .map(|files| Tls::load(&files.cert, &files.key))
            .transpose()
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets every
/// open connection finish its request and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<Tls>>,
    args: &Transport,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let app = app.layer(axum::middleware::from_fn_with_state(
        args.body_timeout,
        body_deadline,
    ));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(args.header_timeout);
    let connection = Connection {
        http,
        app,
        tls: tls.map(|tls| tls.acceptor()),
        handshake_timeout: args.header_timeout,
    };
    let slots = Arc::new(Semaphore::new(args.max_connections as usize));
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned_full: Option<Instant> = None;
    loop {
        // A slot first, then a connection: at the cap nothing is accepted.
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Logged at most once a minute: under a flood the cap is
                // reached again every time a connection closes.
                if warned_full.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(
                        max_connections = args.max_connections,
                        "connection cap reached: new connections wait until one closes"
                    );
                    warned_full = Some(Instant::now());
                }
                tokio::select! {
                    permit = slots.clone().acquire_owned() => permit.context("connection slots")?,
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = connection.clone();
        let stopping = stopping.clone();
        tokio::spawn(async move { connection.serve(stream, peer, stopping, permit).await });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every slot back means every connection has closed.
    let _ = slots.acquire_many(args.max_connections).await;
    Ok(())
}

/// An error from `accept`. A connection that failed before it was accepted
/// is the client's business; anything else (out of file descriptors, say)
/// is logged and the loop pauses a moment rather than spinning.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!("cannot accept a connection: {error}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// What serving one connection needs.
#[derive(Clone)]
struct Connection {
    http: http1::Builder,
    app: Router,
    tls: Option<TlsAcceptor>,
    handshake_timeout: Duration,
}

impl Connection {
    /// Serves one connection to its end, holding its slot until then.
    async fn serve(
        self,
        stream: TcpStream,
        peer: SocketAddr,
        mut stopping: watch::Receiver<bool>,
        _slot: OwnedSemaphorePermit,
    ) {
        let _ = stream.set_nodelay(true);
        let result = match &self.tls {
            None => self.http(TokioIo::new(stream), peer, &mut stopping).await,
            Some(acceptor) => {
                match tokio::time::timeout(self.handshake_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => self.http(TokioIo::new(stream), peer, &mut stopping).await,
                    Ok(Err(error)) => {
                        tracing::debug!(%peer, "TLS handshake failed: {error}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                }
            }
        };
        if let Err(error) = result {
            tracing::debug!(%peer, "connection closed: {error}");
        }
    }

    /// HTTP/1 on `io` until the client closes, a bound closes it, or
    /// shutdown lets its request in flight finish and closes it. Every
    /// request carries the client's address as axum's `ConnectInfo`, as
    /// with `into_make_service_with_connect_info`.
    async fn http<I>(
        &self,
        io: I,
        peer: SocketAddr,
        stopping: &mut watch::Receiver<bool>,
    ) -> hyper::Result<()>
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let app = TowerToHyperService::new(self.app.clone());
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            hyper::service::Service::call(&app, request)
        });
        let connection = self.http.serve_connection(io, service);
        let mut connection = std::pin::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => result,
            () = async { let _ = stopping.wait_for(|stop| *stop).await; } => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        }
    }
}

/// Middleware: the request's body must arrive within `timeout` of its
/// head; a late one is answered 408 and the connection closed.
async fn body_deadline(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        Body::new(Deadline {
            body,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            expired: expired.clone(),
        })
    });
    let response = next.run(request).await;
    if !expired.load(Ordering::Relaxed) {
        return response;
    }
    let mut late = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request-timeout",
        format!(
            "the request body did not arrive within {} ms",
            timeout.as_millis()
        ),
    )
    .into_response();
    late.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    late
}

/// A request body that fails once its deadline has passed.
struct Deadline {
    body: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

/// The error a late body reads as.
#[derive(Debug)]
struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
        }
        Pin::new(&mut this.body)
            .poll_frame(cx)
            .map_err(axum::BoxError::from)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    #[tokio::test]
    async fn a_request_carries_the_clients_address_and_shutdown_with_none_open_is_prompt() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = Router::new().route(
            "/",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                peer.to_string()
            }),
        );
        let transport = Transport {
            tls: None,
            header_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            max_connections: 4,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            serve(listener, app, None, &transport, async {
                let _ = stopped.await;
            })
            .await
        });
        let (client, answer) = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            (stream.local_addr().unwrap(), answer)
        })
        .await
        .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with(&client.to_string()), "{answer}");
        // With no connection open, shutdown is immediate (the header
        // timeout is a minute).
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("shutdown waits for no connection")
            .unwrap()
            .unwrap();
    }
}
