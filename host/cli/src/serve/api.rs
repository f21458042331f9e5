//! The JSON API: routes, handlers and the error body every refusal uses.
//! `openapi.json` at the crate's root describes it; a test checks the two
//! agree.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use provisioning_host::journal::{AckError, Finding, OperatorFinding};
use provisioning_host::types::Setting;
use provisioning_host::{
    CallError, CallOptions, ErrorReport, Host, LoadedModule, Request, ReusePolicy, SyncOptions,
    SyncSummary, UsageJob, UsageReport, UsageResult, sync_usage,
};
use serde::Deserialize;
use serde_json::{Value, json};

use tracing::Instrument;

use super::auth::{Token, require_token};
use super::error::{ApiError, JsonBody, failure_json};
use super::observe::{CallLabels, ReloadStatus};

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

/// The router of the API proper: every route behind the token, bodies
/// capped by `limits` (the operator's unauthenticated routes are in
/// [`super::observe`]).
pub fn router(state: AppState, token: Token, limits: BodyLimits) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/modules", get(list_modules))
        .route("/v1/modules/{module}", get(get_module))
        .route("/v1/modules/{module}/call", post(call_module))
        .route(
            "/v1/modules/{module}/services/{service}/remote-id",
            get(service_remote_id),
        )
        .route(
            "/v1/modules/{module}/services/{service}/pending",
            get(service_pending),
        )
        // The route's own cap, over the router's below.
        .route(
            "/v1/usage",
            post(usage).layer(DefaultBodyLimit::max(limits.max_usage_body_bytes)),
        )
        .route("/v1/journal/pending", get(journal_pending))
        .route("/v1/journal/{entry}/ack", post(journal_ack))
        .route("/v1/journal/reconcile", post(journal_reconcile))
        .fallback(unknown_route)
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(token, require_token))
}

async fn unknown_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown-route",
        "no such route; see openapi.json",
    )
}

async fn health(State(state): State<AppState>) -> Json<Value> {
    let not_ready = state.host.not_ready().len();
    Json(json!({
        "status": if not_ready == 0 { "ok" } else { "degraded" },
        "modules": state.host.modules().len(),
        "not_ready": not_ready,
        "last_reload": state.reloads.json(true),
    }))
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

fn describe(module: &LoadedModule) -> Value {
    json!({
        "name": module.name(),
        "ready": true,
        "digest": module.digest(),
        "allowed_hosts": module.policy().origins().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "info": provisioning_host::wire::Contract::into_json(module.info().clone()),
    })
}

/// The loaded modules (`ready: true`) and those of the manifest that did
/// not load (`ready: false`, with why), by name.
async fn list_modules(State(state): State<AppState>) -> Json<Value> {
    let mut modules: BTreeMap<String, Value> = state
        .host
        .modules()
        .iter()
        .map(|m| (m.name().to_string(), describe(m)))
        .collect();
    for failure in state.host.not_ready() {
        let name = failure.module.clone();
        modules.entry(name.clone()).or_insert_with(
            || json!({ "name": name, "ready": false, "error": failure_json(&failure) }),
        );
    }
    Json(json!({ "modules": modules.into_values().collect::<Vec<_>>() }))
}

async fn get_module(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let module = state
        .host
        .module(&name)
        .ok_or_else(|| state.missing(&name))?;
    Ok(Json(describe(&module)))
}

/// The body of a call.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallBody {
    request: Value,
    #[serde(default)]
    settings: Vec<Setting>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

async fn call_module(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<CallBody>,
) -> Result<(Extension<CallLabels>, Json<Value>), ApiError> {
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
    let mut result = json!({
        "journal_entry": answer.journal_entry,
        "module_digest": answer.module_digest,
        "replayed": answer.replayed,
        "journaled": answer.journaled,
    });
    match &answer.result {
        Ok(response) => result["ok"] = json!(response),
        Err(CallError::UnknownModule(name)) => return Err(state.missing(name)),
        Err(error) => result["error"] = json!(ErrorReport::from(error)),
    }
    Ok((Extension(labels), Json(result)))
}

/// The body of a batch usage read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageBody {
    /// Each a [`UsageJob`]; parsed one by one so that a bad one is named.
    services: Vec<Value>,
    #[serde(default)]
    concurrency: Option<usize>,
    /// Opt-in instance reuse ([`ReusePolicy`]); left out, every read gets
    /// a fresh instance.
    #[serde(default)]
    reuse: Option<ReuseBody>,
}

/// `"reuse": {"max_calls": 16}` (`{}` for the default).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReuseBody {
    #[serde(default)]
    max_calls: Option<u32>,
}

fn malformed(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed-request", message)
}

/// `POST /v1/usage`: usage-data for many services in one request (a
/// billing platform's nightly refresh), run by [`sync_usage`] with its
/// bounded concurrency and each module's rate limit. One result per
/// service, in the order given, each a [`UsageReport`] as `provisioning
/// usage` prints it; a service whose module is unknown or not ready gets
/// its error there, not the request's.
async fn usage(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<UsageBody>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({ "results": results, "summary": summary })))
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

async fn journal_pending(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let journal = state.host.journal().ok_or_else(no_journal)?;
    let pending = journal.pending().await.map_err(internal)?;
    Ok(Json(json!({ "pending": pending })))
}

/// The remote id the journal holds for a service of a module, the domain
/// its create named and whether a terminate followed (see
/// `Journal::created_service`), `null`s when no create of it succeeded
/// here: for a platform that has nowhere to keep the provider's id
/// (FOSSBilling's accounts have no field for it).
async fn service_remote_id(
    State(state): State<AppState>,
    Path((module, service)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let journal = state.host.journal().ok_or_else(no_journal)?;
    let created = journal
        .created_service(&module, &service)
        .await
        .map_err(internal)?;
    let (remote_id, domain, terminated) = created.map_or((None, None, false), |c| {
        (Some(c.remote_id), c.domain, c.terminated)
    });
    Ok(Json(json!({
        "module": module,
        "service_id": service,
        "remote_id": remote_id,
        "domain": domain,
        "terminated": terminated,
    })))
}

/// The journal entries not yet acknowledged of one service of a module
/// (the intents' `service_id`), oldest first, as `/v1/journal/pending`
/// gives them: what a platform's page of that service shows, without
/// reading every pending entry of the host.
async fn service_pending(
    State(state): State<AppState>,
    Path((module, service)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let journal = state.host.journal().ok_or_else(no_journal)?;
    let pending = journal
        .pending_of(&module, &service)
        .await
        .map_err(internal)?;
    Ok(Json(json!({
        "module": module,
        "service_id": service,
        "pending": pending,
    })))
}

/// One reconcile pass: the entries whose outcome is unknown, each resolved
/// where its provider can tell what happened, or left with why not.
async fn journal_reconcile(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if state.host.journal().is_none() {
        return Err(no_journal());
    }
    let report = provisioning_host::reconcile::reconcile(&state.host)
        .await
        .map_err(internal)?;
    Ok(Json(json!({
        "resolved": report.resolved(),
        "entries": report.entries,
    })))
}

/// The optional body of an acknowledgement: what an operator found at the
/// provider for an entry whose outcome is unknown.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    #[serde(default)]
    finding: Option<Finding>,
    #[serde(default)]
    remote_id: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

async fn journal_ack(
    State(state): State<AppState>,
    Path(entry): Path<String>,
    body: Option<JsonBody<AckBody>>,
) -> Result<Json<Value>, ApiError> {
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
        Ok(()) => Ok(Json(json!({ "acknowledged": id }))),
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

#[cfg(test)]
mod tests {
    use provisioning_host::{FUNCTIONS, Response};
    use serde_json::Value;

    /// The document describes calls in prose, so it is held against the
    /// contract's one table of functions here rather than listed twice.
    #[test]
    fn the_openapi_document_names_every_function_and_the_list_answer() {
        let document: Value =
            serde_json::from_str(include_str!("../../openapi.json")).expect("openapi.json parses");
        let schema = &document["components"]["schemas"]["CallRequest"]["properties"];
        let request = schema["request"]["description"].as_str().unwrap();
        for (_, name, _) in FUNCTIONS {
            assert!(
                request.contains(&format!(" {name},"))
                    || request.contains(&format!(" {name} ("))
                    || request.contains(&format!(" {name}.")),
                "openapi.json's CallRequest does not name {name}"
            );
        }
        let ok = document["components"]["schemas"]["CallResult"]["properties"]["ok"]["description"]
            .as_str()
            .unwrap();
        let kind = serde_json::to_value(Response::Accounts(Vec::new())).unwrap()["kind"].clone();
        let kind = kind.as_str().unwrap();
        assert!(ok.contains(&format!("|{kind},")), "{kind} is not in {ok}");
    }
}
