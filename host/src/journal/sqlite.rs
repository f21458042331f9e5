//! The embedded journal: one SQLite file in WAL mode, synchronous writes,
//! so that an outcome recorded before a crash is there after it.

use std::future::Future;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, Row, params};

use super::record::{Entry, EntryId, Intent, duration_ms, now_ms};
use super::row::{
    AcknowledgementColumns, CHECKED_COLUMNS, ENTRY_COLUMNS, FENCE_COLUMNS, OutcomeColumns,
    RENEWABLE_WHERE, RowValues, checked_of, entry_of, fence_of, in_flight_where, input_column,
    purgeable_where,
};
use super::rows::{RowStore, Rows, Selection, Unit};
use super::rules::{Checked, Fence};
use super::store::{meta, newer_schema};
use super::usage_claims::{RunService, UsageServiceKey, claimable_where, held_where, millis};

/// How long a statement waits for another connection's lock (another host
/// on the same file, or `journal pending` reading beside the host), at
/// most: within a job of the journal's thread, never past the job's
/// deadline (see [`wait_while_busy`]). Callers wait no longer than their
/// own deadline.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

thread_local! {
    /// When this thread's current wait for a lock began.
    static BUSY_SINCE: std::cell::Cell<Option<std::time::Instant>> =
        const { std::cell::Cell::new(None) };
}

/// SQLite's busy handler (`attempt`: how many times it was called for this
/// lock): waits for another connection's lock [`BUSY_TIMEOUT`] at most,
/// and never past the deadline of the journal's job running on this thread
/// ([`super::worker::job_deadline`]), so that the waits of a job's
/// statements never add up past it (a create's intent, its key check and
/// its closing each waited the whole timeout on a locked file).
fn wait_while_busy(attempt: i32) -> bool {
    let now = std::time::Instant::now();
    if attempt == 0 {
        BUSY_SINCE.with(|since| since.set(Some(now)));
    }
    let since = BUSY_SINCE.with(|since| since.get()).unwrap_or(now);
    let limit = since + BUSY_TIMEOUT;
    let give_up = super::worker::job_deadline().map_or(limit, |deadline| deadline.min(limit));
    let left = give_up.saturating_duration_since(now);
    if left.is_zero() {
        return false;
    }
    // Soon at first (a lock held for a moment), then every 20 ms.
    let pause = Duration::from_millis(u64::try_from(attempt.clamp(0, 19)).unwrap_or(0) + 1);
    std::thread::sleep(pause.min(left));
    true
}

/// The schema, one migration per version: migration `i` takes a journal
/// from version `i` to `i + 1` (SQLite's `user_version`). Applied in order
/// at open, each in its own transaction; never edit one that has shipped.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: intents and outcomes.
    "CREATE TABLE IF NOT EXISTS calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        module TEXT NOT NULL,
        function TEXT NOT NULL,
        service_id TEXT,
        idempotency_key TEXT NOT NULL,
        input TEXT NOT NULL,
        started_at_ms INTEGER NOT NULL,
        succeeded INTEGER,
        kind TEXT,
        summary TEXT,
        sealed_credentials BLOB,
        finished_at_ms INTEGER,
        acknowledged_at_ms INTEGER
    );
    CREATE UNIQUE INDEX IF NOT EXISTS calls_by_key ON calls (module, idempotency_key);
    CREATE INDEX IF NOT EXISTS calls_pending ON calls (acknowledged_at_ms, id);",
    // 2: the request's digest, whether a failure left the provider's state
    // uncertain, the owning host's lease, an operator's resolution. Version
    // 1 decided uncertainty by these kinds; the entries it wrote keep that.
    "ALTER TABLE calls ADD COLUMN request_digest TEXT;
    ALTER TABLE calls ADD COLUMN uncertain INTEGER;
    ALTER TABLE calls ADD COLUMN owner TEXT;
    ALTER TABLE calls ADD COLUMN lease_until_ms INTEGER;
    ALTER TABLE calls ADD COLUMN finding TEXT;
    ALTER TABLE calls ADD COLUMN note TEXT;
    UPDATE calls SET uncertain = (succeeded = 0 AND kind IN ('timeout', 'transport',
        'bad-response', 'provider', 'deadline-exceeded', 'trap', 'memory-exhausted',
        'output-exceeded', 'result-too-large', 'host'))
    WHERE succeeded IS NOT NULL;",
    // 3: usage runs shared by several hosts: each service registered for a
    // run, the host that claimed it and until when, whether it is done.
    "CREATE TABLE IF NOT EXISTS usage_claims (
        run TEXT NOT NULL,
        module TEXT NOT NULL,
        service_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        job TEXT NOT NULL,
        registered_at_ms INTEGER NOT NULL,
        claimed_by TEXT,
        lease_until_ms INTEGER,
        times_claimed INTEGER NOT NULL DEFAULT 0,
        done_at_ms INTEGER,
        PRIMARY KEY (run, module, service_id)
    );
    CREATE INDEX IF NOT EXISTS usage_claims_open ON usage_claims (run, done_at_ms, position);
    CREATE INDEX IF NOT EXISTS usage_claims_registered ON usage_claims (registered_at_ms);",
    // 4: the journal's own values by name: the check values of its key
    // and of the key it replaced, and the digest key after a rotation
    // (see `super::store::meta`). Purging acknowledged entries reads
    // `calls_pending` (acknowledged_at_ms, id).
    "CREATE TABLE IF NOT EXISTS meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );",
    // 5: a service's entries in a module, newest first, for the remote id
    // its last create recorded (`last_succeeded`).
    "CREATE INDEX IF NOT EXISTS calls_by_service ON calls (module, service_id, function, id);",
    // 6: until when each call's attempt may still reach the provider (its
    // start plus the module's deadline): nothing decides an entry before.
    "ALTER TABLE calls ADD COLUMN attempt_deadline_ms INTEGER;",
    // 7: the module version that answered, so that a replay names it too
    // (`super::record::CallOutcome::module_digest`).
    "ALTER TABLE calls ADD COLUMN module_digest TEXT;",
];

/// The version this host writes: the number of migrations.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A journal in a SQLite file (or in memory, for tests).
pub struct SqliteJournal {
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteJournal").finish_non_exhaustive()
    }
}

impl SqliteJournal {
    /// Opens (creating if needed) the journal at `path`, migrating its
    /// schema to this version; refuses one written by a newer version.
    pub fn open(path: &Path) -> anyhow::Result<SqliteJournal> {
        let connection = Connection::open(path)
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        // Before anything that takes a lock: switching to WAL needs one.
        connection.busy_handler(Some(wait_while_busy))?;
        // WAL lets readers (`journal pending`) run beside the host; FULL
        // makes every commit durable before it returns.
        switch_to_wal(&connection).context("switching the journal to WAL")?;
        SqliteJournal::prepare(connection)
    }

    /// A journal that lives as long as the value (tests, demos).
    pub fn in_memory() -> anyhow::Result<SqliteJournal> {
        SqliteJournal::prepare(Connection::open_in_memory()?)
    }

    fn prepare(mut connection: Connection) -> anyhow::Result<SqliteJournal> {
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.busy_handler(Some(wait_while_busy))?;
        migrate(&mut connection)?;
        Ok(SqliteJournal {
            connection: Mutex::new(connection),
        })
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each
        // statement is atomic, and an open transaction is rolled back as
        // its rows are dropped), so a poisoned lock is still usable.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Puts the file in WAL mode. SQLite answers a switch that meets another
/// connection's lock with "database is locked" at once, without waiting
/// through the busy timeout (hosts and `journal` commands opening a new
/// file at the same moment): the switch is tried again until the timeout.
fn switch_to_wal(connection: &Connection) -> rusqlite::Result<()> {
    let give_up = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match connection.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(error, _))
                if matches!(
                    error.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < give_up =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            done => return done,
        }
    }
}

/// Brings the schema to [`SCHEMA_VERSION`]. The version is read and every
/// migration applied under the file's write lock, in one transaction:
/// another process opening the same new file at the same moment (a host
/// and `journal pending`) then waits, and finds the schema done.
fn migrate(connection: &mut Connection) -> anyhow::Result<()> {
    let transaction =
        connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = transaction.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(newer_schema(version, SCHEMA_VERSION));
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        transaction
            .execute_batch(migration)
            .with_context(|| format!("migrating the journal to schema {}", index + 1))?;
    }
    transaction.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    transaction.commit().context("migrating the journal")?;
    Ok(())
}

impl RowValues for Row<'_> {
    fn integer(&self, column: &str) -> anyhow::Result<Option<i64>> {
        Ok(self.get(column)?)
    }

    fn text(&self, column: &str) -> anyhow::Result<Option<String>> {
        Ok(self.get(column)?)
    }

    fn flag(&self, column: &str) -> anyhow::Result<Option<bool>> {
        Ok(self.get(column)?)
    }

    fn bytes(&self, column: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.get(column)?)
    }
}

impl RowStore for SqliteJournal {
    type Rows<'s> = SqliteRows<'s>;

    async fn rows(&self, unit: Unit) -> anyhow::Result<SqliteRows<'_>> {
        let connection = self.connection();
        // Every transaction that writes takes the file's write lock from
        // the start: nothing another connection writes comes between its
        // reads and its writes, and its writes are one commit.
        let open = unit != Unit::Reads;
        if open {
            connection.execute_batch("BEGIN IMMEDIATE")?;
        }
        Ok(SqliteRows {
            connection,
            open,
            now_ms: now_ms(),
        })
    }

    fn run<T>(
        &self,
        what: &'static str,
        flow: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        // rusqlite is synchronous: the flow's futures never pend, and its
        // waits for a lock are the busy handler's.
        futures::executor::block_on(flow).context(what)
    }
}

/// A transaction on the journal's one connection (or, for reads, its
/// statements on their own), held for its length. Rolled back when
/// dropped uncommitted.
pub(super) struct SqliteRows<'s> {
    connection: MutexGuard<'s, Connection>,
    /// Whether a transaction is open.
    open: bool,
    /// The transaction's clock: one reading for all its statements.
    now_ms: i64,
}

impl Drop for SqliteRows<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.connection.execute_batch("ROLLBACK");
        }
    }
}

impl SqliteRows<'_> {
    fn select(&self, condition: &str, params: impl rusqlite::Params) -> anyhow::Result<Vec<Entry>> {
        let mut statement = self
            .connection
            .prepare_cached(&format!("SELECT {ENTRY_COLUMNS} FROM calls {condition}"))?;
        let mut rows = statement.query(params)?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next()? {
            entries.push(entry_of(row, self.now_ms)?);
        }
        Ok(entries)
    }

    /// One row of `columns` of an entry, mapped by `map`.
    fn entry_row<T>(
        &self,
        columns: &str,
        id: EntryId,
        map: impl FnOnce(&Row<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<Option<T>> {
        let mut statement = self
            .connection
            .prepare_cached(&format!("SELECT {columns} FROM calls WHERE id = ?1"))?;
        let mut rows = statement.query(params![id])?;
        rows.next()?.map(map).transpose()
    }

    /// Runs `sql` once for each service of a run, its parameters the run,
    /// the service's module and id, and `more`.
    fn each_service(
        &self,
        sql: &str,
        run: &str,
        services: &[UsageServiceKey],
        more: &[&dyn rusqlite::ToSql],
    ) -> anyhow::Result<()> {
        let mut statement = self.connection.prepare_cached(sql)?;
        for key in services {
            let mut values: Vec<&dyn rusqlite::ToSql> = vec![&run, &key.module, &key.service_id];
            values.extend_from_slice(more);
            statement.execute(values.as_slice())?;
        }
        Ok(())
    }
}

impl Rows for SqliteRows<'_> {
    async fn entries(&mut self, selection: Selection<'_>) -> anyhow::Result<Vec<Entry>> {
        match selection {
            Selection::Id(id) => self.select("WHERE id = ?1", params![id]),
            Selection::Key { module, key } => self.select(
                "WHERE module = ?1 AND idempotency_key = ?2",
                params![module, key],
            ),
            Selection::Pending => self.select("WHERE acknowledged_at_ms IS NULL ORDER BY id", []),
            Selection::PendingOf { module, service_id } => self.select(
                "WHERE module = ?1 AND service_id = ?2 AND acknowledged_at_ms IS NULL ORDER BY id",
                params![module, service_id],
            ),
            Selection::All => self.select("ORDER BY id", []),
            Selection::LastSucceeded {
                module,
                service_id,
                function,
            } => self.select(
                "WHERE module = ?1 AND service_id = ?2 AND function = ?3 \
                 AND succeeded = 1 ORDER BY id DESC LIMIT 1",
                params![module, service_id, function],
            ),
        }
    }

    async fn insert_intent(
        &mut self,
        intent: &Intent,
        owner: &str,
        lease: Duration,
        attempt: Duration,
    ) -> anyhow::Result<Option<EntryId>> {
        let mut statement = self.connection.prepare_cached(
            "INSERT INTO calls (module, function, service_id, idempotency_key, input,
                request_digest, started_at_ms, owner, lease_until_ms, attempt_deadline_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7 + ?9, ?7 + ?10)
             ON CONFLICT (module, idempotency_key) DO NOTHING
             RETURNING id",
        )?;
        let mut inserted = statement.query(params![
            intent.module,
            intent.function(),
            intent.service_id(),
            intent.idempotency_key,
            input_column(intent)?,
            intent.request_digest,
            self.now_ms,
            owner,
            duration_ms(lease),
            duration_ms(attempt),
        ])?;
        Ok(inserted.next()?.map(|row| row.get(0)).transpose()?)
    }

    async fn fence(&mut self, id: EntryId) -> anyhow::Result<Option<Fence>> {
        // The write lock is held since BEGIN IMMEDIATE.
        self.entry_row(FENCE_COLUMNS, id, |row| fence_of(row))
    }

    async fn write_outcome(
        &mut self,
        id: EntryId,
        outcome: &OutcomeColumns,
        sealed_credentials: Option<&[u8]>,
    ) -> anyhow::Result<()> {
        self.connection.execute(
            "UPDATE calls SET succeeded = ?2, kind = ?3, uncertain = ?4, summary = ?5,
                sealed_credentials = ?6, finished_at_ms = ?7, lease_until_ms = NULL,
                module_digest = ?8
             WHERE id = ?1",
            params![
                id,
                outcome.succeeded,
                outcome.kind,
                outcome.uncertain,
                outcome.summary,
                sealed_credentials,
                self.now_ms,
                outcome.module_digest,
            ],
        )?;
        Ok(())
    }

    async fn renew_leases(&mut self, ids: &[EntryId], lease: Duration) -> anyhow::Result<()> {
        let mut statement = self.connection.prepare_cached(&format!(
            "UPDATE calls SET lease_until_ms = ?2 WHERE id = ?1 AND {RENEWABLE_WHERE}"
        ))?;
        let until = self.now_ms.saturating_add(duration_ms(lease));
        for id in ids {
            statement.execute(params![id, until])?;
        }
        Ok(())
    }

    async fn checked(&mut self, id: EntryId) -> anyhow::Result<Option<Checked>> {
        let now = self.now_ms;
        self.entry_row(CHECKED_COLUMNS, id, |row| checked_of(row, now))
    }

    async fn write_acknowledgement(
        &mut self,
        id: EntryId,
        written: &AcknowledgementColumns,
        now_ms: i64,
    ) -> anyhow::Result<()> {
        self.connection.execute(
            "UPDATE calls SET acknowledged_at_ms = ?2, sealed_credentials = NULL,
                finding = ?3, note = ?4
             WHERE id = ?1",
            params![id, now_ms, written.finding, written.note],
        )?;
        if let Some(columns) = &written.outcome {
            self.connection.execute(
                "UPDATE calls SET succeeded = ?2, kind = ?3, uncertain = ?4, summary = ?5,
                    module_digest = ?6
                 WHERE id = ?1",
                params![
                    id,
                    columns.succeeded,
                    columns.kind,
                    columns.uncertain,
                    columns.summary,
                    columns.module_digest,
                ],
            )?;
        }
        if written.release_key {
            self.release_key(id).await?;
        }
        Ok(())
    }

    async fn release_key(&mut self, id: EntryId) -> anyhow::Result<()> {
        self.connection.execute(
            "UPDATE calls SET idempotency_key = idempotency_key || '#released-' || id
             WHERE id = ?1 AND idempotency_key NOT LIKE '%#released-%'",
            params![id],
        )?;
        Ok(())
    }

    async fn in_flight(&mut self) -> anyhow::Result<Vec<EntryId>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT id FROM calls WHERE {} ORDER BY id",
            in_flight_where("?1")
        ))?;
        Ok(statement
            .query_map(params![self.now_ms], |row| row.get(0))?
            .collect::<Result<_, _>>()?)
    }

    async fn sealed_records(&mut self) -> anyhow::Result<Vec<(EntryId, Vec<u8>)>> {
        let mut statement = self.connection.prepare(
            "SELECT id, sealed_credentials FROM calls
             WHERE sealed_credentials IS NOT NULL ORDER BY id",
        )?;
        Ok(statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?)
    }

    async fn write_sealed(&mut self, id: EntryId, sealed: &[u8]) -> anyhow::Result<()> {
        self.connection.execute(
            "UPDATE calls SET sealed_credentials = ?2 WHERE id = ?1",
            params![id, sealed],
        )?;
        Ok(())
    }

    async fn purge(
        &mut self,
        acknowledged_before_ms: i64,
        at_most: usize,
    ) -> anyhow::Result<usize> {
        Ok(self.connection.execute(
            &format!(
                "DELETE FROM calls WHERE id IN (
                    SELECT id FROM calls WHERE {}
                    ORDER BY acknowledged_at_ms, id LIMIT ?2)",
                purgeable_where("?1")
            ),
            params![
                acknowledged_before_ms,
                i64::try_from(at_most).unwrap_or(i64::MAX)
            ],
        )?)
    }

    async fn meta(&mut self) -> anyhow::Result<Vec<(String, String)>> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT name, value FROM meta")?;
        Ok(statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?)
    }

    async fn set_meta(&mut self, name: &str, value: Option<&str>) -> anyhow::Result<()> {
        match value {
            Some(value) => self.connection.execute(
                "INSERT INTO meta (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )?,
            None => self
                .connection
                .execute("DELETE FROM meta WHERE name = ?1", params![name])?,
        };
        Ok(())
    }

    async fn add_meta(&mut self, name: &str, value: &str) -> anyhow::Result<()> {
        self.connection.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES (?1, ?2)",
            params![name, value],
        )?;
        Ok(())
    }

    async fn probe_write(&mut self) -> anyhow::Result<()> {
        // A read-only file, a full disk or another process holding the
        // lock fail here or at the commit.
        let now = self.now_ms.to_string();
        self.set_meta(meta::WRITE_PROBED_AT_MS, Some(&now)).await
    }

    async fn forget_usage_runs(&mut self, forget_after: Duration) -> anyhow::Result<()> {
        self.connection.execute(
            "DELETE FROM usage_claims WHERE registered_at_ms < ?1",
            params![self.now_ms.saturating_sub(millis(forget_after))],
        )?;
        Ok(())
    }

    async fn add_usage_services(
        &mut self,
        run: &str,
        services: &[RunService],
    ) -> anyhow::Result<()> {
        let mut insert = self.connection.prepare_cached(
            "INSERT OR IGNORE INTO usage_claims
                (run, module, service_id, position, job, registered_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (position, service) in services.iter().enumerate() {
            insert.execute(params![
                run,
                service.key.module,
                service.key.service_id,
                position as i64,
                service.job,
                self.now_ms
            ])?;
        }
        Ok(())
    }

    async fn usage_services(&mut self, run: &str) -> anyhow::Result<i64> {
        Ok(self.connection.query_row(
            "SELECT COUNT(*) FROM usage_claims WHERE run = ?1",
            params![run],
            |row| row.get(0),
        )?)
    }

    async fn claim_usage_services(
        &mut self,
        run: &str,
        owner: &str,
        limit: usize,
        lease: Duration,
    ) -> anyhow::Result<Vec<(RunService, i64)>> {
        // Under the write lock since BEGIN IMMEDIATE: the choice and the
        // claim are one step, so two hosts on one file never claim the
        // same row.
        let open: Vec<(RunService, i64)> = {
            let mut select = self.connection.prepare_cached(&format!(
                "SELECT module, service_id, job, times_claimed FROM usage_claims
                 WHERE run = ?1 AND {}
                 ORDER BY position, module, service_id
                 LIMIT ?3",
                claimable_where("?2")
            ))?;
            select
                .query_map(
                    params![run, self.now_ms, i64::try_from(limit).unwrap_or(i64::MAX)],
                    |row| {
                        Ok((
                            RunService {
                                key: UsageServiceKey {
                                    module: row.get(0)?,
                                    service_id: row.get(1)?,
                                },
                                job: row.get(2)?,
                            },
                            row.get(3)?,
                        ))
                    },
                )?
                .collect::<Result<_, _>>()?
        };
        let keys: Vec<UsageServiceKey> = open
            .iter()
            .map(|(service, _)| service.key.clone())
            .collect();
        let until = self.now_ms.saturating_add(millis(lease).max(1));
        self.each_service(
            "UPDATE usage_claims
             SET claimed_by = ?4, lease_until_ms = ?5, times_claimed = times_claimed + 1
             WHERE run = ?1 AND module = ?2 AND service_id = ?3",
            run,
            &keys,
            &[&owner, &until],
        )?;
        Ok(open)
    }

    async fn held_usage_services(&mut self, run: &str) -> anyhow::Result<i64> {
        Ok(self.connection.query_row(
            &format!(
                "SELECT COUNT(*) FROM usage_claims WHERE run = ?1 AND {}",
                held_where("?2")
            ),
            params![run, self.now_ms],
            |row| row.get(0),
        )?)
    }

    async fn renew_usage_claims(
        &mut self,
        run: &str,
        owner: &str,
        services: &[UsageServiceKey],
        lease: Duration,
    ) -> anyhow::Result<()> {
        let until = self.now_ms.saturating_add(millis(lease).max(1));
        self.each_service(
            "UPDATE usage_claims SET lease_until_ms = ?5
             WHERE run = ?1 AND module = ?2 AND service_id = ?3 AND claimed_by = ?4
                AND done_at_ms IS NULL",
            run,
            services,
            &[&owner, &until],
        )
    }

    async fn finish_usage_services(
        &mut self,
        run: &str,
        services: &[UsageServiceKey],
    ) -> anyhow::Result<()> {
        self.each_service(
            "UPDATE usage_claims SET done_at_ms = ?4, lease_until_ms = NULL
             WHERE run = ?1 AND module = ?2 AND service_id = ?3 AND done_at_ms IS NULL",
            run,
            services,
            &[&self.now_ms],
        )
    }

    async fn commit(mut self) -> anyhow::Result<()> {
        if self.open {
            self.connection.execute_batch("COMMIT")?;
            self.open = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! What is SQLite's own: the file's settings and the migration of a
    //! version 1 file. The store's behaviour is tested once for every
    //! store, in `super::super::store_tests`.

    use super::super::record::EntryState;
    use super::super::store::JournalStore;
    use super::super::store_tests::SqliteFile;
    use super::*;

    #[test]
    fn a_file_journal_is_in_wal_mode_with_full_synchronous_writes() {
        let dir = SqliteFile::new("pragmas");
        let journal = SqliteJournal::open(&dir.file()).unwrap();
        let connection = journal.connection();
        let mode: String = connection
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        let synchronous: i64 = connection
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .unwrap();
        let version: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(synchronous, 2, "FULL");
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_version_1_journal_is_migrated_with_its_entries() {
        let dir = SqliteFile::new("migrate");
        {
            let connection = Connection::open(dir.file()).unwrap();
            connection.execute_batch(MIGRATIONS[0]).unwrap();
            connection
                .execute_batch(
                    r#"INSERT INTO calls (module, function, idempotency_key, input, started_at_ms,
                        succeeded, kind, summary, finished_at_ms)
                     VALUES ('m', 'suspend', 'k-timeout', '{"function":"suspend","service":{"service_id":"s"}}', 1, 0, 'timeout', '{}', 2),
                            ('m', 'suspend', 'k-refused', '{"function":"suspend","service":{"service_id":"s"}}', 1, 0, 'auth-failed', '{}', 2),
                            ('m', 'suspend', 'k-running', '{"function":"suspend","service":{"service_id":"s"}}', 1, NULL, NULL, NULL, NULL);
                     PRAGMA user_version = 1;"#,
                )
                .unwrap();
        }
        let journal = SqliteJournal::open(&dir.file()).unwrap();
        let states: Vec<_> = journal
            .pending()
            .unwrap()
            .into_iter()
            .map(|e| (e.intent.idempotency_key, e.state, e.intent.request_digest))
            .collect();
        assert_eq!(
            states,
            vec![
                ("k-timeout".into(), EntryState::Unknown, None),
                ("k-refused".into(), EntryState::Answered, None),
                ("k-running".into(), EntryState::Unknown, None),
            ]
        );
        assert_eq!(
            journal.key_record().unwrap(),
            None,
            "no key on record: the first key opening it is adopted"
        );
    }
}
