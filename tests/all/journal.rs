//! The journal through the library: every mutating call is recorded with
//! its secrets removed, a repeated idempotency key gets the recorded answer
//! (and another request under it is refused), concurrent callers of one key
//! share one call, a call refused outright may be repeated under its key,
//! an entry running cannot be acknowledged, an unknown one is resolved by
//! what an operator found, a call running on another host is waited for,
//! and reads are not journaled; a rotated key re-seals the pending
//! credentials, keeps replays recognised, and leaves hosts with the old
//! key (or an unrelated one) refusing. Each runs on both stores, SQLite and
//! PostgreSQL (a throwaway server; `sqlite::NAME`, `postgres::NAME`); a
//! PostgreSQL server stopped mid-test refuses mutating calls unsent and
//! the host takes up the database again when it is back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use provisioning_host::journal::{
    AckError, EntryState, Finding, JournalOptions, JournalStore, KeyError, OperatorFinding, Sealer,
};
use provisioning_host::{CallError, CallOptions, Host, Limits, Request, Response};
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::{Sandbox, blesta, hostmenow};
use provisioning_test_support::journal_store::{Store, TestJournal};
use provisioning_test_support::{Harness, hostmenow_config, service};

/// Every test below, on each store: `sqlite::NAME` and `postgres::NAME`.
macro_rules! on_each_store {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $test() {
                    super::$test(super::Store::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $test() {
                    super::$test(super::Store::Postgres).await;
                }
            )*
        }
    };
}

on_each_store!(
    a_repeated_key_gets_the_recorded_answer_not_a_second_account,
    the_journal_holds_no_secret,
    call_acknowledges_and_execute_leaves_the_entry_for_the_caller,
    a_call_refused_outright_may_be_repeated_under_its_key,
    after_a_refusal_the_key_may_carry_corrected_input,
    reads_are_not_journaled,
    the_same_key_with_another_request_is_a_conflict,
    a_key_is_bounded_and_printable,
    concurrent_callers_of_one_key_share_one_call_and_its_answer,
    a_running_call_cannot_be_acknowledged_and_keeps_its_outcome,
    an_unknown_outcome_is_resolved_by_what_the_operator_found,
    a_call_running_on_another_host_is_waited_for_or_reported_in_progress,
    a_rekeyed_journal_opens_with_the_new_key_and_recognises_replays,
    a_rekeyed_journal_refuses_the_old_key_and_an_unrelated_one_differently,
    the_journal_tells_a_services_remote_id_a_license_key_included,
);

/// A host with the HostMeNow module and a fresh journal on `on`, plus
/// direct access to the store to look at what was written (and the
/// journal's place, kept for the test's length).
async fn journaled(on: Store) -> (Sandbox, Host, Arc<dyn JournalStore>, TestJournal) {
    let sandbox = Sandbox::start().await.unwrap();
    let journal = TestJournal::new(on, "journal");
    let store = journal.store();
    let host = provisioning_test_support::host()
        .with_journal(journal.journal_over(store.clone(), JournalOptions::default()));
    host.load(hostmenow_config(&sandbox, "hostmenow"))
        .await
        .unwrap();
    (sandbox, host, store, journal)
}

fn keyed(key: &str) -> CallOptions {
    CallOptions {
        idempotency_key: Some(key.into()),
        ..CallOptions::default()
    }
}

async fn a_repeated_key_gets_the_recorded_answer_not_a_second_account(on: Store) {
    let (sandbox, host, store, _journal) = journaled(on).await;
    let create = Request::CreateAccount {
        service: service("idem-1"),
    };
    let first = host.execute("hostmenow", &create, &keyed("k-1")).await;
    let Ok(Response::Created(created)) = &first.result else {
        panic!("{:?}", first.result)
    };
    assert!(!first.replayed);
    let entry = first.journal_entry.expect("a mutating call is journaled");

    let second = host.execute("hostmenow", &create, &keyed("k-1")).await;
    assert!(second.replayed);
    assert_eq!(second.journal_entry, Some(entry));
    assert_eq!(second.result, Ok(Response::Created(created.clone())));
    assert!(first.module_digest.is_some());
    assert_eq!(
        second.module_digest, first.module_digest,
        "a replay names the module version that answered"
    );
    let creates = sandbox
        .hostmenow()
        .requests()
        .iter()
        .filter(|r| r.action == "CreateAccount")
        .count();
    assert_eq!(creates, 1, "the provider saw one create");

    // The same key for another call is a conflict, not a replay.
    let suspend = Request::Suspend {
        service: service("idem-1"),
        reason: None,
    };
    let conflict = host.execute("hostmenow", &suspend, &keyed("k-1")).await;
    assert!(
        matches!(conflict.result, Err(CallError::IdempotencyConflict { .. })),
        "{:?}",
        conflict.result
    );
    assert_eq!(store.pending().unwrap().len(), 1);
}

async fn the_journal_holds_no_secret(on: Store) {
    let (_sandbox, host, store, _journal) = journaled(on).await;
    let svc = service("secret-1");
    let password = svc.password.clone().unwrap();
    let new_password = "N3w-Pa55word-for-journal".to_string();
    host.execute(
        "hostmenow",
        &Request::CreateAccount {
            service: svc.clone(),
        },
        &keyed("s-1"),
    )
    .await
    .result
    .unwrap();
    host.execute(
        "hostmenow",
        &Request::ChangePassword {
            service: svc,
            new_password: new_password.clone(),
        },
        &keyed("s-2"),
    )
    .await
    .result
    .unwrap();
    let entries = store.pending().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].intent.function(), "change-password");
    let dump = format!("{entries:?}");
    assert!(dump.contains("ChangePassword"), "{dump}");
    for secret in [password.as_str(), new_password.as_str(), hostmenow::API_KEY] {
        assert!(
            !dump.contains(secret),
            "`{secret}` is in the journal: {dump}"
        );
    }
}

async fn call_acknowledges_and_execute_leaves_the_entry_for_the_caller(on: Store) {
    let (_sandbox, host, store, _journal) = journaled(on).await;
    host.call(
        "hostmenow",
        &Request::CreateAccount {
            service: service("ack-1"),
        },
    )
    .await
    .unwrap();
    assert!(store.pending().unwrap().is_empty(), "call() acknowledged");

    let answer = host
        .execute(
            "hostmenow",
            &Request::Suspend {
                service: service("ack-1"),
                reason: None,
            },
            &CallOptions::default(),
        )
        .await;
    answer.result.unwrap();
    let entry = answer.journal_entry.unwrap();
    let pending = host.journal().unwrap().pending().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].entry.state, EntryState::Answered);
    host.journal().unwrap().acknowledge(entry).await.unwrap();
    assert!(store.pending().unwrap().is_empty());
    assert!(matches!(
        host.journal().unwrap().acknowledge(entry).await,
        Err(AckError::NotPending(_))
    ));
}

async fn a_call_refused_outright_may_be_repeated_under_its_key(on: Store) {
    let (sandbox, host, _store, _journal) = journaled(on).await;
    let create = Request::CreateAccount {
        service: service("refused-1"),
    };
    sandbox.hostmenow().set_ip_whitelisted(false);
    let first = host.execute("hostmenow", &create, &keyed("r-1")).await;
    assert_eq!(first.result.unwrap_err().kind(), "auth-failed");
    sandbox.hostmenow().set_ip_whitelisted(true);
    let second = host.execute("hostmenow", &create, &keyed("r-1")).await;
    assert!(!second.replayed);
    assert!(second.result.is_ok(), "{:?}", second.result);
}

async fn after_a_refusal_the_key_may_carry_corrected_input(on: Store) {
    let (sandbox, host, _store, _journal) = journaled(on).await;
    // Refused for its input: nothing happened at the provider.
    let mut wrong = service("fixed-1");
    wrong.package = Some("999".into());
    let first = host
        .execute(
            "hostmenow",
            &Request::CreateAccount { service: wrong },
            &keyed("f-1"),
        )
        .await;
    let error = first.result.unwrap_err();
    assert!(!error.leaves_provider_state_unknown(), "{error}");
    // The caller fixes the input and tries again under the same key.
    let fixed = Request::CreateAccount {
        service: service("fixed-1"),
    };
    let second = host.execute("hostmenow", &fixed, &keyed("f-1")).await;
    assert!(second.result.is_ok(), "{:?}", second.result);
    assert_eq!(creates(&sandbox), 2, "both reached the provider");
    // From then on the key stands for the request that succeeded.
    let mut other = service("fixed-1");
    other.domain = Some("other.example.com".into());
    let third = host
        .execute(
            "hostmenow",
            &Request::CreateAccount { service: other },
            &keyed("f-1"),
        )
        .await;
    assert_eq!(third.result.unwrap_err().kind(), "idempotency-conflict");
}

async fn reads_are_not_journaled(on: Store) {
    let harness = Harness::hostmenow().await;
    let journal = TestJournal::new(on, "reads");
    let store = journal.store();
    let host = provisioning_test_support::host()
        .with_journal(journal.journal_over(store.clone(), JournalOptions::default()));
    host.load(hostmenow_config(&harness.sandbox, "hostmenow"))
        .await
        .unwrap();
    let answer = host
        .execute(
            "hostmenow",
            &Request::TestConnection,
            &CallOptions::default(),
        )
        .await;
    answer.result.unwrap();
    assert_eq!(answer.journal_entry, None);
    assert!(store.pending().unwrap().is_empty());
}

fn creates(sandbox: &Sandbox) -> usize {
    sandbox
        .hostmenow()
        .requests()
        .iter()
        .filter(|r| r.action == "CreateAccount")
        .count()
}

async fn the_same_key_with_another_request_is_a_conflict(on: Store) {
    let (sandbox, host, _store, _journal) = journaled(on).await;
    let create = Request::CreateAccount {
        service: service("digest-1"),
    };
    host.execute("hostmenow", &create, &keyed("d-1"))
        .await
        .result
        .unwrap();
    let mut other = service("digest-1");
    other.domain = Some("another-domain.example.com".into());
    for changed in [
        Request::CreateAccount { service: other },
        Request::CreateAccount {
            service: provisioning_host::types::Service {
                package: Some("102".into()),
                ..service("digest-1")
            },
        },
    ] {
        let answer = host.execute("hostmenow", &changed, &keyed("d-1")).await;
        let error = answer.result.unwrap_err();
        assert_eq!(error.kind(), "idempotency-conflict", "{error}");
        assert!(error.to_string().contains("other inputs"), "{error}");
        assert!(!answer.replayed);
    }
    // Per-call settings are part of the request too.
    let with_setting = CallOptions {
        settings: vec![provisioning_test_support::setting("ip-address", "10.1.2.3")],
        ..keyed("d-1")
    };
    let answer = host.execute("hostmenow", &create, &with_setting).await;
    assert_eq!(answer.result.unwrap_err().kind(), "idempotency-conflict");
    assert_eq!(creates(&sandbox), 1);
    // The same request still replays.
    assert!(
        host.execute("hostmenow", &create, &keyed("d-1"))
            .await
            .replayed
    );
}

async fn a_key_is_bounded_and_printable(on: Store) {
    let (sandbox, host, store, _journal) = journaled(on).await;
    let create = Request::CreateAccount {
        service: service("bound-1"),
    };
    for key in ["k".repeat(70_000), "line\nbreak".into(), String::new()] {
        let answer = host.execute("hostmenow", &create, &keyed(&key)).await;
        let error = answer.result.unwrap_err();
        assert_eq!(error.kind(), "invalid-input", "{error}");
        assert!(error.to_string().len() < 300, "the key is not echoed");
    }
    assert_eq!(creates(&sandbox), 0, "nothing was sent");
    assert!(store.pending().unwrap().is_empty(), "nothing was recorded");
}

async fn concurrent_callers_of_one_key_share_one_call_and_its_answer(on: Store) {
    let (sandbox, host, store, _journal) = journaled(on).await;
    let host = Arc::new(host);
    // The provider takes its time, so that every caller arrives while the
    // first call runs.
    sandbox
        .hostmenow()
        .faults()
        .inject(Fault::Slow(Duration::from_millis(800)), 1);
    let create = Request::CreateAccount {
        service: service("same-1"),
    };
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (host, create) = (host.clone(), create.clone());
            tokio::spawn(async move { host.execute("hostmenow", &create, &keyed("same")).await })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    assert_eq!(creates(&sandbox), 1, "the provider saw one create");
    let entry = answers[0].journal_entry.expect("journaled");
    let first = answers[0].result.clone().unwrap();
    let digest = answers[0].module_digest.clone();
    assert!(digest.is_some());
    for answer in &answers {
        assert_eq!(
            answer.result.as_ref(),
            Ok(&first),
            "every caller gets the one answer"
        );
        assert_eq!(answer.journal_entry, Some(entry), "with the same entry");
        assert_eq!(answer.module_digest, digest, "and the same module version");
    }
    let later = host.execute("hostmenow", &create, &keyed("same")).await;
    assert!(later.replayed);
    assert_eq!(later.module_digest, digest, "a later replay names it too");
    assert_eq!(
        answers.iter().filter(|a| !a.replayed).count(),
        1,
        "one caller ran it"
    );
    assert_eq!(store.pending().unwrap().len(), 1);
}

async fn a_running_call_cannot_be_acknowledged_and_keeps_its_outcome(on: Store) {
    let (sandbox, host, store, _journal) = journaled(on).await;
    let host = Arc::new(host);
    sandbox
        .hostmenow()
        .faults()
        .inject(Fault::Slow(Duration::from_millis(1500)), 1);
    let running = {
        let host = host.clone();
        tokio::spawn(async move {
            let create = Request::CreateAccount {
                service: service("running-1"),
            };
            host.execute("hostmenow", &create, &keyed("run-1")).await
        })
    };
    let journal = host.journal().unwrap().clone();
    let entry = loop {
        let pending = journal.pending().await.unwrap();
        if let Some(call) = pending.first() {
            assert_eq!(call.entry.state, EntryState::InFlight);
            break call.entry.id;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(matches!(
        journal.acknowledge(entry).await,
        Err(AckError::InFlight(id)) if id == entry
    ));
    let found = OperatorFinding {
        finding: Finding::NotDone,
        remote_id: None,
        note: None,
    };
    assert!(matches!(
        journal.resolve(entry, found).await,
        Err(AckError::InFlight(_))
    ));
    let answer = running.await.unwrap();
    assert!(answer.result.is_ok(), "{:?}", answer.result);
    let stored = store.get(entry).unwrap().unwrap();
    assert_eq!(stored.state, EntryState::Answered, "the outcome was kept");
    journal.acknowledge(entry).await.unwrap();
}

async fn an_unknown_outcome_is_resolved_by_what_the_operator_found(on: Store) {
    let (sandbox, host, _store, _journal) = journaled(on).await;
    let host = Arc::new(host);
    let journal = host.journal().unwrap().clone();
    // A call cut off half-way (its caller's future dropped) has an
    // unknown outcome.
    let cut_off = |id: &'static str, key: &'static str| {
        let host = host.clone();
        let sandbox_faults = sandbox.hostmenow().faults().clone();
        async move {
            sandbox_faults.inject(Fault::Slow(Duration::from_secs(2)), 1);
            let create = Request::CreateAccount {
                service: service(id),
            };
            let task = tokio::spawn({
                let host = host.clone();
                let create = create.clone();
                async move { host.execute("hostmenow", &create, &keyed(key)).await }
            });
            tokio::time::sleep(Duration::from_millis(500)).await;
            task.abort();
            let _ = task.await;
            // Whatever the provider does with the cut-off request, it has
            // done it once its delay is over.
            tokio::time::sleep(Duration::from_millis(2000)).await;
            let again = host.execute("hostmenow", &create, &keyed(key)).await;
            let Err(CallError::OutcomeUnknown { entry, .. }) = again.result else {
                panic!("{:?}", again.result)
            };
            assert_eq!(
                again.journal_entry,
                Some(entry),
                "the answer names the entry"
            );
            let journal = host.journal().unwrap();
            let found = OperatorFinding {
                finding: Finding::NotDone,
                remote_id: None,
                note: None,
            };
            assert!(
                matches!(
                    journal.resolve(entry, found).await,
                    Err(AckError::AttemptRunning { .. })
                ),
                "the call may still reach the provider"
            );
            while !journal.entry(entry).await.unwrap().unwrap().attempt_over {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (create, entry)
        }
    };

    let (create, entry) = cut_off("unknown-1", "u-1").await;
    assert!(matches!(
        journal.acknowledge(entry).await,
        Err(AckError::FindingRequired(_))
    ));
    let not_done = OperatorFinding {
        finding: Finding::NotDone,
        remote_id: None,
        note: Some("not in the reseller panel".into()),
    };
    journal.resolve(entry, not_done).await.unwrap();
    let before = creates(&sandbox);
    let retried = host.execute("hostmenow", &create, &keyed("u-1")).await;
    assert!(retried.result.is_ok(), "{:?}", retried.result);
    assert!(!retried.replayed, "the freed key runs again");
    assert_eq!(creates(&sandbox), before + 1);

    let (create, entry) = cut_off("unknown-2", "u-2").await;
    let done_without_id = OperatorFinding {
        finding: Finding::Done,
        remote_id: None,
        note: None,
    };
    assert!(matches!(
        journal.resolve(entry, done_without_id).await,
        Err(AckError::RemoteIdRequired(_))
    ));
    let done = OperatorFinding {
        finding: Finding::Done,
        remote_id: Some("7777".into()),
        note: Some("seen in the panel".into()),
    };
    journal.resolve(entry, done).await.unwrap();
    let before = creates(&sandbox);
    let replayed = host.execute("hostmenow", &create, &keyed("u-2")).await;
    assert!(replayed.replayed);
    assert_eq!(replayed.journal_entry, Some(entry));
    let Ok(Response::Created(created)) = replayed.result else {
        panic!("{:?}", replayed.result)
    };
    assert_eq!(created.remote_id, "7777");
    assert!(
        created.message.contains("seen in the panel"),
        "{}",
        created.message
    );
    assert_eq!(creates(&sandbox), before, "nothing sent again");
}

async fn a_call_running_on_another_host_is_waited_for_or_reported_in_progress(on: Store) {
    // Three hosts on one journal (one file, one database), as three
    // processes would be.
    let sandbox = Sandbox::start().await.unwrap();
    let shared = TestJournal::new(on, "two_hosts");
    let options = JournalOptions {
        lease: Duration::from_secs(5),
        ..JournalOptions::default()
    };
    let host_with = |deadline: Duration| {
        let journal = shared.open(options.clone());
        let config = hostmenow_config(&sandbox, "hostmenow").limits(Limits {
            deadline,
            ..Limits::default()
        });
        async move {
            let host = provisioning_test_support::host().with_journal(journal);
            host.load(config).await.unwrap();
            Arc::new(host)
        }
    };
    let first = host_with(Duration::from_secs(10)).await;
    let impatient = host_with(Duration::from_millis(600)).await;
    let patient = host_with(Duration::from_secs(10)).await;
    sandbox
        .hostmenow()
        .faults()
        .inject(Fault::Slow(Duration::from_millis(2000)), 1);
    let create = Request::CreateAccount {
        service: service("shared-1"),
    };
    let running = {
        let (host, create) = (first.clone(), create.clone());
        tokio::spawn(async move { host.execute("hostmenow", &create, &keyed("sh-1")).await })
    };
    // Until the intent is on record.
    let started = Instant::now();
    while first.journal().unwrap().pending().await.unwrap().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waited = {
        let (host, create) = (patient.clone(), create.clone());
        tokio::spawn(async move { host.execute("hostmenow", &create, &keyed("sh-1")).await })
    };
    let refused = impatient
        .execute("hostmenow", &create, &keyed("sh-1"))
        .await;
    let Err(CallError::InProgress { entry, .. }) = &refused.result else {
        panic!("{:?}", refused.result)
    };
    assert!(entry.is_some());
    assert_eq!(refused.journal_entry, *entry);

    let ran = running.await.unwrap();
    let waited = waited.await.unwrap();
    assert!(ran.result.is_ok(), "{:?}", ran.result);
    assert!(waited.replayed);
    assert_eq!(
        waited.result, ran.result,
        "the waiting host gets the answer"
    );
    assert_eq!(waited.journal_entry, ran.journal_entry);
    assert!(ran.module_digest.is_some());
    assert_eq!(
        waited.module_digest, ran.module_digest,
        "one answer, one shape: the module version that answered"
    );
    assert_eq!(creates(&sandbox), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_down_refuses_mutating_calls_unsent_and_the_host_recovers_when_it_is_back() {
    // A server of the test's own: stopping the shared one would cut the
    // other tests off.
    let server = provisioning_test_postgres::PgServer::start();
    eprintln!("PostgreSQL started in {:?}", server.started_in);
    let sandbox = Sandbox::start().await.unwrap();
    let journal = TestJournal::on(&server, "down").open(JournalOptions::default());
    let host = provisioning_test_support::host().with_journal(journal.clone());
    host.load(hostmenow_config(&sandbox, "hostmenow"))
        .await
        .unwrap();
    let create = |id: &str| Request::CreateAccount {
        service: service(id),
    };
    let before = host
        .execute("hostmenow", &create("down-1"), &keyed("d-1"))
        .await;
    assert!(before.result.is_ok(), "{:?}", before.result);
    journal.check_writable().await.unwrap();

    server.stop();
    let refused = host
        .execute("hostmenow", &create("down-2"), &keyed("d-2"))
        .await;
    let error = refused.result.unwrap_err();
    assert_eq!(error.kind(), "journal", "{error}");
    assert_eq!(refused.journal_entry, None);
    assert_eq!(creates(&sandbox), 1, "nothing reached the provider");
    let read = host
        .execute(
            "hostmenow",
            &Request::TestConnection,
            &CallOptions::default(),
        )
        .await;
    assert!(
        read.result.is_ok(),
        "a read needs no journal: {:?}",
        read.result
    );
    assert!(
        journal.check_writable().await.is_err(),
        "not ready while the database is down"
    );

    server.start_again();
    journal.check_writable().await.unwrap();
    let after = host
        .execute("hostmenow", &create("down-2"), &keyed("d-2"))
        .await;
    assert!(after.result.is_ok(), "{:?}", after.result);
    assert!(!after.replayed, "the refused call left no entry behind");
    assert_eq!(creates(&sandbox), 2);
    let keys: Vec<_> = journal
        .pending()
        .await
        .unwrap()
        .into_iter()
        .map(|call| call.entry.intent.idempotency_key)
        .collect();
    assert_eq!(keys, ["d-1", "d-2"]);
}

/// A journal on `on` with a host running Webline on it, and one
/// create-account answered but not acknowledged (its generated password
/// sealed in the journal). Returns the account's password too.
async fn webline_with_a_pending_create(
    on: Store,
    name: &str,
) -> (Sandbox, TestJournal, Host, Request, String) {
    let sandbox = Sandbox::start().await.unwrap();
    let journal = TestJournal::new(on, name);
    let host =
        provisioning_test_support::host().with_journal(journal.open(JournalOptions::default()));
    host.load(provisioning_test_support::webline::config(&sandbox))
        .await
        .unwrap();
    let create = Request::CreateAccount {
        service: provisioning_test_support::webline::service(
            &format!("{}.co.tz", name.replace('_', "-")),
            "1",
        ),
    };
    let answer = host.execute("webline", &create, &keyed("order-1")).await;
    let created = provisioning_test_support::webline::created(answer.result);
    let password = created
        .credentials
        .iter()
        .find(|c| c.name == "password")
        .expect("Webline generates a password")
        .value
        .clone();
    assert_eq!(sandbox.webline().accounts()[0].password, password);
    (sandbox, journal, host, create, password)
}

async fn a_rekeyed_journal_opens_with_the_new_key_and_recognises_replays(on: Store) {
    let (sandbox, journal, old_host, create, password) =
        webline_with_a_pending_create(on, "rekey_new").await;
    let new_key = Sealer::generate_key_hex();
    let report = old_host
        .journal()
        .unwrap()
        .rekey(&new_key)
        .await
        .expect("nothing is running");
    assert_eq!(report.resealed, 1);

    // Opened with the new key: the pending credentials read as before.
    let reopened = journal
        .open_with_key(&new_key)
        .expect("the new key opens it");
    let pending = reopened.pending().await.unwrap();
    assert_eq!(pending.len(), 1);
    let unsealed: Vec<_> = pending[0]
        .credentials
        .iter()
        .map(|c| (c.name.as_str(), c.value.as_str()))
        .collect();
    assert!(
        unsealed.contains(&("password", password.as_str())),
        "{unsealed:?}"
    );

    // A host on the new key: the same request under the same key is the
    // same request (its digest, made under the old key, still matches)...
    let new_host = provisioning_test_support::host().with_journal(reopened);
    new_host
        .load(provisioning_test_support::webline::config(&sandbox))
        .await
        .unwrap();
    let replay = new_host
        .execute("webline", &create, &keyed("order-1"))
        .await;
    assert!(replay.replayed, "{:?}", replay.result);
    let replayed = provisioning_test_support::webline::created(replay.result);
    assert!(
        replayed
            .credentials
            .iter()
            .any(|c| c.name == "password" && c.value == password)
    );
    assert_eq!(sandbox.webline().accounts().len(), 1, "no second account");
    // ...and another request under it is still told apart.
    let other = Request::CreateAccount {
        service: provisioning_test_support::webline::service("rekey-new.co.tz", "2"),
    };
    let conflict = new_host.execute("webline", &other, &keyed("order-1")).await;
    assert!(
        matches!(conflict.result, Err(CallError::IdempotencyConflict { .. })),
        "{:?}",
        conflict.result
    );

    // The host still running with the old key records nothing more: its
    // mutating calls are refused, unsent, until it is restarted.
    let suspend = Request::Suspend {
        service: provisioning_test_support::webline::service("rekey-new.co.tz", "1"),
        reason: None,
    };
    let before = sandbox.webline().requests().len();
    let refused = old_host.execute("webline", &suspend, &keyed("s-1")).await;
    let Err(CallError::Journal { message, .. }) = &refused.result else {
        panic!("{:?}", refused.result)
    };
    assert!(message.contains("restart this host"), "{message}");
    assert_eq!(sandbox.webline().requests().len(), before, "nothing sent");
}

async fn a_rekeyed_journal_refuses_the_old_key_and_an_unrelated_one_differently(on: Store) {
    let (_sandbox, journal, host, _create, _password) =
        webline_with_a_pending_create(on, "rekey_old").await;
    let new_key = Sealer::generate_key_hex();
    let report = host.journal().unwrap().rekey(&new_key).await.unwrap();

    let old = journal
        .open_with_key(journal.key())
        .expect_err("the old key is refused");
    let message = format!("{old:#}");
    assert!(
        matches!(
            old.downcast_ref::<KeyError>(),
            Some(KeyError::PreviousKey { .. })
        ),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "this is the journal's previous key, replaced on {}: use the new one",
            report.replaced_on()
        )),
        "{message}"
    );
    assert!(!message.contains(journal.key()) && !message.contains(&new_key));

    let unrelated = Sealer::generate_key_hex();
    let other = journal
        .open_with_key(&unrelated)
        .expect_err("an unrelated key is refused");
    let message = format!("{other:#}");
    assert!(
        matches!(other.downcast_ref::<KeyError>(), Some(KeyError::OtherKey)),
        "{message}"
    );
    assert!(message.contains("wrong journal key"), "{message}");
    assert!(!message.contains("previous key"), "{message}");

    journal
        .open_with_key(&new_key)
        .expect("the new key opens it");
}

/// For a platform that keeps no provider id (FOSSBilling): the journal
/// answers the remote id of a service's newest successful create, whether
/// or not its entry was acknowledged, with the create's domain and whether
/// a terminate followed, for a license key (a credential that
/// is the remote id, not secret) as for any id; none for a service it never
/// saw created.
async fn the_journal_tells_a_services_remote_id_a_license_key_included(on: Store) {
    let (sandbox, host, _store, _journal) = journaled(on).await;
    let config = provisioning_host::ModuleConfig::new("blesta", provisioning_components::BLESTA)
        .allow_hosts(&[sandbox.origin()])
        .expect("origin parses")
        .setting("endpoint", sandbox.blesta().endpoint())
        .setting("uid", blesta::UID)
        .setting("password", blesta::PASSWORD);
    host.load(config).await.unwrap();
    let journal = host.journal().unwrap();
    let remote_id = async |journal: &provisioning_host::Journal, module: &str, service_id: &str| {
        journal
            .created_service(module, service_id)
            .await
            .unwrap()
            .map(|created| created.remote_id)
    };

    let created = host
        .execute(
            "hostmenow",
            &Request::CreateAccount {
                service: service("rid-1"),
            },
            &keyed("rid-1"),
        )
        .await;
    let Ok(Response::Created(account)) = &created.result else {
        panic!("{:?}", created.result)
    };
    assert_eq!(
        remote_id(journal, "hostmenow", "rid-1").await,
        Some(account.remote_id.clone())
    );
    journal
        .acknowledge(created.journal_entry.unwrap())
        .await
        .unwrap();
    assert_eq!(
        remote_id(journal, "hostmenow", "rid-1").await,
        Some(account.remote_id.clone())
    );

    let mut license = service("rid-lic");
    license.domain = Some("rid.example.com".into());
    license.package = Some("monthly".into());
    license.password = None;
    let created = host
        .execute(
            "blesta",
            &Request::CreateAccount { service: license },
            &keyed("rid-lic"),
        )
        .await;
    let Ok(Response::Created(licensed)) = &created.result else {
        panic!("{:?}", created.result)
    };
    assert!(
        licensed
            .credentials
            .iter()
            .any(|c| c.value == licensed.remote_id && !c.secret),
        "{licensed:?}"
    );
    assert_eq!(
        remote_id(journal, "blesta", "rid-lic").await,
        Some(licensed.remote_id.clone())
    );
    assert_eq!(
        sandbox
            .blesta()
            .license(&licensed.remote_id)
            .unwrap()
            .domain,
        "rid.example.com"
    );

    assert_eq!(
        remote_id(journal, "hostmenow", "rid-lic").await,
        None,
        "another module's service"
    );
    assert_eq!(remote_id(journal, "hostmenow", "never").await, None);

    // The create's domain, and whether a terminate followed it.
    let created = journal
        .created_service("blesta", "rid-lic")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (created.domain.as_deref(), created.terminated),
        (Some("rid.example.com"), false)
    );
    let mut license = service("rid-lic");
    license.domain = Some("rid.example.com".into());
    license.remote_id = Some(licensed.remote_id.clone());
    let terminated = host
        .execute(
            "blesta",
            &Request::Terminate { service: license },
            &keyed("rid-lic-terminate"),
        )
        .await;
    assert!(terminated.result.is_ok(), "{:?}", terminated.result);
    let created = journal
        .created_service("blesta", "rid-lic")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (created.remote_id.as_str(), created.terminated),
        (licensed.remote_id.as_str(), true),
        "the account of the create is gone"
    );
}
