//! What a store implements: row operations inside a transaction
//! ([`Rows`]), and how it opens one and runs a flow to its end
//! ([`RowStore`]). A store writes its SQL and its locking here and decides
//! nothing: every [`super::JournalStore`] method is one flow, written once
//! in `super::flow`, that reads rows, asks `super::rules`, and writes.
//!
//! The operations are async. PostgreSQL's are truly so (tokio-postgres on
//! the store's own runtime); SQLite's futures never pend (rusqlite is
//! synchronous) and are run to their end at once. That is simpler than the
//! other way round (synchronous operations, each statement of PostgreSQL's
//! blocked on by itself): a PostgreSQL transaction stays an ordinary
//! future, one timeout bounds the whole of it, and dropping it (a timeout,
//! an error) rolls it back.
//!
//! Time is the store's: an operation given a lease (a length) measures it
//! from the store's clock, and an entry's state is judged by that clock
//! (the database server's for PostgreSQL, this machine's for SQLite).

use std::future::Future;
use std::time::Duration;

use super::record::{Entry, EntryId, Intent};
use super::row::{AcknowledgementColumns, OutcomeColumns};
use super::rules::{Checked, Fence};
use super::usage_claims::{RunService, UsageServiceKey};

/// What a transaction is for, so that each store takes the locks it
/// needs for it: SQLite takes the file's write lock at the start of any
/// transaction that writes (`BEGIN IMMEDIATE`); PostgreSQL opens a
/// transaction only where one statement cannot be atomic alone, and
/// locks what the kind names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    /// Reads only, each consistent on its own.
    Reads,
    /// Writes (and reads after them), each statement atomic on its own
    /// (an insert that does nothing when its key is taken, a claim that
    /// skips rows locked by another); committed together.
    Writes,
    /// Entries read and then written as a rule decided: what was read
    /// must not change before the commit (PostgreSQL: the rows read are
    /// locked `FOR UPDATE`).
    Decision,
    /// A key rotation: no intent or outcome is recorded and no key
    /// adopted until the commit (PostgreSQL: the calls and meta tables
    /// locked against writers; reads go on).
    Journal,
    /// Registering a usage run: hosts registering at once go one after
    /// the other (PostgreSQL: an advisory lock).
    UsageRuns,
}

/// Which entries [`Rows::entries`] reads, oldest first unless said.
#[derive(Debug, Clone, Copy)]
pub(super) enum Selection<'a> {
    /// One entry by id.
    Id(EntryId),
    /// The entry holding a module's idempotency key.
    Key {
        /// The module's name.
        module: &'a str,
        /// The idempotency key.
        key: &'a str,
    },
    /// Every entry not acknowledged.
    Pending,
    /// The entries not acknowledged of one service of a module.
    PendingOf {
        /// The module's name.
        module: &'a str,
        /// The platform's service id.
        service_id: &'a str,
    },
    /// Every entry.
    All,
    /// The newest entry of `function` on a service that succeeded.
    LastSucceeded {
        /// The module's name.
        module: &'a str,
        /// The platform's service id.
        service_id: &'a str,
        /// The contract function's name.
        function: &'a str,
    },
}

/// A store that runs the journal's flows: opens transactions of
/// [`Rows`] and runs a flow's future to its end.
pub(super) trait RowStore: Send + Sync + 'static {
    /// One transaction's row operations.
    type Rows<'s>: Rows
    where
        Self: 's;

    /// Opens a transaction for `unit`. Dropped without
    /// [`Rows::commit`], it is rolled back.
    async fn rows(&self, unit: Unit) -> anyhow::Result<Self::Rows<'_>>;

    /// Runs `flow` to its end on the calling thread (the journal's own,
    /// never an async runtime's: it blocks), within the store's time
    /// limit; errors say `what` was being done, and where.
    fn run<T>(
        &self,
        what: &'static str,
        flow: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T>;
}

/// The row operations of one transaction. An operation on one entry that
/// finds no such entry does nothing.
pub(super) trait Rows {
    /// The entries `selection` names, mapped by `super::row::entry_of`.
    async fn entries(&mut self, selection: Selection<'_>) -> anyhow::Result<Vec<Entry>>;

    /// Inserts `intent` as a new entry owned by `owner`, its lease and
    /// attempt's deadline those lengths from now, and returns its id; or
    /// `None`, writing nothing, when the module's key is taken (the
    /// unique index decides between hosts inserting at once).
    async fn insert_intent(
        &mut self,
        intent: &Intent,
        owner: &str,
        lease: Duration,
        attempt: Duration,
    ) -> anyhow::Result<Option<EntryId>>;

    /// What `finish` reads of an entry, the row locked until the commit.
    async fn fence(&mut self, id: EntryId) -> anyhow::Result<Option<Fence>>;

    /// Writes an entry's outcome and its sealed credentials, finished now;
    /// its lease ends.
    async fn write_outcome(
        &mut self,
        id: EntryId,
        outcome: &OutcomeColumns,
        sealed_credentials: Option<&[u8]>,
    ) -> anyhow::Result<()>;

    /// Extends to `lease` from now the leases of these entries that have
    /// no outcome yet (`super::row::RENEWABLE_WHERE`).
    async fn renew_leases(&mut self, ids: &[EntryId], lease: Duration) -> anyhow::Result<()>;

    /// What an acknowledgement reads of an entry, with the store's clock,
    /// the row locked until the commit.
    async fn checked(&mut self, id: EntryId) -> anyhow::Result<Option<Checked>>;

    /// Acknowledges an entry at `now_ms` as `written` says (its sealed
    /// credentials destroyed, a finding, an outcome replacing the one on
    /// record, its key released).
    async fn write_acknowledgement(
        &mut self,
        id: EntryId,
        written: &AcknowledgementColumns,
        now_ms: i64,
    ) -> anyhow::Result<()>;

    /// Frees an entry's idempotency key (it keeps a marked copy).
    async fn release_key(&mut self, id: EntryId) -> anyhow::Result<()>;

    /// The ids of the entries in flight on a live host
    /// (`super::row::in_flight_where`), in order.
    async fn in_flight(&mut self) -> anyhow::Result<Vec<EntryId>>;

    /// Every sealed record, by entry, in order.
    async fn sealed_records(&mut self) -> anyhow::Result<Vec<(EntryId, Vec<u8>)>>;

    /// Replaces an entry's sealed record.
    async fn write_sealed(&mut self, id: EntryId, sealed: &[u8]) -> anyhow::Result<()>;

    /// Deletes at most `at_most` entries acknowledged before
    /// `acknowledged_before_ms`, oldest first; how many.
    async fn purge(&mut self, acknowledged_before_ms: i64, at_most: usize)
    -> anyhow::Result<usize>;

    /// The journal's own values by name (`super::store::meta`).
    async fn meta(&mut self) -> anyhow::Result<Vec<(String, String)>>;

    /// Sets a value (`None`: deletes it).
    async fn set_meta(&mut self, name: &str, value: Option<&str>) -> anyhow::Result<()>;

    /// Sets a value unless it is set already.
    async fn add_meta(&mut self, name: &str, value: &str) -> anyhow::Result<()>;

    /// Writes the store's clock as `meta::WRITE_PROBED_AT_MS`.
    async fn probe_write(&mut self) -> anyhow::Result<()>;

    /// Deletes the rows of every usage run registered more than
    /// `forget_after` ago.
    async fn forget_usage_runs(&mut self, forget_after: Duration) -> anyhow::Result<()>;

    /// Registers `services` for `run` in this order, leaving those
    /// registered already as they are.
    async fn add_usage_services(
        &mut self,
        run: &str,
        services: &[RunService],
    ) -> anyhow::Result<()>;

    /// How many services `run` has.
    async fn usage_services(&mut self, run: &str) -> anyhow::Result<i64>;

    /// Claims for `owner`, under a lease of `lease` from now, up to
    /// `limit` services of `run` that may be claimed
    /// (`super::usage_claims::claimable_where`), never one another host
    /// is claiming at once; returns them in the order they were
    /// registered, each with how many times it was claimed before.
    async fn claim_usage_services(
        &mut self,
        run: &str,
        owner: &str,
        limit: usize,
        lease: Duration,
    ) -> anyhow::Result<Vec<(RunService, i64)>>;

    /// How many services of `run` are under a live claim
    /// (`super::usage_claims::held_where`).
    async fn held_usage_services(&mut self, run: &str) -> anyhow::Result<i64>;

    /// Extends to `lease` from now the claims `owner` holds on these
    /// services of `run` (not done).
    async fn renew_usage_claims(
        &mut self,
        run: &str,
        owner: &str,
        services: &[UsageServiceKey],
        lease: Duration,
    ) -> anyhow::Result<()>;

    /// Marks these services of `run` done now (their leases end).
    async fn finish_usage_services(
        &mut self,
        run: &str,
        services: &[UsageServiceKey],
    ) -> anyhow::Result<()>;

    /// Commits the transaction.
    async fn commit(self) -> anyhow::Result<()>;
}
