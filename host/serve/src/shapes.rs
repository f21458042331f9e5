//! The schemas of the host's own JSON types that serve's answers and
//! request bodies carry (a module's info, a call's answer, a journal
//! entry, a usage report): the host serializes them, and these types only
//! describe what it writes, for the document. They are held to the host's
//! real output by the tests that check every answer of the running server
//! against the document.

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::ToSchema;

/// The module's own description (the contract's module-info).
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct ModuleInfo {
    /// The module's stable id.
    id: String,
    /// Its name, for a person.
    name: String,
    /// Its version.
    version: String,
    /// The contract functions it offers.
    functions: Vec<String>,
    /// The settings it declares.
    settings: Vec<SettingDeclaration>,
    /// The hosts it says it reaches.
    outbound_hosts: Vec<String>,
}

/// A setting a module declares.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct SettingDeclaration {
    /// Its name.
    name: String,
    /// Its label, for a person.
    label: String,
    /// What kind of value it takes.
    kind: Value,
    /// Server (the manifest's) or product (a call's).
    scope: Value,
    /// Whether it must be given.
    required: bool,
    /// Its default, if any.
    default: Option<String>,
    /// Help, for a person.
    help: Option<String>,
    /// The values it may take, when it is a choice.
    choices: Option<Value>,
}

/// A call's answer: `{"kind": connection|created|done|usage|packages|
/// sign-on|status|accounts, "value": ...}`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct Response {
    /// Which kind of answer.
    #[schema(example = "created")]
    kind: String,
    /// The answer of that kind.
    value: Value,
}

/// A call's answer (`"ok": ...`) or its typed error (`"error": ...`).
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
#[schema(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The function's answer.
    Ok(Response),
    /// Why the call has no answer.
    Error(CallError),
}

/// Why a call has no answer, as every JSON output shows it.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct CallError {
    /// Stable machine-readable kind: the contract's (unsupported,
    /// invalid-config, invalid-input, auth-failed, not-found,
    /// already-exists, insufficient-funds, rate-limited, provider,
    /// bad-response, transport, timeout) or the host's (trap,
    /// deadline-exceeded, busy, memory-exhausted, output-exceeded,
    /// result-too-large, unknown-module, module-not-ready,
    /// outcome-unknown, in-progress, idempotency-conflict, journal, host).
    /// `invalid-input` also names a request the host refuses unsent (an
    /// idempotency key over 255 bytes or with control characters,
    /// per-call settings other than the module's product settings).
    kind: String,
    /// For a person; never holds a secret.
    message: String,
    /// For `rate-limited`: the provider's Retry-After, when it gave one.
    retry_after_seconds: Option<u32>,
    /// Whether nobody knows if the provider acted (the call was cut off or
    /// its answer lost); its journal entry is then unknown until an
    /// operator resolves it.
    uncertain: bool,
}

/// What was learnt of one service, as `provisioning usage` prints its
/// lines: exactly one of `ok` and `error`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct UsageReport {
    /// The module.
    module: String,
    /// The platform's service id.
    service_id: String,
    /// The contract's usage: `{"figures": [{"name", "unit", "used",
    /// "limit"}], "updated_at"}`.
    ok: Option<Usage>,
    /// Why there are no figures.
    error: Option<CallError>,
    /// Calls made for this service (0 when none was; the host's own
    /// retries within one call count once).
    attempts: u32,
    /// From the first call to the final answer, retry waits included.
    elapsed_ms: u64,
}

/// The contract's usage figures.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct Usage {
    /// One per measured resource.
    figures: Vec<UsageFigure>,
    /// When the provider measured them.
    updated_at: Option<Value>,
}

/// One measured resource.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct UsageFigure {
    /// What is measured.
    name: String,
    /// In what unit.
    unit: String,
    /// How much is used.
    used: f64,
    /// The limit: a value, or unlimited.
    limit: Value,
}

/// What a whole usage read came to.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct UsageSummary {
    /// Services reported on.
    services: usize,
    /// Services by outcome: `ok` or the error's kind, e.g. `{"ok": 498,
    /// "unsupported": 2}`.
    outcomes: BTreeMap<String, usize>,
    /// Calls made, over every service.
    calls: u64,
    /// Wall-clock time of the whole read.
    elapsed_ms: u64,
    /// Calls made per second.
    calls_per_second: f64,
}

/// A journal entry not acknowledged, with its credentials.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct PendingEntry {
    /// The entry's number.
    id: i64,
    /// `in-flight` (running on a live host), `answered` (a caller may not
    /// have received the answer; credentials included) or `unknown`
    /// (nobody knows whether the provider acted: check it there, then
    /// acknowledge with a finding).
    #[schema(example = "answered")]
    state: String,
    /// What was asked: module, function, idempotency key, input (secrets
    /// removed).
    intent: Intent,
    /// What it came to, when known: succeeded, kind (`ok` or the error's),
    /// uncertain (the failure left the provider's state unknown), summary.
    outcome: Option<Value>,
    /// The host running (or that ran) the call, hostname:pid.
    owner: Option<String>,
    /// Until when that host vouches the call still runs (Unix ms).
    lease_until_ms: Option<i64>,
    /// Until when the call may still reach the provider: its start plus
    /// the module's deadline, by the journal's clock (Unix ms).
    attempt_deadline_ms: Option<i64>,
    /// Whether that deadline had passed when the entry was read. Before
    /// it, no finding is accepted (409 `attempt-running`) and reconcile
    /// decides nothing: a stalled host's call may still reach the
    /// provider.
    attempt_over: bool,
    /// An operator's finding (done or not-done) and note.
    resolution: Option<Value>,
    /// What the provider issued (generated passwords, license keys).
    credentials: Vec<Credential>,
}

/// What a journal entry asked.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct Intent {
    /// The module called.
    module: String,
    /// The contract function.
    function: String,
    /// The caller's idempotency key, if any.
    idempotency_key: Option<String>,
    /// The call's input, secrets removed.
    input: Value,
}

/// A credential a provider issued.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct Credential {
    /// What it is.
    name: String,
    /// Its value.
    value: String,
    /// Whether it is a secret.
    secret: bool,
}

/// One unknown entry and what reconciling it came to.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct Reconciliation {
    /// The journal entry.
    entry: i64,
    /// Its module.
    module: String,
    /// Its contract function.
    function: String,
    /// The platform's service id.
    service_id: Option<String>,
    /// `done`, `not-done` or `undecided` (the entry stays for an
    /// operator).
    verdict: Verdict,
    /// For a create-account found done: the account's provider id.
    remote_id: Option<String>,
    /// What the provider showed (done, not-done).
    evidence: Option<String>,
    /// Why the entry stays for an operator (undecided).
    reason: Option<String>,
}

/// What the provider's state says about a call.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
#[schema(rename_all = "kebab-case")]
pub enum Verdict {
    /// The call took effect.
    Done,
    /// The call did not take effect.
    NotDone,
    /// The provider's state cannot tell.
    Undecided,
}

/// A per-call setting.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct Setting {
    /// The setting's name, as the module declares it.
    name: String,
    /// Its value.
    value: String,
}

/// One service, as a line of `provisioning usage --services`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct UsageJob {
    /// The module's name in the manifest.
    module: String,
    /// The service record as in a call's `request.service`: service_id,
    /// and optionally remote_id, domain, username, password, package,
    /// billing_cycle, client and custom_fields.
    service: Value,
    /// Per-call settings (the product's), overriding the module's
    /// configured settings by name; as for a call, only the module's
    /// product-scope settings (else this service's result is
    /// `invalid-input`).
    settings: Option<Vec<Setting>>,
}

/// What an operator found at the provider.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
#[schema(rename_all = "kebab-case")]
pub enum Finding {
    /// The call took effect.
    Done,
    /// The call did not take effect.
    NotDone,
}
