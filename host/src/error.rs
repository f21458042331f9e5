//! Every way a call can fail ([`CallError`]: the module's typed error, or
//! the host stopping or refusing the call), and the one JSON shape a
//! failure has ([`ErrorReport`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bindings::types::Error as ModuleError;

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
    /// Every one of the host's call slots stayed taken until the call's
    /// deadline: the call never started and nothing was sent.
    #[error(
        "{module}: not started: every call slot stayed busy until its deadline of {deadline:?}; nothing was sent, try again later"
    )]
    Busy {
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
            CallError::Busy { .. } => "busy",
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
            CallError::Module { error, .. } => module_error_leaves_state_unknown(error),
            CallError::Trap { .. }
            | CallError::DeadlineExceeded { .. }
            | CallError::MemoryExhausted { .. }
            | CallError::OutputExceeded { .. }
            | CallError::ResultTooLarge { .. }
            | CallError::Host { .. } => true,
            CallError::UnknownModule(_)
            | CallError::InvalidSettings { .. }
            | CallError::Busy { .. }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// The one table of the contract's error cases that carry a message: each
/// case with its WIT name and whether, after it, the provider's state is
/// unknown (`uncertain`: the request may have acted) or not (`definite`:
/// the provider refused, or nothing was sent). `rate-limited`, the one
/// case that carries a record, is written out beside it.
///
/// From it come [`error_kind`], [`error_message`], the redactor's rewrite
/// of a message and the module's part of
/// [`CallError::leaves_provider_state_unknown`].
macro_rules! module_error_cases {
    (@uncertain definite) => { false };
    (@uncertain uncertain) => { true };
    ($($case:ident = $name:literal, $after:ident;)*) => {
        /// The contract's name for an error case (`not-found`, `timeout`...).
        pub fn error_kind(error: &ModuleError) -> &'static str {
            match error {
                $(ModuleError::$case(_) => $name,)*
                ModuleError::RateLimited(_) => "rate-limited",
            }
        }

        /// The human message of a module error.
        pub fn error_message(error: &ModuleError) -> &str {
            match error {
                $(ModuleError::$case(message) => message,)*
                ModuleError::RateLimited(limit) => &limit.message,
            }
        }

        /// Rewrites every message in a module error through `f` (the
        /// redactor).
        pub(crate) fn map_error_message(
            error: ModuleError,
            f: impl Fn(&str) -> String,
        ) -> ModuleError {
            match error {
                $(ModuleError::$case(message) => ModuleError::$case(f(&message)),)*
                ModuleError::RateLimited(mut limit) => {
                    limit.message = f(&limit.message);
                    ModuleError::RateLimited(limit)
                }
            }
        }

        /// Whether, after the module answered this error, nobody knows if
        /// the provider acted.
        fn module_error_leaves_state_unknown(error: &ModuleError) -> bool {
            match error {
                $(ModuleError::$case(_) => module_error_cases!(@uncertain $after),)*
                // The provider asked to slow down: it did not act.
                ModuleError::RateLimited(_) => false,
            }
        }
    };
}

module_error_cases! {
    Unsupported = "unsupported", definite;
    InvalidConfig = "invalid-config", definite;
    InvalidInput = "invalid-input", definite;
    AuthFailed = "auth-failed", definite;
    NotFound = "not-found", definite;
    AlreadyExists = "already-exists", definite;
    InsufficientFunds = "insufficient-funds", definite;
    // A provider's own failure may come after it acted (a 500 once the
    // account exists); a bad or missing answer or a timeout says nothing.
    Provider = "provider", uncertain;
    BadResponse = "bad-response", uncertain;
    Transport = "transport", uncertain;
    Timeout = "timeout", uncertain;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::RateLimit;

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

    #[test]
    fn every_error_case_of_the_wit_has_its_name_and_only_failures_after_sending_are_uncertain() {
        let wit = include_str!("../../wit/provisioning.wit");
        let variant = &wit[wit.find("variant error {").unwrap()..];
        let variant = &variant[..variant.find('}').unwrap()];
        let in_wit: Vec<&str> = variant
            .lines()
            .map(str::trim)
            .filter(|line| !line.starts_with("//") && line.contains('('))
            .map(|line| &line[..line.find('(').unwrap()])
            .collect();
        let cases = [
            ModuleError::Unsupported("m".into()),
            ModuleError::InvalidConfig("m".into()),
            ModuleError::InvalidInput("m".into()),
            ModuleError::AuthFailed("m".into()),
            ModuleError::NotFound("m".into()),
            ModuleError::AlreadyExists("m".into()),
            ModuleError::InsufficientFunds("m".into()),
            ModuleError::RateLimited(RateLimit {
                retry_after_seconds: None,
                message: "m".into(),
            }),
            ModuleError::Provider("m".into()),
            ModuleError::BadResponse("m".into()),
            ModuleError::Transport("m".into()),
            ModuleError::Timeout("m".into()),
        ];
        let names: Vec<&str> = cases.iter().map(error_kind).collect();
        assert_eq!(names, in_wit, "one name per case, as the WIT spells it");
        let uncertain: Vec<&str> = cases
            .iter()
            .filter(|error| module_error_leaves_state_unknown(error))
            .map(error_kind)
            .collect();
        assert_eq!(
            uncertain,
            ["provider", "bad-response", "transport", "timeout"]
        );
        for error in cases {
            let masked = map_error_message(error, |m| format!("<{m}>"));
            assert_eq!(error_message(&masked), "<m>", "{masked:?}");
        }
    }
}
