//! The schemas of the host's JSON types that serve's answers carry and
//! that do not describe themselves yet (a journal entry, a
//! reconciliation): the host serializes them, and these types only
//! describe what it writes, for the document. They are held to the host's
//! real output by the tests that check every answer of the running server
//! against the document.

use serde_json::Value;
use utoipa::ToSchema;

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
    credentials: Vec<provisioning_host::types::Credential>,
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
