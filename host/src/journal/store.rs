//! The storage behind the journal, as a trait: what any store (the
//! embedded SQLite file, a server database shared by several hosts) must
//! do, each operation atomic on its own.

use std::sync::Arc;
use std::time::Duration;

use super::record::{Acknowledged, Acknowledgement, Begun, CallOutcome, Entry, EntryId, Intent};
use super::usage_claims::{RunService, UsageClaim, UsageServiceKey};

/// What [`JournalStore::finish`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The outcome is recorded.
    Recorded,
    /// Nothing was written: the entry is not this host's to finish any
    /// more. It was decided meanwhile (acknowledged, or resolved by
    /// reconcile or an operator after its attempt's deadline, while this
    /// host was stalled), or has its outcome already, or belongs to another
    /// host. A decided entry stays decided.
    Fenced,
}

/// Storage behind the journal. [`super::SqliteJournal`] is the embedded
/// default. Implemented once for every store, above its row operations
/// (`super::flow`, over `super::rows::RowStore`).
///
/// Every method may fail (a locked file, a database that is down) and is
/// called from the journal's own thread, never from an async runtime's, so
/// it may block; none of the methods a call runs through (`begin`,
/// `finish`, `renew`, `get`, and `key_record` after each `begin`) reads
/// more than one entry.
///
/// Time is the store's own: leases are given as a length and measured, like
/// every timestamp and every entry's state, by the clock of the place the
/// entries are kept (the database server's for a shared store), so that
/// hosts whose clocks differ still agree on whose lease has run out.
pub trait JournalStore: Send + Sync + 'static {
    /// Records an intent, owned by `owner` under a lease of `lease` from
    /// now, its attempt's deadline `attempt` from now (both by the store's
    /// clock), atomically unless the module already has an entry under its
    /// idempotency key, which is then returned instead.
    fn begin(
        &self,
        intent: &Intent,
        owner: &str,
        lease: Duration,
        attempt: Duration,
    ) -> anyhow::Result<Begun>;

    /// Records the outcome of an entry `owner` began, once, and only while
    /// it is undecided (not acknowledged, no finding) and still `owner`'s:
    /// otherwise nothing is written ([`Finished::Fenced`]). The lease ends
    /// with it. One atomic step.
    fn finish(&self, id: EntryId, owner: &str, outcome: &CallOutcome) -> anyhow::Result<Finished>;

    /// Extends the lease of entries still running on this host to `lease`
    /// from now.
    fn renew(&self, ids: &[EntryId], lease: Duration) -> anyhow::Result<()>;

    /// One entry.
    fn get(&self, id: EntryId) -> anyhow::Result<Option<Entry>>;

    /// Entries not acknowledged, oldest first.
    fn pending(&self) -> anyhow::Result<Vec<Entry>>;

    /// The entries not acknowledged of one service (`service_id`) of
    /// `module`, oldest first: what a platform's page of that service
    /// shows, read through an index rather than the whole pending list.
    fn pending_of(&self, module: &str, service_id: &str) -> anyhow::Result<Vec<Entry>>;

    /// Every entry, acknowledged ones included, oldest first: the history
    /// from which the services a platform has at each provider can be
    /// rebuilt (see [`crate::live_services`]). Never on a call's path.
    fn entries(&self) -> anyhow::Result<Vec<Entry>>;

    /// The newest call of `function` (a contract function's name, e.g.
    /// `create-account`) on `service_id` in `module` that succeeded (an
    /// operator's finding of done included), acknowledged or not: for a
    /// create, where the remote id the provider gave the service is
    /// recorded. Reads one entry, through an index.
    fn last_succeeded(
        &self,
        module: &str,
        service_id: &str,
        function: &str,
    ) -> anyhow::Result<Option<Entry>>;

    /// Acknowledges an entry as `ack` says and destroys its sealed
    /// credentials, unless it is acknowledged already or still in flight
    /// (its lease current); an acknowledgement with a resolution (a
    /// finding) also unless the entry's outcome is known (recorded, not
    /// uncertain) or its attempt's deadline has not passed by the store's
    /// clock. All checked in the same atomic step.
    fn acknowledge(&self, id: EntryId, ack: &Acknowledgement) -> anyhow::Result<Acknowledged>;

    /// Frees an entry's idempotency key for a new call (the entry keeps a
    /// marked copy of it): for a call that was refused outright, so that
    /// nothing happened and trying again is safe.
    fn release_key(&self, id: EntryId) -> anyhow::Result<()>;

    /// Fails unless the store takes writes now (for a readiness check): one
    /// value written and committed (`meta::WRITE_PROBED_AT_MS`), as a
    /// call's intent would be, so that a full disk fails it too.
    fn check_writable(&self) -> anyhow::Result<()>;

    /// Registers `services` for the usage run `run` (those registered
    /// already keep their state: claimed, done), after deleting the rows of
    /// every run registered more than `forget_after` ago; returns how many
    /// services the run has now. One atomic step; hosts registering the
    /// same run at once are serialised.
    fn register_usage_run(
        &self,
        run: &str,
        services: &[RunService],
        forget_after: Duration,
    ) -> anyhow::Result<usize>;

    /// Claims for `owner` up to `limit` services of `run` that are not
    /// done and not under a live claim (never claimed, or their claim's
    /// lease ran out), under a lease of `lease` from now, in the order they
    /// were registered. Atomic and exclusive: two hosts claiming at once
    /// never get the same service while its lease runs. The lease is
    /// judged by the store's clock (the database server's, for a shared
    /// database), so the hosts' clocks do not matter.
    fn claim_usage(
        &self,
        run: &str,
        owner: &str,
        limit: usize,
        lease: Duration,
    ) -> anyhow::Result<UsageClaim>;

    /// Extends to `lease` from now the claims `owner` still holds on these
    /// services of `run` (not done, not taken over by another host).
    fn renew_usage_claims(
        &self,
        run: &str,
        owner: &str,
        services: &[UsageServiceKey],
        lease: Duration,
    ) -> anyhow::Result<()>;

    /// Marks these services of `run` done (their usage was read and
    /// reported), whoever holds their claim: they are never claimed again
    /// in the run.
    fn finish_usage(&self, run: &str, services: &[UsageServiceKey]) -> anyhow::Result<()>;
    /// Deletes at most `at_most` acknowledged entries acknowledged before
    /// `acknowledged_before_ms` (Unix milliseconds), oldest first, and
    /// says how many it deleted. Never an entry not acknowledged (in
    /// flight, answered or unknown). A deleted entry's idempotency key is
    /// free again. Never on a call's path.
    fn purge_acknowledged(
        &self,
        acknowledged_before_ms: i64,
        at_most: usize,
    ) -> anyhow::Result<usize>;

    /// The check values of the journal's key and of the key it replaced;
    /// `None` for a journal that has none yet (made before they were kept,
    /// or never opened by a [`super::Journal`]).
    fn key_record(&self) -> anyhow::Result<Option<KeyRecord>>;

    /// Records `check` as the check value of the journal's key unless one
    /// is recorded already (another host may have been first), in one
    /// atomic step; returns the record in force afterwards.
    fn adopt_key(&self, check: &str) -> anyhow::Result<KeyRecord>;

    /// Rotates the journal's key in one transaction: unless the recorded
    /// check value is `rekey.current_check` (then [`Rekeyed::KeyMismatch`])
    /// or an entry is in flight on a live host (then [`Rekeyed::InFlight`]),
    /// every sealed record is passed through `rekey.reseal` and the key
    /// record replaced by the new one. If `reseal` fails for any record,
    /// nothing changes. While it runs, no entry can be begun or finished.
    fn rekey(&self, rekey: &Rekey) -> anyhow::Result<Rekeyed>;
}

/// What a journal records of its sealing key, and of the one before it:
/// check values ([`super::Sealer::check_value`]), never a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The check value of the key the journal is sealed with.
    pub check: String,
    /// The check value of the key it replaced, after a rotation.
    pub previous_check: Option<String>,
    /// When that rotation happened (Unix milliseconds).
    pub replaced_at_ms: Option<i64>,
    /// The journal's request-digest key, sealed under its current key;
    /// `None` until a rotation: the digest key is then the one derived
    /// from the current key.
    pub sealed_digest_key: Option<Vec<u8>>,
}

/// Re-seals one sealed record (of the given entry) under the new key.
pub type Reseal = dyn Fn(EntryId, &[u8]) -> anyhow::Result<Vec<u8>> + Send + Sync;

/// A key rotation for [`JournalStore::rekey`].
#[derive(Clone)]
pub struct Rekey {
    /// The check value the journal must have now (the key being replaced).
    pub current_check: String,
    /// The record to keep from now on: the new key's check value, the old
    /// one as `previous_check`, when, and the digest key sealed under the
    /// new key.
    pub new: KeyRecord,
    /// Opens a sealed record under the old key and seals it under the new
    /// one (for the same entry).
    pub reseal: Arc<Reseal>,
}

impl std::fmt::Debug for Rekey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rekey")
            .field("current_check", &self.current_check)
            .field("new", &self.new)
            .finish_non_exhaustive()
    }
}

/// What [`JournalStore::rekey`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rekeyed {
    /// Rotated: this many sealed records were re-sealed.
    Done {
        /// Sealed records re-sealed under the new key.
        resealed: usize,
    },
    /// The journal's key is not the one the rotation starts from: nothing
    /// changed.
    KeyMismatch,
    /// These entries are running on a live host: nothing changed.
    InFlight(Vec<EntryId>),
}

/// The names of the key record's values in a store's key/value table.
pub(crate) mod meta {
    /// The current key's check value.
    pub const KEY_CHECK: &str = "key_check";
    /// The replaced key's check value.
    pub const PREVIOUS_KEY_CHECK: &str = "previous_key_check";
    /// When it was replaced (Unix milliseconds, decimal).
    pub const KEY_REPLACED_AT_MS: &str = "key_replaced_at_ms";
    /// The digest key sealed under the current key (hex).
    pub const SEALED_DIGEST_KEY: &str = "sealed_digest_key";
    /// When the store last took a readiness probe's write (Unix
    /// milliseconds, decimal; `JournalStore::check_writable`).
    pub const WRITE_PROBED_AT_MS: &str = "write_probed_at_ms";
}

/// A key record from a store's key/value rows; `None` without a check
/// value.
pub(crate) fn key_record_from(
    rows: impl IntoIterator<Item = (String, String)>,
) -> anyhow::Result<Option<KeyRecord>> {
    let rows: std::collections::HashMap<String, String> = rows.into_iter().collect();
    let Some(check) = rows.get(meta::KEY_CHECK).cloned() else {
        return Ok(None);
    };
    let replaced_at_ms = rows
        .get(meta::KEY_REPLACED_AT_MS)
        .map(|ms| ms.parse::<i64>())
        .transpose()
        .map_err(|_| anyhow::anyhow!("the journal's key record is damaged (replaced_at_ms)"))?;
    let sealed_digest_key = rows
        .get(meta::SEALED_DIGEST_KEY)
        .map(|text| {
            crate::hex::decode(text)
                .ok_or_else(|| anyhow::anyhow!("the journal's key record is damaged (digest key)"))
        })
        .transpose()?;
    Ok(Some(KeyRecord {
        check,
        previous_check: rows.get(meta::PREVIOUS_KEY_CHECK).cloned(),
        replaced_at_ms,
        sealed_digest_key,
    }))
}

/// A key record as key/value rows (the values absent from it are `None`).
pub(crate) fn key_record_rows(record: &KeyRecord) -> Vec<(&'static str, Option<String>)> {
    vec![
        (meta::KEY_CHECK, Some(record.check.clone())),
        (meta::PREVIOUS_KEY_CHECK, record.previous_check.clone()),
        (
            meta::KEY_REPLACED_AT_MS,
            record.replaced_at_ms.map(|ms| ms.to_string()),
        ),
        (
            meta::SEALED_DIGEST_KEY,
            record
                .sealed_digest_key
                .as_ref()
                .map(|key| crate::hex::encode(key)),
        ),
    ]
}

/// The error of a store whose schema is newer than this host knows (a
/// newer host migrated it): the host refuses it rather than guess.
pub(crate) fn newer_schema(found: i64, known: i64) -> anyhow::Error {
    anyhow::anyhow!(
        "the journal was written by a newer version (schema {found}, this host knows {known}): upgrade this host"
    )
}
