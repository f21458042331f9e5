//! The API's actions: what each does to the account and answers.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::catalogue::{self, BILLING_CYCLES, CPANEL, Product, ProductListing};
use super::protocol::{
    INSUFFICIENT_BALANCE, NO_PRODUCT_SELECTED, Params, Reply, SERVICE_NOT_FOUND,
};
use super::state::{NewService, ServiceRecord, ServiceStatus, State};
use crate::clock;

/// Message when CreateAccount names a live service (HTTP 200).
pub const SERVICE_EXISTS: &str = "Service already exists";
/// Message when the product is not sold on the requested cycle (HTTP 200).
pub const CYCLE_NOT_AVAILABLE: &str = "Billing cycle not available for this product";
/// Message for usage figures of a non-cPanel service (HTTP 200).
pub const USAGE_CPANEL_ONLY: &str = "Usage data is only available for cPanel products";
/// Message for SSO into a non-cPanel service (HTTP 200).
pub const SSO_CPANEL_ONLY: &str = "SSO is only available for cPanel products";

/// An action of the API, by its exact (case-sensitive) name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `Get_Products`
    GetProducts,
    /// `CreateAccount`
    CreateAccount,
    /// `SuspendAccount`
    SuspendAccount,
    /// `UnsuspendAccount`
    UnsuspendAccount,
    /// `TerminateAccount`
    TerminateAccount,
    /// `ChangePassword`
    ChangePassword,
    /// `ChangePackage`
    ChangePackage,
    /// `get_Bandwidth_Disk_Usage`
    GetBandwidthDiskUsage,
    /// `GetServerName`
    GetServerName,
    /// `CreateSSOSession`
    CreateSsoSession,
}

impl Action {
    /// Every action, for lookups.
    pub const ALL: [Action; 10] = [
        Action::GetProducts,
        Action::CreateAccount,
        Action::SuspendAccount,
        Action::UnsuspendAccount,
        Action::TerminateAccount,
        Action::ChangePassword,
        Action::ChangePackage,
        Action::GetBandwidthDiskUsage,
        Action::GetServerName,
        Action::CreateSsoSession,
    ];

    /// The action's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Action::GetProducts => "Get_Products",
            Action::CreateAccount => "CreateAccount",
            Action::SuspendAccount => "SuspendAccount",
            Action::UnsuspendAccount => "UnsuspendAccount",
            Action::TerminateAccount => "TerminateAccount",
            Action::ChangePassword => "ChangePassword",
            Action::ChangePackage => "ChangePackage",
            Action::GetBandwidthDiskUsage => "get_Bandwidth_Disk_Usage",
            Action::GetServerName => "GetServerName",
            Action::CreateSsoSession => "CreateSSOSession",
        }
    }

    /// The action with exactly this name.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Carries the action out on `state`.
    pub fn run(self, params: &Params, state: &mut State) -> Reply {
        let result = match self {
            Action::GetProducts => Ok(get_products()),
            Action::CreateAccount => create_account(params, state),
            Action::SuspendAccount => suspend(params, state),
            Action::UnsuspendAccount => unsuspend(params, state),
            Action::TerminateAccount => terminate(params, state),
            Action::ChangePassword => change_password(params, state),
            Action::ChangePackage => change_package(params, state),
            Action::GetBandwidthDiskUsage => usage(params, state),
            Action::GetServerName => server_name(params, state),
            Action::CreateSsoSession => sso(params, state),
        };
        result.unwrap_or_else(|reply| reply)
    }
}

type Outcome = Result<Reply, Reply>;

fn get_products() -> Reply {
    let products: Vec<ProductListing> = catalogue::PRODUCTS.iter().map(Into::into).collect();
    Reply::ok(json!({
        "status": "success",
        "message": "Products retrieved successfully",
        "data": products,
    }))
}

fn create_account(params: &Params, state: &mut State) -> Outcome {
    let service_id = params.required("serviceid")?;
    let cycle = params.required("billingcycle")?;
    let domain = params.required("domain")?;
    let username = params.required("username")?;
    let password = params.required("password")?;
    let qty = quantity(params)?;
    params.optional("ip_address")?;
    if !BILLING_CYCLES.contains(&cycle.as_str()) {
        return Err(Reply::bad_request(&format!(
            "Invalid billing cycle: {cycle}"
        )));
    }
    // The provider names both an absent and an unassigned product this way.
    let product = params
        .optional("selected_product")?
        .and_then(|id| catalogue::product(&id))
        .ok_or_else(|| Reply::error(NO_PRODUCT_SELECTED))?;
    let price = product
        .price(&cycle)
        .ok_or_else(|| Reply::error(CYCLE_NOT_AVAILABLE))?;
    if state.live_service_mut(&service_id).is_some() {
        return Err(Reply::error(SERVICE_EXISTS));
    }
    let cost = (price.price_cents + price.setup_fee_cents).saturating_mul(qty);
    if state.credit_cents < cost {
        return Err(Reply::error(INSUFFICIENT_BALANCE));
    }
    state.credit_cents -= cost;
    let order_id = state.take_order_id();
    let invoice_id = state.take_invoice_id();
    let new = NewService {
        service_id: service_id.clone(),
        domain,
        username,
        password,
        billing_cycle: cycle,
        order_id: order_id.clone(),
    };
    state.insert_service(ServiceRecord::active(new, product));
    Ok(Reply::ok(json!({
        "status": "success",
        "message": "Account created successfully",
        "data": {
            "serviceid": service_id,
            "order_id": order_id,
            "invoice_id": invoice_id,
        },
    })))
}

/// `qty`: a positive whole number, 1 when absent.
fn quantity(params: &Params) -> Result<i64, Reply> {
    match params.optional("qty")? {
        None => Ok(1),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|qty| *qty >= 1)
            .ok_or_else(|| Reply::bad_request("Invalid value for field: qty")),
    }
}

/// The live service named by `serviceid`, or the answer to give instead.
fn live_service<'s>(params: &Params, state: &'s mut State) -> Result<&'s mut ServiceRecord, Reply> {
    let service_id = params.required("serviceid")?;
    state
        .live_service_mut(&service_id)
        .ok_or_else(|| Reply::error(SERVICE_NOT_FOUND))
}

fn suspend(params: &Params, state: &mut State) -> Outcome {
    let reason = params.optional("suspendreason")?;
    let service = live_service(params, state)?;
    // Suspending again only updates the reason, so a retried call succeeds.
    service.status = ServiceStatus::Suspended;
    service.suspend_reason = reason;
    Ok(Reply::success("Account suspended successfully"))
}

fn unsuspend(params: &Params, state: &mut State) -> Outcome {
    let service = live_service(params, state)?;
    service.status = ServiceStatus::Active;
    service.suspend_reason = None;
    Ok(Reply::success("Account unsuspended successfully"))
}

fn terminate(params: &Params, state: &mut State) -> Outcome {
    let service = live_service(params, state)?;
    service.status = ServiceStatus::Terminated;
    Ok(Reply::success("Account terminated successfully"))
}

fn change_password(params: &Params, state: &mut State) -> Outcome {
    params.required("serviceid")?;
    let password = params.required("password")?;
    let service = live_service(params, state)?;
    service.password = password;
    Ok(Reply::success("Password changed successfully"))
}

fn change_package(params: &Params, state: &mut State) -> Outcome {
    let selected = params.optional("selected_product")?;
    let service = live_service(params, state)?;
    // The documented request carries no product: the provider then keeps
    // (resolves on its side) the current one. A product that is sent must
    // be one of the group's.
    if let Some(id) = selected {
        let product = catalogue::product(&id).ok_or_else(|| Reply::error(NO_PRODUCT_SELECTED))?;
        service.apply_product(product);
    }
    Ok(Reply::success("Package changed successfully"))
}

fn product_of(service: &ServiceRecord) -> Option<&'static Product> {
    catalogue::product(&service.product_id)
}

fn is_cpanel(service: &ServiceRecord) -> bool {
    product_of(service).is_some_and(|p| p.server_name == CPANEL)
}

fn usage(params: &Params, state: &mut State) -> Outcome {
    let service = live_service(params, state)?;
    if !is_cpanel(service) {
        return Err(Reply::error(USAGE_CPANEL_ONLY));
    }
    service.usage_reads += 1;
    // The notes: figures sit at the top level, not under `data`, and every
    // number is a string.
    Ok(Reply::ok(json!({
        "status": "success",
        "message": "Usage retrieved successfully",
        "disk_usage": {
            "used_mb": format!("{:.2}", service.disk_used_mb),
            "limit_mb": service.disk_limit_mb.to_string(),
            "percentage_used": percentage(service.disk_used_mb, service.disk_limit_mb),
        },
        "bandwidth_usage": {
            "current_month_mb": format!("{:.2}", service.bandwidth_used_mb),
            "limit_mb": service.bandwidth_limit_mb.to_string(),
            "percentage_used": percentage(service.bandwidth_used_mb, service.bandwidth_limit_mb),
        },
        "last_updated": clock::now_utc(),
    })))
}

/// `used` as a percentage of `limit`; "0.00" for an unlimited (0) limit.
fn percentage(used: f64, limit: u64) -> String {
    if limit == 0 {
        return "0.00".to_owned();
    }
    format!("{:.2}", used / limit as f64 * 100.0)
}

fn server_name(params: &Params, state: &mut State) -> Outcome {
    let service = live_service(params, state)?;
    let name = product_of(service).map_or("Unknown", |p| p.server_name);
    // The document shows no `message` for this action.
    Ok(Reply::ok(json!({"status": "success", "server_name": name})))
}

fn sso(params: &Params, state: &mut State) -> Outcome {
    let app = params.optional("app")?;
    let service = live_service(params, state)?;
    if !is_cpanel(service) {
        return Err(Reply::error(SSO_CPANEL_ONLY));
    }
    let mut url = format!(
        "https://cpanel.hostmenow.org:2083/login/?session={}:{}",
        percent_encode(&service.username),
        session_token()
    );
    if let Some(app) = app {
        url.push_str("&goto_app=");
        url.push_str(&percent_encode(&app));
    }
    // The document shows no `message` for this action.
    Ok(Reply::ok(json!({"status": "success", "url": url})))
}

/// 32 hex digits that differ on every call: enough for a fake session id.
fn session_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // Each RandomState has fresh random keys, so hashing gives unguessable bits
    // without a random-number crate.
    let high = RandomState::new().hash_one(nanos);
    let low = RandomState::new().hash_one(nanos);
    format!("{high:016x}{low:016x}")
}

/// Percent-encodes everything but unreserved URL characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(action));
        }
        assert_eq!(Action::from_name("get_products"), None);
        assert_eq!(Action::from_name("Get_Bandwidth_Disk_Usage"), None);
    }

    #[test]
    fn percentages_have_two_decimals_and_unlimited_is_zero() {
        assert_eq!(percentage(1250.5, 5000), "25.01");
        assert_eq!(percentage(3500.75, 10000), "35.01");
        assert_eq!(percentage(123.0, 0), "0.00");
    }

    #[test]
    fn session_tokens_differ() {
        let a = session_token();
        assert_eq!(a.len(), 32);
        assert_ne!(a, session_token());
    }

    #[test]
    fn percent_encoding_keeps_unreserved() {
        assert_eq!(percent_encode("Email_Accounts"), "Email_Accounts");
        assert_eq!(percent_encode("a b&c"), "a%20b%26c");
    }
}
