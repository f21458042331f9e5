//! The body of every answer of the API, one type each: what the handlers
//! serialize, and what the OpenAPI document describes (utoipa derives the
//! schemas from these types, so the two cannot drift apart). The error
//! body is in [`crate::error`], the last reload's in [`crate::observe`].
//!
//! The host's own JSON types an answer carries (a module's info, a call's
//! answer or error, a usage report) bring their schemas with them
//! (`provisioning_host::wire`, the reconcile report's, the journal's
//! entries).

use provisioning_host::journal::PendingCall;
use provisioning_host::logging::redact_live;
use provisioning_host::reconcile::Reconciliation;
use provisioning_host::types::ModuleInfo;
use provisioning_host::{
    ErrorReport, LoadedModule, ModuleLoadError, Response, SyncSummary, UsageReport,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::observe::{LastReload, LastReloadWithReason};

/// `GET /v1/health/live`: the process answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Live {
    /// Always `live`.
    pub status: LiveStatus,
}

/// The one state liveness answers.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LiveStatus {
    /// The process answers.
    Live,
}

/// `GET /v1/health`: whether the host serves, how many modules it has
/// loaded and how many of the manifest's modules are not ready.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `degraded` when some module of the manifest is not ready; the
    /// loaded ones serve either way.
    pub status: HealthStatus,
    /// Modules loaded and serving.
    pub modules: usize,
    /// Modules of the manifest that did not load (`GET /v1/modules` says
    /// why).
    pub not_ready: usize,
    /// As in readiness (null until the first reload), with the reason:
    /// why each refusal happened (files and modules named, secrets
    /// masked), null when nothing was refused.
    #[schema(required = true)]
    pub last_reload: Option<LastReloadWithReason>,
}

/// [`Health::status`].
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HealthStatus {
    /// Every module of the manifest is loaded.
    Ok,
    /// Some module of the manifest did not load.
    Degraded,
}

/// `GET /v1/health/ready`: ready when every module of the manifest is
/// loaded and the journal (if any) takes writes.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Whether the server is ready (200) or not (503).
    pub ready: bool,
    /// How many modules are loaded and how many are not ready.
    pub modules: ModuleCounts,
    /// Whether the journal takes writes.
    pub journal: JournalReadiness,
    /// null until the first reload. Refused: the manifest could not be
    /// read, a module's new version was refused, or the TLS certificate
    /// was (the old ones keep serving). States and counts only: the reason
    /// is in the log and behind the token (`GET /v1/health`).
    #[schema(required = true)]
    pub last_reload: Option<LastReload>,
}

/// [`Ready::modules`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleCounts {
    /// Modules loaded and serving.
    pub loaded: usize,
    /// Modules of the manifest that did not load.
    pub not_ready: usize,
}

/// [`Ready::journal`]: `{"configured": false}` without a journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct JournalReadiness {
    /// Whether the manifest has a journal.
    pub configured: bool,
    /// With a journal: whether it took its latest write probe (a real
    /// write, which a full disk or a read-only file fails) and answered
    /// the latest within a second. Read from values the host keeps, never
    /// by waiting behind the journal's writers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writable: Option<bool>,
    /// With a journal: how long ago `writable` was judged (null before
    /// the first probe).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_seconds_ago: Option<Option<f64>>,
}

/// `GET /v1/modules/{module}`: one loaded module.
#[derive(Debug, Serialize, ToSchema)]
pub struct Module {
    /// The module's name in the manifest.
    pub name: String,
    /// Always true: the module is loaded and serving.
    pub ready: bool,
    /// sha256 of the component file, hex.
    pub digest: String,
    /// The origins the module may reach.
    pub allowed_hosts: Vec<String>,
    /// The module's own description (the contract's module-info).
    #[serde(with = "provisioning_host::wire::as_json")]
    pub info: ModuleInfo,
}

impl Module {
    /// A loaded module as the API shows it.
    pub fn of(module: &LoadedModule) -> Module {
        Module {
            name: module.name().to_string(),
            ready: true,
            digest: module.digest().to_string(),
            allowed_hosts: module
                .policy()
                .origins()
                .iter()
                .map(ToString::to_string)
                .collect(),
            info: module.info().clone(),
        }
    }
}

/// `GET /v1/modules`: every module of the manifest, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleList {
    /// The loaded modules and those that did not load.
    pub modules: Vec<ModuleStatus>,
}

/// A loaded module (`ready: true`, as `GET /v1/modules/{module}` shows
/// it) or one that did not load (`ready: false`, with why).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ModuleStatus {
    /// Loaded and serving.
    Ready(Module),
    /// Did not load.
    NotReady(NotReadyModule),
}

/// A module of the manifest that did not load.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotReadyModule {
    /// The module's name in the manifest.
    pub name: String,
    /// Always false.
    pub ready: bool,
    /// Why it did not load.
    pub error: LoadFailure,
}

impl NotReadyModule {
    /// A failed module as the API lists it.
    pub fn of(failure: &ModuleLoadError) -> NotReadyModule {
        NotReadyModule {
            name: failure.module.clone(),
            ready: false,
            error: LoadFailure::of(failure),
        }
    }
}

/// Why a module did not load. Never holds a secret's value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoadFailure {
    /// `invalid-config`: the entry does not resolve (an environment
    /// variable not set, a secret file missing...) or its settings were
    /// refused; `load-failed`: the component did not load (missing, not a
    /// component, another digest than the pinned one, an import the host
    /// does not grant...).
    #[schema(value_type = String, example = "load-failed")]
    pub kind: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl LoadFailure {
    /// A load failure, its message masked.
    pub fn of(failure: &ModuleLoadError) -> LoadFailure {
        LoadFailure {
            kind: failure.kind.as_str(),
            message: redact_live(&failure.message),
        }
    }
}

/// `POST /v1/modules/{module}/call`: the call ran; exactly one of `ok`
/// and `error` is present.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallResult {
    /// The journal entry of a mutating call: acknowledge it once the
    /// answer (and any credentials) are stored.
    #[schema(required = true)]
    pub journal_entry: Option<i64>,
    /// The version of the module that answered.
    #[schema(required = true)]
    pub module_digest: Option<String>,
    /// The recorded answer of an earlier call with the same idempotency
    /// key.
    pub replayed: bool,
    /// Whether what this answer says is on record in the journal. False
    /// for a call that is not journaled (a read, no journal), and for a
    /// mutating call whose outcome the journal did not take when it ended
    /// (down, full, locked): the host keeps it in memory, credentials
    /// sealed, and writes it once the journal takes it; until then
    /// acknowledging the entry answers 409 `not-journaled`, and a repeat
    /// of the key on this host is answered from memory.
    pub journaled: bool,
    /// The answer or the typed error.
    #[serde(flatten)]
    pub outcome: CallOutcome,
}

/// A call's answer (`"ok": ...`) or its typed error (`"error": ...`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The function's answer.
    Ok(Response),
    /// Why the call has no answer.
    Error(ErrorReport),
}

/// `POST /v1/usage`: every service's figures or its typed error, and the
/// summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageAnswer {
    /// One per service, in the order of `services`.
    pub results: Vec<UsageReport>,
    /// Over every service.
    pub summary: SyncSummary,
}

/// `GET /v1/journal/pending`: the journal entries not acknowledged.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingList {
    /// Oldest first.
    pub pending: Vec<PendingCall>,
}

/// `GET /v1/modules/{module}/services/{service}/pending`: one service's
/// journal entries not acknowledged.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServicePendingList {
    /// The module.
    pub module: String,
    /// The contract's `service_id`.
    pub service_id: String,
    /// Oldest first, as `GET /v1/journal/pending` gives them.
    pub pending: Vec<PendingCall>,
}

/// `GET /v1/modules/{module}/services/{service}/remote-id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceRemoteId {
    /// The module.
    pub module: String,
    /// The contract's `service_id`.
    pub service_id: String,
    /// The provider's id of the account the newest successful create
    /// made (or an operator found); null when no create succeeded here.
    #[schema(required = true)]
    pub remote_id: Option<String>,
    /// The domain the create named (null when it named none, or no create
    /// succeeded).
    #[schema(required = true)]
    pub domain: Option<String>,
    /// Whether a terminate of the service succeeded after that create
    /// (false when no create succeeded).
    pub terminated: bool,
}

/// `POST /v1/journal/{entry}/ack`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Acknowledged {
    /// The entry acknowledged.
    pub acknowledged: i64,
}

/// `POST /v1/journal/reconcile`: what the pass did, entry by entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconcileReport {
    /// How many entries were resolved (done or not done).
    pub resolved: usize,
    /// Every unknown entry looked at, oldest first.
    pub entries: Vec<Reconciliation>,
}
