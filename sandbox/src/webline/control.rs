//! Sandbox-only routes under `/_sandbox/webline/` for out-of-process tests.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::Webline;
use crate::fault;

/// Where the control routes live; `/_sandbox/` cannot clash with a
/// provider path.
pub const CONTROL_PREFIX: &str = "/_sandbox/webline";

/// The control routes:
///
/// - `GET /_sandbox/webline/accounts`: credit and accounts (no passwords);
/// - `GET /_sandbox/webline/requests`: the requests received;
/// - `/_sandbox/webline/faults`: see [`fault::control_router`].
pub(crate) fn router(webline: &Webline) -> Router {
    let routes = Router::new()
        .route("/accounts", get(accounts))
        .route("/requests", get(requests))
        .with_state(webline.clone())
        .nest("/faults", fault::control_router(webline.faults().clone()));
    Router::new().nest(CONTROL_PREFIX, routes)
}

async fn accounts(State(webline): State<Webline>) -> Json<Value> {
    Json(json!({"credit": webline.credit(), "accounts": webline.accounts()}))
}

async fn requests(State(webline): State<Webline>) -> Json<Value> {
    Json(json!(webline.requests()))
}
