//! What the simulated reseller account holds: services, credit, settings and
//! the requests received.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::Value;

use super::catalogue::Product;

/// Credit of a fresh sandbox account, in cents.
pub const STARTING_CREDIT_CENTS: i64 = 50_000;

/// Life-cycle state of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ServiceStatus {
    /// Provisioned and running.
    Active,
    /// Suspended; `suspend_reason` tells why, when given.
    Suspended,
    /// Terminated; the provider no longer knows it ("Service not found").
    Terminated,
}

/// One service (hosting account) of the reseller, as the provider holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceRecord {
    /// The reseller's `serviceid`.
    pub service_id: String,
    /// Customer's domain.
    pub domain: String,
    /// Account username.
    pub username: String,
    /// Account password (the sandbox keeps it so tests can check changes).
    pub password: String,
    /// Current product (`selected_product`).
    pub product_id: String,
    /// Billing cycle the service was ordered on.
    pub billing_cycle: String,
    /// Life-cycle state.
    pub status: ServiceStatus,
    /// Reason given with the last suspension, while suspended.
    pub suspend_reason: Option<String>,
    /// Order the provider created for it.
    pub order_id: String,
    /// Disk used, in MB.
    pub disk_used_mb: f64,
    /// Disk quota in MB; 0 = unlimited.
    pub disk_limit_mb: u64,
    /// Bandwidth used this month, in MB.
    pub bandwidth_used_mb: f64,
    /// Monthly bandwidth quota in MB; 0 = unlimited.
    pub bandwidth_limit_mb: u64,
    /// Times `get_Bandwidth_Disk_Usage` answered this service's figures:
    /// the sandbox's count, not the provider's, so that a test can tell a
    /// service read once from one read twice.
    pub usage_reads: u64,
}

/// Who a new service is for: what `CreateAccount` (or a seeded order)
/// names.
pub(crate) struct NewService {
    pub(crate) service_id: String,
    pub(crate) domain: String,
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) billing_cycle: String,
    pub(crate) order_id: String,
}

impl ServiceRecord {
    /// A new active service on `product`, with its quotas and no usage.
    pub(crate) fn active(new: NewService, product: &Product) -> ServiceRecord {
        let mut record = ServiceRecord {
            service_id: new.service_id,
            domain: new.domain,
            username: new.username,
            password: new.password,
            product_id: String::new(),
            billing_cycle: new.billing_cycle,
            status: ServiceStatus::Active,
            suspend_reason: None,
            order_id: new.order_id,
            disk_used_mb: 0.0,
            disk_limit_mb: 0,
            bandwidth_used_mb: 0.0,
            bandwidth_limit_mb: 0,
            usage_reads: 0,
        };
        record.apply_product(product);
        record
    }

    /// Moves the service to `product`, taking its quotas.
    pub(crate) fn apply_product(&mut self, product: &Product) {
        self.product_id = product.product_id.to_owned();
        self.disk_limit_mb = product.disk_limit_mb;
        self.bandwidth_limit_mb = product.bandwidth_limit_mb;
    }
}

/// A request the simulator received, as sent (the API key is not kept).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordedRequest {
    /// The `action` field; empty when absent or not a string.
    pub action: String,
    /// The `params` field exactly as received (`Null` when absent).
    pub params: Value,
    /// HTTP status the simulator answered with.
    pub http_status: u16,
}

/// The whole mutable state of one simulated account.
#[derive(Debug)]
pub(crate) struct State {
    /// Services in creation order; terminated ones stay for inspection.
    pub services: Vec<ServiceRecord>,
    pub credit_cents: i64,
    pub next_order_id: u64,
    pub next_invoice_id: u64,
    pub ip_whitelisted: bool,
    /// Actions whose permission the reseller group lacks.
    pub denied_actions: HashSet<String>,
    pub requests: Vec<RecordedRequest>,
}

impl Default for State {
    fn default() -> State {
        State {
            services: Vec::new(),
            credit_cents: STARTING_CREDIT_CENTS,
            next_order_id: 7001,
            next_invoice_id: 100_001,
            ip_whitelisted: true,
            denied_actions: HashSet::new(),
            requests: Vec::new(),
        }
    }
}

impl State {
    /// The service with this id, terminated or not.
    pub fn service(&self, service_id: &str) -> Option<&ServiceRecord> {
        self.services.iter().find(|s| s.service_id == service_id)
    }

    /// The live (not terminated) service with this id: what the provider
    /// can still act on.
    pub fn live_service_mut(&mut self, service_id: &str) -> Option<&mut ServiceRecord> {
        self.services
            .iter_mut()
            .find(|s| s.service_id == service_id && s.status != ServiceStatus::Terminated)
    }

    /// Stores a new service, replacing a terminated one with the same id.
    pub fn insert_service(&mut self, record: ServiceRecord) {
        self.services.retain(|s| s.service_id != record.service_id);
        self.services.push(record);
    }

    /// Hands out the next order id.
    pub fn take_order_id(&mut self) -> String {
        let id = self.next_order_id;
        self.next_order_id += 1;
        id.to_string()
    }

    /// Hands out the next invoice id.
    pub fn take_invoice_id(&mut self) -> String {
        let id = self.next_invoice_id;
        self.next_invoice_id += 1;
        id.to_string()
    }
}
