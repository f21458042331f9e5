//! The JSON API: routes, handlers, request bodies, and the OpenAPI
//! description of each (utoipa's `path` attribute on every handler; the
//! route is registered from it, so a route and its documented path are
//! one fact).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use provisioning_host::journal::{AckError, Finding, OperatorFinding};
use provisioning_host::types::Setting;
use provisioning_host::{
    CallError, CallOptions, ErrorReport, Host, Request, ReusePolicy, SyncOptions, SyncSummary,
    UsageJob, UsageReport, UsageResult, sync_usage,
};
use serde::Deserialize;
use serde_json::Value;
use tracing::Instrument;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::answers::{
    Acknowledged, CallOutcome, CallResult, Health, HealthStatus, Module, ModuleList, ModuleStatus,
    NotReadyModule, PendingList, ReconcileReport, ServicePendingList, ServiceRemoteId, UsageAnswer,
};
use crate::error::{ApiError, ErrorBody, JsonBody};
use crate::observe::{CallLabels, ReloadStatus};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The host with the manifest's modules, and those that did not load
    /// with why ([`Host::not_ready`]).
    pub host: Arc<Host>,
    /// The last reload's result, with its reason behind the token.
    pub reloads: ReloadStatus,
}

/// Bounds on request bodies.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Every route but the batch usage one.
    pub max_body_bytes: usize,
    /// `POST /v1/usage`, whose body names up to [`MAX_USAGE_SERVICES`]
    /// services.
    pub max_usage_body_bytes: usize,
}

/// The most services one `POST /v1/usage` may name.
pub const MAX_USAGE_SERVICES: usize = 10_000;

/// The most calls one instance may serve in a `POST /v1/usage` that asks
/// for instance reuse.
pub const MAX_REUSE_CALLS: u32 = 1000;

/// The most calls in flight a `POST /v1/usage` may ask for.
pub const MAX_USAGE_CONCURRENCY: usize = 256;

/// The routes of the API proper, bodies capped by `limits`; the token
/// check and the body cap over them all are laid by [`crate::router`]
/// (the operator's unauthenticated routes are in [`crate::observe`]).
pub fn routes(limits: BodyLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(list_modules))
        .routes(routes!(get_module))
        .routes(routes!(call_module))
        .routes(routes!(service_remote_id))
        .routes(routes!(service_pending))
        // The route's own cap, over the router's.
        .routes(routes!(usage).layer(DefaultBodyLimit::max(limits.max_usage_body_bytes)))
        .routes(routes!(journal_pending))
        .routes(ack_body_is_optional(routes!(journal_ack)))
        .routes(routes!(journal_reconcile))
        .fallback(unknown_route)
}

async fn unknown_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown-route",
        "no such route; see openapi.json",
    )
}

/// Whether the host serves, how many modules it has loaded and how many
/// of the manifest's modules are not ready (did not load).
#[utoipa::path(
    get,
    path = "/v1/health",
    operation_id = "health",
    responses(
        (status = 200, description = "Serving.", body = Health),
        (status = 401, response = crate::responses::Unauthorized),
    )
)]
async fn health(State(state): State<AppState>) -> Json<Health> {
    let not_ready = state.host.not_ready().len();
    Json(Health {
        status: if not_ready == 0 {
            HealthStatus::Ok
        } else {
            HealthStatus::Degraded
        },
        modules: state.host.modules().len(),
        not_ready,
        last_reload: state.reloads.with_reason(),
    })
}

impl AppState {
    /// Why there is no module `name` to serve: not ready, or unknown.
    fn missing(&self, name: &str) -> ApiError {
        match self.host.not_ready_module(name) {
            Some(failure) => ApiError::not_ready(&failure),
            None => ApiError::unknown_module(name),
        }
    }
}

/// Every module of the manifest: the loaded ones (`ready: true`) with
/// their info and digest, the ones that did not load (`ready: false`)
/// with why.
#[utoipa::path(
    get,
    path = "/v1/modules",
    operation_id = "listModules",
    responses(
        (status = 200, description = "The modules, by name.", body = ModuleList),
        (status = 401, response = crate::responses::Unauthorized),
    )
)]
async fn list_modules(State(state): State<AppState>) -> Json<ModuleList> {
    let mut modules: BTreeMap<String, ModuleStatus> = state
        .host
        .modules()
        .iter()
        .map(|m| (m.name().to_string(), ModuleStatus::Ready(Module::of(m))))
        .collect();
    for failure in state.host.not_ready() {
        modules
            .entry(failure.module.clone())
            .or_insert_with(|| ModuleStatus::NotReady(NotReadyModule::of(&failure)));
    }
    Json(ModuleList {
        modules: modules.into_values().collect(),
    })
}

/// One loaded module's info and digest.
#[utoipa::path(
    get,
    path = "/v1/modules/{module}",
    operation_id = "getModule",
    params(("module" = String, Path, description = "The module's name in the manifest.")),
    responses(
        (status = 200, description = "The module.", body = Module),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 503, response = crate::responses::NotReady),
    )
)]
async fn get_module(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Module>, ApiError> {
    let module = state
        .host
        .module(&name)
        .ok_or_else(|| state.missing(&name))?;
    Ok(Json(Module::of(&module)))
}

/// The body of a call.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CallRequest)]
struct CallBody {
    /// The function and its arguments, e.g. `{"function": "suspend",
    /// "service": {...}, "reason": "unpaid"}`; what the contract makes
    /// optional may be left out (a service's optional fields, its
    /// `custom_fields`, `reason`, `app`).
    #[schema(value_type = Request)]
    request: Value,
    /// Per-call settings: the module's product-scope ones only, each once,
    /// overriding its configured settings by name. A server-scope setting
    /// (endpoint, credentials: the manifest's), a name the module does not
    /// declare or a setting given twice answers the call's result
    /// `invalid-input`, nothing sent.
    #[serde(default, with = "provisioning_host::wire::as_json")]
    settings: Vec<Setting>,
    /// Repeating a mutating call with the same key returns the recorded
    /// answer instead of acting twice.
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// Runs one function of a module. Mutating functions are journaled; with
/// an idempotency key a repeated call gets the recorded answer.
#[utoipa::path(
    post,
    path = "/v1/modules/{module}/call",
    operation_id = "callModule",
    params(("module" = String, Path, description = "The module's name in the manifest.")),
    request_body = CallBody,
    responses(
        (status = 200, description = "The call ran: its answer or its typed error.", body = CallResult),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::BadRequest),
        (status = 503, response = crate::responses::NotReady),
    )
)]
async fn call_module(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<CallBody>,
) -> Result<(Extension<CallLabels>, Json<CallResult>), ApiError> {
    if state.host.module(&name).is_none() {
        return Err(state.missing(&name));
    }
    // Parsed apart from the envelope so that an unknown function or a
    // missing argument is named in the message.
    let request: Request = serde_json::from_value(body.request).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            format!("`request` is not a call of the contract: {error}"),
        )
    })?;
    let options = CallOptions {
        settings: body.settings,
        idempotency_key: body.idempotency_key,
    };
    // On a task of its own: a client that hangs up does not cut a call
    // off half-way at the provider; it runs to its end and is journaled.
    let host = state.host.clone();
    let labels = CallLabels {
        module: name.clone(),
        function: provisioning_host::function_name(request.function()),
    };
    let call = async move { host.execute(&name, &request, &options).await };
    let answer = tokio::spawn(call.instrument(tracing::Span::current()))
        .await
        .map_err(|error| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "host",
                format!("the call's task failed: {error}"),
            )
        })?;
    let outcome = match answer.result {
        Ok(response) => CallOutcome::Ok(response),
        Err(CallError::UnknownModule(name)) => return Err(state.missing(&name)),
        Err(error) => CallOutcome::Error(ErrorReport::from(&error)),
    };
    let result = CallResult {
        journal_entry: answer.journal_entry,
        module_digest: answer.module_digest,
        replayed: answer.replayed,
        journaled: answer.journaled,
        outcome,
    };
    Ok((Extension(labels), Json(result)))
}

/// The body of a batch usage read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UsageRequest)]
struct UsageBody {
    /// The services to read, at most 10 000. (Each a [`UsageJob`]; parsed
    /// one by one so that a bad one is named.)
    #[schema(value_type = Vec<UsageJob>)]
    services: Vec<Value>,
    /// Calls in flight at once, over every module, from 1 to 256 (16 when
    /// left out). Each module's rate limit paces its own calls whatever
    /// this is.
    #[serde(default)]
    concurrency: Option<usize>,
    /// Opt-in instance reuse: an instance may serve up to `max_calls`
    /// reads of one module version with the same settings, one at a time;
    /// a read carrying a password or a secret setting of its own gets a
    /// fresh instance, and an instance is thrown away after a trap, the
    /// deadline, a cap, a denied request, a host error or unusual memory
    /// growth. Left out: a fresh instance per read ([`ReusePolicy`]).
    #[serde(default)]
    reuse: Option<ReuseBody>,
}

/// `"reuse": {"max_calls": 16}` (`{}` for the default).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UsageReuse)]
struct ReuseBody {
    /// Reads one instance may serve, 1 to 1000 (16 when left out).
    #[serde(default)]
    max_calls: Option<u32>,
}

fn malformed(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed-request", message)
}

/// Reads usage-data for many services in one request (a billing
/// platform's usage refresh), with the host's bounded concurrency and
/// each module's rate limit; a service still rate-limited after its
/// provider's Retry-After is tried again. One result per service, in the
/// order given. A service whose module is unknown, not ready or offers no
/// usage-data gets that as its own error; the request as a whole still
/// answers 200. At most 10 000 services a request; the body is capped by
/// `--max-usage-body-bytes` (8 MiB by default), not `--max-body-bytes`.
///
/// Run by [`sync_usage`]; each result a [`UsageReport`] as `provisioning
/// usage` prints it.
#[utoipa::path(
    post,
    path = "/v1/usage",
    operation_id = "readUsage",
    request_body = UsageBody,
    responses(
        (status = 200, description = "Every service's figures or its typed error, and the summary.", body = UsageAnswer),
        (status = 400, description = "Malformed JSON or a service that is not a job (`malformed-request`, naming its index), a `concurrency` or `reuse.max_calls` out of range (`malformed-request`), or more services than one request may name (`too-many-services`); nothing was read.", body = ErrorBody),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 413, response = crate::responses::TooLarge),
        (status = 415, response = crate::responses::BadRequest),
    )
)]
async fn usage(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<UsageBody>,
) -> Result<Json<UsageAnswer>, ApiError> {
    if body.services.len() > MAX_USAGE_SERVICES {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "too-many-services",
            format!(
                "{} services in one request; at most {MAX_USAGE_SERVICES}: split them over several requests",
                body.services.len()
            ),
        ));
    }
    let concurrency = body
        .concurrency
        .unwrap_or(SyncOptions::default().concurrency);
    if !(1..=MAX_USAGE_CONCURRENCY).contains(&concurrency) {
        return Err(malformed(format!(
            "`concurrency` is {concurrency}; it is from 1 to {MAX_USAGE_CONCURRENCY}"
        )));
    }
    let reuse = match body.reuse {
        None => None,
        Some(ReuseBody { max_calls }) => {
            let max_calls = max_calls.unwrap_or(ReusePolicy::DEFAULT_MAX_CALLS);
            if !(1..=MAX_REUSE_CALLS).contains(&max_calls) {
                return Err(malformed(format!(
                    "`reuse.max_calls` is {max_calls}; it is from 1 to {MAX_REUSE_CALLS}"
                )));
            }
            Some(ReusePolicy::new(max_calls))
        }
    };
    let jobs = body
        .services
        .into_iter()
        .enumerate()
        .map(|(index, job)| {
            serde_json::from_value::<UsageJob>(job).map_err(|error| {
                malformed(format!(
                    "`services[{index}]` is not {{\"module\": \"...\", \"service\": {{\"service_id\": \"...\", ...}}}}: {error}"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = SyncOptions {
        concurrency,
        reuse,
        ..SyncOptions::default()
    };
    // On a task of its own, like a call: a client that hangs up does not
    // cut the reads off half-way.
    let host = state.host.clone();
    let run = async move { read_usage(&host, jobs, &options).await };
    let (results, summary) = tokio::spawn(run.instrument(tracing::Span::current()))
        .await
        .map_err(|error| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "host",
                format!("the usage reads' task failed: {error}"),
            )
        })?;
    Ok(Json(UsageAnswer { results, summary }))
}

/// Every job's report, in the jobs' order, and the summary over them.
async fn read_usage(
    host: &Arc<Host>,
    jobs: Vec<UsageJob>,
    options: &SyncOptions,
) -> (Vec<UsageReport>, SyncSummary) {
    let mut results: Vec<Option<UsageReport>> = vec![None; jobs.len()];
    // Where each service's report goes: the sync answers in the order its
    // calls end. The same service named twice gets two reports, filled in
    // turn.
    let mut slots: BTreeMap<(String, String), VecDeque<usize>> = BTreeMap::new();
    let mut runnable = Vec::with_capacity(jobs.len());
    let mut unread = 0usize;
    for (index, job) in jobs.into_iter().enumerate() {
        // A module of the manifest that did not load: its services are
        // reported not ready without a call (the sync alone would say
        // unknown-module).
        if host.module(&job.module).is_none()
            && let Some(failure) = host.not_ready_module(&job.module)
        {
            let message = format!(
                "module `{}` is not ready ({}): {}",
                failure.module, failure.kind, failure.message
            );
            results[index] = Some(UsageReport {
                module: job.module,
                service_id: job.service.service_id,
                outcome: UsageResult::Error(ErrorReport::new("module-not-ready", message)),
                attempts: 0,
                elapsed_ms: 0,
            });
            unread += 1;
            continue;
        }
        slots
            .entry((job.module.clone(), job.service.service_id.clone()))
            .or_default()
            .push_back(index);
        runnable.push(job);
    }
    let mut summary = sync_usage(host, runnable, options, |report| {
        let key = (report.module.clone(), report.service_id.clone());
        if let Some(index) = slots.get_mut(&key).and_then(VecDeque::pop_front) {
            results[index] = Some(report.clone());
        }
    })
    .await;
    if unread > 0 {
        summary.services += unread;
        *summary
            .outcomes
            .entry("module-not-ready".into())
            .or_default() += unread;
    }
    // The sync reports every job it is given, so every slot is filled.
    (results.into_iter().flatten().collect(), summary)
}

fn no_journal() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no-journal",
        "this server has no journal: add a [journal] section to its manifest",
    )
}

/// The answer of a journal route whose store failed: 503
/// `journal-unavailable` when it could not be reached in time (its file
/// locked, its database slow or down: asking again later may succeed),
/// else 500 `journal`.
fn internal(error: anyhow::Error) -> ApiError {
    if provisioning_host::journal::is_unavailable(&error) {
        tracing::warn!("the journal could not be reached in time: {error:#}");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "journal-unavailable",
            format!("the journal could not be reached in time; try again later: {error:#}"),
        );
    }
    tracing::error!("journal failure: {error:#}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "journal",
        format!("the journal failed: {error:#}"),
    )
}

/// Journal entries not acknowledged, each with its state: in-flight
/// (running on a live host), answered (a caller may not have received the
/// answer; credentials included) or unknown (nobody knows whether the
/// provider acted: check it there, then acknowledge with a finding).
#[utoipa::path(
    get,
    path = "/v1/journal/pending",
    operation_id = "journalPending",
    responses(
        (status = 200, description = "The pending entries, oldest first.", body = PendingList),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 503, response = crate::responses::JournalUnavailable),
    )
)]
async fn journal_pending(State(state): State<AppState>) -> Result<Json<PendingList>, ApiError> {
    let journal = state.host.journal().ok_or_else(no_journal)?;
    let pending = journal.pending().await.map_err(internal)?;
    Ok(Json(PendingList { pending }))
}

/// The remote id the journal holds for a service of a module: the one the
/// provider gave (or an operator found) on the newest create-account of
/// that `service_id` that succeeded, with the domain that create named
/// and whether a terminate succeeded since; `null` when none did. For a
/// platform that has nowhere to keep the provider's id (FOSSBilling).
#[utoipa::path(
    get,
    path = "/v1/modules/{module}/services/{service}/remote-id",
    operation_id = "serviceRemoteId",
    params(
        ("module" = String, Path, description = "The module's name in the manifest."),
        ("service" = String, Path, description = "The contract's `service_id`."),
    ),
    responses(
        (status = 200, description = "The remote id, or null.", body = ServiceRemoteId),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 503, response = crate::responses::JournalUnavailable),
    )
)]
async fn service_remote_id(
    State(state): State<AppState>,
    Path((module, service)): Path<(String, String)>,
) -> Result<Json<ServiceRemoteId>, ApiError> {
    let journal = state.host.journal().ok_or_else(no_journal)?;
    let created = journal
        .created_service(&module, &service)
        .await
        .map_err(internal)?;
    let (remote_id, domain, terminated) = created.map_or((None, None, false), |c| {
        (Some(c.remote_id), c.domain, c.terminated)
    });
    Ok(Json(ServiceRemoteId {
        module,
        service_id: service,
        remote_id,
        domain,
        terminated,
    }))
}

/// The journal entries not acknowledged of one service of a module (the
/// intents' `service_id`; every call that names a service records it,
/// whatever its idempotency key), in the shape of `/v1/journal/pending`:
/// what a platform's page of that service shows, without reading every
/// pending entry of the host. An addon scoped `4001-a7` is a service of
/// its own, not part of `4001`.
#[utoipa::path(
    get,
    path = "/v1/modules/{module}/services/{service}/pending",
    operation_id = "servicePending",
    params(
        ("module" = String, Path, description = "The module's name in the manifest."),
        ("service" = String, Path, description = "The contract's `service_id`."),
    ),
    responses(
        (status = 200, description = "The service's pending entries, oldest first.", body = ServicePendingList),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 503, response = crate::responses::JournalUnavailable),
    )
)]
async fn service_pending(
    State(state): State<AppState>,
    Path((module, service)): Path<(String, String)>,
) -> Result<Json<ServicePendingList>, ApiError> {
    let journal = state.host.journal().ok_or_else(no_journal)?;
    let pending = journal
        .pending_of(&module, &service)
        .await
        .map_err(internal)?;
    Ok(Json(ServicePendingList {
        module,
        service_id: service,
        pending,
    }))
}

/// One reconcile pass: every entry whose outcome is unknown is looked into
/// at its provider through its module's read functions (service-status
/// with a provider id, list-accounts, usage-data) and resolved `done` or
/// `not-done` with what was seen, as an operator's finding would be; an
/// entry the provider's state cannot decide stays for an operator
/// (`undecided`, with why).
#[utoipa::path(
    post,
    path = "/v1/journal/reconcile",
    operation_id = "journalReconcile",
    responses(
        (status = 200, description = "What the pass did, entry by entry.", body = ReconcileReport),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 503, response = crate::responses::JournalUnavailable),
    )
)]
async fn journal_reconcile(
    State(state): State<AppState>,
) -> Result<Json<ReconcileReport>, ApiError> {
    if state.host.journal().is_none() {
        return Err(no_journal());
    }
    let report = provisioning_host::reconcile::reconcile(&state.host)
        .await
        .map_err(internal)?;
    Ok(Json(ReconcileReport {
        resolved: report.resolved(),
        entries: report.entries,
    }))
}

/// The optional body of an acknowledgement: what an operator found at the
/// provider for an entry whose outcome is unknown.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AckBody {
    /// What an operator found at the provider, for an entry whose outcome
    /// is unknown.
    #[serde(default)]
    finding: Option<Finding>,
    /// With `done` for a create-account: the provider's id of the account
    /// found.
    #[serde(default)]
    remote_id: Option<String>,
    /// Kept with the entry.
    #[serde(default)]
    note: Option<String>,
}

/// Marks the acknowledgement's body optional in its documentation (its
/// handler takes an `Option`, which utoipa would describe as a JSON
/// `null`, a body the route refuses).
fn ack_body_is_optional(
    (schemas, mut paths, router): utoipa_axum::router::UtoipaMethodRouter<AppState>,
) -> utoipa_axum::router::UtoipaMethodRouter<AppState> {
    for item in paths.paths.values_mut() {
        if let Some(body) = item.post.as_mut().and_then(|op| op.request_body.as_mut()) {
            body.required = Some(utoipa::openapi::Required::False);
        }
    }
    (schemas, paths, router)
}

/// Acknowledges an answered entry (the caller has kept its answer; its
/// sealed credentials are destroyed), or resolves an unknown one with what
/// an operator found at the provider: `done` (the next call with its key
/// is answered with it; a create-account needs `remote_id`) or `not-done`
/// (its key is freed). An entry still running is refused (409
/// `in-flight`), and so is an unknown one without a finding (409
/// `finding-required`).
#[utoipa::path(
    post,
    path = "/v1/journal/{entry}/ack",
    operation_id = "journalAck",
    params(("entry" = i64, Path, description = "The journal entry's number.")),
    request_body(content = AckBody, description = "Optional (no body, or no `Content-Type`, acknowledges): what an operator found."),
    responses(
        (status = 200, description = "Acknowledged.", body = Acknowledged),
        (status = 400, response = crate::responses::BadRequest),
        (status = 401, response = crate::responses::Unauthorized),
        (status = 404, response = crate::responses::NotFound),
        (status = 409, description = "The entry's state does not allow it: `in-flight` (still running), `finding-required` (unknown outcome: say what was found), `attempt-running` (a finding before the call's deadline: it may still reach the provider) or `not-journaled` (the outcome is still held in the host's memory, the journal has not taken it yet).", body = ErrorBody),
        (status = 503, response = crate::responses::JournalUnavailable),
    )
)]
async fn journal_ack(
    State(state): State<AppState>,
    Path(entry): Path<String>,
    body: Option<JsonBody<AckBody>>,
) -> Result<Json<Acknowledged>, ApiError> {
    let journal = state.host.journal().ok_or_else(no_journal)?;
    let id: i64 = entry.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            format!("`{entry}` is not a journal entry number"),
        )
    })?;
    let body = body.map(|JsonBody(body)| body).unwrap_or_default();
    let done = match body.finding {
        None => journal.acknowledge(id).await,
        Some(finding) => {
            journal
                .resolve(
                    id,
                    OperatorFinding {
                        finding,
                        remote_id: body.remote_id,
                        note: body.note,
                    },
                )
                .await
        }
    };
    match done {
        Ok(()) => Ok(Json(Acknowledged { acknowledged: id })),
        Err(AckError::Store(error)) => Err(internal(error)),
        Err(error) => {
            let status = match error {
                AckError::NotPending(_) => StatusCode::NOT_FOUND,
                AckError::InFlight(_)
                | AckError::FindingRequired(_)
                | AckError::AttemptRunning { .. }
                | AckError::NotJournaled(_) => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            Err(ApiError::new(status, error.kind(), error.to_string()))
        }
    }
}
