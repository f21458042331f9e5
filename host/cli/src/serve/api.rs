//! The JSON API: routes, handlers and the error body every refusal uses.
//! `openapi.json` at the crate's root describes it; a test checks the two
//! agree.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use provisioning_host::journal::{AckError, Finding, OperatorFinding};
use provisioning_host::types::Setting;
use provisioning_host::{CallError, CallOptions, ErrorReport, Host, LoadedModule, Request};
use serde::Deserialize;
use serde_json::{Value, json};

use tracing::Instrument;

use super::auth::{Token, require_token};
use super::error::{ApiError, failure_json};
use super::observe::CallLabels;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The host with the manifest's modules, and those that did not load
    /// with why ([`Host::not_ready`]).
    pub host: Arc<Host>,
}

/// The router of the API proper: every route behind the token, bodies
/// capped at `max_body_bytes` (the operator's unauthenticated routes are
/// in [`super::observe`]).
pub fn router(state: AppState, token: Token, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/modules", get(list_modules))
        .route("/v1/modules/{module}", get(get_module))
        .route("/v1/modules/{module}/call", post(call_module))
        .route("/v1/journal/pending", get(journal_pending))
        .route("/v1/journal/{entry}/ack", post(journal_ack))
        .fallback(unknown_route)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body_bytes))
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
        "info": module.info(),
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
    body: Result<Json<CallBody>, JsonRejection>,
) -> Result<(Extension<CallLabels>, Json<Value>), ApiError> {
    let Json(body) = body?;
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
    });
    match &answer.result {
        Ok(response) => result["ok"] = json!(response),
        Err(CallError::UnknownModule(name)) => return Err(state.missing(name)),
        Err(error) => result["error"] = json!(ErrorReport::from(error)),
    }
    Ok((Extension(labels), Json(result)))
}

fn no_journal() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no-journal",
        "this server has no journal: add a [journal] section to its manifest",
    )
}

fn internal(error: anyhow::Error) -> ApiError {
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
    body: Option<Json<AckBody>>,
) -> Result<Json<Value>, ApiError> {
    let journal = state.host.journal().ok_or_else(no_journal)?;
    let id: i64 = entry.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            format!("`{entry}` is not a journal entry number"),
        )
    })?;
    let body = body.map(|Json(body)| body).unwrap_or_default();
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
                AckError::InFlight(_) | AckError::FindingRequired(_) => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            Err(ApiError::new(status, error.kind(), error.to_string()))
        }
    }
}
