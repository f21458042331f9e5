//! The journal's records and where they are kept.
//!
//! The life of an entry: [`JournalStore::begin`] records the intent of a
//! mutating call before it reaches the module (state
//! [`EntryState::InFlight`]); [`JournalStore::finish`] records its outcome
//! ([`EntryState::Answered`]), with any credentials the provider issued
//! sealed by a [`Sealer`]; [`JournalStore::acknowledge`] marks that the
//! caller has the answer ([`EntryState::Acknowledged`]) and destroys the
//! sealed credentials. An entry still in flight after a restart has an
//! unknown outcome: the provider may or may not have acted.
//!
//! Inputs and outcomes reach the store with secrets already removed; the
//! store never sees a credential in the clear.

mod seal;
mod sqlite;

pub use seal::Sealer;
pub use sqlite::SqliteJournal;

use serde::{Deserialize, Serialize};

/// A journal entry's number.
pub type EntryId = i64;

/// What is known of a call before it reaches the module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// The module's name.
    pub module: String,
    /// The contract function, e.g. `create-account`.
    pub function: String,
    /// The platform's service id, when the call has a service.
    pub service_id: Option<String>,
    /// The caller's key (or a generated one): unique per module.
    pub idempotency_key: String,
    /// The request as JSON, secrets removed.
    pub input: String,
}

/// What a call came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Whether the module answered successfully.
    pub succeeded: bool,
    /// `ok`, or the error's kind (`rate-limited`, `deadline-exceeded`...).
    pub kind: String,
    /// The answer or the error as JSON, secrets and credentials removed.
    pub summary: String,
    /// The issued credentials, sealed; `None` when there were none or they
    /// were destroyed on acknowledgement.
    #[serde(skip)]
    pub sealed_credentials: Option<Vec<u8>>,
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryState {
    /// Intent recorded, no outcome (yet, or ever: the host stopped).
    InFlight,
    /// Outcome recorded, not yet acknowledged by the caller.
    Answered,
    /// The caller has the answer; credentials destroyed.
    Acknowledged,
}

/// One journaled call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The entry's number.
    pub id: EntryId,
    /// What was asked.
    pub intent: Intent,
    /// Where it stands.
    pub state: EntryState,
    /// What it came to, when known.
    pub outcome: Option<Outcome>,
    /// When the intent was recorded (Unix milliseconds).
    pub started_at_ms: i64,
    /// When the outcome was recorded.
    pub finished_at_ms: Option<i64>,
    /// When the caller acknowledged it.
    pub acknowledged_at_ms: Option<i64>,
}

/// What [`JournalStore::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Storage behind the journal. [`SqliteJournal`] is the embedded default;
/// a server database (several hosts sharing one journal) can implement it
/// too.
pub trait JournalStore: Send + Sync + 'static {
    /// Records an intent, atomically unless the module already has an
    /// entry under its idempotency key, which is then returned instead.
    fn begin(&self, intent: &Intent) -> anyhow::Result<Begun>;

    /// Records the outcome of an entry in flight.
    fn finish(&self, id: EntryId, outcome: &Outcome) -> anyhow::Result<()>;

    /// One entry.
    fn get(&self, id: EntryId) -> anyhow::Result<Option<Entry>>;

    /// Entries not acknowledged (in flight or answered), oldest first.
    fn pending(&self) -> anyhow::Result<Vec<Entry>>;

    /// Every entry, acknowledged ones included, oldest first: the history
    /// from which the services a platform has at each provider can be
    /// rebuilt (see [`crate::live_services`]).
    fn entries(&self) -> anyhow::Result<Vec<Entry>>;

    /// Marks an entry acknowledged and destroys its sealed credentials.
    /// Returns false when there is no such entry or it was acknowledged
    /// already.
    fn acknowledge(&self, id: EntryId) -> anyhow::Result<bool>;

    /// Frees an entry's idempotency key for a new call (the entry keeps a
    /// marked copy of it): for a call that was refused outright, so that
    /// nothing happened and trying again is safe.
    fn release_key(&self, id: EntryId) -> anyhow::Result<()>;
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
