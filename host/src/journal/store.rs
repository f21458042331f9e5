//! The storage behind the journal, as a trait: what any store (the
//! embedded SQLite file, a server database shared by several hosts) must
//! do, each operation atomic on its own.

use std::time::Duration;

use super::record::{Acknowledged, Acknowledgement, Begun, CallOutcome, Entry, EntryId, Intent};
use super::usage_claims::{RunService, UsageClaim, UsageServiceKey};

/// What [`JournalStore::finish`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The outcome is recorded.
    Recorded,
    /// The outcome is recorded, but an operator had resolved the entry by
    /// hand meanwhile (the host was thought gone): the entry is pending
    /// again so that someone compares the two.
    Reopened,
}

/// Storage behind the journal. [`super::SqliteJournal`] is the embedded
/// default.
///
/// Every method may fail (a locked file, a database that is down) and is
/// called from the journal's own thread, never from an async runtime's, so
/// it may block; none of the methods a call runs through (`begin`,
/// `finish`, `renew`, `get`) reads more than one entry.
///
/// Time is the store's own: leases are given as a length and measured, like
/// every timestamp and every entry's state, by the clock of the place the
/// entries are kept (the database server's for a shared store), so that
/// hosts whose clocks differ still agree on whose lease has run out.
pub trait JournalStore: Send + Sync + 'static {
    /// Records an intent, owned by `owner` under a lease of `lease` from
    /// now, atomically unless the module already has an entry under its
    /// idempotency key, which is then returned instead.
    fn begin(&self, intent: &Intent, owner: &str, lease: Duration) -> anyhow::Result<Begun>;

    /// Records the outcome of an entry begun by this host, once; the lease
    /// ends with it.
    fn finish(&self, id: EntryId, outcome: &CallOutcome) -> anyhow::Result<Finished>;

    /// Extends the lease of entries still running on this host to `lease`
    /// from now.
    fn renew(&self, ids: &[EntryId], lease: Duration) -> anyhow::Result<()>;

    /// One entry.
    fn get(&self, id: EntryId) -> anyhow::Result<Option<Entry>>;

    /// Entries not acknowledged, oldest first.
    fn pending(&self) -> anyhow::Result<Vec<Entry>>;

    /// Every entry, acknowledged ones included, oldest first: the history
    /// from which the services a platform has at each provider can be
    /// rebuilt (see [`crate::live_services`]). Never on a call's path.
    fn entries(&self) -> anyhow::Result<Vec<Entry>>;

    /// Acknowledges an entry as `ack` says and destroys its sealed
    /// credentials, unless it is acknowledged already or still in flight
    /// (its lease current), which is checked in the same atomic step.
    fn acknowledge(&self, id: EntryId, ack: &Acknowledgement) -> anyhow::Result<Acknowledged>;

    /// Frees an entry's idempotency key for a new call (the entry keeps a
    /// marked copy of it): for a call that was refused outright, so that
    /// nothing happened and trying again is safe.
    fn release_key(&self, id: EntryId) -> anyhow::Result<()>;

    /// Fails unless the store takes writes now (for a readiness check);
    /// writes nothing.
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
}

/// The error of a store whose schema is newer than this host knows (a
/// newer host migrated it): the host refuses it rather than guess.
pub(crate) fn newer_schema(found: i64, known: i64) -> anyhow::Error {
    anyhow::anyhow!(
        "the journal was written by a newer version (schema {found}, this host knows {known}): upgrade this host"
    )
}
