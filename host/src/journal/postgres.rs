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
//! The journal's methods are synchronous and run on the journal's own
//! thread (`super::flow`, over this store's row operations). The store
//! owns a small tokio runtime (one worker thread) that keeps the pool's
//! connections; each operation's flow is run to its end on the calling
//! thread, bounded as a whole by [`OPERATION_TIMEOUT`], so no thread of
//! the host's runtime is ever blocked and a database that is down or
//! unreachable fails the operation (the journal then refuses mutating
//! calls) instead of hanging.
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

use anyhow::{Context, anyhow};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::record::{Entry, EntryId, Intent, duration_ms};
use super::row::{
    AcknowledgementColumns, CHECKED_COLUMNS, ENTRY_COLUMNS, FENCE_COLUMNS, OutcomeColumns,
    RENEWABLE_WHERE, RowValues, checked_of, entry_of, fence_of, in_flight_where, input_column,
    purgeable_where,
};
use super::rows::{RowStore, Rows, Selection, Unit};
use super::rules::{Checked, Fence};
use super::store::{meta, newer_schema};
use super::usage_claims::{RunService, UsageServiceKey, claimable_where, held_where, millis};

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

/// The journal's own values by name (`super::store::meta`).
const META: &str = "provisioning_journal_meta";

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
        journal.run("migrating the schema", migrate(journal.pool.clone()))?;
        Ok(journal)
    }

    /// The database, as `host:port/dbname`.
    pub fn database(&self) -> &str {
        &self.target
    }

    /// The store's runtime.
    fn handle(&self) -> anyhow::Result<tokio::runtime::Handle> {
        Ok(self
            .runtime
            .as_ref()
            .context("the PostgreSQL journal is closed")?
            .handle()
            .clone())
    }
}

impl PostgresJournal {
    /// Runs `operation` with a pooled connection on the store's runtime,
    /// as [`RowStore::run`] does, for an async caller: the future
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

impl RowStore for PostgresJournal {
    type Rows<'s> = PostgresRows;

    async fn rows(&self, unit: Unit) -> anyhow::Result<PostgresRows> {
        let runtime = self.handle()?;
        let mut rows = PostgresRows {
            client: Some(connection(&self.pool).await?),
            open: false,
            runtime,
        };
        // One statement is atomic alone: reads and writes run each on its
        // own (one round trip each), and a transaction is opened only to
        // hold what a decision read, or what the unit locks.
        let begin = match unit {
            Unit::Reads | Unit::Writes => return Ok(rows),
            Unit::Decision => "BEGIN".to_string(),
            // Reads go on; no host records an intent or an outcome, or
            // adopts a key, and a second rotation waits for this one.
            Unit::Journal => format!(
                "BEGIN;
                 LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE;
                 LOCK TABLE {META} IN SHARE ROW EXCLUSIVE MODE;"
            ),
            // Hosts registering at once insert one after the other, never
            // waiting on each other's rows in opposite orders.
            Unit::UsageRuns => format!("BEGIN; SELECT pg_advisory_xact_lock({USAGE_RUN_LOCK});"),
        };
        rows.open = true;
        rows.client()?.batch_execute(&begin).await?;
        Ok(rows)
    }

    fn run<T>(
        &self,
        what: &'static str,
        flow: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let runtime = self
            .runtime
            .as_ref()
            .context("the PostgreSQL journal is closed")?;
        // The flow runs on the calling thread; the pool's connections and
        // timers are the store's runtime's, which drives them.
        let _entered = runtime.enter();
        let result = futures::executor::block_on(async {
            match tokio::time::timeout(OPERATION_TIMEOUT, flow).await {
                Ok(result) => result,
                Err(elapsed) => Err(anyhow::Error::new(elapsed).context(format!(
                    "the database did not answer within {}s",
                    OPERATION_TIMEOUT.as_secs()
                ))),
            }
        });
        result.with_context(|| format!("{what} (PostgreSQL journal {})", self.target))
    }
}

/// A pooled connection, in a transaction when its [`Unit`] needs one
/// (rolled back when dropped uncommitted: a timeout, an error, a rule's
/// refusal).
pub(super) struct PostgresRows {
    /// `None` only once dropped.
    client: Option<deadpool_postgres::Object>,
    /// Whether a transaction is open.
    open: bool,
    /// Where a rollback runs when the rows are dropped.
    runtime: tokio::runtime::Handle,
}

impl Drop for PostgresRows {
    fn drop(&mut self) {
        if let (true, Some(client)) = (self.open, self.client.take()) {
            // The connection goes back to the pool once rolled back.
            self.runtime.spawn(async move {
                let _ = client.batch_execute("ROLLBACK").await;
            });
        }
    }
}

impl PostgresRows {
    fn client(&self) -> anyhow::Result<&deadpool_postgres::Object> {
        self.client
            .as_ref()
            .context("the PostgreSQL journal's connection is gone")
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> anyhow::Result<u64> {
        Ok(self.client()?.execute(sql, params).await?)
    }

    async fn count(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> anyhow::Result<i64> {
        Ok(self.client()?.query_one(sql, params).await?.try_get(0)?)
    }

    /// The entries of [`columns`] where `condition` holds.
    async fn select(
        &self,
        condition: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> anyhow::Result<Vec<Entry>> {
        let sql = format!("SELECT {} FROM {TABLE} {condition}", columns());
        let rows = self.client()?.query(&sql, params).await?;
        rows.iter().map(entry_from_row).collect()
    }
}

impl Rows for PostgresRows {
    async fn entries(&mut self, selection: Selection<'_>) -> anyhow::Result<Vec<Entry>> {
        match selection {
            Selection::Id(id) => self.select("WHERE id = $1", &[&id]).await,
            Selection::Key { module, key } => {
                self.select(
                    "WHERE module = $1 AND idempotency_key = $2",
                    &[&module, &key],
                )
                .await
            }
            Selection::Pending => {
                self.select("WHERE acknowledged_at_ms IS NULL ORDER BY id", &[])
                    .await
            }
            Selection::PendingOf { module, service_id } => {
                self.select(
                    "WHERE module = $1 AND service_id = $2 \
                     AND acknowledged_at_ms IS NULL ORDER BY id",
                    &[&module, &service_id],
                )
                .await
            }
            Selection::All => self.select("ORDER BY id", &[]).await,
            Selection::LastSucceeded {
                module,
                service_id,
                function,
            } => {
                self.select(
                    "WHERE module = $1 AND service_id = $2 \
                     AND function = $3 AND succeeded ORDER BY id DESC LIMIT 1",
                    &[&module, &service_id, &function],
                )
                .await
            }
        }
    }

    async fn insert_intent(
        &mut self,
        intent: &Intent,
        owner: &str,
        lease: Duration,
        attempt: Duration,
    ) -> anyhow::Result<Option<EntryId>> {
        // One statement: the unique key decides between this insert and
        // another host's; a concurrent insert of the same key is waited
        // for, then this one does nothing.
        let inserted = self
            .client()?
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
                    &input_column(intent)?,
                    &intent.request_digest,
                    &owner,
                    &duration_ms(lease),
                    &duration_ms(attempt),
                ],
            )
            .await?;
        Ok(inserted.map(|row| row.try_get(0)).transpose()?)
    }

    async fn fence(&mut self, id: EntryId) -> anyhow::Result<Option<Fence>> {
        // The row stays locked until the commit: an acknowledgement
        // holding it is waited for and its write read after it.
        let sql = format!("SELECT {FENCE_COLUMNS} FROM {TABLE} WHERE id = $1 FOR UPDATE");
        let found = self.client()?.query_opt(&sql, &[&id]).await?;
        found.as_ref().map(fence_of).transpose()
    }

    async fn write_outcome(
        &mut self,
        id: EntryId,
        outcome: &OutcomeColumns,
        sealed_credentials: Option<&[u8]>,
    ) -> anyhow::Result<()> {
        self.execute(
            &format!(
                "UPDATE {TABLE} SET succeeded = $2, kind = $3, uncertain = $4,
                    summary = $5, sealed_credentials = $6,
                    finished_at_ms = {NOW_MS}, lease_until_ms = NULL,
                    module_digest = $7
                 WHERE id = $1"
            ),
            &[
                &id,
                &outcome.succeeded,
                &outcome.kind,
                &outcome.uncertain,
                &outcome.summary,
                &sealed_credentials,
                &outcome.module_digest,
            ],
        )
        .await?;
        Ok(())
    }

    async fn renew_leases(&mut self, ids: &[EntryId], lease: Duration) -> anyhow::Result<()> {
        self.execute(
            &format!(
                "UPDATE {TABLE} SET lease_until_ms = {NOW_MS} + $2
                 WHERE id = ANY($1) AND {RENEWABLE_WHERE}"
            ),
            &[&ids, &duration_ms(lease)],
        )
        .await?;
        Ok(())
    }

    async fn checked(&mut self, id: EntryId) -> anyhow::Result<Option<Checked>> {
        // The row stays locked until the commit: a host finishing the
        // call meanwhile waits, and the in-flight check holds.
        let sql = format!(
            "SELECT {CHECKED_COLUMNS}, {NOW_MS} AS now_ms FROM {TABLE} WHERE id = $1 FOR UPDATE"
        );
        let found = self.client()?.query_opt(&sql, &[&id]).await?;
        found
            .map(|row| checked_of(&row, row.try_get("now_ms")?))
            .transpose()
    }

    async fn write_acknowledgement(
        &mut self,
        id: EntryId,
        written: &AcknowledgementColumns,
        now_ms: i64,
    ) -> anyhow::Result<()> {
        self.execute(
            &format!(
                "UPDATE {TABLE} SET acknowledged_at_ms = $2, sealed_credentials = NULL,
                    finding = $3, note = $4
                 WHERE id = $1"
            ),
            &[&id, &now_ms, &written.finding, &written.note],
        )
        .await?;
        if let Some(columns) = &written.outcome {
            self.execute(
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
            self.release_key(id).await?;
        }
        Ok(())
    }

    async fn release_key(&mut self, id: EntryId) -> anyhow::Result<()> {
        self.execute(
            &format!(
                "UPDATE {TABLE} SET idempotency_key = idempotency_key || '#released-' || id
                 WHERE id = $1 AND idempotency_key NOT LIKE '%#released-%'"
            ),
            &[&id],
        )
        .await?;
        Ok(())
    }

    async fn in_flight(&mut self) -> anyhow::Result<Vec<EntryId>> {
        let sql = format!(
            "SELECT id FROM {TABLE} WHERE {} ORDER BY id",
            in_flight_where(NOW_MS)
        );
        let rows = self.client()?.query(&sql, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    async fn sealed_records(&mut self) -> anyhow::Result<Vec<(EntryId, Vec<u8>)>> {
        let sql = format!(
            "SELECT id, sealed_credentials FROM {TABLE}
             WHERE sealed_credentials IS NOT NULL ORDER BY id"
        );
        let rows = self.client()?.query(&sql, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, tokio_postgres::Error>>()?)
    }

    async fn write_sealed(&mut self, id: EntryId, sealed: &[u8]) -> anyhow::Result<()> {
        self.execute(
            &format!("UPDATE {TABLE} SET sealed_credentials = $2 WHERE id = $1"),
            &[&id, &sealed],
        )
        .await?;
        Ok(())
    }

    async fn purge(
        &mut self,
        acknowledged_before_ms: i64,
        at_most: usize,
    ) -> anyhow::Result<usize> {
        let deleted = self
            .execute(
                &format!(
                    "DELETE FROM {TABLE} WHERE id IN (
                        SELECT id FROM {TABLE} WHERE {}
                        ORDER BY acknowledged_at_ms, id LIMIT $2)",
                    purgeable_where("$1")
                ),
                &[
                    &acknowledged_before_ms,
                    &i64::try_from(at_most).unwrap_or(i64::MAX),
                ],
            )
            .await?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }

    async fn meta(&mut self) -> anyhow::Result<Vec<(String, String)>> {
        let sql = format!("SELECT name, value FROM {META}");
        let rows = self.client()?.query(&sql, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, tokio_postgres::Error>>()?)
    }

    async fn set_meta(&mut self, name: &str, value: Option<&str>) -> anyhow::Result<()> {
        match value {
            Some(value) => {
                self.execute(
                    &format!(
                        "INSERT INTO {META} (name, value) VALUES ($1, $2)
                         ON CONFLICT (name) DO UPDATE SET value = excluded.value"
                    ),
                    &[&name, &value],
                )
                .await?
            }
            None => {
                self.execute(&format!("DELETE FROM {META} WHERE name = $1"), &[&name])
                    .await?
            }
        };
        Ok(())
    }

    async fn add_meta(&mut self, name: &str, value: &str) -> anyhow::Result<()> {
        self.execute(
            &format!(
                "INSERT INTO {META} (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO NOTHING"
            ),
            &[&name, &value],
        )
        .await?;
        Ok(())
    }

    async fn probe_write(&mut self) -> anyhow::Result<()> {
        // A read-only server (a standby, `default_transaction_read_only`)
        // or a full disk fails here.
        self.execute(
            &format!(
                "INSERT INTO {META} (name, value) VALUES ($1, ({NOW_MS})::text)
                 ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value"
            ),
            &[&meta::WRITE_PROBED_AT_MS],
        )
        .await?;
        Ok(())
    }

    async fn forget_usage_runs(&mut self, forget_after: Duration) -> anyhow::Result<()> {
        self.execute(
            &format!("DELETE FROM {CLAIMS} WHERE registered_at_ms < {NOW_MS} - $1"),
            &[&millis(forget_after)],
        )
        .await?;
        Ok(())
    }

    async fn add_usage_services(
        &mut self,
        run: &str,
        services: &[RunService],
    ) -> anyhow::Result<()> {
        let (modules, ids) = key_columns(services.iter().map(|service| &service.key));
        let jobs: Vec<&str> = services
            .iter()
            .map(|service| service.job.as_str())
            .collect();
        let positions: Vec<i64> = (0..services.len() as i64).collect();
        self.execute(
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
        Ok(())
    }

    async fn usage_services(&mut self, run: &str) -> anyhow::Result<i64> {
        self.count(
            &format!("SELECT COUNT(*) FROM {CLAIMS} WHERE run = $1"),
            &[&run],
        )
        .await
    }

    async fn claim_usage_services(
        &mut self,
        run: &str,
        owner: &str,
        limit: usize,
        lease: Duration,
    ) -> anyhow::Result<Vec<(RunService, i64)>> {
        // Rows another host is claiming at this moment are skipped, not
        // waited for.
        let rows = self
            .client()?
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
                &[
                    &run,
                    &owner,
                    &i64::try_from(limit).unwrap_or(i64::MAX),
                    &millis(lease).max(1),
                ],
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
        // RETURNING keeps no order.
        claimed.sort_by(|a, b| (a.0, &a.1.key).cmp(&(b.0, &b.1.key)));
        Ok(claimed
            .into_iter()
            .map(|(_, service, times)| (service, times))
            .collect())
    }

    async fn held_usage_services(&mut self, run: &str) -> anyhow::Result<i64> {
        self.count(
            &format!(
                "SELECT COUNT(*) FROM {CLAIMS} WHERE run = $1 AND {}",
                held_where(NOW_MS)
            ),
            &[&run],
        )
        .await
    }

    async fn renew_usage_claims(
        &mut self,
        run: &str,
        owner: &str,
        services: &[UsageServiceKey],
        lease: Duration,
    ) -> anyhow::Result<()> {
        let (modules, ids) = key_columns(services);
        self.execute(
            &format!(
                "UPDATE {CLAIMS} SET lease_until_ms = {NOW_MS} + $5
                 WHERE run = $1 AND claimed_by = $2 AND done_at_ms IS NULL
                    AND (module, service_id) IN
                        (SELECT * FROM unnest($3::text[], $4::text[]))"
            ),
            &[&run, &owner, &modules, &ids, &millis(lease).max(1)],
        )
        .await?;
        Ok(())
    }

    async fn finish_usage_services(
        &mut self,
        run: &str,
        services: &[UsageServiceKey],
    ) -> anyhow::Result<()> {
        let (modules, ids) = key_columns(services);
        self.execute(
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
    }

    async fn commit(mut self) -> anyhow::Result<()> {
        if self.open {
            self.client()?.batch_execute("COMMIT").await?;
            self.open = false;
        }
        Ok(())
    }
}

/// Services' keys as two parallel arrays, for `unnest`.
fn key_columns<'k>(
    keys: impl IntoIterator<Item = &'k UsageServiceKey>,
) -> (Vec<&'k str>, Vec<&'k str>) {
    keys.into_iter()
        .map(|key| (key.module.as_str(), key.service_id.as_str()))
        .unzip()
}

#[cfg(test)]
mod tests {
    //! What is PostgreSQL's own: the URL kept out of messages, `sslmode`,
    //! and the database going away and coming back. The store's behaviour
    //! is tested once for every store, in `super::super::store_tests`.

    use super::super::record::{Begun, CallOutcome, Failure};
    use super::super::store::{Finished, JournalStore};
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
    fn a_refused_decision_is_rolled_back_holding_no_row_and_no_connection() {
        let url = PgServer::shared().database("refused");
        let (journal, other) = (
            PostgresJournal::connect(&url).unwrap(),
            PostgresJournal::connect(&url).unwrap(),
        );
        let Begun::Started(id) = journal
            .begin(&intent("k"), "h:1", Duration::from_secs(60), Duration::ZERO)
            .unwrap()
        else {
            panic!("a new key starts an entry");
        };
        let outcome = CallOutcome {
            answer: Err(Failure {
                kind: "timeout".into(),
                message: "cut off".into(),
            }),
            uncertain: true,
            module_digest: None,
            sealed_credentials: None,
        };
        let asked = Instant::now();
        // Each refusal locked the row FOR UPDATE and was dropped uncommitted:
        // more of them than the pool has connections.
        for _ in 0..POOL_SIZE * 2 {
            assert_eq!(
                journal.finish(id, "h:2", &outcome).unwrap(),
                Finished::Fenced
            );
        }
        assert_eq!(
            other.finish(id, "h:1", &outcome).unwrap(),
            Finished::Recorded,
            "the row is not held by a refused transaction"
        );
        assert!(
            asked.elapsed() < OPERATION_TIMEOUT / 2,
            "nothing waited for a lock or a connection: {:?}",
            asked.elapsed()
        );
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
