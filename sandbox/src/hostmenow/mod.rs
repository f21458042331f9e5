//! Simulator of the HostMeNow Products Reseller API.
//!
//! It follows the provider's published document and, where they differ,
//! what is known of the real service (`shared/providers/NOTES.md`): same
//! path, JSON envelope, action names, field names, status codes and
//! messages, over real state (credit, services, their status and usage).
//! Test-only knobs ([`HostMeNow::set_ip_whitelisted`],
//! [`HostMeNow::deny_permission`], ...) reproduce the account settings a
//! reseller cannot change through the API.

mod actions;
mod api;
pub mod catalogue;
mod control;
mod protocol;
mod state;

use std::sync::{Arc, MutexGuard};

use axum::Router;

pub use actions::{CYCLE_NOT_AVAILABLE, SERVICE_EXISTS, SSO_CPANEL_ONLY, USAGE_CPANEL_ONLY};
pub use api::{INVALID_JSON, METHOD_NOT_ALLOWED, NOT_JSON_CONTENT_TYPE};
pub use control::CONTROL_PREFIX;
pub use protocol::{
    FORBIDDEN, INSUFFICIENT_BALANCE, INVALID_API_KEY, IP_NOT_WHITELISTED, NO_PRODUCT_SELECTED,
    SERVICE_NOT_FOUND,
};
use state::NewService;
pub use state::{RecordedRequest, STARTING_CREDIT_CENTS, ServiceRecord, ServiceStatus};

use crate::fault::FaultInjector;
use crate::simulator::{Core, api_route};

/// The API's path, the same as on the real service.
pub const PATH: &str = "/backstage/modules/addons/products_reseller/api.php";

/// The one API key the simulator accepts.
pub const API_KEY: &str = "hmn_sandbox_4f6c2a9e1b7d";

/// A simulated HostMeNow reseller account and its API.
///
/// Cheap to clone: clones share the account.
#[derive(Clone, Debug)]
pub struct HostMeNow {
    inner: Arc<Core<state::State>>,
}

impl HostMeNow {
    /// A fresh account (starting credit, no services) whose API is served
    /// at `origin` (e.g. `http://127.0.0.1:8080`); the origin is only used
    /// by [`HostMeNow::endpoint`].
    pub fn new(origin: impl Into<String>) -> HostMeNow {
        HostMeNow {
            inner: Core::new(origin),
        }
    }

    /// The API's routes, with fault injection in front of [`PATH`], plus the
    /// control routes under [`CONTROL_PREFIX`].
    pub fn router(&self) -> Router {
        let api = api_route(PATH, api::handle, self.clone(), self.inner.faults());
        api.merge(control::router(self))
    }

    /// The full URL of the API, `origin` + [`PATH`].
    pub fn endpoint(&self) -> String {
        format!("{}{PATH}", self.inner.origin())
    }

    /// The service with this id, including a terminated one.
    pub fn service(&self, id: &str) -> Option<ServiceRecord> {
        self.lock().service(id).cloned()
    }

    /// Every service, in creation order, terminated ones included.
    pub fn services(&self) -> Vec<ServiceRecord> {
        self.lock().services.clone()
    }

    /// How many times each service's usage figures were read
    /// (`get_Bandwidth_Disk_Usage` answered with figures), by service id,
    /// services never read included; a terminated service's count stays
    /// until an order under its id replaces it.
    pub fn usage_reads(&self) -> std::collections::BTreeMap<String, u64> {
        self.lock()
            .services
            .iter()
            .map(|s| (s.service_id.clone(), s.usage_reads))
            .collect()
    }

    /// The account's credit.
    pub fn credit(&self) -> f64 {
        cents_to_f64(self.lock().credit_cents)
    }

    /// Sets the account's credit (rounded to the cent).
    pub fn set_credit(&self, credit: f64) {
        self.lock().credit_cents = (credit * 100.0).round() as i64;
    }

    /// Sets a service's usage figures; a limit of 0 means unlimited, as
    /// with the provider. Returns whether the service exists.
    pub fn set_usage(
        &self,
        id: &str,
        disk_used_mb: f64,
        disk_limit_mb: u64,
        bandwidth_used_mb: f64,
        bandwidth_limit_mb: u64,
    ) -> bool {
        let mut state = self.lock();
        let Some(service) = state.services.iter_mut().find(|s| s.service_id == id) else {
            return false;
        };
        service.disk_used_mb = disk_used_mb;
        service.disk_limit_mb = disk_limit_mb;
        service.bandwidth_used_mb = bandwidth_used_mb;
        service.bandwidth_limit_mb = bandwidth_limit_mb;
        true
    }

    /// Puts an active monthly service straight into the account, as if the
    /// reseller had ordered it through the provider's panel: it gets the
    /// product's quotas, an order id and no usage, as `CreateAccount` gives
    /// it, but no credit is charged and no request is recorded. For tests
    /// that need many services without ordering each through the API.
    /// Returns false, adding nothing, when the product is not in the
    /// catalogue or a live service already has this id.
    pub fn seed_service(
        &self,
        service_id: &str,
        domain: &str,
        username: &str,
        password: &str,
        product_id: &str,
    ) -> bool {
        let Some(product) = catalogue::product(product_id) else {
            return false;
        };
        let mut state = self.lock();
        if state.live_service_mut(service_id).is_some() {
            return false;
        }
        let new = NewService {
            service_id: service_id.to_owned(),
            domain: domain.to_owned(),
            username: username.to_owned(),
            password: password.to_owned(),
            billing_cycle: "monthly".to_owned(),
            order_id: state.take_order_id(),
        };
        state.insert_service(ServiceRecord::active(new, product));
        true
    }

    /// Whether the caller's IP is on the key's whitelist (true at start).
    /// When false, every request is answered HTTP 403
    /// "Your IP address is not whitelisted".
    pub fn set_ip_whitelisted(&self, whitelisted: bool) {
        self.lock().ip_whitelisted = whitelisted;
    }

    /// Takes `action`'s permission away from the reseller group: it then
    /// answers HTTP 403 "Forbidden: Your account does not have permission".
    pub fn deny_permission(&self, action: &str) {
        self.lock().denied_actions.insert(action.to_owned());
    }

    /// Gives back a permission taken by [`HostMeNow::deny_permission`].
    pub fn allow_permission(&self, action: &str) {
        self.lock().denied_actions.remove(action);
    }

    /// Every request that reached the API with a JSON object body, oldest
    /// first (faulted requests never reach it).
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

/// Cents as a decimal amount.
fn cents_to_f64(cents: i64) -> f64 {
    cents as f64 / 100.0
}
