//! The journal through the library: every mutating call is recorded with
//! its secrets removed, a repeated idempotency key gets the recorded answer,
//! a call refused outright may be repeated under its key, and reads are not
//! journaled.

mod common;

use std::sync::Arc;

use common::{Harness, hostmenow_config, service};
use provisioning_host::journal::{EntryState, JournalStore, Sealer, SqliteJournal};
use provisioning_host::{CallError, CallOptions, Host, Journal, Request, Response};
use provisioning_sandbox::{Sandbox, hostmenow};

/// A host with the HostMeNow module and an in-memory journal, plus direct
/// access to the store to look at what was written.
async fn journaled() -> (Sandbox, Host, Arc<SqliteJournal>) {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(SqliteJournal::in_memory().unwrap());
    let sealer = Sealer::from_hex(&Sealer::generate_key_hex()).unwrap();
    let host = Host::new()
        .unwrap()
        .with_journal(Journal::new(store.clone(), sealer));
    host.load(hostmenow_config(&sandbox, "hostmenow"))
        .await
        .unwrap();
    (sandbox, host, store)
}

fn keyed(key: &str) -> CallOptions {
    CallOptions {
        idempotency_key: Some(key.into()),
        ..CallOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_key_gets_the_recorded_answer_not_a_second_account() {
    let (sandbox, host, store) = journaled().await;
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

#[tokio::test(flavor = "multi_thread")]
async fn the_journal_holds_no_secret() {
    let (_sandbox, host, store) = journaled().await;
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
    let dump = format!("{entries:?}");
    assert!(dump.contains("change-password"), "{dump}");
    for secret in [password.as_str(), new_password.as_str(), hostmenow::API_KEY] {
        assert!(
            !dump.contains(secret),
            "`{secret}` is in the journal: {dump}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn call_acknowledges_and_execute_leaves_the_entry_for_the_caller() {
    let (_sandbox, host, store) = journaled().await;
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
    let pending = host.journal().unwrap().pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].entry.state, EntryState::Answered);
    assert_eq!(pending[0].status(), "answered");
    assert!(host.journal().unwrap().acknowledge(entry).unwrap());
    assert!(store.pending().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_refused_outright_may_be_repeated_under_its_key() {
    let (sandbox, host, _store) = journaled().await;
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

#[tokio::test(flavor = "multi_thread")]
async fn reads_are_not_journaled() {
    let harness = Harness::hostmenow().await;
    let store = Arc::new(SqliteJournal::in_memory().unwrap());
    let sealer = Sealer::from_hex(&Sealer::generate_key_hex()).unwrap();
    let host = Host::new()
        .unwrap()
        .with_journal(Journal::new(store.clone(), sealer));
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
