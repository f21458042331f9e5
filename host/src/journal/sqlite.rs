//! The embedded journal: one SQLite file in WAL mode, synchronous writes,
//! so that an outcome recorded before a crash is there after it.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Begun, Entry, EntryId, EntryState, Intent, JournalStore, Outcome, now_ms};

/// How long a statement waits for another connection's lock (another host
/// on the same file, or `journal pending` reading beside the host).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Version of the schema below, kept in SQLite's `user_version`.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS calls (
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
CREATE INDEX IF NOT EXISTS calls_pending ON calls (acknowledged_at_ms, id);
";

const COLUMNS: &str = "id, module, function, service_id, idempotency_key, input, started_at_ms, \
     succeeded, kind, summary, sealed_credentials, finished_at_ms, acknowledged_at_ms";

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
    /// Opens (creating if needed) the journal at `path`.
    pub fn open(path: &Path) -> anyhow::Result<SqliteJournal> {
        let connection = Connection::open(path)
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        // Before anything that takes a lock: switching to WAL needs one.
        connection.busy_timeout(BUSY_TIMEOUT)?;
        // WAL lets readers (`journal pending`) run beside the host; FULL
        // makes every commit durable before it returns.
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .context("switching the journal to WAL")?;
        SqliteJournal::prepare(connection)
    }

    /// A journal that lives as long as the value (tests, demos).
    pub fn in_memory() -> anyhow::Result<SqliteJournal> {
        SqliteJournal::prepare(Connection::open_in_memory()?)
    }

    fn prepare(connection: Connection) -> anyhow::Result<SqliteJournal> {
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version > SCHEMA_VERSION {
            bail!(
                "the journal was written by a newer version (schema {version}, this host knows {SCHEMA_VERSION})"
            );
        }
        connection
            .execute_batch(SCHEMA)
            .context("creating the journal's tables")?;
        connection.pragma_update(None, "user_version", SCHEMA_VERSION)?;
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
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<Entry> {
    let succeeded: Option<bool> = row.get(7)?;
    let acknowledged_at_ms: Option<i64> = row.get(12)?;
    let outcome = match succeeded {
        Some(succeeded) => Some(Outcome {
            succeeded,
            kind: row.get(8)?,
            summary: row.get(9)?,
            sealed_credentials: row.get(10)?,
        }),
        None => None,
    };
    let state = match (&outcome, acknowledged_at_ms) {
        (_, Some(_)) => EntryState::Acknowledged,
        (Some(_), None) => EntryState::Answered,
        (None, None) => EntryState::InFlight,
    };
    Ok(Entry {
        id: row.get(0)?,
        intent: Intent {
            module: row.get(1)?,
            function: row.get(2)?,
            service_id: row.get(3)?,
            idempotency_key: row.get(4)?,
            input: row.get(5)?,
        },
        state,
        outcome,
        started_at_ms: row.get(6)?,
        finished_at_ms: row.get(11)?,
        acknowledged_at_ms,
    })
}

impl JournalStore for SqliteJournal {
    fn begin(&self, intent: &Intent) -> anyhow::Result<Begun> {
        let mut connection = self.connection();
        // One transaction: the key check and the insert cannot interleave
        // with another host's on the same file.
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let existing = transaction
            .query_row(
                &format!("SELECT {COLUMNS} FROM calls WHERE module = ?1 AND idempotency_key = ?2"),
                params![intent.module, intent.idempotency_key],
                entry_from_row,
            )
            .optional()?;
        if let Some(existing) = existing {
            return Ok(Begun::Existing(existing));
        }
        transaction.execute(
            "INSERT INTO calls (module, function, service_id, idempotency_key, input, started_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                intent.module,
                intent.function,
                intent.service_id,
                intent.idempotency_key,
                intent.input,
                now_ms()
            ],
        )?;
        let id = transaction.last_insert_rowid();
        transaction.commit().context("recording a call's intent")?;
        Ok(Begun::Started(id))
    }

    fn finish(&self, id: EntryId, outcome: &Outcome) -> anyhow::Result<()> {
        let changed = self
            .connection()
            .execute(
                "UPDATE calls SET succeeded = ?2, kind = ?3, summary = ?4, sealed_credentials = ?5,
                 finished_at_ms = ?6
                 WHERE id = ?1 AND succeeded IS NULL AND acknowledged_at_ms IS NULL",
                params![
                    id,
                    outcome.succeeded,
                    outcome.kind,
                    outcome.summary,
                    outcome.sealed_credentials,
                    now_ms()
                ],
            )
            .context("recording a call's outcome")?;
        if changed == 0 {
            bail!("journal entry {id} is not in flight");
        }
        Ok(())
    }

    fn get(&self, id: EntryId) -> anyhow::Result<Option<Entry>> {
        Ok(self
            .connection()
            .query_row(
                &format!("SELECT {COLUMNS} FROM calls WHERE id = ?1"),
                params![id],
                entry_from_row,
            )
            .optional()?)
    }

    fn pending(&self) -> anyhow::Result<Vec<Entry>> {
        let connection = self.connection();
        let mut statement = connection.prepare(&format!(
            "SELECT {COLUMNS} FROM calls WHERE acknowledged_at_ms IS NULL ORDER BY id"
        ))?;
        let entries = statement
            .query_map([], entry_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(entries)
    }

    fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        let connection = self.connection();
        let mut statement =
            connection.prepare(&format!("SELECT {COLUMNS} FROM calls ORDER BY id"))?;
        let entries = statement
            .query_map([], entry_from_row)?
            .collect::<Result<Vec<_>, _>>()
            .context("reading the journal's entries")?;
        Ok(entries)
    }

    fn acknowledge(&self, id: EntryId) -> anyhow::Result<bool> {
        let changed = self
            .connection()
            .execute(
                "UPDATE calls SET acknowledged_at_ms = ?2, sealed_credentials = NULL
                 WHERE id = ?1 AND acknowledged_at_ms IS NULL",
                params![id, now_ms()],
            )
            .context("acknowledging a journal entry")?;
        Ok(changed > 0)
    }

    fn release_key(&self, id: EntryId) -> anyhow::Result<()> {
        self.connection()
            .execute(
                "UPDATE calls SET idempotency_key = idempotency_key || '#released-' || id
                 WHERE id = ?1",
                params![id],
            )
            .context("releasing an idempotency key")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn intent(key: &str) -> Intent {
        Intent {
            module: "webline".into(),
            function: "create-account".into(),
            service_id: Some("svc-1".into()),
            idempotency_key: key.into(),
            input: r#"{"function":"create-account"}"#.into(),
        }
    }

    fn outcome(sealed: Option<Vec<u8>>) -> Outcome {
        Outcome {
            succeeded: true,
            kind: "ok".into(),
            summary: r#"{"kind":"created"}"#.into(),
            sealed_credentials: sealed,
        }
    }

    fn started(begun: Begun) -> EntryId {
        match begun {
            Begun::Started(id) => id,
            Begun::Existing(entry) => panic!("expected a new entry, got {entry:?}"),
        }
    }

    #[test]
    fn an_entry_goes_from_in_flight_to_answered_to_acknowledged() {
        let journal = SqliteJournal::in_memory().unwrap();
        let id = started(journal.begin(&intent("k1")).unwrap());
        let entry = journal.get(id).unwrap().unwrap();
        assert_eq!(entry.state, EntryState::InFlight);
        assert_eq!(journal.pending().unwrap(), vec![entry]);

        journal.finish(id, &outcome(Some(vec![1, 2, 3]))).unwrap();
        let entry = journal.get(id).unwrap().unwrap();
        assert_eq!(entry.state, EntryState::Answered);
        assert_eq!(entry.outcome, Some(outcome(Some(vec![1, 2, 3]))));
        assert!(journal.finish(id, &outcome(None)).is_err(), "finished once");

        assert!(journal.acknowledge(id).unwrap());
        assert!(!journal.acknowledge(id).unwrap(), "acknowledged once");
        assert!(journal.pending().unwrap().is_empty());
        assert_eq!(
            journal
                .entries()
                .unwrap()
                .iter()
                .map(|e| (e.id, e.state))
                .collect::<Vec<_>>(),
            vec![(id, EntryState::Acknowledged)],
            "every entry stays in the history"
        );
        let entry = journal.get(id).unwrap().unwrap();
        assert_eq!(entry.state, EntryState::Acknowledged);
        let raw: Option<Vec<u8>> = journal
            .connection()
            .query_row(
                "SELECT sealed_credentials FROM calls WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(raw, None, "sealed credentials destroyed");
    }

    #[test]
    fn a_taken_key_returns_the_earlier_entry_until_released() {
        let journal = SqliteJournal::in_memory().unwrap();
        let id = started(journal.begin(&intent("k1")).unwrap());
        journal.finish(id, &outcome(None)).unwrap();
        match journal.begin(&intent("k1")).unwrap() {
            Begun::Existing(entry) => {
                assert_eq!(entry.id, id);
                assert_eq!(entry.outcome, Some(outcome(None)));
            }
            Begun::Started(_) => panic!("the key was taken"),
        }
        let mut other_module = intent("k1");
        other_module.module = "blesta".into();
        started(journal.begin(&other_module).unwrap());

        journal.release_key(id).unwrap();
        let again = started(journal.begin(&intent("k1")).unwrap());
        assert_ne!(again, id);
    }

    #[test]
    fn concurrent_begins_with_one_key_start_exactly_one_entry() {
        let journal = Arc::new(SqliteJournal::in_memory().unwrap());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let journal = journal.clone();
                std::thread::spawn(move || journal.begin(&intent("same")).unwrap())
            })
            .collect();
        let started = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|b| matches!(b, Begun::Started(_)))
            .count();
        assert_eq!(started, 1);
    }

    /// A fresh directory of its own for one test, removed on drop.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(test: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "provisioning-journal-{test}-{}-{}",
                std::process::id(),
                now_ms()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn file(&self) -> std::path::PathBuf {
            self.0.join("journal.sqlite3")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_file_journal_is_in_wal_mode_with_full_synchronous_writes() {
        let dir = TempDir::new("pragmas");
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
    fn a_journal_from_a_newer_schema_is_refused() {
        let dir = TempDir::new("newer");
        drop(SqliteJournal::open(&dir.file()).unwrap());
        Connection::open(dir.file())
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let error = SqliteJournal::open(&dir.file()).unwrap_err().to_string();
        assert!(error.contains("newer version"), "{error}");
    }

    #[test]
    fn hosts_sharing_one_file_start_exactly_one_entry_per_key() {
        // Separate connections, as separate host processes would have: the
        // mutex does not serialise them, the immediate transaction and the
        // unique index do.
        let dir = TempDir::new("shared");
        let journals: Vec<_> = (0..4)
            .map(|_| Arc::new(SqliteJournal::open(&dir.file()).unwrap()))
            .collect();
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let journal = journals[i % journals.len()].clone();
                std::thread::spawn(move || journal.begin(&intent("same")).unwrap())
            })
            .collect();
        let begun: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let started: Vec<_> = begun
            .iter()
            .filter_map(|b| match b {
                Begun::Started(id) => Some(*id),
                Begun::Existing(_) => None,
            })
            .collect();
        assert_eq!(started.len(), 1, "{begun:?}");
        for b in &begun {
            if let Begun::Existing(entry) = b {
                assert_eq!(entry.id, started[0]);
            }
        }
        assert_eq!(journals[0].pending().unwrap().len(), 1);
    }

    #[test]
    fn entries_survive_reopening_the_file() {
        let dir = TempDir::new("reopen");
        let path = dir.file();
        let (answered, in_flight) = {
            let journal = SqliteJournal::open(&path).unwrap();
            let answered = started(journal.begin(&intent("a")).unwrap());
            journal.finish(answered, &outcome(Some(vec![9]))).unwrap();
            (answered, started(journal.begin(&intent("b")).unwrap()))
        };
        let journal = SqliteJournal::open(&path).unwrap();
        let pending = journal.pending().unwrap();
        assert_eq!(
            pending.iter().map(|e| (e.id, e.state)).collect::<Vec<_>>(),
            vec![
                (answered, EntryState::Answered),
                (in_flight, EntryState::InFlight)
            ]
        );
        assert_eq!(pending[0].outcome, Some(outcome(Some(vec![9]))));
    }
}
