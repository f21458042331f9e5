//! Simulator of the Webline Africa hosting reseller API.
//!
//! One JSON POST endpoint, `/api/hosting-public.php`, keyed by the
//! `X-API-KEY` header (or `api_key` in the body), with an `action` field:
//! `getPackages`, `createAccount`, `getAccount`, `listAccounts`,
//! `getAccountStatus`. Errors are the provider's shape,
//! `{"status":"error","message":...}`. State is real across calls: credit
//! in TZS, accounts that stay `pending` for a configurable time, generated
//! credentials, and the 100-requests-per-5-minutes limit per key.

mod api;
mod control;
mod state;

use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;

pub use api::{
    ACCOUNT_NOT_FOUND, DOMAIN_EXISTS, INSUFFICIENT_CREDIT, INVALID_ACTION, INVALID_API_KEY,
    INVALID_DOMAIN, INVALID_EMAIL, INVALID_JSON, INVALID_PACKAGE, METHOD_NOT_ALLOWED,
    NOT_JSON_CONTENT_TYPE, RATE_LIMITED, TOO_MANY_AUTH_FAILURES,
};
pub use control::CONTROL_PREFIX;
pub use state::{AccountRecord, AccountStatus, PACKAGES, Provisioning, RecordedRequest};

use crate::fault::FaultInjector;
use crate::simulator::{Core, api_route};

/// The API's path, the same as on the real service.
pub const PATH: &str = "/api/hosting-public.php";

/// The one API key the simulator accepts.
pub const API_KEY: &str = "wla_sandbox_7c3e91d04b2f";

/// The reseller's credit at start, in TZS.
pub const STARTING_CREDIT_TZS: i64 = 1_000_000;

/// Requests a key may make per window (the provider's documented limit).
pub const RATE_LIMIT: usize = 100;

/// The rate limit's window: 5 minutes.
pub const RATE_WINDOW: Duration = Duration::from_secs(300);

/// A simulated Webline reseller account and its API.
///
/// Cheap to clone: clones share the account.
#[derive(Clone, Debug)]
pub struct Webline {
    inner: Arc<Core<state::State>>,
}

impl Webline {
    /// A fresh account (starting credit, no accounts) whose API is served
    /// at `origin`; the origin is only used by [`Webline::endpoint`].
    pub fn new(origin: impl Into<String>) -> Webline {
        Webline {
            inner: Core::new(origin),
        }
    }

    /// The API's routes, with fault injection in front of [`PATH`], plus the
    /// control routes under [`CONTROL_PREFIX`].
    pub fn router(&self) -> Router {
        let api = api_route(PATH, api::handle, self.clone(), self.inner.faults());
        api.merge(control::router(self))
    }

    /// The origin it was created with.
    pub fn origin(&self) -> &str {
        self.inner.origin()
    }

    /// The full URL of the API, `origin` + [`PATH`].
    pub fn endpoint(&self) -> String {
        format!("{}{PATH}", self.inner.origin())
    }

    /// The account with this id, its status brought up to date.
    pub fn account(&self, id: u64) -> Option<AccountRecord> {
        let mut state = self.lock();
        state.settle();
        state.accounts.iter().find(|a| a.id == id).cloned()
    }

    /// Every account, in creation order, statuses brought up to date.
    pub fn accounts(&self) -> Vec<AccountRecord> {
        let mut state = self.lock();
        state.settle();
        state.accounts.clone()
    }

    /// The reseller's credit, in TZS.
    pub fn credit(&self) -> i64 {
        self.lock().credit
    }

    /// Sets the reseller's credit, in TZS.
    pub fn set_credit(&self, credit: i64) {
        self.lock().credit = credit;
    }

    /// How accounts created from now on get provisioned (immediately by
    /// default).
    pub fn set_provisioning(&self, provisioning: Provisioning) {
        self.lock().provisioning = provisioning;
    }

    /// Sets an account's status, as the provider's staff would (there is
    /// no API call for it). Returns whether the account exists.
    pub fn set_status(&self, id: u64, status: AccountStatus) -> bool {
        let mut state = self.lock();
        let Some(account) = state.accounts.iter_mut().find(|a| a.id == id) else {
            return false;
        };
        account.status = status;
        account.ready_at = None;
        account.updated_at = crate::clock::now_utc();
        true
    }

    /// Replaces the per-key rate limit (default [`RATE_LIMIT`] per
    /// [`RATE_WINDOW`]), so tests need not send 100 requests.
    pub fn set_rate_limit(&self, limit: usize, window: Duration) {
        let mut state = self.lock();
        state.rate_limit = limit;
        state.rate_window = window;
    }

    /// Makes the next successful `createAccount` answer leave out
    /// `account_id`: the account and its credentials are created all the
    /// same, as when a provider's answer is not what its document says.
    pub fn omit_account_id_once(&self) {
        self.lock().omit_account_id = true;
    }

    /// How many requests the per-key rate limit turned away with HTTP 429
    /// (they are not in [`Webline::requests`]).
    pub fn rate_limited(&self) -> u64 {
        self.lock().rate_limited
    }

    /// When each request [`Webline::rate_limited`] counts came, oldest
    /// first: for a test to tell which of its phases drew them.
    pub fn rate_limited_at(&self) -> Vec<Instant> {
        self.lock().rate_limited_at.clone()
    }

    /// The most requests that arrived (authenticated, whether the rate
    /// limit let them through or not) in any window of `window`: what a
    /// provider counting a sliding window saw at its busiest.
    pub fn busiest_window(&self, window: Duration) -> usize {
        let arrivals = &self.lock().arrivals;
        arrivals
            .iter()
            .enumerate()
            .map(|(first, at)| {
                arrivals[first..]
                    .iter()
                    .take_while(|later| later.duration_since(*at) < window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    /// Every request that got past authentication and the rate limit,
    /// oldest first (faulted requests never reach the API). The key is not
    /// recorded.
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
