//! The only door out of a guest: `wasi:http` requests, checked against the
//! module's allow-list before anything touches the network.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::http_client::ProviderClient;
use crate::policy::{Origin, OutboundPolicy};

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

/// Sends a guest's outgoing requests when, and only when, their origin is
/// on the module's allow-list; clamps every network timeout to what is left
/// of the call's deadline.
pub(crate) struct OutboundHooks {
    module: Arc<str>,
    policy: Arc<OutboundPolicy>,
    deadline: Instant,
    response_cap: usize,
    denied: bool,
    /// The shared pooled client; `None` opens a connection per request.
    client: Option<ProviderClient>,
}

impl OutboundHooks {
    pub(crate) fn new(
        module: Arc<str>,
        policy: Arc<OutboundPolicy>,
        deadline: Instant,
        response_cap: usize,
        client: Option<ProviderClient>,
    ) -> Self {
        OutboundHooks {
            module,
            policy,
            deadline,
            response_cap,
            denied: false,
            client,
        }
    }

    /// Moves the deadline every request's timeouts are clamped to (the
    /// next call of a reused instance).
    pub(crate) fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    /// Whether a request was refused for its origin.
    pub(crate) fn denied(&self) -> bool {
        self.denied
    }

    /// The origin a request targets, if it names one the host can judge.
    fn origin_of(request: &http::Request<WasiBody>) -> Option<Origin> {
        let uri = request.uri();
        Origin::new(uri.scheme_str()?, uri.host()?, uri.port_u16()).ok()
    }
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: IoFuture,
    ) -> SendFuture {
        let origin = Self::origin_of(&request);
        let allowed = origin.as_ref().is_some_and(|o| self.policy.permits(o));
        let target = origin.map_or_else(|| "an unparseable URL".to_string(), |o| o.to_string());
        self.denied |= !allowed;
        let module = self.module.clone();
        let response_cap = self.response_cap;
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let options = clamp_timeouts(options.unwrap_or_default(), remaining);
        let client = self.client.clone();
        let deadline = self.deadline;
        Box::new(async move {
            // Take the guest's whole body first: a server may answer (429,
            // 500) before reading it, and the guest must then still read
            // that answer rather than fail writing to a closed stream. The
            // same holds for a denial. Provisioning requests are small.
            let request = buffer_body(request).await?;
            if !allowed {
                // Only the origin is logged: paths and queries can carry credentials.
                tracing::warn!(module = %module, %target, "outbound request denied: origin not on the module's allow-list");
                crate::telemetry::record_outbound_denied(&module);
                return Err(HttpError::HttpRequestDenied);
            }
            // Checked again at the last moment, the host may have stalled
            // since (a stopped process, a starved runtime): a request sent
            // with no time left for its answer could only act at the
            // provider unseen, perhaps after the journal decided the call.
            if deadline.saturating_duration_since(Instant::now()) <= ANSWER_RESERVE {
                tracing::warn!(module = %module, %target, "outbound request not sent: the call's deadline has passed");
                return Err(HttpError::ConnectionTimeout);
            }
            tracing::debug!(module = %module, %target, "outbound request");
            match client {
                Some(client) => {
                    let response = client.send(request, &options).await?;
                    // The pool drives the connection; nothing is left to await.
                    let io: IoFuture = Box::new(async { Ok(()) });
                    Ok((response.map(|body| cap_body(body, response_cap)), io))
                }
                None => {
                    let request =
                        request.map(|body| body.map_err(|never| match never {}).boxed_unsync());
                    let (response, io) =
                        wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
                    Ok((
                        response.map(|body| cap_body(body, response_cap)),
                        Box::new(io) as IoFuture,
                    ))
                }
            }
        })
    }
}

/// Largest request body a module may send.
const MAX_REQUEST_BODY: usize = 1 << 20;

/// Reads the guest's request body into memory (bounded).
async fn buffer_body(
    request: http::Request<WasiBody>,
) -> Result<http::Request<Full<Bytes>>, HttpError> {
    let (parts, body) = request.into_parts();
    let bytes = Limited::new(body, MAX_REQUEST_BODY)
        .collect()
        .await
        .map_err(|error| match error.downcast::<HttpError>() {
            Ok(error) => *error,
            Err(_) => HttpError::HttpRequestBodySize(None),
        })?
        .to_bytes();
    Ok(http::Request::from_parts(parts, Full::new(bytes)))
}

/// Cuts a provider's response body off after `cap` bytes: the guest reads
/// a body-size error instead of the rest, however much the provider sends.
fn cap_body<B>(body: B, cap: usize) -> WasiBody
where
    B: hyper::body::Body<Data = bytes::Bytes, Error = HttpError> + Send + 'static,
{
    Limited::new(body, cap)
        .map_err(move |error| match error.downcast::<HttpError>() {
            Ok(error) => *error,
            Err(_) => HttpError::HttpResponseBodySize(Some(cap as u64)),
        })
        .boxed_unsync()
}

/// Time kept back from the guest's network waits so that its own `timeout`
/// answer reaches the host before the host's deadline cuts the call off.
const ANSWER_RESERVE: std::time::Duration = std::time::Duration::from_millis(150);

/// No network wait may outlive the call: the guest then sees a timeout error
/// of its own instead of being cut off without an answer.
fn clamp_timeouts(mut options: RequestOptions, remaining: std::time::Duration) -> RequestOptions {
    let remaining = remaining.saturating_sub(ANSWER_RESERVE);
    let clamp = |t: Option<std::time::Duration>| Some(t.map_or(remaining, |t| t.min(remaining)));
    options.connect_timeout = clamp(options.connect_timeout);
    options.first_byte_timeout = clamp(options.first_byte_timeout);
    options.between_bytes_timeout = clamp(options.between_bytes_timeout);
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host that stalled past its call's deadline (a stopped process)
    /// resumes with a guest request on its way out: it is refused before
    /// anything reaches the provider.
    #[tokio::test]
    async fn a_request_whose_deadline_has_passed_is_not_sent() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let origin = format!("http://{address}");
        let policy = Arc::new(OutboundPolicy::parse(&[origin.as_str()]).unwrap());
        for client in [Some(ProviderClient::new()), None] {
            let mut hooks =
                OutboundHooks::new("m".into(), policy.clone(), Instant::now(), 1024, client);
            let body: WasiBody = Full::new(Bytes::from_static(b"{}"))
                .map_err(|never| match never {})
                .boxed_unsync();
            let request = http::Request::post(format!("{origin}/create"))
                .body(body)
                .unwrap();
            let sent =
                Box::into_pin(hooks.send_request(request, None, Box::new(async { Ok(()) }))).await;
            assert!(
                matches!(sent, Err(HttpError::ConnectionTimeout)),
                "{:?}",
                sent.err()
            );
            let accepted =
                tokio::time::timeout(std::time::Duration::from_millis(200), listener.accept())
                    .await;
            assert!(accepted.is_err(), "a connection reached the provider");
        }
    }
}
