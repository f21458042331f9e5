//! The journal of mutating calls: what the host records before a call
//! reaches its module and after it, so that a call runs once per
//! idempotency key and what a provider shows only once (a generated
//! password, a license key) reaches the caller or stays sealed here.
//!
//! The life of an entry ([`EntryState`]): the host records the intent
//! before the call runs ([`EntryState::InFlight`], under a lease the host
//! renews while the call runs), then the outcome ([`EntryState::Answered`];
//! credentials sealed by a [`Sealer`]), and the caller acknowledges it once
//! the answer is safely kept ([`EntryState::Acknowledged`]; the sealed
//! credentials are destroyed). An entry whose host stopped (its lease ran
//! out) or whose call was cut off is [`EntryState::Unknown`]: an operator
//! checks the provider and records a [`Finding`], which either makes the
//! entry the call's outcome or frees its key; not before the attempt's
//! deadline ([`Entry::attempt_deadline_ms`]), until which a stalled host's
//! call may still reach the provider. An outcome is recorded only while the
//! entry is undecided; one the store does not take when the call ends is
//! held in memory, sealed, and written once it does
//! ([`Journal::write_held`]).
//!
//! - [`Journal`]: the host's handle, and what platforms and operators use
//!   (pending entries, acknowledgement, resolution).
//! - [`JournalStore`] with [`SqliteJournal`] (one file, the default) and
//!   [`PostgresJournal`] (a database server, the store several hosts can
//!   share): where entries are kept; [`JournalLocation`] names one. Each
//!   method is one flow for every store (`flow`: read, ask `rules`,
//!   write), over the row operations a store implements (`rows`).
//! - The records: [`Intent`], [`CallOutcome`], [`Entry`], typed; how a
//!   store keeps them is decided once for every store: `row` (the column
//!   list, the one row mapper, what an acknowledgement reads and writes)
//!   and `format` (the versioned stored text of a request and an outcome,
//!   every format ever written still read).
//! - Usage runs shared by several hosts ([`Journal::start_usage_run`],
//!   [`Journal::claim_usage`]): which host reads which service's usage in
//!   a nightly sync, claimed through the store under a lease.
//!
//! Inputs and outcomes reach the store with secrets already removed; the
//! store never sees a credential in the clear.
//!
//! Keeping it small and its key fresh: acknowledged entries older than
//! [`JournalOptions::retain_acknowledged`] are purged
//! ([`Journal::purge_acknowledged`]; sealed credentials are destroyed at
//! acknowledgement already), and [`Journal::rekey`] rotates the sealing
//! key. The journal records its key's check value, so that a host opened
//! with another key refuses to start ([`KeyError`]).

mod admission;
mod flow;
mod format;
mod health;
mod key;
mod postgres;
mod postgres_budget;
mod record;
mod row;
mod rows;
mod rules;
mod seal;
mod sqlite;
mod store;
#[cfg(test)]
mod store_tests;
mod usage_claims;
mod worker;

pub(crate) use admission::Admission;
use admission::seal_context;
pub use health::{JournalStatus, is_unavailable};
pub use key::{KeyError, RekeyError, RekeyReport};
pub use postgres::{PostgresJournal, describe_url};
pub(crate) use record::clock_time;
pub use record::{
    Acknowledged, Acknowledgement, Begun, CallOutcome, Entry, EntryId, EntryState, Failure,
    Finding, Intent, MAX_KEY_BYTES, Resolution,
};
pub use seal::Sealer;
pub use sqlite::SqliteJournal;
pub use store::{Finished, JournalStore, KeyRecord, Rekey, Rekeyed, Reseal};
pub use usage_claims::{RunService, USAGE_RUNS_KEPT, UsageClaim, UsageServiceKey};
pub use worker::Unavailable;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::bindings::types::{CreatedAccount, Credential, Outcome as DoneOutcome, ServiceState};
use crate::rate::SharedBudget;
use crate::request::{Request, Response};
use worker::Worker;

/// How long a host vouches for a running call without renewing, unless
/// [`JournalOptions::lease`] says otherwise: past it, others take the host
/// for gone and the call's outcome for unknown.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// How long a journal read or acknowledgement waits for the store.
const OPERATOR_WAIT: Duration = Duration::from_secs(10);

/// How many entries one step of a purge deletes: each step is one store
/// operation on the journal's thread, so that calls' operations run
/// between steps rather than after one long delete.
const PURGE_STEP: usize = 500;

/// Where a journal is kept: what the manifest's `[journal]` names.
#[derive(Clone, PartialEq, Eq)]
pub enum JournalLocation {
    /// A SQLite file, created when missing.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL database, by URL. The URL is a secret (it may hold a
    /// password): `Debug` and every message show `host:port/dbname` only.
    Postgres(String),
}

impl std::fmt::Debug for JournalLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalLocation::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            JournalLocation::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&describe_url(url).unwrap_or_else(|| "(a URL that does not parse)".into()))
                .finish(),
        }
    }
}

impl std::fmt::Display for JournalLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalLocation::Sqlite(path) => write!(f, "the SQLite journal {}", path.display()),
            JournalLocation::Postgres(url) => match describe_url(url) {
                Some(database) => write!(f, "the PostgreSQL journal {database}"),
                None => f.write_str("the PostgreSQL journal"),
            },
        }
    }
}

impl JournalLocation {
    /// Opens the store there, migrating its schema; refuses one written
    /// by a newer version.
    pub fn open_store(&self) -> anyhow::Result<Arc<dyn JournalStore>> {
        Ok(self.open_with_budget()?.0)
    }

    /// The store, and the rate budget it keeps for the hosts that share it
    /// (a database server's; a SQLite file keeps none).
    fn open_with_budget(&self) -> anyhow::Result<StoreAndBudget> {
        Ok(match self {
            JournalLocation::Sqlite(path) => (Arc::new(SqliteJournal::open(path)?), None),
            JournalLocation::Postgres(url) => {
                let database = Arc::new(PostgresJournal::connect(url)?);
                (database.clone(), Some(database))
            }
        })
    }
}

/// An open store, and the rate budget it keeps for the hosts that share it.
type StoreAndBudget = (Arc<dyn JournalStore>, Option<Arc<dyn SharedBudget>>);

/// How a [`Journal`] runs.
#[derive(Debug, Clone)]
pub struct JournalOptions {
    /// How long a running call's lease lasts between renewals (the host
    /// renews it every third of that).
    pub lease: Duration,
    /// How long an acknowledged entry is kept before a purge deletes it
    /// (`[journal] retain_acknowledged_days`); `None`, the default: kept
    /// for good. The journal only keeps the setting for whoever purges
    /// ([`Journal::purge_acknowledged`], serve's hourly pass).
    pub retain_acknowledged: Option<Duration>,
}

impl Default for JournalOptions {
    fn default() -> JournalOptions {
        JournalOptions {
            lease: DEFAULT_LEASE,
            retain_acknowledged: None,
        }
    }
}

/// The journal of mutating calls: a store, the key that seals the
/// credentials it holds, and the thread that runs the store.
///
/// Cheap to clone; clones share the store and its thread.
///
/// ```no_run
/// # async fn example() -> anyhow::Result<()> {
/// use provisioning_host::{Host, Journal};
///
/// let journal = Journal::open("journal.sqlite3".as_ref(), &std::env::var("JOURNAL_KEY")?)?;
/// let host = Host::new()?.with_journal(journal);
/// for call in host.journal().unwrap().pending().await? {
///     println!("{} {} {}: {:?}", call.entry.id, call.entry.intent.function(), call.entry.state, call.credentials);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Journal {
    inner: Arc<admission::Shared>,
    /// The rate budget shared by the hosts of this journal, when its store
    /// keeps one.
    budget: Option<Arc<dyn SharedBudget>>,
    retain_acknowledged: Option<Duration>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish_non_exhaustive()
    }
}

/// A service's newest successful create-account, as the journal holds it
/// ([`Journal::created_service`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedService {
    /// The provider's id of the account (or the one an operator found).
    pub remote_id: String,
    /// The domain the create named, if it named one.
    pub domain: Option<String>,
    /// Whether a terminate of the service succeeded after that create: the
    /// account it made is gone, and a new create makes another.
    pub terminated: bool,
}

/// A journal entry not acknowledged yet, with its credentials unsealed.
/// In JSON, the entry's fields and `credentials`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PendingEntry)]
pub struct PendingCall {
    /// The entry as stored (input and outcome with secrets removed).
    #[serde(flatten)]
    pub entry: Entry,
    /// What the provider issued (generated passwords, license keys).
    #[serde(with = "crate::wire::as_json")]
    pub credentials: Vec<Credential>,
}

/// What [`Journal::counts`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JournalCounts {
    /// Entries not acknowledged yet.
    pub pending: usize,
    /// Of those, the entries whose outcome is unknown.
    pub unknown: usize,
}

/// Why [`Journal::acknowledge`] or [`Journal::resolve`] did nothing.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    /// No such entry, or it was acknowledged already.
    #[error("journal entry {0} is not pending (no such entry, or acknowledged already)")]
    NotPending(EntryId),
    /// The call is still running on a live host; its outcome will be
    /// recorded when it ends.
    #[error(
        "journal entry {0} is still running on a live host: wait for its outcome, then acknowledge it"
    )]
    InFlight(EntryId),
    /// Nobody knows whether the call took effect: an operator must say what
    /// they found at the provider.
    #[error(
        "journal entry {0} has an unknown outcome: check the service at the provider, then resolve it as done (the next call with its key is answered with it) or not done (its key is freed)"
    )]
    FindingRequired(EntryId),
    /// A finding was given for an entry whose outcome is known.
    #[error("journal entry {0} has a recorded outcome: acknowledge it without a finding")]
    FindingNotApplicable(EntryId),
    /// A finding was given before the entry's attempt could have ended: the
    /// call may still reach the provider (its host may only be stalled)
    /// until its deadline, by the journal's clock.
    #[error(
        "journal entry {entry}'s call may still reach the provider until its deadline, {} by the journal's clock: look at the provider after that",
        record::clock_time(*until_ms)
    )]
    AttemptRunning {
        /// The entry.
        entry: EntryId,
        /// The attempt's deadline (Unix milliseconds).
        until_ms: i64,
    },
    /// The call's outcome is held in this host's memory: the journal did
    /// not take it yet (down, full, locked). It is written as soon as the
    /// journal takes it; acknowledge after that.
    #[error(
        "journal entry {0}'s outcome is not recorded yet (the journal did not take it; this host keeps it and writes it once the journal is back): acknowledge it after that"
    )]
    NotJournaled(EntryId),
    /// "Done" for a create-account needs the provider's id of the account.
    #[error(
        "journal entry {0} is a create-account: say which account the provider has (its remote id)"
    )]
    RemoteIdRequired(EntryId),
    /// The store failed.
    #[error("the journal failed: {0:#}")]
    Store(anyhow::Error),
}

impl AckError {
    /// A stable machine-readable name: `not-pending`, `in-flight`,
    /// `finding-required`, `finding-not-applicable`, `attempt-running`,
    /// `not-journaled`, `remote-id-required`, `journal`.
    pub fn kind(&self) -> &'static str {
        match self {
            AckError::NotPending(_) => "not-pending",
            AckError::InFlight(_) => "in-flight",
            AckError::FindingRequired(_) => "finding-required",
            AckError::FindingNotApplicable(_) => "finding-not-applicable",
            AckError::AttemptRunning { .. } => "attempt-running",
            AckError::NotJournaled(_) => "not-journaled",
            AckError::RemoteIdRequired(_) => "remote-id-required",
            AckError::Store(_) => "journal",
        }
    }
}

/// What an operator records when resolving an unknown entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorFinding {
    /// Whether the call took effect.
    pub finding: Finding,
    /// For a create-account found done: the provider's id of the account.
    pub remote_id: Option<String>,
    /// Free text kept with the entry (what was seen, a ticket number).
    pub note: Option<String>,
}

impl Journal {
    /// A journal over any store, with the default options.
    pub fn new(store: Arc<dyn JournalStore>, sealer: Sealer) -> anyhow::Result<Journal> {
        Journal::with_options(store, sealer, JournalOptions::default())
    }

    /// A journal over any store.
    ///
    /// Refuses a key that is not the journal's ([`KeyError`]: its previous
    /// key after a rotation, or another one); a journal with no key on
    /// record yet adopts this one. Blocks on the store while it checks.
    pub fn with_options(
        store: Arc<dyn JournalStore>,
        sealer: Sealer,
        options: JournalOptions,
    ) -> anyhow::Result<Journal> {
        let sealer = key::admit(store.as_ref(), sealer)?;
        let worker = Worker::spawn(store, options.lease)?;
        Ok(Journal {
            inner: Arc::new(admission::Shared::new(worker, sealer)),
            budget: None,
            retain_acknowledged: options.retain_acknowledged,
        })
    }

    /// The SQLite journal at `path` (created when missing), sealing with the
    /// key given as 64 hex characters.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> anyhow::Result<()> {
    /// use provisioning_host::Journal;
    /// use provisioning_host::journal::Sealer;
    ///
    /// // Production keeps one key for good (`Manifest::journal_config` reads
    /// // it from a variable or a file): under another, the credentials
    /// // sealed in the journal cannot be read.
    /// let key = Sealer::generate_key_hex();
    /// let dir = std::env::temp_dir().join(format!("journal-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let journal = Journal::open(&dir.join("journal.sqlite3"), &key)?;
    /// // At start-up: what a previous run left unacknowledged.
    /// assert!(journal.pending().await?.is_empty());
    /// assert!(Journal::open(&dir.join("journal.sqlite3"), "not a key").is_err());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(()) }
    /// ```
    pub fn open(path: &std::path::Path, key_hex: &str) -> anyhow::Result<Journal> {
        Journal::open_with(path, key_hex, JournalOptions::default())
    }

    /// [`Journal::open`] with options.
    pub fn open_with(
        path: &std::path::Path,
        key_hex: &str,
        options: JournalOptions,
    ) -> anyhow::Result<Journal> {
        Journal::open_at(
            &JournalLocation::Sqlite(path.to_path_buf()),
            key_hex,
            options,
        )
    }

    /// The journal at `location` (a SQLite file created when missing, or a
    /// PostgreSQL database, its schema migrated), sealing with the key
    /// given as 64 hex characters.
    pub fn open_at(
        location: &JournalLocation,
        key_hex: &str,
        options: JournalOptions,
    ) -> anyhow::Result<Journal> {
        let sealer = Sealer::from_hex(key_hex).context("the journal key")?;
        let (store, budget) = location
            .open_with_budget()
            .with_context(|| format!("opening {location}"))?;
        let mut journal = Journal::with_options(store, sealer, options)?;
        journal.budget = budget;
        Ok(journal)
    }

    fn operator_deadline() -> Option<Instant> {
        Some(Instant::now() + OPERATOR_WAIT)
    }

    /// Entries not acknowledged yet, oldest first, credentials unsealed.
    pub async fn pending(&self) -> anyhow::Result<Vec<PendingCall>> {
        let entries = self
            .inner
            .worker
            .run(Journal::operator_deadline(), |context| {
                context.store.pending()
            })
            .await?;
        self.with_credentials(entries)
    }

    /// The entries not acknowledged of one service of `module` (the
    /// intent's `service_id`, recorded for every call that names a
    /// service), oldest first, with their credentials as [`Self::pending`]
    /// gives them; only that service's are read and unsealed.
    pub async fn pending_of(
        &self,
        module: &str,
        service_id: &str,
    ) -> anyhow::Result<Vec<PendingCall>> {
        let (module, service_id) = (module.to_string(), service_id.to_string());
        let entries = self
            .inner
            .worker
            .run(Journal::operator_deadline(), move |context| {
                context.store.pending_of(&module, &service_id)
            })
            .await?;
        self.with_credentials(entries)
    }

    /// Each entry with its credentials unsealed.
    fn with_credentials(&self, entries: Vec<Entry>) -> anyhow::Result<Vec<PendingCall>> {
        entries
            .into_iter()
            .map(|entry| {
                let credentials = self.inner.unseal(&entry)?;
                Ok(PendingCall { entry, credentials })
            })
            .collect()
    }

    /// How many entries are pending, and how many of those have an unknown
    /// outcome (each needs a person), without unsealing anything.
    pub async fn counts(&self) -> anyhow::Result<JournalCounts> {
        let entries = self
            .inner
            .worker
            .run(Journal::operator_deadline(), |context| {
                context.store.pending()
            })
            .await?;
        Ok(JournalCounts {
            pending: entries.len(),
            unknown: entries
                .iter()
                .filter(|entry| entry.state == EntryState::Unknown)
                .count(),
        })
    }

    /// Whether the store takes writes now: one value written and
    /// committed, within the operator's wait. (Readiness reads
    /// [`Journal::status`] instead, which never waits that long.)
    pub async fn check_writable(&self) -> anyhow::Result<()> {
        self.inner
            .worker
            .run(Journal::operator_deadline(), |context| {
                context.store.check_writable()
            })
            .await
    }

    /// One entry as stored (credentials left sealed).
    pub async fn entry(&self, id: EntryId) -> anyhow::Result<Option<Entry>> {
        self.inner
            .worker
            .run(Journal::operator_deadline(), move |context| {
                context.store.get(id)
            })
            .await
    }

    /// Every entry, acknowledged ones included, oldest first, as stored
    /// (secrets removed, credentials left sealed): the history
    /// [`crate::live_services`] rebuilds the platform's services from.
    pub async fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        self.inner
            .worker
            .run(None, |context| context.store.entries())
            .await
    }

    /// What the journal holds of `service_id`'s newest create-account in
    /// `module` that succeeded, whether or not the service was terminated
    /// since: the remote id the provider gave (or an operator found), the
    /// domain the create named, and whether a terminate followed; `None`
    /// when no create of it succeeded here. For a platform that keeps no
    /// provider id of its own.
    pub async fn created_service(
        &self,
        module: &str,
        service_id: &str,
    ) -> anyhow::Result<Option<CreatedService>> {
        let (module, service_id) = (module.to_string(), service_id.to_string());
        let (entry, terminated) = self
            .inner
            .worker
            .run(Journal::operator_deadline(), move |context| {
                let store = &context.store;
                Ok((
                    store.last_succeeded(&module, &service_id, "create-account")?,
                    store.last_succeeded(&module, &service_id, "terminate")?,
                ))
            })
            .await?;
        let Some(entry) = entry else {
            return Ok(None);
        };
        let terminated = terminated.is_some_and(|terminate| terminate.id > entry.id);
        let Some(Ok(Response::Created(created))) = entry.outcome.map(|outcome| outcome.answer)
        else {
            anyhow::bail!(
                "journal entry {} is a create-account whose answer is not an account",
                entry.id
            );
        };
        // The intent's input is the request as sent, secrets masked: a
        // domain is never one.
        let domain = entry
            .intent
            .input
            .service()
            .and_then(|service| service.domain.clone());
        Ok(Some(CreatedService {
            remote_id: created.remote_id,
            domain,
            terminated,
        }))
    }

    /// Acknowledges an answered entry: the caller has kept its answer; the
    /// sealed credentials are destroyed. Refused for an entry still in
    /// flight, and for one whose outcome is unknown (see
    /// [`Journal::resolve`]).
    pub async fn acknowledge(&self, id: EntryId) -> Result<(), AckError> {
        self.write_held_of(id).await?;
        let entry = self.pending_entry(id).await?;
        match entry.state {
            EntryState::InFlight => return Err(AckError::InFlight(id)),
            EntryState::Unknown => return Err(AckError::FindingRequired(id)),
            EntryState::Answered | EntryState::Acknowledged => {}
        }
        let ack = Acknowledgement {
            resolution: None,
            outcome: None,
            release_key: false,
        };
        self.store_acknowledgement(id, ack).await
    }

    /// Resolves an entry whose outcome was unknown with what an operator
    /// found at the provider: [`Finding::Done`] records the call as done
    /// (the next call with its key is answered with that, a create-account
    /// with the remote id they give); [`Finding::NotDone`] frees the key,
    /// so that the next call with it runs. Refused before the entry's
    /// attempt's deadline ([`AckError::AttemptRunning`]).
    pub async fn resolve(&self, id: EntryId, found: OperatorFinding) -> Result<(), AckError> {
        self.write_held_of(id).await?;
        let entry = self.pending_entry(id).await?;
        match entry.state {
            EntryState::InFlight => return Err(AckError::InFlight(id)),
            EntryState::Answered | EntryState::Acknowledged => {
                return Err(AckError::FindingNotApplicable(id));
            }
            EntryState::Unknown => {}
        }
        let outcome = match found.finding {
            Finding::NotDone => None,
            Finding::Done => Some(operator_outcome(&entry, &found)?),
        };
        let ack = Acknowledgement {
            resolution: Some(Resolution {
                finding: found.finding,
                note: found.note.clone(),
            }),
            outcome,
            release_key: found.finding == Finding::NotDone,
        };
        self.store_acknowledgement(id, ack).await?;
        tracing::info!(
            entry = id,
            finding = found.finding.as_str(),
            "journal entry resolved by an operator"
        );
        Ok(())
    }

    /// How long acknowledged entries are kept, as the journal's options
    /// said (`None`: for good).
    pub fn retain_acknowledged(&self) -> Option<Duration> {
        self.retain_acknowledged
    }

    /// Deletes the entries acknowledged more than `older_than` ago and says
    /// how many. Entries not acknowledged (in flight, answered, unknown)
    /// are never deleted; their sealed credentials are destroyed at
    /// acknowledgement already. A deleted entry's idempotency key is free
    /// again (a call repeated with it runs anew), and it leaves the history
    /// [`Journal::entries`] gives. Deletes in steps, so that calls go on
    /// meanwhile.
    pub async fn purge_acknowledged(&self, older_than: Duration) -> anyhow::Result<usize> {
        let older_than = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let cutoff = record::now_ms().saturating_sub(older_than);
        let mut purged = 0;
        loop {
            let deleted = self
                .inner
                .worker
                .run(None, move |context| {
                    context.store.purge_acknowledged(cutoff, PURGE_STEP)
                })
                .await
                .context("purging acknowledged journal entries")?;
            purged += deleted;
            if deleted < PURGE_STEP {
                return Ok(purged);
            }
        }
    }

    /// Rotates the journal's sealing key to `new_key_hex` (64 hex
    /// characters), in one transaction: every sealed credential is opened
    /// with this journal's key and sealed again under the new one, and the
    /// journal records the new key's check value, keeping the old one's
    /// (a host given the old key then says so) and the journal's digest key
    /// sealed under the new key, so that the request digests on record stay
    /// valid.
    ///
    /// Refused while any entry is in flight on a live host, when the
    /// journal's key changed since this handle was opened, and for the key
    /// in use. Afterwards this handle (and every host still running with
    /// the old key) can no longer record calls: hosts refuse mutating calls
    /// until restarted with the new key.
    pub async fn rekey(&self, new_key_hex: &str) -> Result<RekeyReport, RekeyError> {
        let new = Sealer::from_hex(new_key_hex)
            .context("the new journal key")
            .map_err(RekeyError::Failed)?;
        let old = &self.inner.sealer;
        if new.check_value() == old.check_value() {
            return Err(RekeyError::SameKey);
        }
        let replaced_at_ms = record::now_ms();
        let record = KeyRecord {
            check: new.check_value().to_string(),
            previous_check: Some(old.check_value().to_string()),
            replaced_at_ms: Some(replaced_at_ms),
            sealed_digest_key: Some(new.seal(&old.digest_key(), key::DIGEST_KEY_CONTEXT)),
        };
        let shared = self.inner.clone();
        let reseal = move |id: EntryId, sealed: &[u8]| -> anyhow::Result<Vec<u8>> {
            let context = seal_context(id);
            let credentials = shared
                .sealer
                .open(sealed, &context)
                .with_context(|| format!("re-sealing the credentials of journal entry {id}"))?;
            Ok(new.seal(&credentials, &context))
        };
        let rekey = Rekey {
            current_check: old.check_value().to_string(),
            new: record,
            reseal: Arc::new(reseal),
        };
        let done = self
            .inner
            .worker
            .run(None, move |context| context.store.rekey(&rekey))
            .await
            .map_err(RekeyError::Failed)?;
        match done {
            Rekeyed::Done { resealed } => {
                tracing::info!(resealed, "the journal's key was rotated");
                Ok(RekeyReport {
                    resealed,
                    replaced_at_ms,
                })
            }
            Rekeyed::KeyMismatch => Err(RekeyError::KeyMismatch),
            Rekeyed::InFlight(ids) => Err(RekeyError::InFlight(ids)),
        }
    }

    /// Offers every outcome held in this host's memory (the journal did not
    /// take it when its call ended) to the store once more, and says how
    /// many are still held. Held outcomes are offered again every second
    /// on their own; call this before shutting down, so that what can be
    /// written is.
    pub async fn write_held(&self) -> usize {
        if let Err(error) = self.inner.write_held(Vec::new()).await {
            tracing::warn!("writing held call outcomes failed: {error:#}");
        }
        self.inner.held_count()
    }

    /// Writes entry `id`'s held outcome first, if this host holds one:
    /// an acknowledgement or finding is about the outcome on record.
    async fn write_held_of(&self, id: EntryId) -> Result<(), AckError> {
        if !self.inner.is_held(id) {
            return Ok(());
        }
        let deadline = Journal::operator_deadline().unwrap_or_else(Instant::now);
        let written = tokio::time::timeout_at(deadline.into(), self.inner.write_held(vec![id]));
        let _ = written.await;
        if self.inner.is_held(id) {
            return Err(AckError::NotJournaled(id));
        }
        Ok(())
    }

    async fn pending_entry(&self, id: EntryId) -> Result<Entry, AckError> {
        match self.entry(id).await.map_err(AckError::Store)? {
            Some(entry) if entry.state != EntryState::Acknowledged => Ok(entry),
            _ => Err(AckError::NotPending(id)),
        }
    }

    async fn store_acknowledgement(
        &self,
        id: EntryId,
        ack: Acknowledgement,
    ) -> Result<(), AckError> {
        let done = self
            .inner
            .worker
            .run(Journal::operator_deadline(), move |context| {
                context.store.acknowledge(id, &ack)
            })
            .await
            .map_err(AckError::Store)?;
        match done {
            Acknowledged::Yes => Ok(()),
            Acknowledged::NotPending => Err(AckError::NotPending(id)),
            Acknowledged::InFlight => Err(AckError::InFlight(id)),
            Acknowledged::OutcomeKnown => Err(AckError::FindingNotApplicable(id)),
            Acknowledged::AttemptRunning { until_ms } => Err(AckError::AttemptRunning {
                entry: id,
                until_ms,
            }),
        }
    }

    /// The rate budget the hosts of this journal share (a PostgreSQL
    /// journal's), for the host's rate limiters.
    pub(crate) fn shared_budget(&self) -> Option<Arc<dyn SharedBudget>> {
        self.budget.clone()
    }

    /// This host as the journal names it (`hostname:pid`): the owner of
    /// the calls it runs and of the usage services it claims.
    pub fn owner(&self) -> &str {
        self.inner.owner()
    }

    /// Registers `services` for the usage run `run` (the ones registered
    /// already, by this host or another, keep their state), first
    /// forgetting runs registered more than [`USAGE_RUNS_KEPT`] ago;
    /// returns how many services the run has.
    pub async fn start_usage_run(
        &self,
        run: &str,
        services: Vec<RunService>,
    ) -> anyhow::Result<usize> {
        let run = run.to_string();
        self.inner
            .worker
            .run(Journal::operator_deadline(), move |context| {
                context
                    .store
                    .register_usage_run(&run, &services, USAGE_RUNS_KEPT)
            })
            .await
    }

    /// Claims for this host up to `limit` services of `run` that are
    /// neither done nor under another live claim, under a lease of `lease`
    /// (by the store's clock): until it runs out, no other host gets them.
    /// Renew it with [`Journal::renew_usage_claims`] while reading them,
    /// and mark each done with [`Journal::finish_usage`].
    pub async fn claim_usage(
        &self,
        run: &str,
        limit: usize,
        lease: Duration,
    ) -> anyhow::Result<UsageClaim> {
        let run = run.to_string();
        let owner = self.owner().to_string();
        self.inner
            .worker
            .run(Journal::operator_deadline(), move |context| {
                context.store.claim_usage(&run, &owner, limit, lease)
            })
            .await
    }

    /// Extends this host's claims on `services` of `run` to `lease` from
    /// now (those not done and not taken over meanwhile).
    pub async fn renew_usage_claims(
        &self,
        run: &str,
        services: Vec<UsageServiceKey>,
        lease: Duration,
    ) -> anyhow::Result<()> {
        let run = run.to_string();
        let owner = self.owner().to_string();
        self.inner
            .worker
            .run(Journal::operator_deadline(), move |context| {
                context
                    .store
                    .renew_usage_claims(&run, &owner, &services, lease)
            })
            .await
    }

    /// Marks `services` of `run` done: their reports are out, and no host
    /// claims them again in the run.
    pub async fn finish_usage(
        &self,
        run: &str,
        services: Vec<UsageServiceKey>,
    ) -> anyhow::Result<()> {
        let run = run.to_string();
        self.inner
            .worker
            .run(Journal::operator_deadline(), move |context| {
                context.store.finish_usage(&run, &services)
            })
            .await
    }

    /// The journal's shared state, for the host's calls.
    pub(crate) fn shared(&self) -> &Arc<admission::Shared> {
        &self.inner
    }
}

/// The outcome an operator's "done" records: the answer a repeated key
/// gets, saying where it comes from.
fn operator_outcome(entry: &Entry, found: &OperatorFinding) -> Result<CallOutcome, AckError> {
    let message = match &found.note {
        Some(note) => format!("confirmed at the provider by an operator: {note}"),
        None => "confirmed at the provider by an operator".to_string(),
    };
    let response = match &entry.intent.input {
        Request::CreateAccount { .. } => {
            let remote_id = found
                .remote_id
                .clone()
                .filter(|id| !id.trim().is_empty())
                .ok_or(AckError::RemoteIdRequired(entry.id))?;
            Response::Created(CreatedAccount {
                remote_id,
                already_existed: false,
                status: ServiceState::Unknown,
                message,
                credentials: Vec::new(),
            })
        }
        _ => Response::Done(DoneOutcome {
            message,
            credentials: Vec::new(),
        }),
    };
    Ok(CallOutcome {
        answer: Ok(response),
        uncertain: false,
        module_digest: None,
        sealed_credentials: None,
    })
}

#[cfg(test)]
mod tests {
    //! The key check at open and the rotation, above any store (the
    //! stores' part is in `store_tests`, on both).

    use super::*;

    fn sealer(key: &str) -> Sealer {
        Sealer::from_hex(key).unwrap()
    }

    /// An answered entry whose credentials `key` sealed, written straight
    /// to the store (as a host before key records would have).
    fn sealed_entry(store: &dyn JournalStore, key: &str) -> EntryId {
        static KEYS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = KEYS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let intent = Intent {
            module: "m".into(),
            idempotency_key: format!("k-{n}"),
            input: Request::CreateAccount {
                service: store_tests::service("svc-1"),
            },
            request_digest: None,
        };
        let Begun::Started(id) = store
            .begin(&intent, "h:1", Duration::from_secs(60), Duration::ZERO)
            .unwrap()
        else {
            panic!("a new key")
        };
        let credentials = vec![Credential {
            name: "password".into(),
            value: "Generated-1".into(),
            secret: true,
        }];
        let outcome = CallOutcome {
            answer: Ok(Response::Done(DoneOutcome {
                message: "done".into(),
                credentials: Vec::new(),
            })),
            uncertain: false,
            module_digest: None,
            sealed_credentials: Some(sealer(key).seal(
                &format::credentials_bytes(&credentials).unwrap(),
                &seal_context(id),
            )),
        };
        store.finish(id, "h:1", &outcome).unwrap();
        id
    }

    #[tokio::test]
    async fn an_existing_journal_adopts_the_first_key_that_opens_its_credentials() {
        let store: Arc<dyn JournalStore> = Arc::new(SqliteJournal::in_memory().unwrap());
        let (key, other) = (Sealer::generate_key_hex(), Sealer::generate_key_hex());
        let id = sealed_entry(store.as_ref(), &key);
        assert_eq!(store.key_record().unwrap(), None, "a journal from before");

        let refused = Journal::new(store.clone(), sealer(&other)).unwrap_err();
        assert!(
            matches!(refused.downcast_ref::<KeyError>(), Some(KeyError::CannotOpen(e)) if *e == id),
            "{refused:#}"
        );
        assert_eq!(store.key_record().unwrap(), None, "not adopted");

        let journal = Journal::new(store.clone(), sealer(&key)).unwrap();
        assert_eq!(
            store.key_record().unwrap().unwrap().check,
            sealer(&key).check_value()
        );
        assert_eq!(
            journal.pending().await.unwrap()[0].credentials[0].value,
            "Generated-1"
        );
        Journal::new(store.clone(), sealer(&key)).expect("the same key again");
        let refused = Journal::new(store.clone(), sealer(&other)).unwrap_err();
        assert!(
            matches!(refused.downcast_ref::<KeyError>(), Some(KeyError::OtherKey)),
            "{refused:#}"
        );
    }

    #[tokio::test]
    async fn a_new_journal_adopts_its_first_key() {
        let store: Arc<dyn JournalStore> = Arc::new(SqliteJournal::in_memory().unwrap());
        let key = Sealer::generate_key_hex();
        Journal::new(store.clone(), sealer(&key)).unwrap();
        assert_eq!(
            store.key_record().unwrap().unwrap().check,
            sealer(&key).check_value()
        );
        assert!(Journal::new(store.clone(), sealer(&Sealer::generate_key_hex())).is_err());
    }

    #[tokio::test]
    async fn a_rekey_carries_the_digest_key_and_re_seals_under_the_new_key() {
        let store: Arc<dyn JournalStore> = Arc::new(SqliteJournal::in_memory().unwrap());
        let (first, second, third) = (
            Sealer::generate_key_hex(),
            Sealer::generate_key_hex(),
            Sealer::generate_key_hex(),
        );
        let journal = Journal::new(store.clone(), sealer(&first)).unwrap();
        let id = sealed_entry(store.as_ref(), &first);
        let digest = journal.inner.sealer.digest(b"a request");

        assert!(matches!(
            journal.rekey(&first).await,
            Err(RekeyError::SameKey)
        ));
        assert!(matches!(
            journal.rekey("not a key").await,
            Err(RekeyError::Failed(_))
        ));
        journal.rekey(&second).await.unwrap();
        assert!(
            matches!(journal.rekey(&third).await, Err(RekeyError::KeyMismatch)),
            "this handle's key is no longer the journal's"
        );
        let rotated = Journal::new(store.clone(), sealer(&second)).unwrap();
        assert_eq!(
            rotated.inner.sealer.digest(b"a request"),
            digest,
            "digests made before the rotation still match"
        );
        let sealed = store.get(id).unwrap().unwrap().outcome.unwrap();
        let sealed = sealed.sealed_credentials.unwrap();
        assert!(sealer(&first).open(&sealed, &seal_context(id)).is_err());
        assert!(sealer(&second).open(&sealed, &seal_context(id)).is_ok());

        // Twice over: the digest key is still the first one.
        rotated.rekey(&third).await.unwrap();
        let again = Journal::new(store.clone(), sealer(&third)).unwrap();
        assert_eq!(again.inner.sealer.digest(b"a request"), digest);
        assert_eq!(
            again.pending().await.unwrap()[0].credentials[0].value,
            "Generated-1"
        );
        let refused = Journal::new(store.clone(), sealer(&first)).unwrap_err();
        assert!(
            matches!(refused.downcast_ref::<KeyError>(), Some(KeyError::OtherKey)),
            "only the key just replaced is named as such: {refused:#}"
        );
        let refused = Journal::new(store, sealer(&second)).unwrap_err();
        assert!(
            matches!(
                refused.downcast_ref::<KeyError>(),
                Some(KeyError::PreviousKey { .. })
            ),
            "{refused:#}"
        );
    }

    #[tokio::test]
    async fn a_purge_counts_across_steps() {
        let store: Arc<dyn JournalStore> = Arc::new(SqliteJournal::in_memory().unwrap());
        let journal = Journal::new(store.clone(), sealer(&Sealer::generate_key_hex())).unwrap();
        let ack = Acknowledgement {
            resolution: None,
            outcome: None,
            release_key: false,
        };
        for _ in 0..PURGE_STEP + 3 {
            let id = sealed_entry(store.as_ref(), &Sealer::generate_key_hex());
            store.acknowledge(id, &ack).unwrap();
        }
        let pending = sealed_entry(store.as_ref(), &Sealer::generate_key_hex());
        assert_eq!(
            journal
                .purge_acknowledged(Duration::from_secs(3600))
                .await
                .unwrap(),
            0,
            "none acknowledged an hour ago"
        );
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            journal.purge_acknowledged(Duration::ZERO).await.unwrap(),
            PURGE_STEP + 3
        );
        let left: Vec<_> = store.entries().unwrap().iter().map(|e| e.id).collect();
        assert_eq!(left, vec![pending]);
    }
}
