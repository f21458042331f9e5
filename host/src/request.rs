//! One call of a module as Rust sees it: the function with its arguments
//! ([`Request`]), the answer ([`Response`]), and the one table of the
//! contract's functions ([`FUNCTIONS`]). How a call fails is in
//! [`crate::error`].

use serde::{Deserialize, Serialize};

use crate::bindings::types::{
    ConnectionStatus, CreatedAccount, Credential, Function, Outcome, Package, Service,
    ServiceState, SettingKind, SettingScope, StatusReport, Usage,
};

/// A function of the contract with its arguments (the call's settings travel
/// separately, see [`crate::Host::call_with`]).
///
/// In JSON: `{"function": "suspend", "service": {...}, "reason": "unpaid"}`.
/// What the contract makes optional may be left out: a service's `option`
/// fields and its `custom_fields` (empty), `reason` and `app`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "function", rename_all = "kebab-case")]
pub enum Request {
    /// Checks the settings reach and authenticate with the provider.
    TestConnection,
    /// Creates the service.
    CreateAccount {
        /// The service to create.
        #[serde(deserialize_with = "service_with_defaults")]
        service: Service,
    },
    /// Suspends the service.
    Suspend {
        /// The service.
        #[serde(deserialize_with = "service_with_defaults")]
        service: Service,
        /// The platform's reason, when it has one.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Lifts a suspension.
    Unsuspend {
        /// The service.
        #[serde(deserialize_with = "service_with_defaults")]
        service: Service,
    },
    /// Removes the service for good.
    Terminate {
        /// The service.
        #[serde(deserialize_with = "service_with_defaults")]
        service: Service,
    },
    /// Sets a new password.
    ChangePassword {
        /// The service (its `password` is the old one, when known).
        #[serde(deserialize_with = "service_with_defaults")]
        service: Service,
        /// The new password.
        new_password: String,
    },
    /// Moves the service to another package.
    ChangePackage {
        /// The service.
        #[serde(deserialize_with = "service_with_defaults")]
        service: Service,
        /// The provider's id of the new package.
        new_package: String,
    },
    /// Moves the service to another domain.
    ChangeDomain {
        /// The service (its `domain` is the current one).
        #[serde(deserialize_with = "service_with_defaults")]
        service: Service,
        /// The new domain.
        new_domain: String,
    },
    /// Reads resource usage.
    UsageData {
        /// The service.
        #[serde(deserialize_with = "service_with_defaults")]
        service: Service,
    },
    /// Lists the packages on offer.
    ListPackages,
    /// Makes a control-panel login URL.
    SingleSignOn {
        /// The service.
        #[serde(deserialize_with = "service_with_defaults")]
        service: Service,
        /// The control-panel application to open, if any.
        #[serde(default)]
        app: Option<String>,
    },
    /// Reads where the service stands.
    ServiceStatus {
        /// The service.
        #[serde(deserialize_with = "service_with_defaults")]
        service: Service,
    },
}

/// Reads a service record from JSON (or any serde format), taking what the
/// contract makes optional as absent: every `option` field (serde's own
/// rule) and `custom_fields`, a list, as empty. The one reading of a
/// service: [`Request`] and [`crate::UsageJob`] both go through it.
pub(crate) fn service_with_defaults<'de, D>(deserializer: D) -> Result<Service, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    let mut value = serde_json::Value::deserialize(deserializer)?;
    if let Some(service) = value.as_object_mut() {
        service
            .entry("custom_fields")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    }
    Service::deserialize(value).map_err(D::Error::custom)
}

impl Request {
    /// The contract function this request calls.
    pub fn function(&self) -> Function {
        match self {
            Request::TestConnection => Function::TestConnection,
            Request::CreateAccount { .. } => Function::CreateAccount,
            Request::Suspend { .. } => Function::Suspend,
            Request::Unsuspend { .. } => Function::Unsuspend,
            Request::Terminate { .. } => Function::Terminate,
            Request::ChangePassword { .. } => Function::ChangePassword,
            Request::ChangePackage { .. } => Function::ChangePackage,
            Request::ChangeDomain { .. } => Function::ChangeDomain,
            Request::UsageData { .. } => Function::UsageData,
            Request::ListPackages => Function::ListPackages,
            Request::SingleSignOn { .. } => Function::SingleSignOn,
            Request::ServiceStatus { .. } => Function::ServiceStatus,
        }
    }

    /// Whether the request changes something at the provider. Mutating
    /// calls are journaled and never retried by the host.
    pub fn is_mutating(&self) -> bool {
        function_effect(self.function()) == Effect::Change
    }

    /// Whether the request only reads, so that repeating it after a
    /// transient failure cannot change anything. Single sign-on is left
    /// out: each call may mint a one-time login.
    pub fn is_safe_to_repeat(&self) -> bool {
        function_effect(self.function()) == Effect::Read
    }

    /// The service the request acts on, if any.
    pub fn service(&self) -> Option<&Service> {
        match self {
            Request::TestConnection | Request::ListPackages => None,
            Request::CreateAccount { service }
            | Request::Suspend { service, .. }
            | Request::Unsuspend { service }
            | Request::Terminate { service }
            | Request::ChangePassword { service, .. }
            | Request::ChangePackage { service, .. }
            | Request::ChangeDomain { service, .. }
            | Request::UsageData { service }
            | Request::SingleSignOn { service, .. }
            | Request::ServiceStatus { service } => Some(service),
        }
    }

    /// The service the request acts on, to fill in what the platform has
    /// learnt since (the provider's remote id, say).
    pub fn service_mut(&mut self) -> Option<&mut Service> {
        match self {
            Request::TestConnection | Request::ListPackages => None,
            Request::CreateAccount { service }
            | Request::Suspend { service, .. }
            | Request::Unsuspend { service }
            | Request::Terminate { service }
            | Request::ChangePassword { service, .. }
            | Request::ChangePackage { service, .. }
            | Request::ChangeDomain { service, .. }
            | Request::UsageData { service }
            | Request::SingleSignOn { service, .. }
            | Request::ServiceStatus { service } => Some(service),
        }
    }

    /// Secret values the request carries (passwords), for the redactor.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        let mut secrets: Vec<&str> = self
            .service()
            .and_then(|s| s.password.as_deref())
            .into_iter()
            .collect();
        if let Request::ChangePassword { new_password, .. } = self {
            secrets.push(new_password);
        }
        secrets
    }
}

/// The successful answer of a call, one case per kind of result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum Response {
    /// From test-connection.
    Connection(ConnectionStatus),
    /// From create-account.
    Created(CreatedAccount),
    /// From suspend, unsuspend, terminate, change-password, change-package,
    /// change-domain.
    Done(Outcome),
    /// From usage-data.
    Usage(Usage),
    /// From list-packages.
    Packages(Vec<Package>),
    /// From single-sign-on: the login URL.
    SignOn(String),
    /// From service-status.
    Status(StatusReport),
}

impl Response {
    /// The credentials the answer hands over (generated passwords, license
    /// keys), which the provider may show only once.
    pub fn credentials(&self) -> &[Credential] {
        match self {
            Response::Created(created) => &created.credentials,
            Response::Done(outcome) => &outcome.credentials,
            _ => &[],
        }
    }

    /// The credentials, to fill in or mask.
    pub(crate) fn credentials_mut(&mut self) -> Option<&mut Vec<Credential>> {
        match self {
            Response::Created(created) => Some(&mut created.credentials),
            Response::Done(outcome) => Some(&mut outcome.credentials),
            _ => None,
        }
    }
}

/// What calling a function does at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Only reads: repeating it after a transient failure changes nothing,
    /// so the host may try it again.
    Read,
    /// Reads, but may mint something each time (a one-time login): not
    /// journaled, never repeated by the host.
    OneTimeRead,
    /// Changes something at the provider: journaled, never repeated by the
    /// host.
    Change,
}

/// Every function of the contract with its (kebab-case) name and its
/// effect: the one table the host's facts about functions come from.
pub const FUNCTIONS: &[(Function, &str, Effect)] = &[
    (Function::TestConnection, "test-connection", Effect::Read),
    (Function::CreateAccount, "create-account", Effect::Change),
    (Function::Suspend, "suspend", Effect::Change),
    (Function::Unsuspend, "unsuspend", Effect::Change),
    (Function::Terminate, "terminate", Effect::Change),
    (Function::ChangePassword, "change-password", Effect::Change),
    (Function::ChangePackage, "change-package", Effect::Change),
    (Function::ChangeDomain, "change-domain", Effect::Change),
    (Function::UsageData, "usage-data", Effect::Read),
    (Function::ListPackages, "list-packages", Effect::Read),
    (
        Function::SingleSignOn,
        "single-sign-on",
        Effect::OneTimeRead,
    ),
    (Function::ServiceStatus, "service-status", Effect::Read),
];

fn function_entry(function: Function) -> &'static (Function, &'static str, Effect) {
    FUNCTIONS
        .iter()
        .find(|(f, _, _)| *f == function)
        .expect("FUNCTIONS lists every function of the contract (tested)")
}

/// The contract's (kebab-case) name of a function, e.g. `create-account`.
pub fn function_name(function: Function) -> &'static str {
    function_entry(function).1
}

/// What calling a function does at the provider.
pub fn function_effect(function: Function) -> Effect {
    function_entry(function).2
}

/// The contract's name of a setting's kind: `text`, `secret`, `number`,
/// `boolean` or `choice`.
pub fn setting_kind_name(kind: SettingKind) -> &'static str {
    match kind {
        SettingKind::Text => "text",
        SettingKind::Secret => "secret",
        SettingKind::Number => "number",
        SettingKind::Boolean => "boolean",
        SettingKind::Choice => "choice",
    }
}

/// The contract's name of a setting's scope: `server` or `product`.
pub fn setting_scope_name(scope: SettingScope) -> &'static str {
    match scope {
        SettingScope::Server => "server",
        SettingScope::Product => "product",
    }
}

/// The contract's name of a service's state: `pending`, `active`,
/// `suspended`, `terminated`, `failed` or `unknown`.
pub fn service_state_name(state: ServiceState) -> &'static str {
    match state {
        ServiceState::Pending => "pending",
        ServiceState::Active => "active",
        ServiceState::Suspended => "suspended",
        ServiceState::Terminated => "terminated",
        ServiceState::Failed => "failed",
        ServiceState::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_table_lists_every_function_once_with_its_wit_name() {
        // Every name appears in the contract as a function of the module
        // interface, and every function there appears here once.
        let wit = include_str!("../../wit/provisioning.wit");
        for (function, name, _) in FUNCTIONS {
            assert!(
                wit.contains(&format!("    {name}: func(")),
                "{name} is not in the WIT"
            );
            assert_eq!(
                FUNCTIONS.iter().filter(|(f, _, _)| f == function).count(),
                1,
                "{name} is listed once"
            );
        }
        let in_wit = wit
            .lines()
            .filter(|line| line.starts_with("    ") && line.contains(": func("))
            .filter(|line| !line.trim_start().starts_with("info:"))
            .count();
        assert_eq!(
            in_wit,
            FUNCTIONS.len(),
            "every function of the WIT is in the table"
        );
        assert!(Request::ListPackages.is_safe_to_repeat());
        assert!(!Request::ListPackages.is_mutating());
    }
}
