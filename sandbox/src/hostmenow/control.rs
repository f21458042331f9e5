//! Sandbox-only routes under `/_sandbox/hostmenow/` for out-of-process tests.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::HostMeNow;
use crate::fault;

/// Where the control routes live; `/_sandbox/` cannot clash with a
/// provider path.
pub const CONTROL_PREFIX: &str = "/_sandbox/hostmenow";

/// The control routes:
///
/// - `GET /_sandbox/hostmenow/services`: credit, settings and services;
/// - `GET /_sandbox/hostmenow/requests`: the requests received;
/// - `/_sandbox/hostmenow/faults`: see [`fault::control_router`].
pub(crate) fn router(hostmenow: &HostMeNow) -> Router {
    let routes = Router::new()
        .route("/services", get(services))
        .route("/requests", get(requests))
        .with_state(hostmenow.clone())
        .nest("/faults", fault::control_router(hostmenow.faults().clone()));
    Router::new().nest(CONTROL_PREFIX, routes)
}

async fn services(State(hostmenow): State<HostMeNow>) -> Json<Value> {
    let state = hostmenow.lock();
    let mut denied: Vec<&String> = state.denied_actions.iter().collect();
    denied.sort();
    Json(json!({
        "credit": super::cents_to_f64(state.credit_cents),
        "ip_whitelisted": state.ip_whitelisted,
        "denied_actions": denied,
        "services": state.services,
    }))
}

async fn requests(State(hostmenow): State<HostMeNow>) -> Json<Value> {
    Json(json!(hostmenow.lock().requests))
}
