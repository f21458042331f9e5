//! The schemas of the host's JSON types that serve's answers carry and
//! that do not describe themselves yet (a journal entry): the host
//! serializes them, and these types only
//! describe what it writes, for the document. They are held to the host's
//! real output by the tests that check every answer of the running server
//! against the document.

use utoipa::ToSchema;

/// A journal entry not acknowledged, with its credentials.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct PendingEntry {
    /// The entry's number.
    id: i64,
    /// Where it stands.
    state: EntryState,
    /// What was asked.
    intent: Intent,
    /// What it came to, when known.
    #[schema(required = true)]
    outcome: Option<JournalOutcome>,
    /// The host running (or that ran) the call, hostname:pid.
    #[schema(required = true)]
    owner: Option<String>,
    /// Until when that host vouches the call still runs (Unix ms).
    #[schema(required = true)]
    lease_until_ms: Option<i64>,
    /// An operator's finding and note, for an entry resolved by hand.
    #[schema(required = true)]
    resolution: Option<Resolution>,
    /// When the intent was recorded (Unix ms).
    started_at_ms: i64,
    /// Until when the call may still reach the provider: its start plus
    /// the module's deadline, by the journal's clock (Unix ms).
    #[schema(required = true)]
    attempt_deadline_ms: Option<i64>,
    /// Whether that deadline had passed when the entry was read. Before
    /// it, no finding is accepted (409 `attempt-running`) and reconcile
    /// decides nothing: a stalled host's call may still reach the
    /// provider.
    attempt_over: bool,
    /// When the outcome was recorded (Unix ms).
    #[schema(required = true)]
    finished_at_ms: Option<i64>,
    /// When the caller acknowledged it (Unix ms).
    #[schema(required = true)]
    acknowledged_at_ms: Option<i64>,
    /// What the provider issued (generated passwords, license keys).
    credentials: Vec<provisioning_host::types::Credential>,
}

/// Where a journal entry stands.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
#[schema(rename_all = "kebab-case")]
pub enum EntryState {
    /// Running on a live host: it cannot be acknowledged yet.
    InFlight,
    /// Nobody knows whether the provider acted: check it there, then
    /// acknowledge with a finding.
    Unknown,
    /// The outcome is recorded; a caller may not have received it
    /// (credentials included).
    Answered,
    /// The caller has the answer.
    Acknowledged,
}

/// What a journal entry asked.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct Intent {
    /// The module called.
    module: String,
    /// The contract function.
    function: provisioning_host::wire::Function,
    /// The service the request names, if any.
    #[schema(required = true)]
    service_id: Option<String>,
    /// The caller's idempotency key (or a generated one).
    idempotency_key: String,
    /// The request, secrets masked.
    input: provisioning_host::Request,
}

/// What a journaled call came to: the answer as `ok` or the failure as
/// `error`. (Not the contract's `Outcome`, a mutating function's answer:
/// the document's schemas share one namespace.)
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct JournalOutcome {
    /// Whether the module answered successfully.
    succeeded: bool,
    /// `ok`, or the error's kind.
    kind: String,
    /// Whether the failure leaves the provider's state unknown.
    uncertain: bool,
    /// The sha256 of the module version that answered, when one did.
    #[schema(required = true)]
    module_digest: Option<String>,
    /// The answer, secrets removed and credentials masked.
    ok: Option<provisioning_host::Response>,
    /// Why there is none.
    error: Option<Failure>,
}

/// Why a journaled call has no answer.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct Failure {
    /// The error's kind.
    kind: String,
    /// What happened, secrets removed.
    message: String,
}

/// An operator's resolution of an unknown entry.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
pub struct Resolution {
    /// What they found.
    finding: Finding,
    /// What they wrote down.
    #[schema(required = true)]
    note: Option<String>,
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
