//! Simulator of the LogicBoxes (ResellerClub) HTTP API, mail part.
//!
//! It follows the provider's published document and, where they differ,
//! `shared/providers/NOTES.md`: `/api/<path>.json`, credentials as the
//! `auth-userid` and `api-key` query parameters, POST parameters in the
//! query or a form body, mail answers wrapped in `{"response": {...}}` with
//! `SUCCESS`/`FAILURE`, other errors `{"status": "ERROR"}` with HTTP 500;
//! over real state (one email order, its mailboxes).

mod api;
mod params;
mod state;

use std::sync::{Arc, MutexGuard};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub use api::{
    AUTH_FAILED, INVALID_PARAMETER, INVALID_PASSWORD, INVALID_STATE, MAILUSER_EXISTS,
    MAILUSER_NOT_FOUND, ORDER_NOT_FOUND,
};
pub use state::{Mailbox, MailboxStatus, RecordedRequest};

use crate::fault::{self, FaultInjector};
use crate::simulator::{Core, api_route};

/// The reseller id the simulator accepts as `auth-userid`.
pub const AUTH_USERID: &str = "684271";
/// The API key the simulator accepts as `api-key`.
pub const API_KEY: &str = "lb_sandbox_Zq81mW3kT5";
/// The email order the account has.
pub const ORDER_ID: &str = "7700123";
/// The domain of [`ORDER_ID`]: its mailboxes end in `@` this.
pub const ORDER_DOMAIN: &str = "example.com";
/// Where the control routes live.
pub const CONTROL_PREFIX: &str = "/_sandbox/logicboxes";

/// A simulated LogicBoxes reseller account and its API.
///
/// Cheap to clone: clones share the account.
#[derive(Debug, Clone)]
pub struct LogicBoxes {
    inner: Arc<Core<state::State>>,
}

impl LogicBoxes {
    /// A fresh account (one email order, no mailboxes) served at `origin`.
    pub fn new(origin: impl Into<String>) -> LogicBoxes {
        LogicBoxes {
            inner: Core::new(origin),
        }
    }

    /// The API's routes under `/api/`, with fault injection in front, plus
    /// the control routes under [`CONTROL_PREFIX`] (`/mailboxes`,
    /// `/requests`, `/faults`).
    pub fn router(&self) -> Router {
        let api = api_route(
            "/api/{*path}",
            api::handle,
            self.clone(),
            self.inner.faults(),
        );
        let control = Router::new()
            .route("/mailboxes", get(mailboxes))
            .route("/requests", get(requests))
            .with_state(self.clone())
            .nest("/faults", fault::control_router(self.faults().clone()));
        api.nest(CONTROL_PREFIX, control)
    }

    /// The origin it was created with: the module's `endpoint` setting.
    pub fn origin(&self) -> &str {
        self.inner.origin()
    }

    /// The mailbox with this address, if it exists.
    pub fn mailbox(&self, email: &str) -> Option<Mailbox> {
        self.lock()
            .mailboxes
            .get(&email.to_ascii_lowercase())
            .cloned()
    }

    /// Every mailbox, by address.
    pub fn mailboxes(&self) -> Vec<Mailbox> {
        self.lock().mailboxes.values().cloned().collect()
    }

    /// Every request that reached the API, oldest first (faulted requests
    /// never reach it).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The fault queue in front of the API.
    pub fn faults(&self) -> &FaultInjector {
        self.inner.faults()
    }

    fn lock(&self) -> MutexGuard<'_, state::State> {
        self.inner.lock()
    }
}

async fn mailboxes(State(sim): State<LogicBoxes>) -> Json<Value> {
    Json(json!(sim.mailboxes()))
}

async fn requests(State(sim): State<LogicBoxes>) -> Json<Value> {
    Json(json!(sim.requests()))
}
