//! The journal in a PostgreSQL database: the store several hosts can share.
//!
//! The client is tokio-postgres with a deadpool-postgres pool, TLS through
//! rustls (tokio-postgres-rustls). Chosen over sqlx because the store needs
//! a dozen fixed statements, not a query layer: sqlx's compile-time checks
//! want a database at build time (or a checked-in cache of it), it brings
//! its own drivers, macros and runtime glue into a build that wasmtime
//! already makes large, while tokio-postgres is the protocol client alone,
//! on the tokio the host has anyway, and deadpool is a small pool that
//! reconnects on its own (a connection the server dropped is discarded
//! when it comes back to the pool, and the next call makes a new one).
//!
//! TLS follows the URL's `sslmode`: `disable` (plain), `prefer` (the
//! default: TLS when the server offers it) or `require`. The server's
//! certificate is always verified against the Mozilla roots of
//! webpki-roots, the same roots the guests' HTTP client trusts, so that a
//! host's trust does not depend on the machine's certificate store; a
//! server with a private CA is reached through a TLS proxy, or without TLS
//! on a private network.
//!
//! [`JournalStore`] is synchronous and runs on the journal's own thread.
//! The store owns a small tokio runtime (one worker thread) that keeps the
//! pool's connections; each operation is spawned there and waited for,
//! bounded by [`OPERATION_TIMEOUT`], so no thread of the host's runtime is
//! ever blocked and a database that is down or unreachable fails the
//! operation (the journal then refuses mutating calls) instead of hanging.
//!
//! Time is the server's: every timestamp and lease is written, and every
//! entry's state judged, by the database's `statement_timestamp()`, so that
//! hosts whose clocks differ agree on whose lease has run out.
//!
//! The URL may hold a password: it is never printed. Errors and logs name
//! the database as `host:port/dbname` only.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::Row;

use super::record::{
    Acknowledged, Acknowledgement, Begun, CallOutcome, Entry, EntryId, Intent, duration_ms,
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

/// How long one store operation may take, connecting included: past it,
/// it fails (a database that is down or unreachable, a lock held too
/// long). Callers wait no longer than their own deadline anyway.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections kept open to the database. The journal's thread runs one
/// operation at a time; the others serve a reader beside it and a
/// connection being replaced.
const POOL_SIZE: usize = 4;

/// The key of the advisory lock that serialises migrations: hosts starting
/// at once on one database migrate it one after the other (ASCII
/// "provjrnl").
const MIGRATION_LOCK: i64 = 0x7072_6f76_6a72_6e6c;

/// The schema, one migration per version: migration `i` takes a database
/// from version `i` to `i + 1`, each version recorded as a row of
/// `provisioning_journal_schema`. Applied in order at start-up, all in one
/// transaction under [`MIGRATION_LOCK`]; never edit one that has shipped.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: intents, outcomes, leases and resolutions (SQLite's schema 2).
    "CREATE TABLE provisioning_journal_calls (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        module TEXT NOT NULL,
        function TEXT NOT NULL,
        service_id TEXT,
        idempotency_key TEXT NOT NULL,
        input TEXT NOT NULL,
        request_digest TEXT,
        started_at_ms BIGINT NOT NULL,
        owner TEXT,
        lease_until_ms BIGINT,
        succeeded BOOLEAN,
        kind TEXT,
        uncertain BOOLEAN,
        summary TEXT,
        sealed_credentials BYTEA,
        finished_at_ms BIGINT,
        acknowledged_at_ms BIGINT,
        finding TEXT,
        note TEXT,
        UNIQUE (module, idempotency_key)
    );
    CREATE INDEX provisioning_journal_pending ON provisioning_journal_calls (id)
        WHERE acknowledged_at_ms IS NULL;",
    // 2: the rate budget several hosts share.
    super::postgres_budget::MIGRATION,
    // 3: usage runs shared by several hosts (SQLite's schema 3): each
    // service registered for a run, the host that claimed it and until
    // when (by the server's clock), whether it is done.
    "CREATE TABLE provisioning_journal_usage_claims (
        run TEXT NOT NULL,
        module TEXT NOT NULL,
        service_id TEXT NOT NULL,
        position BIGINT NOT NULL,
        job TEXT NOT NULL,
        registered_at_ms BIGINT NOT NULL,
        claimed_by TEXT,
        lease_until_ms BIGINT,
        times_claimed INTEGER NOT NULL DEFAULT 0,
        done_at_ms BIGINT,
        PRIMARY KEY (run, module, service_id)
    );
    CREATE INDEX provisioning_journal_usage_open
        ON provisioning_journal_usage_claims (run, position) WHERE done_at_ms IS NULL;
    CREATE INDEX provisioning_journal_usage_registered
        ON provisioning_journal_usage_claims (registered_at_ms);",
    // 4: the journal's own values by name: the check values of its key
    // and of the key it replaced, and the digest key after a rotation
    // (see `super::store::meta`); acknowledged entries by age, for purging
    // them.
    "CREATE TABLE provisioning_journal_meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE INDEX provisioning_journal_acknowledged
        ON provisioning_journal_calls (acknowledged_at_ms)
        WHERE acknowledged_at_ms IS NOT NULL;",
    // 5: a service's entries in a module, newest first, for the remote id
    // its last create recorded (`last_succeeded`).
    "CREATE INDEX provisioning_journal_by_service
        ON provisioning_journal_calls (module, service_id, function, id);",
    // 6: until when each call's attempt may still reach the provider (its
    // start plus the module's deadline, by the server's clock): nothing
    // decides an entry before (SQLite's schema 6).
    "ALTER TABLE provisioning_journal_calls ADD COLUMN attempt_deadline_ms BIGINT;",
    // 7: the rate budget counts turns by window.
    super::postgres_budget::WINDOW_MIGRATION,
    // 8: the module version that answered, so that a replay names it too
    // (SQLite's schema 7).
    "ALTER TABLE provisioning_journal_calls ADD COLUMN module_digest TEXT;",
];

/// The version this host writes: the number of migrations.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The database's clock, in Unix milliseconds: the one clock every host
/// sharing the journal reads (the statement's start, the same wherever a
/// statement reads it).
pub(super) const NOW_MS: &str = "(extract(epoch from statement_timestamp()) * 1000)::bigint";

/// An entry's columns ([`ENTRY_COLUMNS`]), and last the database's clock
/// ([`NOW_MS`]) to judge its state by, as `now_ms`.
fn columns() -> String {
    format!("{ENTRY_COLUMNS}, {NOW_MS} AS now_ms")
}

const TABLE: &str = "provisioning_journal_calls";

/// The usage runs' table.
const CLAIMS: &str = "provisioning_journal_usage_claims";

/// The key of the advisory lock that serialises registering usage runs:
/// hosts registering at once insert one after the other, never waiting on
/// each other's rows in opposite orders (ASCII "provusge").
const USAGE_RUN_LOCK: i64 = 0x7072_6f76_7573_6765;

/// A journal in a PostgreSQL database, through a pool of connections.
pub struct PostgresJournal {
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
    target: Arc<str>,
}

impl std::fmt::Debug for PostgresJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresJournal")
            .field("database", &self.target)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresJournal {
    fn drop(&mut self) {
        // Without waiting: the value may be dropped on an async runtime's
        // thread, where a blocking shutdown is not allowed.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The database a URL names, as errors and logs show it:
/// `host:port/dbname`, never the user or the password. `None` when the
/// URL does not parse.
pub fn describe_url(url: &str) -> Option<String> {
    tokio_postgres::Config::from_str(url)
        .ok()
        .map(|config| describe(&config))
}

fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".to_string());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config.get_dbname().or(config.get_user()).unwrap_or("");
    format!("{host}:{port}/{database}")
}

impl PostgresJournal {
    /// Connects to the database at `url`
    /// (`postgres://user:password@host:port/dbname?sslmode=require`) and
    /// brings its schema to this version; refuses one written by a newer
    /// version. Fails when the database cannot be reached now.
    pub fn connect(url: &str) -> anyhow::Result<PostgresJournal> {
        // The parser's message names the option at fault, never its value.
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|error| anyhow!("the journal URL is not a PostgreSQL URL: {error}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(OPERATION_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("provisioning");
        }
        let target: Arc<str> = describe(&config).into();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("journal-postgres")
            .enable_all()
            .build()
            .context("starting the PostgreSQL journal's runtime")?;
        let manager = Manager::from_config(
            config,
            tokio_postgres_rustls::MakeRustlsConnect::new(tls_config()?),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(OPERATION_TIMEOUT))
            .create_timeout(Some(OPERATION_TIMEOUT))
            .recycle_timeout(Some(OPERATION_TIMEOUT))
            .build()
            .context("making the PostgreSQL journal's pool")?;
        let journal = PostgresJournal {
            pool,
            runtime: Some(runtime),
            target,
        };
        journal.run("migrating the schema", migrate)?;
        Ok(journal)
    }

    /// The database, as `host:port/dbname`.
    pub fn database(&self) -> &str {
        &self.target
    }

    /// Runs `operation` with a pooled connection on the store's runtime
    /// and waits for it, [`OPERATION_TIMEOUT`] at most; errors say what was
    /// being done and in which database.
    fn run<T, F>(&self, what: &str, operation: impl FnOnce(Pool) -> F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: Future<Output = anyhow::Result<T>> + Send + 'static,
    {
        let runtime = self
            .runtime
            .as_ref()
            .context("the PostgreSQL journal is closed")?;
        let work = operation(self.pool.clone());
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let result = match tokio::time::timeout(OPERATION_TIMEOUT, work).await {
                Ok(result) => result,
                Err(elapsed) => Err(anyhow::Error::new(elapsed).context(format!(
                    "the database did not answer within {}s",
                    OPERATION_TIMEOUT.as_secs()
                ))),
            };
            let _ = reply.send(result);
        });
        answer
            .recv()
            .map_err(|_| anyhow!("the PostgreSQL journal's runtime stopped"))?
            .with_context(|| format!("{what} (PostgreSQL journal {})", self.target))
    }
}

impl PostgresJournal {
    /// Runs `operation` with a pooled connection on the store's runtime,
    /// as [`PostgresJournal::run`] does, for an async caller: the future
    /// waits without blocking a thread, `timeout` at most.
    pub(super) fn run_async<T, F>(
        &self,
        what: &'static str,
        timeout: Duration,
        operation: impl FnOnce(Pool) -> F,
    ) -> futures::future::BoxFuture<'static, anyhow::Result<T>>
    where
        T: Send + 'static,
        F: Future<Output = anyhow::Result<T>> + Send + 'static,
    {
        let target = self.target.clone();
        let Some(runtime) = self.runtime.as_ref() else {
            return Box::pin(async { Err(anyhow!("the PostgreSQL journal is closed")) });
        };
        let work = operation(self.pool.clone());
        let done = runtime.spawn(async move {
            match tokio::time::timeout(timeout, work).await {
                Ok(result) => result,
                Err(elapsed) => Err(anyhow::Error::new(elapsed).context(format!(
                    "the database did not answer within {} ms",
                    timeout.as_millis()
                ))),
            }
        });
        Box::pin(async move {
            done.await
                .map_err(|_| anyhow!("the PostgreSQL journal's runtime stopped"))?
                .with_context(|| format!("{what} (PostgreSQL journal {target})"))
        })
    }
}

/// rustls with ring (the provider the rest of the host uses) and the
/// webpki roots.
fn tls_config() -> anyhow::Result<rustls::ClientConfig> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS for the PostgreSQL journal")?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// A connection from the pool, its error said plainly (and kept, so that
/// `super::is_unavailable` can tell it).
pub(super) async fn connection(pool: &Pool) -> anyhow::Result<deadpool_postgres::Object> {
    pool.get()
        .await
        .map_err(|error| anyhow::Error::new(error).context("cannot reach the database"))
}

/// Brings the schema to [`SCHEMA_VERSION`]: one transaction under an
/// advisory lock, so that hosts starting at once on one database migrate
/// it one at a time and the later ones find it done.
async fn migrate(pool: Pool) -> anyhow::Result<()> {
    let mut client = connection(&pool).await?;
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS provisioning_journal_schema (
                version BIGINT PRIMARY KEY,
                applied_at_ms BIGINT NOT NULL
            )",
        )
        .await?;
    let version: i64 = transaction
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM provisioning_journal_schema",
            &[],
        )
        .await?
        .get(0);
    if version > SCHEMA_VERSION {
        return Err(newer_schema(version, SCHEMA_VERSION));
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let to = index as i64 + 1;
        transaction
            .batch_execute(migration)
            .await
            .with_context(|| format!("migrating the journal to schema {to}"))?;
        transaction
            .execute(
                &format!(
                    "INSERT INTO provisioning_journal_schema (version, applied_at_ms) VALUES ($1, {NOW_MS})"
                ),
                &[&to],
            )
            .await?;
    }
    transaction
        .commit()
        .await
        .context("migrating the journal")?;
    Ok(())
}

impl RowValues for Row {
    fn integer(&self, column: &str) -> anyhow::Result<Option<i64>> {
        Ok(self.try_get(column)?)
    }

    fn text(&self, column: &str) -> anyhow::Result<Option<String>> {
        Ok(self.try_get(column)?)
    }

    fn flag(&self, column: &str) -> anyhow::Result<Option<bool>> {
        Ok(self.try_get(column)?)
    }

    fn bytes(&self, column: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.try_get(column)?)
    }
}

/// An entry from a row of [`columns`], its state judged by the database's
/// clock.
fn entry_from_row(row: &Row) -> anyhow::Result<Entry> {
    entry_of(row, row.try_get("now_ms")?)
}

fn entries_from_rows(rows: &[Row]) -> anyhow::Result<Vec<Entry>> {
    rows.iter().map(entry_from_row).collect()
}

impl PostgresJournal {
    fn select(&self, what: &str, condition: &'static str) -> anyhow::Result<Vec<Entry>> {
        self.run(what, move |pool| async move {
            let client = connection(&pool).await?;
            let rows = client
                .query(
                    &format!("SELECT {} FROM {TABLE} {condition}", columns()),
                    &[],
                )
                .await?;
            entries_from_rows(&rows)
        })
    }
}

impl JournalStore for PostgresJournal {
    fn begin(
        &self,
        intent: &Intent,
        owner: &str,
        lease: Duration,
        attempt: Duration,
    ) -> anyhow::Result<Begun> {
        let lease_ms = duration_ms(lease);
        let attempt_ms = duration_ms(attempt);
        let input = input_column(intent)?;
        let intent = intent.clone();
        let owner = owner.to_string();
        self.run("recording a call's intent", move |pool| async move {
            let client = connection(&pool).await?;
            // One statement: the unique key decides between this insert and
            // another host's; a concurrent insert of the same key is waited
            // for, then this one does nothing and the entry is read.
            for _ in 0..3 {
                let inserted = client
                    .query_opt(
                        &format!(
                            "INSERT INTO {TABLE} (module, function, service_id, idempotency_key,
                                input, request_digest, started_at_ms, owner, lease_until_ms,
                                attempt_deadline_ms)
                             VALUES ($1, $2, $3, $4, $5, $6, {NOW_MS}, $7, {NOW_MS} + $8,
                                {NOW_MS} + $9)
                             ON CONFLICT (module, idempotency_key) DO NOTHING
                             RETURNING id"
                        ),
                        &[
                            &intent.module,
                            &intent.function(),
                            &intent.service_id(),
                            &intent.idempotency_key,
                            &input,
                            &intent.request_digest,
                            &owner,
                            &lease_ms,
                            &attempt_ms,
                        ],
                    )
                    .await?;
                if let Some(row) = inserted {
                    return Ok(Begun::Started(row.try_get(0)?));
                }
                let existing = client
                    .query_opt(
                        &format!(
                            "SELECT {} FROM {TABLE}
                             WHERE module = $1 AND idempotency_key = $2",
                            columns()
                        ),
                        &[&intent.module, &intent.idempotency_key],
                    )
                    .await?;
                if let Some(row) = existing {
                    return Ok(Begun::Existing(entry_from_row(&row)?));
                }
                // The key was released between the two statements: again.
            }
            bail!("the idempotency key kept changing hands")
        })
    }

    fn finish(&self, id: EntryId, owner: &str, outcome: &CallOutcome) -> anyhow::Result<Finished> {
        let columns = OutcomeColumns::of(outcome)?;
        let sealed_credentials = outcome.sealed_credentials.clone();
        let owner = owner.to_string();
        self.run("recording a call's outcome", move |pool| async move {
            let mut client = connection(&pool).await?;
            let transaction = client.transaction().await?;
            // The row stays locked until the commit: an acknowledgement
            // holding it is waited for and its write read after it, and
            // none decides the entry between the fence's read and the write.
            let found = transaction
                .query_opt(
                    &format!("SELECT {FENCE_COLUMNS} FROM {TABLE} WHERE id = $1 FOR UPDATE"),
                    &[&id],
                )
                .await?;
            let decided = decide_finish(found.as_ref().map(fence_of).transpose()?.as_ref(), &owner);
            if decided == Finished::Recorded {
                transaction
                    .execute(
                        &format!(
                            "UPDATE {TABLE} SET succeeded = $2, kind = $3, uncertain = $4,
                                summary = $5, sealed_credentials = $6,
                                finished_at_ms = {NOW_MS}, lease_until_ms = NULL,
                                module_digest = $7
                             WHERE id = $1"
                        ),
                        &[
                            &id,
                            &columns.succeeded,
                            &columns.kind,
                            &columns.uncertain,
                            &columns.summary,
                            &sealed_credentials,
                            &columns.module_digest,
                        ],
                    )
                    .await?;
                transaction.commit().await?;
            }
            Ok(decided)
        })
    }

    fn renew(&self, ids: &[EntryId], lease: Duration) -> anyhow::Result<()> {
        let lease_ms = duration_ms(lease);
        let ids = ids.to_vec();
        self.run("renewing leases", move |pool| async move {
            let client = connection(&pool).await?;
            client
                .execute(
                    &format!(
                        "UPDATE {TABLE} SET lease_until_ms = {NOW_MS} + $2
                         WHERE id = ANY($1) AND {RENEWABLE_WHERE}"
                    ),
                    &[&ids, &lease_ms],
                )
                .await?;
            Ok(())
        })
    }

    fn get(&self, id: EntryId) -> anyhow::Result<Option<Entry>> {
        self.run("reading a journal entry", move |pool| async move {
            let client = connection(&pool).await?;
            let row = client
                .query_opt(
                    &format!("SELECT {} FROM {TABLE} WHERE id = $1", columns()),
                    &[&id],
                )
                .await?;
            row.map(|row| entry_from_row(&row)).transpose()
        })
    }

    fn pending(&self) -> anyhow::Result<Vec<Entry>> {
        self.select(
            "reading the pending entries",
            "WHERE acknowledged_at_ms IS NULL ORDER BY id",
        )
    }

    fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        self.select("reading the journal's entries", "ORDER BY id")
    }

    fn pending_of(&self, module: &str, service_id: &str) -> anyhow::Result<Vec<Entry>> {
        let (module, service_id) = (module.to_string(), service_id.to_string());
        self.run(
            "reading a service's pending entries",
            move |pool| async move {
                let client = connection(&pool).await?;
                let rows = client
                    .query(
                        &format!(
                            "SELECT {} FROM {TABLE} WHERE module = $1 AND service_id = $2 \
                             AND acknowledged_at_ms IS NULL ORDER BY id",
                            columns()
                        ),
                        &[&module, &service_id],
                    )
                    .await?;
                entries_from_rows(&rows)
            },
        )
    }

    fn last_succeeded(
        &self,
        module: &str,
        service_id: &str,
        function: &str,
    ) -> anyhow::Result<Option<Entry>> {
        let (module, service_id, function) = (
            module.to_string(),
            service_id.to_string(),
            function.to_string(),
        );
        self.run("reading a service's last success", move |pool| async move {
            let client = connection(&pool).await?;
            let row = client
                .query_opt(
                    &format!(
                        "SELECT {} FROM {TABLE} WHERE module = $1 AND service_id = $2 \
                         AND function = $3 AND succeeded ORDER BY id DESC LIMIT 1",
                        columns()
                    ),
                    &[&module, &service_id, &function],
                )
                .await?;
            row.map(|row| entry_from_row(&row)).transpose()
        })
    }

    fn acknowledge(&self, id: EntryId, ack: &Acknowledgement) -> anyhow::Result<Acknowledged> {
        let written = AcknowledgementColumns::of(ack)?;
        let ack = ack.clone();
        self.run("acknowledging a journal entry", move |pool| async move {
            let mut client = connection(&pool).await?;
            let transaction = client.transaction().await?;
            // The row stays locked until the commit: a host finishing the
            // call meanwhile waits, and the in-flight check holds.
            let found = transaction
                .query_opt(
                    &format!(
                        "SELECT {CHECKED_COLUMNS}, {NOW_MS} AS now_ms
                         FROM {TABLE} WHERE id = $1 FOR UPDATE"
                    ),
                    &[&id],
                )
                .await?;
            let Some(found) = found else {
                return Ok(Acknowledged::NotPending);
            };
            let now: i64 = found.try_get("now_ms")?;
            if let Some(refused) = refused_acknowledgement(&ack, checked_of(&found, now)?) {
                return Ok(refused);
            }
            let (finding, note) = (written.finding, &written.note);
            transaction
                .execute(
                    &format!(
                        "UPDATE {TABLE} SET acknowledged_at_ms = $2, sealed_credentials = NULL,
                            finding = $3, note = $4
                         WHERE id = $1"
                    ),
                    &[&id, &now, &finding, &note],
                )
                .await?;
            if let Some(columns) = &written.outcome {
                transaction
                    .execute(
                        &format!(
                            "UPDATE {TABLE} SET succeeded = $2, kind = $3, uncertain = $4,
                                summary = $5, module_digest = $6
                             WHERE id = $1"
                        ),
                        &[
                            &id,
                            &columns.succeeded,
                            &columns.kind,
                            &columns.uncertain,
                            &columns.summary,
                            &columns.module_digest,
                        ],
                    )
                    .await?;
            }
            if written.release_key {
                transaction.execute(RELEASE_KEY, &[&id]).await?;
            }
            transaction.commit().await?;
            Ok(Acknowledged::Yes)
        })
    }

    fn release_key(&self, id: EntryId) -> anyhow::Result<()> {
        self.run("releasing an idempotency key", move |pool| async move {
            let client = connection(&pool).await?;
            client.execute(RELEASE_KEY, &[&id]).await?;
            Ok(())
        })
    }

    fn check_writable(&self) -> anyhow::Result<()> {
        self.run(
            "checking that the journal takes writes",
            |pool| async move {
                let client = connection(&pool).await?;
                // One value written and committed, as a call's intent would
                // be: a read-only server (a standby,
                // `default_transaction_read_only`) or a full disk fails here
                // (a lock taken and let go would pass on a full disk).
                client
                    .execute(
                        &format!(
                            "INSERT INTO provisioning_journal_meta (name, value)
                             VALUES ($1, ({NOW_MS})::text)
                             ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value"
                        ),
                        &[&meta::WRITE_PROBED_AT_MS],
                    )
                    .await?;
                Ok(())
            },
        )
    }

    fn register_usage_run(
        &self,
        run: &str,
        services: &[RunService],
        forget_after: Duration,
    ) -> anyhow::Result<usize> {
        let run = run.to_string();
        let modules: Vec<String> = services.iter().map(|s| s.key.module.clone()).collect();
        let ids: Vec<String> = services.iter().map(|s| s.key.service_id.clone()).collect();
        let jobs: Vec<String> = services.iter().map(|s| s.job.clone()).collect();
        let positions: Vec<i64> = (0..services.len() as i64).collect();
        let forget_after = millis(forget_after);
        self.run("registering a usage run", move |pool| async move {
            let mut client = connection(&pool).await?;
            let transaction = client.transaction().await?;
            transaction
                .execute("SELECT pg_advisory_xact_lock($1)", &[&USAGE_RUN_LOCK])
                .await?;
            transaction
                .execute(
                    &format!("DELETE FROM {CLAIMS} WHERE registered_at_ms < {NOW_MS} - $1"),
                    &[&forget_after],
                )
                .await?;
            transaction
                .execute(
                    &format!(
                        "INSERT INTO {CLAIMS}
                            (run, module, service_id, position, job, registered_at_ms)
                         SELECT $1, module, service_id, position, job, {NOW_MS}
                         FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[])
                            AS new (module, service_id, position, job)
                         ON CONFLICT (run, module, service_id) DO NOTHING"
                    ),
                    &[&run, &modules, &ids, &positions, &jobs],
                )
                .await?;
            let count: i64 = transaction
                .query_one(
                    &format!("SELECT COUNT(*) FROM {CLAIMS} WHERE run = $1"),
                    &[&run],
                )
                .await?
                .try_get(0)?;
            transaction.commit().await?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
    }

    fn claim_usage(
        &self,
        run: &str,
        owner: &str,
        limit: usize,
        lease: Duration,
    ) -> anyhow::Result<UsageClaim> {
        let run = run.to_string();
        let owner = owner.to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let lease = millis(lease).max(1);
        self.run("claiming usage services", move |pool| async move {
            let client = connection(&pool).await?;
            // Rows another host is claiming at this moment are skipped, not
            // waited for; the leases are judged by the server's clock.
            let rows = client
                .query(
                    &format!(
                        "WITH open AS (
                            SELECT run, module, service_id, times_claimed, position
                            FROM {CLAIMS}
                            WHERE run = $1 AND {claimable}
                            ORDER BY position, module, service_id
                            LIMIT $3
                            FOR UPDATE SKIP LOCKED
                         )
                         UPDATE {CLAIMS} AS claim
                         SET claimed_by = $2, lease_until_ms = {NOW_MS} + $4,
                            times_claimed = claim.times_claimed + 1
                         FROM open
                         WHERE claim.run = open.run AND claim.module = open.module
                            AND claim.service_id = open.service_id
                         RETURNING claim.module, claim.service_id, claim.job,
                            open.times_claimed, open.position",
                        claimable = claimable_where(NOW_MS)
                    ),
                    &[&run, &owner, &limit, &lease],
                )
                .await?;
            let mut claimed = rows
                .iter()
                .map(|row| {
                    let service = RunService {
                        key: UsageServiceKey {
                            module: row.try_get(0)?,
                            service_id: row.try_get(1)?,
                        },
                        job: row.try_get(2)?,
                    };
                    let times: i32 = row.try_get(3)?;
                    let position: i64 = row.try_get(4)?;
                    Ok((position, service, i64::from(times)))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            claimed.sort_by(|a, b| (a.0, &a.1.key).cmp(&(b.0, &b.1.key)));
            // Counted after the claim: this host's new claims are live now.
            let held: i64 = client
                .query_one(
                    &format!(
                        "SELECT COUNT(*) FROM {CLAIMS} WHERE run = $1 AND {}",
                        held_where(NOW_MS)
                    ),
                    &[&run],
                )
                .await?
                .try_get(0)?;
            let held_by_others = held.saturating_sub(i64::try_from(claimed.len())?);
            Ok(usage_claim(
                claimed
                    .into_iter()
                    .map(|(_, service, times)| (service, times))
                    .collect(),
                held_by_others,
            ))
        })
    }

    fn renew_usage_claims(
        &self,
        run: &str,
        owner: &str,
        services: &[UsageServiceKey],
        lease: Duration,
    ) -> anyhow::Result<()> {
        let run = run.to_string();
        let owner = owner.to_string();
        let (modules, ids) = key_columns(services);
        let lease = millis(lease).max(1);
        self.run("renewing usage claims", move |pool| async move {
            let client = connection(&pool).await?;
            client
                .execute(
                    &format!(
                        "UPDATE {CLAIMS} SET lease_until_ms = {NOW_MS} + $5
                         WHERE run = $1 AND claimed_by = $2 AND done_at_ms IS NULL
                            AND (module, service_id) IN
                                (SELECT * FROM unnest($3::text[], $4::text[]))"
                    ),
                    &[&run, &owner, &modules, &ids, &lease],
                )
                .await?;
            Ok(())
        })
    }

    fn finish_usage(&self, run: &str, services: &[UsageServiceKey]) -> anyhow::Result<()> {
        let run = run.to_string();
        let (modules, ids) = key_columns(services);
        self.run("marking usage services done", move |pool| async move {
            let client = connection(&pool).await?;
            client
                .execute(
                    &format!(
                        "UPDATE {CLAIMS} SET done_at_ms = {NOW_MS}, lease_until_ms = NULL
                         WHERE run = $1 AND done_at_ms IS NULL
                            AND (module, service_id) IN
                                (SELECT * FROM unnest($2::text[], $3::text[]))"
                    ),
                    &[&run, &modules, &ids],
                )
                .await?;
            Ok(())
        })
    }

    fn purge_acknowledged(
        &self,
        acknowledged_before_ms: i64,
        at_most: usize,
    ) -> anyhow::Result<usize> {
        let at_most = i64::try_from(at_most).unwrap_or(i64::MAX);
        self.run("purging acknowledged entries", move |pool| async move {
            let client = connection(&pool).await?;
            let deleted = client
                .execute(
                    &format!(
                        "DELETE FROM {TABLE} WHERE id IN (
                            SELECT id FROM {TABLE} WHERE {}
                            ORDER BY acknowledged_at_ms, id LIMIT $2)",
                        purgeable_where("$1")
                    ),
                    &[&acknowledged_before_ms, &at_most],
                )
                .await?;
            Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
        })
    }

    fn key_record(&self) -> anyhow::Result<Option<KeyRecord>> {
        self.run("reading the journal's key record", |pool| async move {
            read_key_record(&connection(&pool).await?).await
        })
    }

    fn adopt_key(&self, check: &str) -> anyhow::Result<KeyRecord> {
        let check = check.to_string();
        self.run("recording the journal's key", move |pool| async move {
            let client = connection(&pool).await?;
            client
                .execute(
                    "INSERT INTO provisioning_journal_meta (name, value) VALUES ($1, $2)
                     ON CONFLICT (name) DO NOTHING",
                    &[&meta::KEY_CHECK, &check],
                )
                .await?;
            read_key_record(&client)
                .await?
                .context("the journal's key record disappeared")
        })
    }

    fn rekey(&self, rekey: &Rekey) -> anyhow::Result<Rekeyed> {
        let rekey = rekey.clone();
        self.run("rotating the journal's key", move |pool| async move {
            let mut client = connection(&pool).await?;
            let transaction = client.transaction().await?;
            // Held until the commit: no host records an intent or an
            // outcome meanwhile (both write the table), and a second
            // rotation waits for this one. Reads go on.
            transaction
                .batch_execute(&format!(
                    "LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE;
                     LOCK TABLE provisioning_journal_meta IN SHARE ROW EXCLUSIVE MODE;"
                ))
                .await?;
            let record = read_key_record(&transaction).await?;
            let in_flight: Vec<EntryId> = transaction
                .query(
                    &format!(
                        "SELECT id FROM {TABLE} WHERE {} ORDER BY id",
                        in_flight_where(NOW_MS)
                    ),
                    &[],
                )
                .await?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?;
            if let Some(refused) = refused_rekey(record.as_ref(), &rekey.current_check, in_flight) {
                return Ok(refused);
            }
            let sealed = transaction
                .query(
                    &format!(
                        "SELECT id, sealed_credentials FROM {TABLE}
                         WHERE sealed_credentials IS NOT NULL ORDER BY id"
                    ),
                    &[],
                )
                .await?;
            for row in &sealed {
                let id: EntryId = row.try_get(0)?;
                let record: Vec<u8> = row.try_get(1)?;
                let resealed = (rekey.reseal)(id, &record)?;
                transaction
                    .execute(
                        &format!("UPDATE {TABLE} SET sealed_credentials = $2 WHERE id = $1"),
                        &[&id, &resealed],
                    )
                    .await?;
            }
            for (name, value) in key_record_rows(&rekey.new) {
                match value {
                    Some(value) => {
                        transaction
                            .execute(
                                "INSERT INTO provisioning_journal_meta (name, value)
                                 VALUES ($1, $2)
                                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                                &[&name, &value],
                            )
                            .await?
                    }
                    None => {
                        transaction
                            .execute(
                                "DELETE FROM provisioning_journal_meta WHERE name = $1",
                                &[&name],
                            )
                            .await?
                    }
                };
            }
            transaction.commit().await?;
            Ok(Rekeyed::Done {
                resealed: sealed.len(),
            })
        })
    }
}

/// The key record, read through `client` (a connection or a transaction).
async fn read_key_record(
    client: &impl deadpool_postgres::GenericClient,
) -> anyhow::Result<Option<KeyRecord>> {
    let rows = client
        .query("SELECT name, value FROM provisioning_journal_meta", &[])
        .await?;
    let rows = rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<anyhow::Result<Vec<(String, String)>>>()?;
    key_record_from(rows)
}

/// Services' keys as two parallel arrays, for `unnest`.
fn key_columns(services: &[UsageServiceKey]) -> (Vec<String>, Vec<String>) {
    services
        .iter()
        .map(|key| (key.module.clone(), key.service_id.clone()))
        .unzip()
}

const RELEASE_KEY: &str = "UPDATE provisioning_journal_calls
    SET idempotency_key = idempotency_key || '#released-' || id
    WHERE id = $1 AND idempotency_key NOT LIKE '%#released-%'";

#[cfg(test)]
mod tests {
    //! What is PostgreSQL's own: the URL kept out of messages, `sslmode`,
    //! and the database going away and coming back. The store's behaviour
    //! is tested once for every store, in `super::super::store_tests`.

    use super::*;
    use provisioning_test_postgres::PgServer;
    use std::time::Instant;

    fn intent(key: &str) -> Intent {
        Intent {
            module: "webline".into(),
            idempotency_key: key.into(),
            input: crate::request::Request::CreateAccount {
                service: super::super::store_tests::service("svc-1"),
            },
            request_digest: None,
        }
    }

    #[test]
    fn messages_name_the_database_never_the_password() {
        let url =
            "postgres://journal:S3cret-pw@127.0.0.1:1/billing?sslmode=disable&connect_timeout=1";
        assert_eq!(describe_url(url).as_deref(), Some("127.0.0.1:1/billing"));
        let error = format!("{:#}", PostgresJournal::connect(url).unwrap_err());
        assert!(error.contains("127.0.0.1:1/billing"), "{error}");
        assert!(!error.contains("S3cret-pw"), "{error}");
        assert!(!error.contains("journal:"), "no user either: {error}");
    }

    #[test]
    fn sslmode_prefer_falls_back_to_plain_and_require_insists_on_tls() {
        // The test server offers no TLS.
        let server = PgServer::shared();
        let url = server.database("sslmode");
        let prefer = url.replace("sslmode=disable", "sslmode=prefer");
        PostgresJournal::connect(&prefer)
            .unwrap()
            .check_writable()
            .unwrap();
        let require = url.replace("sslmode=disable", "sslmode=require");
        let error = format!("{:#}", PostgresJournal::connect(&require).unwrap_err());
        assert!(error.contains("TLS"), "{error}");
    }

    #[test]
    fn a_database_that_goes_away_fails_each_operation_and_is_used_again_when_back() {
        let server = PgServer::start();
        let journal = PostgresJournal::connect(&server.database("down")).unwrap();
        let before = journal
            .begin(
                &intent("before"),
                "h:1",
                Duration::from_secs(60),
                Duration::ZERO,
            )
            .unwrap();
        assert!(matches!(before, Begun::Started(_)));

        server.stop();
        let asked = Instant::now();
        let error = format!("{:#}", journal.check_writable().unwrap_err());
        assert!(error.contains("cannot reach the database"), "{error}");
        assert!(
            journal
                .begin(
                    &intent("while-down"),
                    "h:1",
                    Duration::from_secs(60),
                    Duration::ZERO
                )
                .is_err()
        );
        assert!(journal.pending().is_err());
        assert!(
            asked.elapsed() < OPERATION_TIMEOUT,
            "refused at once, not after a hang: {:?}",
            asked.elapsed()
        );

        server.start_again();
        journal.check_writable().unwrap();
        assert!(matches!(
            journal
                .begin(
                    &intent("after"),
                    "h:1",
                    Duration::from_secs(60),
                    Duration::ZERO
                )
                .unwrap(),
            Begun::Started(_)
        ));
        let keys: Vec<_> = journal
            .pending()
            .unwrap()
            .into_iter()
            .map(|e| e.intent.idempotency_key)
            .collect();
        assert_eq!(keys, ["before", "after"], "nothing was written while down");
    }

    #[test]
    fn a_schema_1_database_is_migrated_with_its_entries_and_no_key_on_record() {
        let server = PgServer::shared();
        let url = server.database("schema1");
        let name = url.rsplit('/').next().unwrap().split('?').next().unwrap();
        server.psql(
            name,
            &format!(
                r#"CREATE TABLE provisioning_journal_schema (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL);
                 INSERT INTO provisioning_journal_schema VALUES (1, 0);
                 {}
                 INSERT INTO provisioning_journal_calls (module, function, idempotency_key, input,
                     started_at_ms, succeeded, kind, summary, finished_at_ms, acknowledged_at_ms)
                 VALUES ('m', 'suspend', 'old', '{{"function":"suspend","service":{{"service_id":"s"}}}}',
                     1, true, 'ok', '{{"kind":"done","value":{{"message":"ok","credentials":[]}}}}', 2, 3);"#,
                MIGRATIONS[0]
            ),
        );
        let journal = PostgresJournal::connect(&url).unwrap();
        assert_eq!(
            server
                .psql(name, "SELECT MAX(version) FROM provisioning_journal_schema")
                .trim(),
            SCHEMA_VERSION.to_string()
        );
        assert_eq!(journal.entries().unwrap().len(), 1, "the entry is kept");
        assert_eq!(journal.key_record().unwrap(), None, "no key on record yet");
        assert_eq!(journal.adopt_key("check").unwrap().check, "check");
        assert_eq!(
            journal
                .purge_acknowledged(super::super::record::now_ms(), 10)
                .unwrap(),
            1
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_manifest_naming_a_database_url_opens_the_postgres_journal() {
        let url = PgServer::shared().database("manifest");
        let dir = std::env::temp_dir().join(format!("pg-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("journal.url"), &url).unwrap();
        std::fs::write(dir.join("journal.key"), "cd".repeat(32)).unwrap();
        let manifest = crate::Manifest::parse(
            "[journal]\nurl = { file = \"journal.url\" }\nkey = { file = \"journal.key\" }\n",
            &dir,
        )
        .unwrap();
        let journal = manifest.journal_config().unwrap().unwrap().open().unwrap();
        journal.check_writable().await.unwrap();
        assert!(journal.pending().await.unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
