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

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use provisioning_host::Host;
use provisioning_host::logging::redact_live;
use serde::Serialize;
use tracing::Instrument;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::answers::{JournalReadiness, Live, LiveStatus, ModuleCounts, Ready};

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
    last: Arc<Mutex<Option<Recorded>>>,
}

/// A reload as recorded.
#[derive(Debug, Clone)]
struct Recorded {
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
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Recorded {
            refusal,
            at: std::time::SystemTime::now(),
        });
    }

    fn last(&self) -> Option<Recorded> {
        self.last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The last reload as readiness shows it without the token: accepted
    /// or refused, when, and what was refused as states and counts (null
    /// before the first reload).
    pub fn shown(&self) -> Option<LastReload> {
        self.last().map(|recorded| recorded.shown())
    }

    /// [`ReloadStatus::shown`] with why (masked), for the token's routes.
    pub fn with_reason(&self) -> Option<LastReloadWithReason> {
        self.last().map(|recorded| LastReloadWithReason {
            reason: (!recorded.refusal.reasons.is_empty())
                .then(|| redact_live(&recorded.refusal.reasons.join("; "))),
            last: recorded.shown(),
        })
    }
}

impl Recorded {
    fn shown(&self) -> LastReload {
        let refusal = &self.refusal;
        LastReload {
            result: if refusal.refused() {
                ReloadResult::Refused
            } else {
                ReloadResult::Accepted
            },
            at_unix_seconds: self
                .at
                .duration_since(std::time::SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
            refused: ReloadRefused {
                manifest: refusal.manifest,
                modules: refusal.modules,
                tls: refusal.tls,
            },
        }
    }
}

/// The last reload, as anyone may see it: states and counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastReload {
    /// Whether it applied (`accepted`) or refused something (`refused`).
    pub result: ReloadResult,
    /// When it happened.
    pub at_unix_seconds: u64,
    /// What it refused.
    pub refused: ReloadRefused,
}

/// [`LastReload::result`].
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReloadResult {
    /// Nothing was refused.
    Accepted,
    /// The manifest, a module's new version or the TLS certificate was
    /// refused (the old ones keep serving).
    Refused,
}

/// What a reload refused: the manifest (unreadable, nothing applied), how
/// many modules' new versions, the TLS certificate.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReloadRefused {
    /// The manifest could not be read or parsed: nothing was applied.
    pub manifest: bool,
    /// Modules whose new version was refused.
    pub modules: usize,
    /// The TLS certificate or key was refused.
    pub tls: bool,
}

/// The last reload with why, behind the token.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastReloadWithReason {
    /// States and counts.
    #[serde(flatten)]
    pub last: LastReload,
    /// Why each refusal happened (files and modules named, secrets
    /// masked); null when nothing was refused.
    #[schema(required = true)]
    pub reason: Option<String>,
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

/// The routes an operator's tools call without the token, and their
/// documentation (each marked open: `security: []`).
pub fn routes() -> OpenApiRouter<Observed> {
    let mut routes = OpenApiRouter::new()
        .routes(routes!(scrape))
        .routes(routes!(live))
        .routes(routes!(ready));
    for item in routes.get_openapi_mut().paths.paths.values_mut() {
        if let Some(operation) = item.get.as_mut() {
            operation.security = Some(Vec::new());
        }
    }
    routes
}

/// The Prometheus scrape (text format 0.0.4): counts and durations by
/// module, function and outcome kind, never a secret, a service or a key.
/// No token needed.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operator",
    responses((status = 200, description = "The exposition.", body = String, content_type = "text/plain"))
)]
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

/// Liveness: the process answers. No token needed.
#[utoipa::path(
    get,
    path = "/v1/health/live",
    operation_id = "healthLive",
    tag = "operator",
    responses((status = 200, description = "Alive.", body = Live))
)]
async fn live() -> Json<Live> {
    Json(Live {
        status: LiveStatus::Live,
    })
}

/// Readiness: every module of the manifest loaded and the journal (if
/// any) takes writes, with the last reload's result. No token needed; it
/// shows counts, never module names or settings.
///
/// The last reload's result is shown either way: a refused reload leaves
/// the old versions serving.
#[utoipa::path(
    get,
    path = "/v1/health/ready",
    operation_id = "healthReady",
    tag = "operator",
    responses(
        (status = 200, description = "Ready.", body = Ready),
        (status = 503, description = "Not ready: a module of the manifest did not load, or the journal does not take writes.", body = Ready),
    )
)]
async fn ready(State(observed): State<Observed>) -> Response {
    let host = &observed.host;
    let not_ready = host.not_ready().len();
    let journal = match host.journal() {
        None => JournalReadiness {
            configured: false,
            writable: None,
            checked_seconds_ago: None,
        },
        Some(journal) => journal_readiness(journal).await,
    };
    let journal_ok = journal.writable != Some(false);
    let is_ready = not_ready == 0 && journal_ok;
    let body = Ready {
        ready: is_ready,
        modules: ModuleCounts {
            loaded: host.modules().len(),
            not_ready,
        },
        journal,
        last_reload: observed.reloads.shown(),
    };
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
async fn journal_readiness(journal: &provisioning_host::Journal) -> JournalReadiness {
    let status = journal.status().await;
    JournalReadiness {
        configured: true,
        writable: Some(status.writable),
        checked_seconds_ago: Some(status.checked_age.map(|age| age.as_secs_f64())),
    }
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
