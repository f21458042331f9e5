//! What an operator watches from outside, without the token: the
//! Prometheus scrape (`/metrics`), liveness and readiness
//! (`/v1/health/live`, `/v1/health/ready`), and one access-log line per
//! request with its request id.
//!
//! None of it shows a secret or a service: the metrics are counts and
//! durations labelled by module, function and outcome kind
//! ([`provisioning_host::telemetry`]); readiness shows counts and states
//! only (how many modules are not ready, what a reload refused), never a
//! module's name, a path or a reason's text, which quote the manifest.
//! The request id a client sends is kept only when it is short, plain and
//! holds no live secret (the serve token is one).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use provisioning_host::Host;
use provisioning_host::logging::redact_live;
use serde_json::json;
use tracing::Instrument;

/// The header a request id travels in, both ways.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Buckets of the duration histograms, in seconds: a call takes from a
/// millisecond (an answer from the journal) to its deadline (30 s by
/// default).
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Buckets of the guest memory histogram: 1 MiB to 1 GiB, doubling.
const BYTES_BUCKETS: &[f64] = &[
    1048576.0,
    2097152.0,
    4194304.0,
    8388608.0,
    16777216.0,
    33554432.0,
    67108864.0,
    134217728.0,
    268435456.0,
    536870912.0,
    1073741824.0,
];

/// Installs the process's Prometheus recorder and describes the host's
/// metrics. The state gauges are set at each scrape, so a gauge not set
/// for a while (the digest of a version swapped out) is dropped.
pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)?
        .set_buckets_for_metric(Matcher::Suffix("_bytes".into()), BYTES_BUCKETS)?
        .idle_timeout(MetricKindMask::GAUGE, Some(Duration::from_secs(1)))
        .install_recorder()?;
    provisioning_host::telemetry::describe();
    Ok(handle)
}

/// How the last reload of the manifest went: its states for readiness
/// (open), and with its reason for the token's `GET /v1/health`.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    last: Arc<Mutex<Option<LastReload>>>,
}

#[derive(Debug, Clone)]
struct LastReload {
    refusal: Refusal,
    at: std::time::SystemTime,
}

/// What a reload refused, if anything: states and counts, which anyone
/// may see, and the reasons, which quote files, modules and manifest
/// lines (an inline secret, say) and are shown only behind the token.
#[derive(Debug, Clone, Default)]
pub struct Refusal {
    /// The manifest could not be read or parsed: nothing was applied.
    pub manifest: bool,
    /// Modules whose new version was refused (the old one keeps serving).
    pub modules: usize,
    /// The TLS certificate or key was refused (the old one keeps serving).
    pub tls: bool,
    /// Why, one reason per refusal.
    pub reasons: Vec<String>,
}

impl Refusal {
    fn refused(&self) -> bool {
        self.manifest || self.modules > 0 || self.tls
    }
}

impl ReloadStatus {
    /// Records a reload and what it refused.
    pub fn record(&self, refusal: Refusal) {
        provisioning_host::telemetry::record_reload(!refusal.refused());
        *self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(LastReload {
            refusal,
            at: std::time::SystemTime::now(),
        });
    }

    /// The last reload as readiness shows it without the token: accepted
    /// or refused, when, and what was refused as states and counts; with
    /// `reason`, also why (masked), for the token's routes.
    pub fn json(&self, with_reason: bool) -> serde_json::Value {
        let last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let Some(LastReload { refusal, at }) = last else {
            return json!(null);
        };
        let mut shown = json!({
            "result": if refusal.refused() { "refused" } else { "accepted" },
            "at_unix_seconds": at
                .duration_since(std::time::SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
            "refused": {
                "manifest": refusal.manifest,
                "modules": refusal.modules,
                "tls": refusal.tls,
            },
        });
        if with_reason {
            shown["reason"] = if refusal.reasons.is_empty() {
                json!(null)
            } else {
                json!(redact_live(&refusal.reasons.join("; ")))
            };
        }
        shown
    }
}

/// What the unauthenticated routes share.
#[derive(Clone)]
pub struct Observed {
    /// The host.
    pub host: Arc<Host>,
    /// The scrape's renderer.
    pub metrics: PrometheusHandle,
    /// The last reload's result.
    pub reloads: ReloadStatus,
}

/// The routes an operator's tools call without the token.
pub fn routes(observed: Observed) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/v1/health/live", get(live))
        .route("/v1/health/ready", get(ready))
        .with_state(observed)
}

async fn scrape(State(observed): State<Observed>) -> Response {
    observed.host.record_state().await;
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        // Labels are module names, functions and kinds, never a value;
        // masked all the same, as every output is.
        redact_live(&observed.metrics.render()),
    )
        .into_response()
}

/// The process answers.
async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "live" }))
}

/// Ready when every module of the manifest is loaded and the journal (if
/// any) takes writes; 503 otherwise. The last reload's result is shown
/// either way: a refused reload leaves the old versions serving.
async fn ready(State(observed): State<Observed>) -> Response {
    let host = &observed.host;
    let not_ready = host.not_ready().len();
    let journal = match host.journal() {
        None => json!({ "configured": false }),
        Some(journal) => journal_readiness(journal).await,
    };
    let journal_ok = journal["writable"] != json!(false);
    let is_ready = not_ready == 0 && journal_ok;
    let body = json!({
        "ready": is_ready,
        "modules": { "loaded": host.modules().len(), "not_ready": not_ready },
        "journal": journal,
        "last_reload": observed.reloads.json(false),
    });
    let status = if is_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Whether the journal takes writes, as last seen: its latest write probe
/// taken and answered in time, with how long ago it was checked. Never a
/// wait behind the journal's writers ([`provisioning_host::Journal::status`]).
async fn journal_readiness(journal: &provisioning_host::Journal) -> serde_json::Value {
    let status = journal.status().await;
    json!({
        "configured": true,
        "writable": status.writable,
        "checked_seconds_ago": status.checked_age.map(|age| age.as_secs_f64()),
    })
}

/// What a call handler tells the access log about the call it ran.
#[derive(Debug, Clone)]
pub struct CallLabels {
    /// The module called.
    pub module: String,
    /// The contract function.
    pub function: &'static str,
}

/// Middleware, outermost: gives each request an id (the client's
/// `X-Request-Id` when [acceptable](is_acceptable_request_id), else a new
/// one), runs
/// the request in a span carrying it, so that every event of the call
/// shows it, returns it in the answer's header and writes one access-log
/// line.
pub async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_acceptable_request_id(id))
        .map(str::to_string)
        .unwrap_or_else(new_request_id);
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let labels = response.extensions().get::<CallLabels>().cloned();
    let _entered = span.enter();
    tracing::info!(
        target: "provisioning::access",
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        module = labels.as_ref().map(|labels| labels.module.as_str()),
        function = labels.as_ref().map(|labels| labels.function),
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

/// The longest request id kept from a client: a UUID (36) and a W3C
/// trace id (32) fit.
const MAX_REQUEST_ID_LEN: usize = 64;

/// 1 to [`MAX_REQUEST_ID_LEN`] letters, digits and `-_.:` (nothing that
/// could break a log line or a header), holding no live secret: a client
/// that sends its token (or a module's key) as its request id must not
/// have it logged and echoed back, so that id is replaced.
fn is_acceptable_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte))
        && redact_live(id) == id
}

/// A new request id: 128 random bits in hex.
fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source: a process-unique id still correlates lines.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return format!("{}-{n}", std::process::id());
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_kept_only_when_it_is_safe_to_log() {
        assert!(is_acceptable_request_id("req-123_abc"));
        assert!(!is_acceptable_request_id(""));
        assert!(!is_acceptable_request_id("two words"));
        assert!(!is_acceptable_request_id("line\nbreak"));
        assert!(!is_acceptable_request_id(&"x".repeat(65)));
        assert!(!is_acceptable_request_id("quote\"d"));
        let made = new_request_id();
        assert_eq!(made.len(), 32);
        assert_ne!(made, new_request_id());
    }
}
