//! The store's behaviour, written once and run against every store: the
//! SQLite file and a PostgreSQL database on a throwaway server
//! (`provisioning-test-postgres`). Each test gets a fresh journal of its
//! own (a new file, a new database) and may open it several times, as
//! several hosts would.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::postgres::PostgresJournal;
use super::record::{
    Acknowledged, Acknowledgement, Begun, CallOutcome, EntryId, EntryState, Failure, Finding,
    Intent, Resolution, now_ms,
};
use super::sqlite::SqliteJournal;
use super::store::{Finished, JournalStore, KeyRecord, Rekey, Rekeyed};
use super::usage_claims::{RunService, UsageServiceKey};
use crate::bindings::types::{CreatedAccount, Outcome, Service, ServiceState};
use crate::request::{Request, Response};
use provisioning_test_postgres::PgServer;

/// A fresh journal of one store kind, to open as often as needed.
trait TestJournal: Sync {
    /// A new handle on it (a host's connection).
    fn open(&self) -> anyhow::Result<Arc<dyn JournalStore>>;
    /// Marks the stored schema as `version` (as a newer host would).
    fn set_schema_version(&self, version: i64);
    /// The schema version this host writes.
    fn known_version(&self) -> i64;
    /// Makes the journal as the release of commit 4da26cb left it: its
    /// schema (SQLite 6, PostgreSQL 7), no entries yet.
    fn create_as_release_4da26cb(&self);
    /// Runs SQL on it directly; what a one-column query answers, as text
    /// (one row a line).
    fn sql(&self, sql: &str) -> String;
    /// The store's name of a table of the journal (`calls`, `meta`).
    fn table(&self, name: &str) -> String;
    /// A boolean and a binary value as SQL literals.
    fn literals(&self, flag: bool, hex: &str) -> (String, String);
}

/// A SQLite file in a directory of its own, removed on drop.
pub(super) struct SqliteFile(std::path::PathBuf);

impl SqliteFile {
    pub(super) fn new(test: &str) -> SqliteFile {
        let dir = std::env::temp_dir().join(format!(
            "provisioning-journal-{test}-{}-{}",
            std::process::id(),
            now_ms()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        SqliteFile(dir)
    }

    pub(super) fn file(&self) -> std::path::PathBuf {
        self.0.join("journal.sqlite3")
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestJournal for SqliteFile {
    fn open(&self) -> anyhow::Result<Arc<dyn JournalStore>> {
        Ok(Arc::new(SqliteJournal::open(&self.file())?))
    }

    fn set_schema_version(&self, version: i64) {
        rusqlite::Connection::open(self.file())
            .unwrap()
            .pragma_update(None, "user_version", version)
            .unwrap();
    }

    fn known_version(&self) -> i64 {
        super::sqlite::SCHEMA_VERSION
    }

    fn create_as_release_4da26cb(&self) {
        let connection = rusqlite::Connection::open(self.file()).unwrap();
        for migration in &super::sqlite::MIGRATIONS[..6] {
            connection.execute_batch(migration).unwrap();
        }
        connection.pragma_update(None, "user_version", 6).unwrap();
    }

    fn sql(&self, sql: &str) -> String {
        let connection = rusqlite::Connection::open(self.file()).unwrap();
        if !sql.starts_with("SELECT") {
            connection.execute_batch(sql).unwrap();
            return String::new();
        }
        let mut statement = connection.prepare(sql).unwrap();
        let rows = statement
            .query_map([], |row| row.get::<_, Option<String>>(0))
            .unwrap()
            .map(|row| row.unwrap().unwrap_or_default())
            .collect::<Vec<_>>();
        rows.join("\n")
    }

    fn table(&self, name: &str) -> String {
        name.to_string()
    }

    fn literals(&self, flag: bool, hex: &str) -> (String, String) {
        (u8::from(flag).to_string(), format!("X'{hex}'"))
    }
}

/// A database of its own on the test binary's PostgreSQL server.
struct PostgresDatabase {
    name: String,
    url: String,
}

impl PostgresDatabase {
    fn new(test: &str) -> PostgresDatabase {
        let url = PgServer::shared().database(test);
        let name = url
            .rsplit('/')
            .next()
            .and_then(|tail| tail.split('?').next())
            .unwrap()
            .to_string();
        PostgresDatabase { name, url }
    }
}

impl TestJournal for PostgresDatabase {
    fn open(&self) -> anyhow::Result<Arc<dyn JournalStore>> {
        Ok(Arc::new(PostgresJournal::connect(&self.url)?))
    }

    fn set_schema_version(&self, version: i64) {
        PgServer::shared().psql(
            &self.name,
            &format!("INSERT INTO provisioning_journal_schema VALUES ({version}, 0)"),
        );
    }

    fn known_version(&self) -> i64 {
        super::postgres::SCHEMA_VERSION
    }

    fn create_as_release_4da26cb(&self) {
        let mut sql = String::from(
            "CREATE TABLE provisioning_journal_schema (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL);",
        );
        for (index, migration) in super::postgres::MIGRATIONS[..7].iter().enumerate() {
            sql.push_str(migration);
            sql.push_str(&format!(
                ";INSERT INTO provisioning_journal_schema VALUES ({}, 0);",
                index + 1
            ));
        }
        PgServer::shared().psql(&self.name, &sql);
    }

    fn sql(&self, sql: &str) -> String {
        PgServer::shared().psql(&self.name, sql)
    }

    fn table(&self, name: &str) -> String {
        format!("provisioning_journal_{name}")
    }

    fn literals(&self, flag: bool, hex: &str) -> (String, String) {
        (flag.to_string(), format!("decode('{hex}', 'hex')"))
    }
}

/// Every test below, for each store: `journal::store_tests::sqlite::NAME`
/// and `journal::store_tests::postgres::NAME`.
macro_rules! for_each_store {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $test() {
                    super::$test(&super::SqliteFile::new(stringify!($test)));
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $test() {
                    super::$test(&super::PostgresDatabase::new(stringify!($test)));
                }
            )*
        }
    };
}

for_each_store!(
    an_entry_goes_from_in_flight_to_answered_to_acknowledged,
    a_lapsed_lease_is_an_unknown_outcome_and_renewing_keeps_it_live,
    nothing_decides_an_entry_before_its_attempts_deadline,
    a_finding_is_refused_once_the_outcome_is_known,
    only_the_owner_finishes_an_undecided_entry,
    an_operators_done_replaces_the_outcome_on_record,
    a_taken_key_returns_the_earlier_entry_until_released,
    hosts_sharing_one_journal_start_exactly_one_entry_per_key,
    pending_lists_unacknowledged_entries_oldest_first,
    entries_survive_reopening,
    hosts_opening_a_new_journal_at_once_migrate_it_once,
    a_journal_from_a_newer_schema_is_refused_naming_both_versions,
    a_journal_that_takes_writes_says_so,
    usage_claims_are_exclusive_and_done_services_are_never_claimed_again,
    hosts_claiming_usage_at_once_share_the_services_without_overlap,
    an_expired_usage_claim_is_taken_over_and_a_renewed_one_is_not,
    a_new_usage_run_starts_fresh_and_old_runs_are_forgotten,
    acknowledging_destroys_the_sealed_credentials,
    a_purge_deletes_only_entries_acknowledged_before_the_cutoff,
    a_purge_deletes_at_most_what_it_is_asked_oldest_first,
    the_first_key_recorded_is_kept,
    a_rekey_reseals_every_sealed_record_and_replaces_the_key_record,
    a_rekey_is_refused_under_another_key_or_while_a_call_is_in_flight,
    a_rekey_whose_resealing_fails_changes_nothing,
    a_services_last_successful_create_is_found_by_module_and_service,
    a_services_pending_entries_are_its_own_only,
    rows_written_by_release_4da26cb_still_read_and_replay,
);

const OWNER: &str = "test-host:1";

fn intent(key: &str) -> Intent {
    Intent {
        module: "webline".into(),
        idempotency_key: key.into(),
        input: Request::CreateAccount {
            service: service("svc-1"),
        },
        request_digest: Some("d1".into()),
    }
}

/// A service of this id, nothing else known of it.
pub(super) fn service(id: &str) -> Service {
    Service {
        service_id: id.into(),
        remote_id: None,
        domain: None,
        username: None,
        password: None,
        package: None,
        billing_cycle: None,
        client: None,
        custom_fields: Vec::new(),
    }
}

/// A create's answer, the provider's id `remote`.
fn created(remote: &str) -> Response {
    Response::Created(CreatedAccount {
        remote_id: remote.into(),
        already_existed: false,
        status: ServiceState::Active,
        message: "created".into(),
        credentials: Vec::new(),
    })
}

/// Another mutating call's answer.
fn done() -> Response {
    Response::Done(Outcome {
        message: "done".into(),
        credentials: Vec::new(),
    })
}

/// A failure of this kind.
fn failure(kind: &str) -> Failure {
    Failure {
        kind: kind.into(),
        message: format!("a {kind} failure"),
    }
}

fn outcome(sealed: Option<Vec<u8>>) -> CallOutcome {
    CallOutcome {
        answer: Ok(created("r-1")),
        uncertain: false,
        module_digest: Some("sha256:m1".into()),
        sealed_credentials: sealed,
    }
}

fn live() -> Duration {
    Duration::from_secs(60)
}

fn started(begun: Begun) -> EntryId {
    match begun {
        Begun::Started(id) => id,
        Begun::Existing(entry) => panic!("expected a new entry, got {entry:?}"),
    }
}

fn plain() -> Acknowledgement {
    Acknowledgement {
        resolution: None,
        outcome: None,
        release_key: false,
    }
}

fn an_entry_goes_from_in_flight_to_answered_to_acknowledged(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    let id = started(
        journal
            .begin(&intent("k1"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    let entry = journal.get(id).unwrap().unwrap();
    assert_eq!(entry.state, EntryState::InFlight);
    assert_eq!(entry.owner.as_deref(), Some(OWNER));
    assert_eq!(entry.intent, intent("k1"), "the digest is kept");
    assert_eq!(journal.pending().unwrap(), vec![entry]);
    assert_eq!(
        journal.acknowledge(id, &plain()).unwrap(),
        Acknowledged::InFlight,
        "a running call cannot be acknowledged"
    );

    assert_eq!(
        journal
            .finish(id, OWNER, &outcome(Some(vec![1, 2, 3])))
            .unwrap(),
        Finished::Recorded
    );
    let entry = journal.get(id).unwrap().unwrap();
    assert_eq!(entry.state, EntryState::Answered);
    assert_eq!(entry.outcome, Some(outcome(Some(vec![1, 2, 3]))));
    assert_eq!(entry.lease_until_ms, None, "the lease ends with the call");
    assert!(entry.finished_at_ms.is_some());
    assert_eq!(
        journal.finish(id, OWNER, &outcome(None)).unwrap(),
        Finished::Fenced,
        "finished once"
    );
    assert_eq!(
        journal.get(id).unwrap().unwrap().outcome,
        Some(outcome(Some(vec![1, 2, 3]))),
        "the second finish changed nothing"
    );

    assert_eq!(
        journal.acknowledge(id, &plain()).unwrap(),
        Acknowledged::Yes
    );
    assert_eq!(
        journal.acknowledge(id, &plain()).unwrap(),
        Acknowledged::NotPending,
        "acknowledged once"
    );
    assert_eq!(
        journal.acknowledge(id + 1000, &plain()).unwrap(),
        Acknowledged::NotPending,
        "no such entry"
    );
    assert!(journal.pending().unwrap().is_empty());
    let entries = journal.entries().unwrap();
    assert_eq!(
        entries.iter().map(|e| (e.id, e.state)).collect::<Vec<_>>(),
        vec![(id, EntryState::Acknowledged)],
        "every entry stays in the history"
    );
    assert_eq!(
        entries[0]
            .outcome
            .as_ref()
            .map(|o| o.sealed_credentials.clone()),
        Some(None),
        "sealed credentials destroyed, the outcome kept"
    );
    assert!(journal.get(id + 1000).unwrap().is_none());
}

fn a_lapsed_lease_is_an_unknown_outcome_and_renewing_keeps_it_live(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    let lapsed = started(
        journal
            .begin(&intent("a"), OWNER, Duration::ZERO, Duration::ZERO)
            .unwrap(),
    );
    let renewed = started(
        journal
            .begin(&intent("b"), OWNER, Duration::ZERO, Duration::ZERO)
            .unwrap(),
    );
    journal.renew(&[renewed], live()).unwrap();
    assert_eq!(
        journal.get(lapsed).unwrap().unwrap().state,
        EntryState::Unknown
    );
    assert_eq!(
        journal.get(renewed).unwrap().unwrap().state,
        EntryState::InFlight
    );
    // A finished entry's lease is not renewed back to life.
    journal.finish(renewed, OWNER, &outcome(None)).unwrap();
    journal.renew(&[renewed], live()).unwrap();
    assert_eq!(journal.get(renewed).unwrap().unwrap().lease_until_ms, None);

    // An unknown entry can be resolved; the operator's words are kept.
    let resolution = Resolution {
        finding: Finding::NotDone,
        note: Some("no such account in the panel".into()),
    };
    let ack = Acknowledgement {
        resolution: Some(resolution.clone()),
        outcome: None,
        release_key: true,
    };
    assert_eq!(
        journal.acknowledge(lapsed, &ack).unwrap(),
        Acknowledged::Yes
    );
    let entry = journal.get(lapsed).unwrap().unwrap();
    assert_eq!(entry.resolution, Some(resolution));
    assert_eq!(entry.state, EntryState::Acknowledged);
    started(
        journal
            .begin(&intent("a"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );

    // A host that was only stalled finishes after all: its outcome is
    // fenced out, the decision stands.
    assert_eq!(
        journal
            .finish(lapsed, OWNER, &outcome(Some(vec![7])))
            .unwrap(),
        Finished::Fenced
    );
    let entry = journal.get(lapsed).unwrap().unwrap();
    assert_eq!(entry.state, EntryState::Acknowledged);
    assert_eq!(entry.outcome, None);
}

fn nothing_decides_an_entry_before_its_attempts_deadline(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    // Its host stalled at once (the lease lapsed), but the attempt may
    // reach the provider for a while yet.
    let attempt = Duration::from_millis(1500);
    let id = started(
        journal
            .begin(&intent("stalled"), OWNER, Duration::ZERO, attempt)
            .unwrap(),
    );
    let entry = journal.get(id).unwrap().unwrap();
    assert_eq!(entry.state, EntryState::Unknown, "its host looks gone");
    assert!(!entry.attempt_over);
    let until = entry.attempt_deadline_ms.unwrap();
    assert!(
        until >= entry.started_at_ms + 1500,
        "{until} {}",
        entry.started_at_ms
    );
    let not_done = Acknowledgement {
        resolution: Some(Resolution {
            finding: Finding::NotDone,
            note: None,
        }),
        outcome: None,
        release_key: true,
    };
    assert_eq!(
        journal.acknowledge(id, &not_done).unwrap(),
        Acknowledged::AttemptRunning { until_ms: until }
    );
    match journal
        .begin(&intent("stalled"), OWNER, live(), attempt)
        .unwrap()
    {
        Begun::Existing(entry) => assert_eq!(entry.id, id, "the key is still taken"),
        Begun::Started(_) => panic!("the key was freed before the deadline"),
    }
    // A plain acknowledgement is no decision; the store checks the rest.
    std::thread::sleep(Duration::from_millis(1600));
    let entry = journal.get(id).unwrap().unwrap();
    assert!(entry.attempt_over);
    assert_eq!(
        journal.acknowledge(id, &not_done).unwrap(),
        Acknowledged::Yes
    );
    started(
        journal
            .begin(&intent("stalled"), OWNER, live(), attempt)
            .unwrap(),
    );
}

fn a_finding_is_refused_once_the_outcome_is_known(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    let id = started(
        journal
            .begin(&intent("late"), OWNER, Duration::ZERO, Duration::ZERO)
            .unwrap(),
    );
    // Read as unknown, then its host records the outcome before the
    // finding comes: the finding is refused, the outcome kept.
    assert_eq!(journal.get(id).unwrap().unwrap().state, EntryState::Unknown);
    assert_eq!(
        journal.finish(id, OWNER, &outcome(None)).unwrap(),
        Finished::Recorded
    );
    let done = Acknowledgement {
        resolution: Some(Resolution {
            finding: Finding::Done,
            note: None,
        }),
        outcome: Some(outcome(None)),
        release_key: false,
    };
    assert_eq!(
        journal.acknowledge(id, &done).unwrap(),
        Acknowledged::OutcomeKnown
    );
    assert_eq!(
        journal.get(id).unwrap().unwrap().state,
        EntryState::Answered
    );
}

fn only_the_owner_finishes_an_undecided_entry(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    let id = started(
        journal
            .begin(&intent("owned"), OWNER, live(), live())
            .unwrap(),
    );
    assert_eq!(
        journal.finish(id, "other-host:2", &outcome(None)).unwrap(),
        Finished::Fenced
    );
    assert_eq!(
        journal.get(id).unwrap().unwrap().state,
        EntryState::InFlight
    );
    assert_eq!(
        journal.finish(id, OWNER, &outcome(None)).unwrap(),
        Finished::Recorded
    );
}

fn an_operators_done_replaces_the_outcome_on_record(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    let id = started(
        journal
            .begin(&intent("cut"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    let cut_off = CallOutcome {
        answer: Err(failure("timeout")),
        uncertain: true,
        module_digest: None,
        sealed_credentials: None,
    };
    journal.finish(id, OWNER, &cut_off).unwrap();
    assert_eq!(journal.get(id).unwrap().unwrap().state, EntryState::Unknown);
    let ack = Acknowledgement {
        resolution: Some(Resolution {
            finding: Finding::Done,
            note: None,
        }),
        outcome: Some(outcome(None)),
        release_key: false,
    };
    assert_eq!(journal.acknowledge(id, &ack).unwrap(), Acknowledged::Yes);
    match journal
        .begin(&intent("cut"), OWNER, live(), Duration::ZERO)
        .unwrap()
    {
        Begun::Existing(entry) => {
            assert_eq!(entry.outcome, Some(outcome(None)));
            assert_eq!(entry.resolution.unwrap().finding, Finding::Done);
        }
        Begun::Started(_) => panic!("the key stays taken by a call found done"),
    }
}

fn a_taken_key_returns_the_earlier_entry_until_released(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    let id = started(
        journal
            .begin(&intent("k1"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    journal.finish(id, OWNER, &outcome(None)).unwrap();
    match journal
        .begin(&intent("k1"), OWNER, live(), Duration::ZERO)
        .unwrap()
    {
        Begun::Existing(entry) => {
            assert_eq!(entry.id, id);
            assert_eq!(entry.outcome, Some(outcome(None)));
        }
        Begun::Started(_) => panic!("the key was taken"),
    }
    let mut other_module = intent("k1");
    other_module.module = "blesta".into();
    started(
        journal
            .begin(&other_module, OWNER, live(), Duration::ZERO)
            .unwrap(),
    );

    journal.release_key(id).unwrap();
    journal.release_key(id).unwrap();
    let released = journal.get(id).unwrap().unwrap();
    assert_eq!(
        released.intent.idempotency_key,
        format!("k1#released-{id}"),
        "a marked copy, marked once"
    );
    let again = started(
        journal
            .begin(&intent("k1"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    assert_ne!(again, id);
}

fn hosts_sharing_one_journal_start_exactly_one_entry_per_key(db: &dyn TestJournal) {
    // Separate handles, as separate host processes would have.
    let journals: Vec<_> = (0..4).map(|_| db.open().unwrap()).collect();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let journal = journals[i % journals.len()].clone();
            std::thread::spawn(move || {
                journal
                    .begin(&intent("same"), OWNER, live(), Duration::ZERO)
                    .unwrap()
            })
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

fn pending_lists_unacknowledged_entries_oldest_first(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    let ids: Vec<_> = (0..5)
        .map(|i| {
            started(
                journal
                    .begin(&intent(&format!("p{i}")), OWNER, live(), Duration::ZERO)
                    .unwrap(),
            )
        })
        .collect();
    for &id in &ids {
        journal.finish(id, OWNER, &outcome(None)).unwrap();
    }
    journal.acknowledge(ids[1], &plain()).unwrap();
    journal.acknowledge(ids[3], &plain()).unwrap();
    let pending: Vec<_> = journal.pending().unwrap().iter().map(|e| e.id).collect();
    assert_eq!(pending, vec![ids[0], ids[2], ids[4]]);
    let all: Vec<_> = journal.entries().unwrap().iter().map(|e| e.id).collect();
    assert_eq!(all, ids, "the history, oldest first");
}

fn entries_survive_reopening(db: &dyn TestJournal) {
    let (answered, in_flight) = {
        let journal = db.open().unwrap();
        let answered = started(
            journal
                .begin(&intent("a"), OWNER, live(), Duration::ZERO)
                .unwrap(),
        );
        journal
            .finish(answered, OWNER, &outcome(Some(vec![9])))
            .unwrap();
        (
            answered,
            started(
                journal
                    .begin(&intent("b"), OWNER, live(), Duration::ZERO)
                    .unwrap(),
            ),
        )
    };
    let journal = db.open().unwrap();
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

fn hosts_opening_a_new_journal_at_once_migrate_it_once(db: &dyn TestJournal) {
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..8).map(|_| scope.spawn(|| db.open())).collect();
        for thread in threads {
            thread.join().unwrap().unwrap();
        }
    });
    let journal = db.open().unwrap();
    started(
        journal
            .begin(&intent("after"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
}

fn a_journal_from_a_newer_schema_is_refused_naming_both_versions(db: &dyn TestJournal) {
    drop(db.open().unwrap());
    let known = db.known_version();
    db.set_schema_version(known + 1);
    let Err(error) = db.open() else {
        panic!("a newer schema was opened")
    };
    let error = format!("{error:#}");
    assert!(
        error.contains("newer version")
            && error.contains(&format!("schema {}", known + 1))
            && error.contains(&format!("knows {known}")),
        "{error}"
    );
}

fn a_journal_that_takes_writes_says_so(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    journal.check_writable().unwrap();
    assert!(journal.pending().unwrap().is_empty(), "nothing written");
}

/// `count` services of a usage run, `svc-000`... on HostMeNow.
fn run_services(count: usize) -> Vec<RunService> {
    (0..count)
        .map(|i| RunService {
            key: usage_key(&format!("svc-{i:03}")),
            job: format!(r#"{{"module":"hostmenow","service":{{"service_id":"svc-{i:03}"}}}}"#),
        })
        .collect()
}

fn usage_key(service_id: &str) -> UsageServiceKey {
    UsageServiceKey {
        module: "hostmenow".into(),
        service_id: service_id.into(),
    }
}

fn keys(services: &[RunService]) -> Vec<UsageServiceKey> {
    services.iter().map(|s| s.key.clone()).collect()
}

const LONG: Duration = Duration::from_secs(60);
const KEEP: Duration = Duration::from_secs(3600);

fn usage_claims_are_exclusive_and_done_services_are_never_claimed_again(db: &dyn TestJournal) {
    let (a, b) = (db.open().unwrap(), db.open().unwrap());
    let all = run_services(10);
    assert_eq!(a.register_usage_run("r", &all, KEEP).unwrap(), 10);
    assert_eq!(
        b.register_usage_run("r", &all[5..], KEEP).unwrap(),
        10,
        "registering again adds nothing"
    );

    let first = a.claim_usage("r", "host-a:1", 4, LONG).unwrap();
    assert_eq!(
        first.services,
        all[..4],
        "in the order registered, jobs kept"
    );
    assert_eq!((first.taken_over, first.in_progress), (0, 0));
    let second = b.claim_usage("r", "host-b:1", 100, LONG).unwrap();
    assert_eq!(second.services, all[4..], "what A holds is not claimed");
    assert_eq!(second.in_progress, 4, "A's four, still running");
    let none = b.claim_usage("r", "host-b:1", 100, LONG).unwrap();
    assert!(none.services.is_empty());
    assert_eq!(none.in_progress, 10);

    a.finish_usage("r", &keys(&first.services)).unwrap();
    let after = a.claim_usage("r", "host-a:1", 100, LONG).unwrap();
    assert!(after.services.is_empty(), "done is never claimed again");
    assert_eq!(after.in_progress, 6);
    b.finish_usage("r", &keys(&second.services)).unwrap();
    // Renewing a done service brings no claim back to life.
    b.renew_usage_claims("r", "host-b:1", &keys(&second.services), LONG)
        .unwrap();
    let over = b.claim_usage("r", "host-b:1", 100, LONG).unwrap();
    assert_eq!(
        (over.services.len(), over.in_progress),
        (0, 0),
        "the run is over"
    );
    assert_eq!(b.register_usage_run("r", &all, KEEP).unwrap(), 10);
    assert!(
        a.claim_usage("r", "host-a:1", 100, LONG)
            .unwrap()
            .services
            .is_empty(),
        "a host joining late registers the run again and finds it done"
    );
}

fn hosts_claiming_usage_at_once_share_the_services_without_overlap(db: &dyn TestJournal) {
    let all = run_services(200);
    let hosts: Vec<_> = (0..4).map(|_| db.open().unwrap()).collect();
    let shares: Vec<Vec<UsageServiceKey>> = std::thread::scope(|scope| {
        let threads: Vec<_> = hosts
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let all = &all;
                scope.spawn(move || {
                    let owner = format!("host-{i}:1");
                    host.register_usage_run("together", all, KEEP).unwrap();
                    let mut mine = Vec::new();
                    loop {
                        let claim = host.claim_usage("together", &owner, 7, LONG).unwrap();
                        if claim.services.is_empty() {
                            break;
                        }
                        let batch = keys(&claim.services);
                        host.finish_usage("together", &batch).unwrap();
                        mine.extend(batch);
                    }
                    mine
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let claimed: Vec<&UsageServiceKey> = shares.iter().flatten().collect();
    let distinct: BTreeSet<&UsageServiceKey> = claimed.iter().copied().collect();
    assert_eq!(
        claimed.len(),
        200,
        "each claimed once: {:?}",
        shares.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(distinct.len(), 200, "every service claimed");
}

fn an_expired_usage_claim_is_taken_over_and_a_renewed_one_is_not(db: &dyn TestJournal) {
    let (a, b) = (db.open().unwrap(), db.open().unwrap());
    let all = run_services(4);
    a.register_usage_run("r", &all, KEEP).unwrap();
    let short = Duration::from_millis(300);
    let dying = a.claim_usage("r", "host-a:1", 2, short).unwrap();
    let renewed = a.claim_usage("r", "host-a:1", 2, short).unwrap();
    assert_eq!(dying.services, all[..2]);
    assert_eq!(renewed.services, all[2..]);
    a.renew_usage_claims("r", "host-a:1", &keys(&renewed.services), LONG)
        .unwrap();
    // Another host's renewal does not touch A's claims.
    b.renew_usage_claims("r", "host-b:1", &keys(&dying.services), LONG)
        .unwrap();
    let early = b.claim_usage("r", "host-b:1", 10, LONG).unwrap();
    assert!(early.services.is_empty(), "A's leases are running");
    assert_eq!(early.in_progress, 4);

    std::thread::sleep(short + Duration::from_millis(200));
    let taken = b.claim_usage("r", "host-b:1", 10, LONG).unwrap();
    assert_eq!(taken.services, all[..2], "only the lapsed claims");
    assert_eq!(taken.taken_over, 2);
    assert_eq!(taken.in_progress, 2, "A's renewed claims");
    // A comes back: its old claims are B's now and are not renewed for it.
    a.renew_usage_claims("r", "host-a:1", &keys(&dying.services), short)
        .unwrap();
    std::thread::sleep(short + Duration::from_millis(200));
    assert!(
        a.claim_usage("r", "host-a:1", 10, LONG)
            .unwrap()
            .services
            .is_empty(),
        "B's claims held"
    );
}

fn a_new_usage_run_starts_fresh_and_old_runs_are_forgotten(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    let all = run_services(3);
    journal.register_usage_run("monday", &all, KEEP).unwrap();
    let monday = journal.claim_usage("monday", "h:1", 10, LONG).unwrap();
    journal
        .finish_usage("monday", &keys(&monday.services))
        .unwrap();

    assert_eq!(
        journal.register_usage_run("tuesday", &all, KEEP).unwrap(),
        3
    );
    let tuesday = journal.claim_usage("tuesday", "h:1", 10, LONG).unwrap();
    assert_eq!(tuesday.services, all, "another run reads everything again");
    assert_eq!(tuesday.taken_over, 0);

    // Registering a run forgets the runs registered longer ago than it
    // keeps them: monday's name, reused, starts afresh.
    // (A second's margin either way: a busy machine's fsyncs are slow.)
    std::thread::sleep(Duration::from_millis(2000));
    let forget = Duration::from_millis(1000);
    assert_eq!(
        journal
            .register_usage_run("wednesday", &all[..1], forget)
            .unwrap(),
        1
    );
    assert_eq!(
        journal.register_usage_run("monday", &all, forget).unwrap(),
        3
    );
    assert_eq!(
        journal
            .claim_usage("monday", "h:1", 10, LONG)
            .unwrap()
            .services,
        all,
        "monday's done rows were deleted"
    );
    assert_eq!(
        journal.register_usage_run("wednesday", &[], KEEP).unwrap(),
        1,
        "a run just registered is kept"
    );
    assert_eq!(
        journal.register_usage_run("tuesday", &[], KEEP).unwrap(),
        0,
        "tuesday's rows are gone"
    );
}
fn acknowledging_destroys_the_sealed_credentials(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    // A plain acknowledgement of an answered entry.
    let answered = started(
        journal
            .begin(&intent("plain"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    journal
        .finish(answered, OWNER, &outcome(Some(vec![1, 2, 3])))
        .unwrap();
    // An uncertain outcome with credentials, resolved by an operator.
    let uncertain = started(
        journal
            .begin(&intent("resolved"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    let cut_off = CallOutcome {
        uncertain: true,
        answer: Err(failure("timeout")),
        ..outcome(Some(vec![4, 5, 6]))
    };
    journal.finish(uncertain, OWNER, &cut_off).unwrap();
    for id in [answered, uncertain] {
        let sealed = journal.get(id).unwrap().unwrap().outcome.unwrap();
        assert!(sealed.sealed_credentials.is_some(), "sealed until then");
    }

    journal.acknowledge(answered, &plain()).unwrap();
    let ack = Acknowledgement {
        resolution: Some(Resolution {
            finding: Finding::Done,
            note: None,
        }),
        outcome: Some(outcome(None)),
        release_key: false,
    };
    journal.acknowledge(uncertain, &ack).unwrap();
    for entry in journal.entries().unwrap() {
        assert_eq!(entry.state, EntryState::Acknowledged);
        assert_eq!(
            entry.outcome.unwrap().sealed_credentials,
            None,
            "entry {} keeps no sealed credentials once acknowledged",
            entry.id
        );
    }
    // Another handle (another host) reads the same.
    let other = db.open().unwrap();
    assert!(
        other.entries().unwrap().iter().all(|e| e
            .outcome
            .as_ref()
            .unwrap()
            .sealed_credentials
            .is_none())
    );
}

/// A moment strictly between what was acknowledged before it and after it.
fn moment_between() -> i64 {
    std::thread::sleep(std::time::Duration::from_millis(5));
    let cutoff = now_ms();
    std::thread::sleep(std::time::Duration::from_millis(5));
    cutoff
}

fn a_purge_deletes_only_entries_acknowledged_before_the_cutoff(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    let old = started(
        journal
            .begin(&intent("old"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    journal.finish(old, OWNER, &outcome(None)).unwrap();
    journal.acknowledge(old, &plain()).unwrap();
    // Unknown (its host gone), never finished.
    let unknown = started(
        journal
            .begin(&intent("unknown"), OWNER, Duration::ZERO, Duration::ZERO)
            .unwrap(),
    );
    // Answered long ago, never acknowledged.
    let answered = started(
        journal
            .begin(&intent("answered"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    journal
        .finish(answered, OWNER, &outcome(Some(vec![1])))
        .unwrap();
    let cutoff = moment_between();
    let recent = started(
        journal
            .begin(&intent("recent"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    journal.finish(recent, OWNER, &outcome(None)).unwrap();
    journal.acknowledge(recent, &plain()).unwrap();
    let in_flight = started(
        journal
            .begin(&intent("running"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );

    assert_eq!(journal.purge_acknowledged(cutoff, 100).unwrap(), 1);
    let left: Vec<_> = journal
        .entries()
        .unwrap()
        .iter()
        .map(|e| (e.id, e.state))
        .collect();
    assert_eq!(
        left,
        vec![
            (unknown, EntryState::Unknown),
            (answered, EntryState::Answered),
            (recent, EntryState::Acknowledged),
            (in_flight, EntryState::InFlight),
        ]
    );
    assert!(journal.get(old).unwrap().is_none());
    assert_eq!(
        journal.purge_acknowledged(cutoff, 100).unwrap(),
        0,
        "nothing more"
    );

    // A cutoff after everything: still only what was acknowledged.
    assert_eq!(journal.purge_acknowledged(now_ms() + 1, 100).unwrap(), 1);
    let pending: Vec<_> = journal.pending().unwrap().iter().map(|e| e.id).collect();
    assert_eq!(pending, vec![unknown, answered, in_flight]);
    assert_eq!(journal.entries().unwrap().len(), 3);

    // A purged entry's key is free again: the call would run anew.
    started(
        journal
            .begin(&intent("old"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
}

fn a_purge_deletes_at_most_what_it_is_asked_oldest_first(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    let ids: Vec<_> = (0..5)
        .map(|i| {
            let id = started(
                journal
                    .begin(&intent(&format!("a{i}")), OWNER, live(), Duration::ZERO)
                    .unwrap(),
            );
            journal.finish(id, OWNER, &outcome(None)).unwrap();
            id
        })
        .collect();
    // Acknowledged in reverse order: the last entry is the oldest
    // acknowledgement.
    for &id in ids.iter().rev() {
        journal.acknowledge(id, &plain()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let cutoff = now_ms() + 1;
    assert_eq!(journal.purge_acknowledged(cutoff, 2).unwrap(), 2);
    let left: Vec<_> = journal.entries().unwrap().iter().map(|e| e.id).collect();
    assert_eq!(left, ids[..3], "the two acknowledged first went first");
    assert_eq!(journal.purge_acknowledged(cutoff, 2).unwrap(), 2);
    assert_eq!(journal.purge_acknowledged(cutoff, 2).unwrap(), 1);
    assert!(journal.entries().unwrap().is_empty());
}

fn the_first_key_recorded_is_kept(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    assert_eq!(
        journal.key_record().unwrap(),
        None,
        "a new journal has none"
    );
    let first = journal.adopt_key("check-1").unwrap();
    assert_eq!(
        first,
        KeyRecord {
            check: "check-1".into(),
            previous_check: None,
            replaced_at_ms: None,
            sealed_digest_key: None,
        }
    );
    // A second host adopting another key finds the first one in force.
    let other = db.open().unwrap();
    assert_eq!(other.adopt_key("check-2").unwrap(), first);
    assert_eq!(other.key_record().unwrap(), Some(first));
}

/// A rotation from `check-1` to `check-2` whose resealing prefixes each
/// record with its entry's id.
fn rotation() -> Rekey {
    Rekey {
        current_check: "check-1".into(),
        new: KeyRecord {
            check: "check-2".into(),
            previous_check: Some("check-1".into()),
            replaced_at_ms: Some(1_700_000_000_000),
            sealed_digest_key: Some(vec![0xde, 0xad]),
        },
        reseal: Arc::new(|id: EntryId, record: &[u8]| {
            let mut resealed = id.to_be_bytes().to_vec();
            resealed.extend_from_slice(record);
            Ok(resealed)
        }),
    }
}

fn a_rekey_reseals_every_sealed_record_and_replaces_the_key_record(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    journal.adopt_key("check-1").unwrap();
    let sealed_a = started(
        journal
            .begin(&intent("a"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    journal
        .finish(sealed_a, OWNER, &outcome(Some(vec![1])))
        .unwrap();
    let none = started(
        journal
            .begin(&intent("b"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    journal.finish(none, OWNER, &outcome(None)).unwrap();
    let sealed_c = started(
        journal
            .begin(&intent("c"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    journal
        .finish(sealed_c, OWNER, &outcome(Some(vec![3])))
        .unwrap();
    let acknowledged = started(
        journal
            .begin(&intent("d"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    journal
        .finish(acknowledged, OWNER, &outcome(Some(vec![4])))
        .unwrap();
    journal.acknowledge(acknowledged, &plain()).unwrap();
    // Unknown: its host is gone, so it does not stand in the way.
    let unknown = started(
        journal
            .begin(&intent("e"), OWNER, Duration::ZERO, Duration::ZERO)
            .unwrap(),
    );
    let before = journal.entries().unwrap();

    assert_eq!(
        journal.rekey(&rotation()).unwrap(),
        Rekeyed::Done { resealed: 2 }
    );
    let sealed = |id: EntryId| {
        journal
            .get(id)
            .unwrap()
            .unwrap()
            .outcome
            .and_then(|o| o.sealed_credentials)
    };
    let resealed = |id: EntryId, record: u8| {
        let mut bytes = id.to_be_bytes().to_vec();
        bytes.push(record);
        Some(bytes)
    };
    assert_eq!(sealed(sealed_a), resealed(sealed_a, 1));
    assert_eq!(sealed(sealed_c), resealed(sealed_c, 3));
    assert_eq!(sealed(none), None);
    assert_eq!(sealed(acknowledged), None);
    assert_eq!(
        journal.get(unknown).unwrap().unwrap().state,
        EntryState::Unknown
    );
    // Nothing else changed: the digests above all.
    let after = journal.entries().unwrap();
    let without_seals = |entries: Vec<super::record::Entry>| {
        entries
            .into_iter()
            .map(|mut e| {
                if let Some(o) = e.outcome.as_mut() {
                    o.sealed_credentials = None;
                }
                e
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(without_seals(after), without_seals(before));
    assert_eq!(
        db.open().unwrap().key_record().unwrap(),
        Some(rotation().new),
        "seen by every host"
    );

    // The next rotation starts from the new key and drops nothing it
    // does not replace.
    let mut again = rotation();
    again.current_check = "check-2".into();
    again.new = KeyRecord {
        check: "check-3".into(),
        previous_check: Some("check-2".into()),
        replaced_at_ms: Some(1_800_000_000_000),
        sealed_digest_key: Some(vec![0xbe, 0xef]),
    };
    assert_eq!(
        journal.rekey(&again).unwrap(),
        Rekeyed::Done { resealed: 2 }
    );
    assert_eq!(journal.key_record().unwrap(), Some(again.new));
}

fn a_rekey_is_refused_under_another_key_or_while_a_call_is_in_flight(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    let no_key = journal.rekey(&rotation()).unwrap();
    assert_eq!(no_key, Rekeyed::KeyMismatch, "a journal with no key yet");
    journal.adopt_key("check-0").unwrap();
    assert_eq!(journal.rekey(&rotation()).unwrap(), Rekeyed::KeyMismatch);

    let mut rotation = rotation();
    rotation.current_check = "check-0".into();
    let sealed = started(
        journal
            .begin(&intent("a"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    journal
        .finish(sealed, OWNER, &outcome(Some(vec![1])))
        .unwrap();
    let running = started(
        journal
            .begin(&intent("b"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    assert_eq!(
        journal.rekey(&rotation).unwrap(),
        Rekeyed::InFlight(vec![running])
    );
    assert_eq!(
        journal.key_record().unwrap().unwrap().check,
        "check-0",
        "nothing changed"
    );
    assert_eq!(
        journal
            .get(sealed)
            .unwrap()
            .unwrap()
            .outcome
            .unwrap()
            .sealed_credentials,
        Some(vec![1])
    );

    journal.finish(running, OWNER, &outcome(None)).unwrap();
    assert_eq!(
        journal.rekey(&rotation).unwrap(),
        Rekeyed::Done { resealed: 1 }
    );
}

fn a_rekey_whose_resealing_fails_changes_nothing(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    journal.adopt_key("check-1").unwrap();
    let ids: Vec<_> = (1..=3u8)
        .map(|i| {
            let id = started(
                journal
                    .begin(&intent(&format!("s{i}")), OWNER, live(), Duration::ZERO)
                    .unwrap(),
            );
            journal.finish(id, OWNER, &outcome(Some(vec![i]))).unwrap();
            id
        })
        .collect();
    let last = ids[2];
    let mut failing = rotation();
    failing.reseal = Arc::new(move |id: EntryId, record: &[u8]| {
        anyhow::ensure!(id != last, "cannot open entry {id}");
        Ok(vec![record[0] + 100])
    });
    let error = format!("{:#}", journal.rekey(&failing).unwrap_err());
    assert!(
        error.contains(&format!("cannot open entry {last}")),
        "{error}"
    );
    for (id, record) in ids.iter().zip(1..=3u8) {
        assert_eq!(
            journal
                .get(*id)
                .unwrap()
                .unwrap()
                .outcome
                .unwrap()
                .sealed_credentials,
            Some(vec![record]),
            "entry {id} was not re-sealed: the rotation was rolled back"
        );
    }
    assert_eq!(journal.key_record().unwrap().unwrap().check, "check-1");
    journal.check_writable().unwrap();
}

/// A create (or another call) of `service` in `module` under `key`,
/// finished with `answer`.
fn finished_call(
    journal: &dyn JournalStore,
    (module, function, service): (&str, &str, &str),
    key: &str,
    answer: Result<Response, Failure>,
) -> EntryId {
    let service = self::service(service);
    let input = match function {
        "create-account" => Request::CreateAccount { service },
        "suspend" => Request::Suspend {
            service,
            reason: None,
        },
        "terminate" => Request::Terminate { service },
        other => panic!("no request of {other} here"),
    };
    let intent = Intent {
        module: module.into(),
        input,
        ..intent(key)
    };
    let id = started(
        journal
            .begin(&intent, OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    let outcome = CallOutcome {
        answer,
        uncertain: false,
        module_digest: None,
        sealed_credentials: None,
    };
    journal.finish(id, OWNER, &outcome).unwrap();
    id
}

fn a_services_last_successful_create_is_found_by_module_and_service(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    let first = finished_call(
        &*journal,
        ("webline", "create-account", "svc-1"),
        "c1",
        Ok(created("r1")),
    );
    assert_eq!(
        journal.acknowledge(first, &plain()).unwrap(),
        Acknowledged::Yes
    );
    // Another module's service of the same id, and another service.
    finished_call(
        &*journal,
        ("blesta", "create-account", "svc-1"),
        "c2",
        Ok(created("other-module")),
    );
    finished_call(
        &*journal,
        ("webline", "create-account", "svc-2"),
        "c3",
        Ok(created("other-service")),
    );
    let found = journal
        .last_succeeded("webline", "svc-1", "create-account")
        .unwrap()
        .expect("svc-1 was created");
    assert_eq!(found.id, first, "acknowledged entries count");

    // A later create that failed and a later terminate do not replace it;
    // a later create that succeeded does.
    finished_call(
        &*journal,
        ("webline", "create-account", "svc-1"),
        "c4",
        Err(failure("provider")),
    );
    finished_call(
        &*journal,
        ("webline", "terminate", "svc-1"),
        "t1",
        Ok(done()),
    );
    assert_eq!(
        journal
            .last_succeeded("webline", "svc-1", "create-account")
            .unwrap()
            .unwrap()
            .id,
        first
    );
    let again = finished_call(
        &*journal,
        ("webline", "create-account", "svc-1"),
        "c5",
        Ok(created("r2")),
    );
    let found = journal
        .last_succeeded("webline", "svc-1", "create-account")
        .unwrap()
        .unwrap();
    assert_eq!(found.id, again);
    assert_eq!(found.outcome.unwrap().answer, Ok(created("r2")));

    // A create still in flight is not a success yet; an unknown service has none.
    let intent_only = Intent {
        input: Request::CreateAccount {
            service: service("svc-3"),
        },
        ..intent("c6")
    };
    started(
        journal
            .begin(&intent_only, OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    assert!(
        journal
            .last_succeeded("webline", "svc-3", "create-account")
            .unwrap()
            .is_none()
    );
    assert!(
        journal
            .last_succeeded("webline", "nobody", "create-account")
            .unwrap()
            .is_none()
    );
    // Reopened, as another host would.
    let reopened = db.open().unwrap();
    assert_eq!(
        reopened
            .last_succeeded("blesta", "svc-1", "create-account")
            .unwrap()
            .unwrap()
            .outcome
            .unwrap()
            .answer,
        Ok(created("other-module"))
    );
}

fn a_services_pending_entries_are_its_own_only(db: &dyn TestJournal) {
    let journal = db.open().unwrap();
    let mine = finished_call(
        &*journal,
        ("webline", "create-account", "4001"),
        "whmcs-4001-create",
        Ok(done()),
    );
    let acknowledged = finished_call(&*journal, ("webline", "suspend", "4001"), "s1", Ok(done()));
    journal.acknowledge(acknowledged, &plain()).unwrap();
    // Its addon (whose key begins like the service's), the same id at
    // another module, and another service: none of them is the service's.
    finished_call(
        &*journal,
        ("webline", "create-account", "4001-a7"),
        "whmcs-4001-a7-create",
        Ok(done()),
    );
    finished_call(
        &*journal,
        ("blesta", "create-account", "4001"),
        "whmcs-4001-create",
        Ok(done()),
    );
    finished_call(
        &*journal,
        ("webline", "create-account", "4002"),
        "whmcs-4002-create",
        Ok(done()),
    );
    let later = finished_call(
        &*journal,
        ("webline", "terminate", "4001"),
        "whmcs-4001-terminate",
        Err(failure("provider")),
    );
    let ids: Vec<_> = journal
        .pending_of("webline", "4001")
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        ids,
        vec![mine, later],
        "the service's unacknowledged entries, oldest first"
    );
    assert!(journal.pending_of("webline", "9999").unwrap().is_empty());
}

/// The rows the release of commit 4da26cb wrote (see the fixture's own
/// comment): what this host must still read, unseal and replay.
const RELEASE_4DA26CB: &str = include_str!("fixtures/journal-4da26cb.json");

/// The fixture's rows written into `db` as SQL, column by column.
fn load_release_rows(db: &dyn TestJournal) -> serde_json::Value {
    let fixture: serde_json::Value = serde_json::from_str(RELEASE_4DA26CB).unwrap();
    db.create_as_release_4da26cb();
    let literal = |value: &serde_json::Value| match value {
        serde_json::Value::Null => "NULL".to_string(),
        serde_json::Value::Number(number) => number.to_string(),
        serde_json::Value::String(text) => format!("'{}'", text.replace('\'', "''")),
        other => panic!("not a column value: {other}"),
    };
    let mut sql = String::new();
    for row in fixture["calls"].as_array().unwrap() {
        let row = row.as_object().unwrap();
        let (mut names, mut values) = (Vec::new(), Vec::new());
        // Without `id`: a fresh table numbers them 1, 2... in this order,
        // as the release did (the sealed credentials are bound to it).
        for (name, value) in row.iter().filter(|(name, _)| *name != "id") {
            let value = match (name.as_str(), value) {
                ("succeeded" | "uncertain", serde_json::Value::Number(flag)) => {
                    db.literals(flag.as_i64() == Some(1), "").0
                }
                ("sealed_credentials_hex", serde_json::Value::String(hex)) => {
                    db.literals(false, hex).1
                }
                _ => literal(value),
            };
            names.push(name.trim_end_matches("_hex").to_string());
            values.push(value);
        }
        sql.push_str(&format!(
            "INSERT INTO {} ({}) VALUES ({});\n",
            db.table("calls"),
            names.join(", "),
            values.join(", ")
        ));
    }
    for pair in fixture["meta"].as_array().unwrap() {
        sql.push_str(&format!(
            "INSERT INTO {} (name, value) VALUES ({}, {});\n",
            db.table("meta"),
            literal(&pair[0]),
            literal(&pair[1])
        ));
    }
    db.sql(&sql);
    fixture
}

/// The service the fixture's calls were made for, as the caller sent it.
fn release_service(id: &str) -> Service {
    Service {
        service_id: id.into(),
        remote_id: None,
        domain: Some(format!("{id}.example.com")),
        username: Some("u1".into()),
        password: Some("Pw-s3cret!".into()),
        package: Some("101".into()),
        billing_cycle: Some("monthly".into()),
        client: Some(crate::bindings::types::Contact {
            first_name: "Test".into(),
            last_name: "Client".into(),
            company: None,
            email: "client@example.com".into(),
            phone: None,
            address: None,
            city: None,
            state: None,
            postcode: None,
            country: Some("KE".into()),
            language: Some("en".into()),
        }),
        custom_fields: vec![("plan-note".into(), "gold".into())],
    }
}

fn rows_written_by_release_4da26cb_still_read_and_replay(db: &dyn TestJournal) {
    use crate::bindings::types::Credential;
    use crate::journal::{Admission, Journal, Sealer};
    use crate::redact::{MASK, Redactor};

    let fixture = load_release_rows(db);
    let store = db.open().unwrap();
    let entries = store.entries().unwrap();
    assert_eq!(entries.len(), 9, "every row reads");
    let ids: Vec<_> = fixture["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_i64().unwrap())
        .collect();
    assert_eq!(entries.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    let masked = Service {
        password: Some(MASK.into()),
        ..release_service("svc-1")
    };
    // A create: its request, and its answer with the state in the
    // contract's word now (the release wrote `"status":"Active"`).
    let create = &entries[0];
    assert_eq!(
        create.intent.input,
        Request::CreateAccount {
            service: masked.clone()
        }
    );
    let answered = create.outcome.clone().unwrap();
    let Ok(Response::Created(created)) = &answered.answer else {
        panic!("{answered:?}")
    };
    assert_eq!(
        (created.remote_id.as_str(), created.status),
        ("HM-1001", ServiceState::Active)
    );
    assert_eq!(answered.module_digest, None, "the release kept none");
    assert_eq!(create.state, EntryState::Answered);
    // A change of password: both passwords masked as they were.
    assert_eq!(
        entries[2].intent.input,
        Request::ChangePassword {
            service: masked.clone(),
            new_password: MASK.into()
        }
    );
    assert_eq!(
        entries[2].outcome.as_ref().unwrap().answer,
        Err(Failure {
            kind: "auth-failed".into(),
            message: "hostmenow: auth-failed: bad key".into()
        })
    );
    // A call cut off, then found done by an operator (`Unknown`, then).
    let resolved = &entries[3];
    assert_eq!(resolved.resolution.as_ref().unwrap().finding, Finding::Done);
    let Ok(Response::Created(found)) = &resolved.outcome.as_ref().unwrap().answer else {
        panic!("{resolved:?}")
    };
    assert_eq!(
        (found.remote_id.as_str(), found.status),
        ("HM-2002", ServiceState::Unknown)
    );
    // A timeout: unknown, as it was.
    assert_eq!(entries[4].state, EntryState::Unknown);
    assert_eq!(entries[4].outcome.as_ref().unwrap().kind(), "timeout");
    // A suspend with its reason, acknowledged.
    assert!(matches!(
        &entries[1].intent.input,
        Request::Suspend { reason: Some(reason), .. } if reason == "unpaid"
    ));
    assert_eq!(entries[1].state, EntryState::Acknowledged);

    // Through a journal under the release's key: the credentials it
    // sealed open, and the same request under the same key is answered
    // with the recorded outcome (its digest as the release took it), not
    // refused as another request nor run again.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let key = fixture["key_hex"].as_str().unwrap();
        let journal = Journal::new(store.clone(), Sealer::from_hex(key).unwrap()).unwrap();
        let pending = journal.pending().await.unwrap();
        assert_eq!(
            pending[0].credentials,
            vec![Credential {
                name: "password".into(),
                value: "Gen-Pass-1".into(),
                secret: true
            }]
        );
        let replay = journal
            .shared()
            .admit(
                "hostmenow",
                &Request::CreateAccount {
                    service: release_service("svc-1"),
                },
                &[],
                Some("k-create"),
                &Redactor::new(),
                std::time::Instant::now() + Duration::from_secs(10),
            )
            .await;
        let Ok(Admission::Answered(settled)) = replay else {
            panic!("not answered from the record")
        };
        let Ok(Response::Created(replayed)) = settled.result else {
            panic!("{:?}", settled.result)
        };
        assert_eq!(replayed.remote_id, "HM-1001");
        assert_eq!(replayed.credentials[0].value, "Gen-Pass-1");
        let created = journal
            .created_service("hostmenow", "svc-2")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(created.remote_id, "HM-2002");
        assert_eq!(created.domain.as_deref(), Some("svc-2.example.com"));
    });

    // What this host writes names its format, in the contract's words.
    let id = started(
        store
            .begin(&intent("after-upgrade"), OWNER, live(), Duration::ZERO)
            .unwrap(),
    );
    store.finish(id, OWNER, &outcome(None)).unwrap();
    let written = db.sql(&format!(
        "SELECT summary FROM {} WHERE id = {id}",
        db.table("calls")
    ));
    assert!(
        written.starts_with(r#"{"format":2,"answer":{"kind":"created""#)
            && written.contains(r#""status":"active""#),
        "{written}"
    );
}
