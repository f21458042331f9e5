//! Simulator of the Blesta license reseller API, v1.
//!
//! It follows the provider's document and, where they differ, what is
//! known of the real service (`shared/providers/NOTES.md`): the same path,
//! GET or POST form fields, `uid`/`password` on every request, the action
//! names of the document's list (the example URLs' `suspend` is answered
//! 101), the `{response_code, response_text, data}` envelope always over
//! HTTP 200, and the documented codes 100-109, over real state (credit,
//! licenses and their status). Test-only knobs ([`Blesta::set_past_due`],
//! [`Blesta::fail_next_add`], ...) reproduce what a reseller cannot change
//! through the API.

mod api;
mod control;
mod state;

use std::sync::{Arc, MutexGuard};

use axum::Router;

pub use api::{PAGE_SIZE, code};
pub use control::CONTROL_PREFIX;
pub use state::{
    LicenseRecord, LicenseStatus, PackageRecord, RecordedRequest, STARTING_CREDIT_CENTS,
};

use crate::fault::FaultInjector;
use crate::simulator::{Core, api_route};

/// The API's path, the same as on the real service.
pub const PATH: &str = "/ams/reseller.php";
/// The one reseller user ID the simulator accepts.
pub const UID: &str = "1234567";
/// The one password the simulator accepts.
pub const PASSWORD: &str = "blesta-sandbox-Pw-7c1e";

/// A simulated Blesta reseller account and its API.
///
/// Cheap to clone: clones share the account.
#[derive(Clone, Debug)]
pub struct Blesta {
    inner: Arc<Core<state::State>>,
}

impl Blesta {
    /// A fresh account (starting credit, no licenses) whose API is served
    /// at `origin`; the origin is only used by [`Blesta::endpoint`].
    pub fn new(origin: impl Into<String>) -> Blesta {
        Blesta {
            inner: Core::new(origin),
        }
    }

    /// The API's route, with fault injection in front of [`PATH`], plus the
    /// control routes under [`CONTROL_PREFIX`].
    pub fn router(&self) -> Router {
        let api = api_route(PATH, api::handle, self.clone(), self.inner.faults());
        api.merge(control::router(self))
    }

    /// The full URL of the API, `origin` + [`PATH`].
    pub fn endpoint(&self) -> String {
        format!("{}{PATH}", self.inner.origin())
    }

    /// The origin it was created with.
    pub fn origin(&self) -> &str {
        self.inner.origin()
    }

    /// Every license, in creation order, cancelled ones included.
    pub fn licenses(&self) -> Vec<LicenseRecord> {
        self.lock().licenses.clone()
    }

    /// The license with this key, cancelled or not.
    pub fn license(&self, key: &str) -> Option<LicenseRecord> {
        self.lock()
            .licenses
            .iter()
            .find(|l| l.license == key)
            .cloned()
    }

    /// The account's credit, in US cents.
    pub fn credit_cents(&self) -> i64 {
        self.lock().credit_cents
    }

    /// Sets the account's credit, in US cents.
    pub fn set_credit_cents(&self, cents: i64) {
        self.lock().credit_cents = cents;
    }

    /// Marks the account past due: every action that changes a license is
    /// then answered 104.
    pub fn set_past_due(&self, past_due: bool) {
        self.lock().past_due = past_due;
    }

    /// Makes the next `addlicense` that passes every check answer 109 with
    /// `message` (the document's "message varies").
    pub fn fail_next_add(&self, message: impl Into<String>) {
        self.lock().add_failure = Some(message.into());
    }

    /// Adds a license directly, as if added by another tool; in test mode,
    /// so it is not charged. Returns its key.
    pub fn seed_license(&self, domain: &str, term: &str) -> String {
        let today = crate::clock::now_utc().chars().take(10).collect();
        self.lock().add(domain, term, true, today).license
    }

    /// Takes term `term` away from the account, as the provider can: an
    /// `addlicense` for it is then answered 108. Returns whether it was
    /// on offer.
    pub fn withdraw_package(&self, term: &str) -> bool {
        let mut state = self.lock();
        let before = state.packages.len();
        state.packages.retain(|p| p.term != term);
        state.packages.len() != before
    }

    /// The packages on offer.
    pub fn packages(&self) -> Vec<PackageRecord> {
        self.lock().packages.clone()
    }

    /// Every request that reached the API, oldest first, without passwords
    /// (faulted requests never reach it).
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
