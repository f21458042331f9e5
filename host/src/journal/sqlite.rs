//! The embedded journal: one SQLite file in WAL mode, synchronous writes,
//! so that an outcome recorded before a crash is there after it.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, Row, params};

use super::record::{
    Acknowledged, Acknowledgement, Begun, CallOutcome, Entry, EntryId, Intent, duration_ms,
    lease_until_ms, now_ms,
};
use super::row::{
    AcknowledgementColumns, CHECKED_COLUMNS, ENTRY_COLUMNS, FENCE_COLUMNS, OutcomeColumns,
    RENEWABLE_WHERE, RowValues, checked_of, entry_of, fence_of, in_flight_where, input_column,
    purgeable_where,
};
use super::rules::{decide_finish, refused_acknowledgement, refused_rekey, usage_claim};
use super::store::{
    Finished, JournalStore, KeyRecord, Rekey, Rekeyed, key_record_from, key_record_rows, meta,
    newer_schema,
};
use super::usage_claims::{
    RunService, UsageClaim, UsageServiceKey, claimable_where, held_where, millis,
};

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

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each
        // statement is atomic), so a poisoned lock is still usable.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn select(&self, condition: &str, params: impl rusqlite::Params) -> anyhow::Result<Vec<Entry>> {
        let connection = self.connection();
        let mut statement =
            connection.prepare_cached(&format!("SELECT {ENTRY_COLUMNS} FROM calls {condition}"))?;
        let now = now_ms();
        let mut rows = statement.query(params)?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next()? {
            entries.push(entry_of(row, now)?);
        }
        Ok(entries)
    }
}

/// Writes one value and commits it, as a call's intent would: a read-only
/// file, a full disk or another process holding the lock fail here (taking
/// the lock and letting it go would pass on a full disk).
fn probe_write(connection: &Connection) -> anyhow::Result<()> {
    connection
        .execute(
            "INSERT INTO meta (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![meta::WRITE_PROBED_AT_MS, now_ms().to_string()],
        )
        .context("writing to the journal")?;
    Ok(())
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

impl JournalStore for SqliteJournal {
    fn begin(
        &self,
        intent: &Intent,
        owner: &str,
        lease: Duration,
        attempt: Duration,
    ) -> anyhow::Result<Begun> {
        let mut connection = self.connection();
        // One transaction: the key check and the insert cannot interleave
        // with another host's on the same file.
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let existing = {
            let mut statement = transaction.prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM calls WHERE module = ?1 AND idempotency_key = ?2"
            ))?;
            let mut rows = statement.query(params![intent.module, intent.idempotency_key])?;
            match rows.next()? {
                Some(row) => Some(entry_of(row, now_ms())?),
                None => None,
            }
        };
        if let Some(existing) = existing {
            return Ok(Begun::Existing(existing));
        }
        transaction.execute(
            "INSERT INTO calls (module, function, service_id, idempotency_key, input,
                request_digest, started_at_ms, owner, lease_until_ms, attempt_deadline_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?7 + ?10)",
            params![
                intent.module,
                intent.function(),
                intent.service_id(),
                intent.idempotency_key,
                input_column(intent)?,
                intent.request_digest,
                now_ms(),
                owner,
                lease_until_ms(lease),
                duration_ms(attempt),
            ],
        )?;
        let id = transaction.last_insert_rowid();
        transaction.commit().context("recording a call's intent")?;
        Ok(Begun::Started(id))
    }

    fn finish(&self, id: EntryId, owner: &str, outcome: &CallOutcome) -> anyhow::Result<Finished> {
        let columns = OutcomeColumns::of(outcome)?;
        let mut connection = self.connection();
        let mut record = || -> anyhow::Result<Finished> {
            // The write lock from the start: nothing decides the entry
            // between the fence's read and the write.
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let found = {
                let mut statement = transaction
                    .prepare_cached(&format!("SELECT {FENCE_COLUMNS} FROM calls WHERE id = ?1"))?;
                let mut rows = statement.query(params![id])?;
                match rows.next()? {
                    Some(row) => Some(fence_of(row)?),
                    None => None,
                }
            };
            let decided = decide_finish(found.as_ref(), owner);
            if decided == Finished::Recorded {
                transaction.execute(
                    "UPDATE calls SET succeeded = ?2, kind = ?3, uncertain = ?4, summary = ?5,
                        sealed_credentials = ?6, finished_at_ms = ?7, lease_until_ms = NULL,
                        module_digest = ?8
                     WHERE id = ?1",
                    params![
                        id,
                        columns.succeeded,
                        columns.kind,
                        columns.uncertain,
                        columns.summary,
                        outcome.sealed_credentials,
                        now_ms(),
                        columns.module_digest,
                    ],
                )?;
                transaction.commit()?;
            }
            Ok(decided)
        };
        record().context("recording a call's outcome")
    }

    fn renew(&self, ids: &[EntryId], lease: Duration) -> anyhow::Result<()> {
        let lease_until_ms = lease_until_ms(lease);
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        {
            let mut statement = transaction.prepare_cached(&format!(
                "UPDATE calls SET lease_until_ms = ?2 WHERE id = ?1 AND {RENEWABLE_WHERE}"
            ))?;
            for id in ids {
                statement.execute(params![id, lease_until_ms])?;
            }
        }
        transaction.commit().context("renewing leases")?;
        Ok(())
    }

    fn get(&self, id: EntryId) -> anyhow::Result<Option<Entry>> {
        Ok(self.select("WHERE id = ?1", params![id])?.pop())
    }

    fn pending(&self) -> anyhow::Result<Vec<Entry>> {
        self.select("WHERE acknowledged_at_ms IS NULL ORDER BY id", [])
    }

    fn pending_of(&self, module: &str, service_id: &str) -> anyhow::Result<Vec<Entry>> {
        self.select(
            "WHERE module = ?1 AND service_id = ?2 AND acknowledged_at_ms IS NULL ORDER BY id",
            params![module, service_id],
        )
        .context("reading a service's pending entries")
    }

    fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        self.select("ORDER BY id", [])
            .context("reading the journal's entries")
    }

    fn last_succeeded(
        &self,
        module: &str,
        service_id: &str,
        function: &str,
    ) -> anyhow::Result<Option<Entry>> {
        Ok(self
            .select(
                "WHERE module = ?1 AND service_id = ?2 AND function = ?3 \
                 AND succeeded = 1 ORDER BY id DESC LIMIT 1",
                params![module, service_id, function],
            )
            .with_context(|| format!("reading a service's last {function}"))?
            .pop())
    }

    fn acknowledge(&self, id: EntryId, ack: &Acknowledgement) -> anyhow::Result<Acknowledged> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        let now = now_ms();
        let found = {
            let mut statement = transaction.prepare_cached(&format!(
                "SELECT {CHECKED_COLUMNS} FROM calls WHERE id = ?1"
            ))?;
            let mut rows = statement.query(params![id])?;
            match rows.next()? {
                Some(row) => Some(checked_of(row, now)?),
                None => None,
            }
        };
        let Some(found) = found else {
            return Ok(Acknowledged::NotPending);
        };
        if let Some(refused) = refused_acknowledgement(ack, found) {
            return Ok(refused);
        }
        let written = AcknowledgementColumns::of(ack)?;
        transaction.execute(
            "UPDATE calls SET acknowledged_at_ms = ?2, sealed_credentials = NULL,
                finding = ?3, note = ?4
             WHERE id = ?1",
            params![id, now, written.finding, written.note],
        )?;
        if let Some(columns) = &written.outcome {
            transaction.execute(
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
            release_key(&transaction, id)?;
        }
        transaction
            .commit()
            .context("acknowledging a journal entry")?;
        Ok(Acknowledged::Yes)
    }

    fn release_key(&self, id: EntryId) -> anyhow::Result<()> {
        release_key(&self.connection(), id).context("releasing an idempotency key")
    }

    fn check_writable(&self) -> anyhow::Result<()> {
        probe_write(&self.connection())
    }

    fn register_usage_run(
        &self,
        run: &str,
        services: &[RunService],
        forget_after: Duration,
    ) -> anyhow::Result<usize> {
        let mut connection = self.connection();
        // Immediate: the write lock from the start, so that hosts on one
        // file register one after the other.
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = now_ms();
        transaction.execute(
            "DELETE FROM usage_claims WHERE registered_at_ms < ?1",
            params![now.saturating_sub(millis(forget_after))],
        )?;
        {
            let mut insert = transaction.prepare_cached(
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
                    now
                ])?;
            }
        }
        let count: i64 = transaction.query_row(
            "SELECT COUNT(*) FROM usage_claims WHERE run = ?1",
            params![run],
            |row| row.get(0),
        )?;
        transaction.commit().context("registering a usage run")?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    fn claim_usage(
        &self,
        run: &str,
        owner: &str,
        limit: usize,
        lease: Duration,
    ) -> anyhow::Result<UsageClaim> {
        let mut connection = self.connection();
        // Immediate: the choice and the claim in one step under the write
        // lock, so that two hosts on one file never claim the same row.
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = now_ms();
        let in_progress: i64 = transaction.query_row(
            &format!(
                "SELECT COUNT(*) FROM usage_claims WHERE run = ?1 AND {}",
                held_where("?2")
            ),
            params![run, now],
            |row| row.get(0),
        )?;
        let open: Vec<(RunService, i64)> = {
            let mut select = transaction.prepare_cached(&format!(
                "SELECT module, service_id, job, times_claimed FROM usage_claims
                 WHERE run = ?1 AND {}
                 ORDER BY position, module, service_id
                 LIMIT ?3",
                claimable_where("?2")
            ))?;
            select
                .query_map(
                    params![run, now, i64::try_from(limit).unwrap_or(i64::MAX)],
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
        {
            let mut claim = transaction.prepare_cached(
                "UPDATE usage_claims
                 SET claimed_by = ?4, lease_until_ms = ?5, times_claimed = times_claimed + 1
                 WHERE run = ?1 AND module = ?2 AND service_id = ?3",
            )?;
            let until = now.saturating_add(millis(lease).max(1));
            for (service, _) in &open {
                claim.execute(params![
                    run,
                    service.key.module,
                    service.key.service_id,
                    owner,
                    until
                ])?;
            }
        }
        transaction.commit().context("claiming usage services")?;
        Ok(usage_claim(open, in_progress))
    }

    fn renew_usage_claims(
        &self,
        run: &str,
        owner: &str,
        services: &[UsageServiceKey],
        lease: Duration,
    ) -> anyhow::Result<()> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        {
            let mut renew = transaction.prepare_cached(
                "UPDATE usage_claims SET lease_until_ms = ?5
                 WHERE run = ?1 AND module = ?2 AND service_id = ?3 AND claimed_by = ?4
                    AND done_at_ms IS NULL",
            )?;
            let until = now_ms().saturating_add(millis(lease).max(1));
            for key in services {
                renew.execute(params![run, key.module, key.service_id, owner, until])?;
            }
        }
        transaction.commit().context("renewing usage claims")?;
        Ok(())
    }

    fn finish_usage(&self, run: &str, services: &[UsageServiceKey]) -> anyhow::Result<()> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        {
            let mut finish = transaction.prepare_cached(
                "UPDATE usage_claims SET done_at_ms = ?4, lease_until_ms = NULL
                 WHERE run = ?1 AND module = ?2 AND service_id = ?3 AND done_at_ms IS NULL",
            )?;
            let now = now_ms();
            for key in services {
                finish.execute(params![run, key.module, key.service_id, now])?;
            }
        }
        transaction
            .commit()
            .context("marking usage services done")?;
        Ok(())
    }

    fn purge_acknowledged(
        &self,
        acknowledged_before_ms: i64,
        at_most: usize,
    ) -> anyhow::Result<usize> {
        let deleted = self
            .connection()
            .execute(
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
            )
            .context("purging acknowledged entries")?;
        Ok(deleted)
    }

    fn key_record(&self) -> anyhow::Result<Option<KeyRecord>> {
        read_key_record(&self.connection()).context("reading the journal's key record")
    }

    fn adopt_key(&self, check: &str) -> anyhow::Result<KeyRecord> {
        let connection = self.connection();
        connection
            .execute(
                "INSERT OR IGNORE INTO meta (name, value) VALUES (?1, ?2)",
                params![meta::KEY_CHECK, check],
            )
            .context("recording the journal's key")?;
        read_key_record(&connection)?.context("the journal's key record disappeared")
    }

    fn rekey(&self, rekey: &Rekey) -> anyhow::Result<Rekeyed> {
        let mut connection = self.connection();
        // The write lock from the start: no host begins or finishes a call
        // until the rotation is committed or rolled back.
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let record = read_key_record(&transaction)?;
        let in_flight = {
            let mut statement = transaction.prepare(&format!(
                "SELECT id FROM calls WHERE {} ORDER BY id",
                in_flight_where("?1")
            ))?;
            statement
                .query_map(params![now_ms()], |row| row.get::<_, EntryId>(0))?
                .collect::<Result<Vec<_>, _>>()?
        };
        if let Some(refused) = refused_rekey(record.as_ref(), &rekey.current_check, in_flight) {
            return Ok(refused);
        }
        let sealed = {
            let mut statement = transaction.prepare(
                "SELECT id, sealed_credentials FROM calls
                 WHERE sealed_credentials IS NOT NULL ORDER BY id",
            )?;
            statement
                .query_map([], |row| {
                    Ok((row.get::<_, EntryId>(0)?, row.get::<_, Vec<u8>>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?
        };
        for (id, record) in &sealed {
            let resealed = (rekey.reseal)(*id, record)?;
            transaction.execute(
                "UPDATE calls SET sealed_credentials = ?2 WHERE id = ?1",
                params![id, resealed],
            )?;
        }
        for (name, value) in key_record_rows(&rekey.new) {
            match value {
                Some(value) => transaction.execute(
                    "INSERT INTO meta (name, value) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    params![name, value],
                )?,
                None => transaction.execute("DELETE FROM meta WHERE name = ?1", params![name])?,
            };
        }
        transaction.commit().context("rotating the journal's key")?;
        Ok(Rekeyed::Done {
            resealed: sealed.len(),
        })
    }
}

fn read_key_record(connection: &Connection) -> anyhow::Result<Option<KeyRecord>> {
    let mut statement = connection.prepare_cached("SELECT name, value FROM meta")?;
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<Vec<(String, String)>, _>>()?;
    key_record_from(rows)
}

fn release_key(connection: &Connection, id: EntryId) -> anyhow::Result<()> {
    connection.execute(
        "UPDATE calls SET idempotency_key = idempotency_key || '#released-' || id
         WHERE id = ?1 AND idempotency_key NOT LIKE '%#released-%'",
        params![id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! What is SQLite's own: the file's settings and the migration of a
    //! version 1 file. The store's behaviour is tested once for every
    //! store, in `super::super::store_tests`.

    use super::super::record::EntryState;
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
