//! Sandbox-only routes under `/_sandbox/blesta/` for out-of-process tests.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::Blesta;
use crate::fault;

/// Where the control routes live; `/_sandbox/` cannot clash with a
/// provider path.
pub const CONTROL_PREFIX: &str = "/_sandbox/blesta";

/// The control routes:
///
/// - `GET /_sandbox/blesta/licenses`: credit, standing and licenses;
/// - `GET /_sandbox/blesta/requests`: the requests received (no passwords);
/// - `/_sandbox/blesta/faults`: see [`fault::control_router`].
pub(crate) fn router(blesta: &Blesta) -> Router {
    let routes = Router::new()
        .route("/licenses", get(licenses))
        .route("/requests", get(requests))
        .with_state(blesta.clone())
        .nest("/faults", fault::control_router(blesta.faults().clone()));
    Router::new().nest(CONTROL_PREFIX, routes)
}

async fn licenses(State(blesta): State<Blesta>) -> Json<Value> {
    let state = blesta.lock();
    Json(json!({
        "credit_cents": state.credit_cents,
        "past_due": state.past_due,
        "licenses": state.licenses,
    }))
}

async fn requests(State(blesta): State<Blesta>) -> Json<Value> {
    Json(json!(blesta.lock().requests))
}
