//! One call of a module: the function with its arguments, the answer, and
//! every way it can fail.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bindings::types::{
    ConnectionStatus, CreatedAccount, Credential, Error as ModuleError, Function, Outcome, Package,
    Service, SettingKind, SettingScope, StatusReport, Usage,
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

/// Why a call failed: either the module answered with a typed error, or the
/// host stopped or refused the call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The module answered with one of the contract's errors.
    #[error("{module}: {}", describe(error))]
    Module {
        /// The module's name.
        module: String,
        /// The typed error, with secrets removed from its message.
        error: ModuleError,
    },
    /// No module of that name is loaded.
    #[error("no module named `{0}` is loaded")]
    UnknownModule(String),
    /// The call's settings do not satisfy the module's declared settings.
    #[error("{module}: invalid settings: {message}")]
    InvalidSettings {
        /// The module's name.
        module: String,
        /// What is wrong (never a secret's value).
        message: String,
    },
    /// The guest trapped (panicked, hit `unreachable`, violated a limit).
    #[error("{module}: the module trapped: {message}")]
    Trap {
        /// The module's name.
        module: String,
        /// The trap, with secrets removed.
        message: String,
    },
    /// The call ran past its deadline and was stopped.
    #[error("{module}: stopped after its deadline of {deadline:?}")]
    DeadlineExceeded {
        /// The module's name.
        module: String,
        /// The deadline it was given.
        deadline: Duration,
    },
    /// The guest tried to grow its memory past the cap and was stopped.
    #[error("{module}: stopped for exceeding its memory cap of {cap_bytes} bytes")]
    MemoryExhausted {
        /// The module's name.
        module: String,
        /// The cap.
        cap_bytes: usize,
    },
    /// The guest wrote more to stdout or stderr than its cap and was
    /// stopped.
    #[error("{module}: stopped for writing more than its output cap of {cap_bytes} bytes")]
    OutputExceeded {
        /// The module's name.
        module: String,
        /// The cap.
        cap_bytes: usize,
    },
    /// The guest answered with more than the host accepts from it.
    #[error("{module}: answer of {bytes} bytes refused: the cap is {cap_bytes} bytes")]
    ResultTooLarge {
        /// The module's name.
        module: String,
        /// Size of the answer, as JSON.
        bytes: usize,
        /// The cap.
        cap_bytes: usize,
    },
    /// The idempotency key belongs to a call whose outcome is unknown (its
    /// host stopped, or it was cut off): repeating it blindly could act
    /// twice, so an operator checks the provider and resolves the entry.
    #[error(
        "{module}: idempotency key `{key}` belongs to journal entry {entry}, whose outcome is unknown: check the service at the provider, then resolve the entry as done or not done (`provisioning journal ack --found-done` or `--found-not-done`)"
    )]
    OutcomeUnknown {
        /// The module's name.
        module: String,
        /// The caller's key.
        key: String,
        /// The journal entry of the earlier call.
        entry: i64,
    },
    /// The same call (same key, same request) is running now and did not
    /// end within this caller's deadline: retry later to get its answer.
    #[error(
        "{module}: the call with idempotency key `{key}` is still running{}: retry later to get its answer",
        entry.map(|entry| format!(" (journal entry {entry})")).unwrap_or_default()
    )]
    InProgress {
        /// The module's name.
        module: String,
        /// The caller's key.
        key: String,
        /// The journal entry of the running call, when it is on record.
        entry: Option<i64>,
    },
    /// The request cannot be accepted as it is (an idempotency key too
    /// long or with control characters, say); nothing was sent.
    #[error("{module}: invalid request: {message}")]
    InvalidRequest {
        /// The module's name.
        module: String,
        /// What is wrong.
        message: String,
    },
    /// The idempotency key was already used for a different call.
    #[error("{module}: idempotency key `{key}` was already used for {used_for}")]
    IdempotencyConflict {
        /// The module's name.
        module: String,
        /// The caller's key.
        key: String,
        /// What the key was used for (function and service).
        used_for: String,
    },
    /// The journal could not record the call; a mutating call is not sent
    /// to the provider unless its intent is on record.
    #[error("{module}: journal failure: {message}")]
    Journal {
        /// The module's name.
        module: String,
        /// What failed.
        message: String,
    },
    /// The host could not set up or run the call.
    #[error("{module}: host failure: {message}")]
    Host {
        /// The module's name.
        module: String,
        /// What failed.
        message: String,
    },
}

impl CallError {
    /// A stable machine-readable name of the failure, e.g. `auth-failed`,
    /// `rate-limited`, `deadline-exceeded`, `trap`.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Module { error, .. } => error_kind(error),
            CallError::UnknownModule(_) => "unknown-module",
            CallError::InvalidSettings { .. } => "invalid-config",
            CallError::Trap { .. } => "trap",
            CallError::DeadlineExceeded { .. } => "deadline-exceeded",
            CallError::MemoryExhausted { .. } => "memory-exhausted",
            CallError::OutputExceeded { .. } => "output-exceeded",
            CallError::ResultTooLarge { .. } => "result-too-large",
            CallError::OutcomeUnknown { .. } => "outcome-unknown",
            CallError::InProgress { .. } => "in-progress",
            CallError::InvalidRequest { .. } => "invalid-input",
            CallError::IdempotencyConflict { .. } => "idempotency-conflict",
            CallError::Journal { .. } => "journal",
            CallError::Host { .. } => "host",
        }
    }

    /// Whether, after this failure, nobody knows if the provider acted:
    /// the call was cut off or its answer was lost. Repeating such a call
    /// blindly could act twice, so the journal keeps its idempotency key
    /// taken until an operator has checked. Every other failure is
    /// definite: the provider refused, or nothing was sent.
    pub fn leaves_provider_state_unknown(&self) -> bool {
        match self {
            CallError::Module { error, .. } => match error {
                ModuleError::Timeout(_)
                | ModuleError::Transport(_)
                | ModuleError::BadResponse(_)
                | ModuleError::Provider(_) => true,
                ModuleError::Unsupported(_)
                | ModuleError::InvalidConfig(_)
                | ModuleError::InvalidInput(_)
                | ModuleError::AuthFailed(_)
                | ModuleError::NotFound(_)
                | ModuleError::AlreadyExists(_)
                | ModuleError::InsufficientFunds(_)
                | ModuleError::RateLimited(_) => false,
            },
            CallError::Trap { .. }
            | CallError::DeadlineExceeded { .. }
            | CallError::MemoryExhausted { .. }
            | CallError::OutputExceeded { .. }
            | CallError::ResultTooLarge { .. }
            | CallError::Host { .. } => true,
            CallError::UnknownModule(_)
            | CallError::InvalidSettings { .. }
            | CallError::OutcomeUnknown { .. }
            | CallError::InProgress { .. }
            | CallError::InvalidRequest { .. }
            | CallError::IdempotencyConflict { .. }
            | CallError::Journal { .. } => false,
        }
    }

    /// The module's typed error, when the module answered with one.
    pub fn module_error(&self) -> Option<&ModuleError> {
        match self {
            CallError::Module { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A failure as every JSON output shows it: serve's call results,
/// `provisioning call --json` and `usage` lines. In JSON:
/// `{"kind": "rate-limited", "message": "...", "retry_after_seconds": 60,
/// "uncertain": false}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// The stable kind ([`CallError::kind`], or `invalid-config` and
    /// friends for a module that did not load).
    pub kind: String,
    /// For a person, secrets removed.
    pub message: String,
    /// For `rate-limited`: the provider's Retry-After, when it gave one.
    pub retry_after_seconds: Option<u32>,
    /// Whether nobody knows if the provider acted
    /// ([`CallError::leaves_provider_state_unknown`]).
    pub uncertain: bool,
}

impl ErrorReport {
    /// A failure that is not a call's (a module that did not load, say):
    /// definite, with no Retry-After.
    pub fn new(kind: &str, message: impl Into<String>) -> ErrorReport {
        ErrorReport {
            kind: kind.to_string(),
            message: message.into(),
            retry_after_seconds: None,
            uncertain: false,
        }
    }
}

impl From<&CallError> for ErrorReport {
    fn from(error: &CallError) -> ErrorReport {
        let retry_after_seconds = match error.module_error() {
            Some(ModuleError::RateLimited(limit)) => limit.retry_after_seconds,
            _ => None,
        };
        ErrorReport {
            kind: error.kind().to_string(),
            message: error.to_string(),
            retry_after_seconds,
            uncertain: error.leaves_provider_state_unknown(),
        }
    }
}

/// The contract's name for an error case (`not-found`, `timeout`...).
pub fn error_kind(error: &ModuleError) -> &'static str {
    match error {
        ModuleError::Unsupported(_) => "unsupported",
        ModuleError::InvalidConfig(_) => "invalid-config",
        ModuleError::InvalidInput(_) => "invalid-input",
        ModuleError::AuthFailed(_) => "auth-failed",
        ModuleError::NotFound(_) => "not-found",
        ModuleError::AlreadyExists(_) => "already-exists",
        ModuleError::InsufficientFunds(_) => "insufficient-funds",
        ModuleError::RateLimited(_) => "rate-limited",
        ModuleError::Provider(_) => "provider",
        ModuleError::BadResponse(_) => "bad-response",
        ModuleError::Transport(_) => "transport",
        ModuleError::Timeout(_) => "timeout",
    }
}

/// The human message of a module error.
pub fn error_message(error: &ModuleError) -> &str {
    match error {
        ModuleError::Unsupported(m)
        | ModuleError::InvalidConfig(m)
        | ModuleError::InvalidInput(m)
        | ModuleError::AuthFailed(m)
        | ModuleError::NotFound(m)
        | ModuleError::AlreadyExists(m)
        | ModuleError::InsufficientFunds(m)
        | ModuleError::Provider(m)
        | ModuleError::BadResponse(m)
        | ModuleError::Transport(m)
        | ModuleError::Timeout(m) => m,
        ModuleError::RateLimited(r) => &r.message,
    }
}

/// `kind: message`, plus the retry delay of a rate limit.
fn describe(error: &ModuleError) -> String {
    match error {
        ModuleError::RateLimited(r) => match r.retry_after_seconds {
            Some(secs) => format!("rate-limited: {} (retry after {secs} s)", r.message),
            None => format!("rate-limited: {}", r.message),
        },
        other => format!("{}: {}", error_kind(other), error_message(other)),
    }
}

/// Rewrites every message in a module error through `f` (the redactor).
pub(crate) fn map_error_message(error: ModuleError, f: impl Fn(&str) -> String) -> ModuleError {
    match error {
        ModuleError::Unsupported(m) => ModuleError::Unsupported(f(&m)),
        ModuleError::InvalidConfig(m) => ModuleError::InvalidConfig(f(&m)),
        ModuleError::InvalidInput(m) => ModuleError::InvalidInput(f(&m)),
        ModuleError::AuthFailed(m) => ModuleError::AuthFailed(f(&m)),
        ModuleError::NotFound(m) => ModuleError::NotFound(f(&m)),
        ModuleError::AlreadyExists(m) => ModuleError::AlreadyExists(f(&m)),
        ModuleError::InsufficientFunds(m) => ModuleError::InsufficientFunds(f(&m)),
        ModuleError::RateLimited(mut r) => {
            r.message = f(&r.message);
            ModuleError::RateLimited(r)
        }
        ModuleError::Provider(m) => ModuleError::Provider(f(&m)),
        ModuleError::BadResponse(m) => ModuleError::BadResponse(f(&m)),
        ModuleError::Transport(m) => ModuleError::Transport(f(&m)),
        ModuleError::Timeout(m) => ModuleError::Timeout(f(&m)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::RateLimit;

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

    #[test]
    fn an_error_report_carries_the_kind_the_retry_after_and_the_uncertainty() {
        let limited = CallError::Module {
            module: "webline".into(),
            error: ModuleError::RateLimited(RateLimit {
                retry_after_seconds: Some(60),
                message: "slow down".into(),
            }),
        };
        let report = ErrorReport::from(&limited);
        assert_eq!(report.kind, "rate-limited");
        assert_eq!(report.retry_after_seconds, Some(60));
        assert!(!report.uncertain, "the provider refused: nothing happened");
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::json!({
                "kind": "rate-limited",
                "message": "webline: rate-limited: slow down (retry after 60 s)",
                "retry_after_seconds": 60,
                "uncertain": false,
            })
        );
        let cut_off = CallError::DeadlineExceeded {
            module: "webline".into(),
            deadline: Duration::from_secs(3),
        };
        let report = ErrorReport::from(&cut_off);
        assert_eq!(report.kind, "deadline-exceeded");
        assert!(report.uncertain, "nobody knows whether the provider acted");
        assert_eq!(report.retry_after_seconds, None);
    }
}
