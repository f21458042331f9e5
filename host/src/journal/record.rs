//! What the journal keeps of one call: its intent, its outcome, who runs
//! it, and what an operator found when nobody knew how it ended.

use serde::{Deserialize, Serialize};

use crate::request::{Request, Response};

/// A journal entry's number.
pub type EntryId = i64;

/// The longest idempotency key (and service id) the journal records, in
/// bytes: a key names a request, it does not carry data.
pub const MAX_KEY_BYTES: usize = 255;

/// `$type`'s schema in serve's document is the schema of `$json`, the
/// type it serializes through.
macro_rules! described_by {
    ($type:ty, $json:ty) => {
        impl utoipa::PartialSchema for $type {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <$json as utoipa::PartialSchema>::schema()
            }
        }

        impl utoipa::ToSchema for $type {
            fn name() -> std::borrow::Cow<'static, str> {
                <$json as utoipa::ToSchema>::name()
            }

            fn schemas(
                schemas: &mut Vec<(
                    String,
                    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
                )>,
            ) {
                <$json as utoipa::ToSchema>::schemas(schemas)
            }
        }
    };
}

/// What is known of a call before it reaches the module. In JSON:
/// `module`, `function`, `service_id`, `idempotency_key` and `input`.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// The module's name.
    pub module: String,
    /// The caller's key (or a generated one): unique per module.
    pub idempotency_key: String,
    /// The request, secrets masked.
    pub input: Request,
    /// A keyed digest of the whole request, secrets included (never the
    /// secrets themselves): a repeated key with another request is told
    /// apart by it. `None` on entries written before digests were kept.
    pub request_digest: Option<String>,
}

impl Intent {
    /// The contract function the request calls, e.g. `create-account`.
    pub fn function(&self) -> &'static str {
        crate::request::function_name(self.input.function())
    }

    /// The platform's service id, when the request names a service.
    pub fn service_id(&self) -> Option<&str> {
        self.input
            .service()
            .map(|service| service.service_id.as_str())
    }
}

/// An [`Intent`] as it reads in JSON (serve's journal routes, `journal
/// pending --json`): the function and service id spelled out beside the
/// request they come from.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Intent)]
struct IntentJson<'a> {
    /// The module's name.
    module: &'a str,
    /// The contract function the request calls.
    #[schema(value_type = crate::wire::Function)]
    function: &'a str,
    /// The platform's service id, when the request names a service.
    #[schema(required = true)]
    service_id: Option<&'a str>,
    /// The caller's key (or a generated one).
    idempotency_key: &'a str,
    /// The request, secrets masked.
    input: &'a Request,
}

described_by!(Intent, IntentJson<'static>);

impl Serialize for Intent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        IntentJson {
            module: &self.module,
            function: self.function(),
            service_id: self.service_id(),
            idempotency_key: &self.idempotency_key,
            input: &self.input,
        }
        .serialize(serializer)
    }
}

/// What a call came to. In JSON: `succeeded`, `kind`, `uncertain`,
/// `module_digest`, and the answer as `ok` or the failure as `error`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    /// The module's answer, secrets removed and credentials masked, or why
    /// there is none.
    pub answer: Result<Response, Failure>,
    /// Whether the failure leaves the provider's state unknown (the call
    /// was cut off or its answer lost), so that repeating it blindly could
    /// act twice. Always false for a success.
    pub uncertain: bool,
    /// The sha256 of the module version that answered, when a module did
    /// (`None` for an operator's finding, a call cut off, and entries
    /// written before it was kept): a replay of the key names it too.
    pub module_digest: Option<String>,
    /// The issued credentials, sealed; `None` when there were none or they
    /// were destroyed on acknowledgement.
    pub sealed_credentials: Option<Vec<u8>>,
}

impl CallOutcome {
    /// Whether the module answered successfully.
    pub fn succeeded(&self) -> bool {
        self.answer.is_ok()
    }

    /// `ok`, or the error's kind (`rate-limited`, `deadline-exceeded`...).
    pub fn kind(&self) -> &str {
        match &self.answer {
            Ok(_) => "ok",
            Err(failure) => &failure.kind,
        }
    }
}

/// A [`CallOutcome`] as it reads in JSON: the answer as `ok` or the
/// failure as `error`, with the two facts a reader wants first. (Named
/// `JournalOutcome` in serve's document, apart from the contract's
/// `outcome`.)
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = JournalOutcome)]
struct CallOutcomeJson<'a> {
    /// Whether the module answered successfully.
    succeeded: bool,
    /// `ok`, or the error's kind.
    kind: &'a str,
    /// Whether the failure leaves the provider's state unknown.
    uncertain: bool,
    /// The sha256 of the module version that answered, when one did.
    #[schema(required = true)]
    module_digest: Option<&'a str>,
    /// The answer, secrets removed and credentials masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    ok: Option<&'a Response>,
    /// Why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a Failure>,
}

described_by!(CallOutcome, CallOutcomeJson<'static>);

impl Serialize for CallOutcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        CallOutcomeJson {
            succeeded: self.succeeded(),
            kind: self.kind(),
            uncertain: self.uncertain,
            module_digest: self.module_digest.as_deref(),
            ok: self.answer.as_ref().ok(),
            error: self.answer.as_ref().err(),
        }
        .serialize(serializer)
    }
}

/// Why a call has no answer, as the journal keeps it: the error's kind and
/// its message, secrets removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Failure {
    /// The error's kind (`rate-limited`, `deadline-exceeded`...).
    pub kind: String,
    /// What happened, for people.
    pub message: String,
}

/// Where an entry stands. Derived from what is recorded and the clock
/// ([`EntryState::of`]), never stored, so that a host that died cannot
/// leave a state behind that is no longer true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EntryState {
    /// The call is running on a live host (its lease is current): wait
    /// for it; it cannot be acknowledged yet.
    InFlight,
    /// Nobody knows whether the provider acted: the host running it
    /// stopped (its lease ran out), or the call was cut off or its answer
    /// lost. An operator checks the provider and records a [`Finding`].
    Unknown,
    /// The outcome is recorded; the caller has not acknowledged it yet.
    Answered,
    /// The caller has the answer (or an operator resolved the entry);
    /// sealed credentials are destroyed.
    Acknowledged,
}

impl EntryState {
    /// The state of an entry with this outcome, acknowledgement and lease
    /// at `now_ms`.
    pub fn of(
        outcome: Option<&CallOutcome>,
        acknowledged: bool,
        lease_until_ms: Option<i64>,
        now_ms: i64,
    ) -> EntryState {
        match outcome {
            _ if acknowledged => EntryState::Acknowledged,
            None if running(false, lease_until_ms, now_ms) => EntryState::InFlight,
            None => EntryState::Unknown,
            Some(outcome) if outcome.uncertain => EntryState::Unknown,
            Some(_) => EntryState::Answered,
        }
    }

    /// The word used in tables, logs and JSON: `in-flight`, `unknown`,
    /// `answered`, `acknowledged`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::InFlight => "in-flight",
            EntryState::Unknown => "unknown",
            EntryState::Answered => "answered",
            EntryState::Acknowledged => "acknowledged",
        }
    }
}

impl std::fmt::Display for EntryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operator found at the provider for a call whose outcome was
/// unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Finding {
    /// The call did take effect: the entry becomes the call's outcome, and
    /// the next call with its key is answered with it.
    Done,
    /// The call did not take effect: its key is freed, and the next call
    /// with it runs.
    NotDone,
}

impl Finding {
    /// `done` or `not-done`.
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::Done => "done",
            Finding::NotDone => "not-done",
        }
    }
}

/// An operator's resolution of an unknown entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resolution {
    /// What they found.
    pub finding: Finding,
    /// What they wrote down (the provider's id they saw, a ticket...).
    #[schema(required = true)]
    pub note: Option<String>,
}

/// One journaled call.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Entry {
    /// The entry's number.
    #[schema(value_type = i64)]
    pub id: EntryId,
    /// What was asked.
    pub intent: Intent,
    /// Where it stands (as of reading it).
    pub state: EntryState,
    /// What it came to, when known.
    #[schema(required = true)]
    pub outcome: Option<CallOutcome>,
    /// The host that runs (or ran) the call, `hostname:pid`.
    #[schema(required = true)]
    pub owner: Option<String>,
    /// Until when that host vouches the call is still running (Unix
    /// milliseconds); it renews this while the call runs.
    #[schema(required = true)]
    pub lease_until_ms: Option<i64>,
    /// What an operator found, for an entry resolved by hand.
    #[schema(required = true)]
    pub resolution: Option<Resolution>,
    /// When the intent was recorded (Unix milliseconds).
    pub started_at_ms: i64,
    /// Until when the call's attempt may still reach the provider: its
    /// start plus the module's deadline, by the journal's clock (Unix
    /// milliseconds). `None` on entries written before it was kept.
    #[schema(required = true)]
    pub attempt_deadline_ms: Option<i64>,
    /// Whether that deadline had passed, by the journal's clock, when the
    /// entry was read. Before it, the call may still reach the provider
    /// (its host may only be stalled), so nothing decides the entry: no
    /// finding is recorded, by reconcile or by hand.
    pub attempt_over: bool,
    /// When the outcome was recorded.
    #[schema(required = true)]
    pub finished_at_ms: Option<i64>,
    /// When the caller acknowledged it.
    #[schema(required = true)]
    pub acknowledged_at_ms: Option<i64>,
}

/// What [`crate::journal::JournalStore::begin`] found.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per call and matched at once; a Box would only add an allocation"
)]
pub enum Begun {
    /// A new entry, in flight.
    Started(EntryId),
    /// The module already has an entry under this idempotency key.
    Existing(Entry),
}

/// How an entry is acknowledged: what the journal decided after reading
/// it (see [`crate::journal::JournalStore::acknowledge`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Acknowledgement {
    /// What an operator found, when they resolved an unknown entry.
    pub resolution: Option<Resolution>,
    /// The outcome to record in place of the one on file (an operator's
    /// "done": what a repeated key is answered with).
    pub outcome: Option<CallOutcome>,
    /// Whether the idempotency key is freed for a new attempt.
    pub release_key: bool,
}

/// What [`crate::journal::JournalStore::acknowledge`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledged {
    /// Done.
    Yes,
    /// There is no such entry, or it was acknowledged already.
    NotPending,
    /// The call is still running on a live host.
    InFlight,
    /// A finding was given for an entry whose outcome is known now (its
    /// host recorded it meanwhile).
    OutcomeKnown,
    /// A finding was given before the attempt's deadline (Unix
    /// milliseconds, by the journal's clock): the call may still reach
    /// the provider.
    AttemptRunning {
        /// The attempt's deadline.
        until_ms: i64,
    },
}

/// Whether a call not acknowledged is running on a live host at `now_ms`:
/// no outcome is recorded (`outcome_known` false) and its host's lease is
/// current. The one rule of [`EntryState::InFlight`] (in SQL:
/// `row::in_flight_where`).
pub(crate) fn running(outcome_known: bool, lease_until_ms: Option<i64>, now_ms: i64) -> bool {
    !outcome_known && lease_until_ms.is_some_and(|until| until > now_ms)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Whether an attempt with this deadline is over at `now_ms` (entries
/// from before deadlines were kept count as over).
pub(crate) fn attempt_over(attempt_deadline_ms: Option<i64>, now_ms: i64) -> bool {
    attempt_deadline_ms.is_none_or(|deadline| deadline <= now_ms)
}

/// A time of the journal's clock (Unix milliseconds) as people read it:
/// an HTTP date, UTC to the second.
pub(crate) fn clock_time(unix_ms: i64) -> String {
    let since_epoch = std::time::Duration::from_millis(u64::try_from(unix_ms).unwrap_or(0));
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + since_epoch)
}

/// A length in milliseconds, saturating (a lease, a retention).
pub(crate) fn duration_ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(uncertain: bool) -> CallOutcome {
        CallOutcome {
            answer: Err(Failure {
                kind: "timeout".into(),
                message: String::new(),
            }),
            uncertain,
            module_digest: None,
            sealed_credentials: None,
        }
    }

    #[test]
    fn a_time_of_the_journals_clock_reads_as_an_http_date() {
        assert_eq!(
            clock_time(1_796_595_678_993),
            "Sun, 06 Dec 2026 22:21:18 GMT"
        );
        assert_eq!(clock_time(-5), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn the_state_follows_the_record_and_the_lease() {
        let now = 1_000;
        assert_eq!(
            EntryState::of(None, false, Some(now + 1), now),
            EntryState::InFlight
        );
        assert_eq!(
            EntryState::of(None, false, Some(now), now),
            EntryState::Unknown,
            "a lease that ran out is a host that stopped"
        );
        assert_eq!(EntryState::of(None, false, None, now), EntryState::Unknown);
        assert_eq!(
            EntryState::of(Some(&outcome(true)), false, Some(now + 1), now),
            EntryState::Unknown
        );
        assert_eq!(
            EntryState::of(Some(&outcome(false)), false, None, now),
            EntryState::Answered
        );
        assert_eq!(
            EntryState::of(Some(&outcome(true)), true, None, now),
            EntryState::Acknowledged
        );
        assert_eq!(
            serde_json::to_value(EntryState::InFlight).unwrap(),
            EntryState::InFlight.as_str()
        );
    }
}
