//! Reconciling unknown outcomes with the providers, through the library:
//! real components, a real journal, the sandbox's simulators over loopback.
//! A call whose answer was lost after the provider acted is resolved done
//! (a create-account with the account's provider id, so the retry under
//! its key gets that account and no second one); a call cut off before the
//! provider acted is resolved not done (the retry runs); what the
//! provider's state cannot tell stays for an operator.

use std::sync::Arc;

use provisioning_host::journal::{EntryState, JournalStore, Sealer, SqliteJournal};
use provisioning_host::reconcile::{ReconcileReport, Verdict, reconcile};
use provisioning_host::types::Service;
use provisioning_host::{CallOptions, Host, Journal, Limits, ModuleConfig, Request, Response};
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::{Sandbox, blesta};

/// A host with Webline, Blesta and HostMeNow and an in-memory journal,
/// plus the store to look at.
async fn journaled() -> (Sandbox, Host, Arc<SqliteJournal>) {
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(SqliteJournal::in_memory().unwrap());
    let sealer = Sealer::from_hex(&Sealer::generate_key_hex()).unwrap();
    let host = provisioning_test_support::host()
        .with_journal(Journal::new(store.clone(), sealer).unwrap());
    let limits = Limits {
        deadline: provisioning_test_support::TEST_DEADLINE,
        ..Limits::default()
    };
    let webline = provisioning_test_support::webline::config(&sandbox).limits(limits);
    let blesta = ModuleConfig::new("blesta", provisioning_components::BLESTA)
        .allow_hosts(&[sandbox.origin()])
        .unwrap()
        .setting("endpoint", sandbox.blesta().endpoint())
        .setting("uid", blesta::UID)
        .setting("password", blesta::PASSWORD)
        .limits(limits);
    host.load(webline).await.unwrap();
    host.load(blesta).await.unwrap();
    host.load(provisioning_test_support::hostmenow_config(
        &sandbox,
        "hostmenow",
    ))
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

/// A service on `domain` for Webline (package 1) or Blesta (a term).
fn on_domain(domain: &str, package: &str) -> Service {
    provisioning_test_support::webline::service(domain, package)
}

/// One reconcile pass, once every pending entry's attempt is over: until
/// its deadline a call may still reach the provider, and reconcile leaves
/// its entry undecided.
async fn reconciled(host: &Host, store: &SqliteJournal) -> ReconcileReport {
    while store
        .pending()
        .unwrap()
        .iter()
        .any(|entry| !entry.attempt_over)
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    reconcile(host).await.unwrap()
}

/// The state of journal entry `id`.
fn state(store: &SqliteJournal, id: i64) -> EntryState {
    store.get(id).unwrap().unwrap().state
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_whose_answer_was_lost_is_found_done_and_its_retry_gets_that_account() {
    let (sandbox, host, store) = journaled().await;
    let service = on_domain("lost.co.tz", "1");
    let create = Request::CreateAccount {
        service: service.clone(),
    };
    sandbox.webline().faults().inject(Fault::AnswerLost, 1);
    let lost = host.execute("webline", &create, &keyed("k-lost")).await;
    assert!(lost.result.is_err(), "{:?}", lost.result);
    let entry = lost.journal_entry.unwrap();
    assert_eq!(state(&store, entry), EntryState::Unknown);
    let accounts = sandbox.webline().accounts();
    assert_eq!(accounts.len(), 1, "Webline did create the account");
    let remote_id = accounts[0].id.to_string();

    let report = reconciled(&host, &store).await;
    assert_eq!(report.entries.len(), 1, "{report:?}");
    assert_eq!(report.resolved(), 1, "{report:?}");
    match &report.entries[0].verdict {
        Verdict::Done {
            remote_id: found, ..
        } => assert_eq!(found.as_deref(), Some(remote_id.as_str())),
        other => panic!("expected done, got {other:?}"),
    }
    assert_eq!(state(&store, entry), EntryState::Acknowledged);
    let resolution = store.get(entry).unwrap().unwrap();
    assert!(
        format!("{resolution:?}").contains("reconciled with the provider: list-accounts"),
        "what was seen is recorded: {resolution:?}"
    );

    let retried = host.execute("webline", &create, &keyed("k-lost")).await;
    assert!(retried.replayed);
    match retried.result {
        Ok(Response::Created(created)) => assert_eq!(created.remote_id, remote_id),
        other => panic!("expected the recorded account, got {other:?}"),
    }
    assert_eq!(sandbox.webline().accounts().len(), 1, "no second account");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_cut_off_before_the_provider_acted_is_found_not_done_and_its_retry_runs() {
    let (sandbox, host, store) = journaled().await;
    let create = Request::CreateAccount {
        service: on_domain("cut.example.com", "monthly"),
    };
    sandbox.blesta().faults().inject(Fault::ServerErrorJson, 1);
    let cut = host.execute("blesta", &create, &keyed("k-cut")).await;
    let entry = cut.journal_entry.unwrap();
    assert_eq!(state(&store, entry), EntryState::Unknown);
    assert!(sandbox.blesta().licenses().is_empty());

    let report = reconciled(&host, &store).await;
    assert!(
        matches!(report.entries[0].verdict, Verdict::NotDone { .. }),
        "{report:?}"
    );
    assert_eq!(state(&store, entry), EntryState::Acknowledged);

    let retried = host.execute("blesta", &create, &keyed("k-cut")).await;
    assert!(!retried.replayed, "the freed key runs the call again");
    assert!(matches!(retried.result, Ok(Response::Created(_))));
    assert_eq!(sandbox.blesta().licenses().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suspend_whose_answer_was_lost_is_read_back_from_the_provider() {
    let (sandbox, host, store) = journaled().await;
    let created = host
        .call(
            "blesta",
            &Request::CreateAccount {
                service: on_domain("pause.example.com", "monthly"),
            },
        )
        .await
        .unwrap();
    let Response::Created(created) = created else {
        panic!("{created:?}")
    };
    let mut service = on_domain("pause.example.com", "monthly");
    service.remote_id = Some(created.remote_id.clone());
    sandbox.blesta().faults().inject(Fault::AnswerLost, 1);
    let lost = host
        .execute(
            "blesta",
            &Request::Suspend {
                service,
                reason: None,
            },
            &keyed("k-suspend"),
        )
        .await;
    let entry = lost.journal_entry.unwrap();
    assert_eq!(state(&store, entry), EntryState::Unknown);

    let report = reconciled(&host, &store).await;
    match &report.entries[0].verdict {
        Verdict::Done { evidence, .. } => assert!(evidence.contains("suspended"), "{evidence}"),
        other => panic!("expected done, got {other:?}"),
    }
    assert_eq!(state(&store, entry), EntryState::Acknowledged);
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_provider_cannot_tell_stays_for_an_operator() {
    let (sandbox, host, store) = journaled().await;
    let service = provisioning_test_support::service("r1");
    host.call(
        "hostmenow",
        &Request::CreateAccount {
            service: service.clone(),
        },
    )
    .await
    .unwrap();
    // A password change leaves nothing to read back; HostMeNow reports no
    // state, so a lost suspend cannot be told either.
    sandbox.hostmenow().faults().inject(Fault::AnswerLost, 2);
    let password = host
        .execute(
            "hostmenow",
            &Request::ChangePassword {
                service: service.clone(),
                new_password: "N3w-Passw0rd!".into(),
            },
            &keyed("k-password"),
        )
        .await;
    let suspend = host
        .execute(
            "hostmenow",
            &Request::Suspend {
                service,
                reason: None,
            },
            &keyed("k-hmn-suspend"),
        )
        .await;
    let report = reconciled(&host, &store).await;
    assert_eq!(report.entries.len(), 2, "{report:?}");
    assert_eq!(report.resolved(), 0, "{report:?}");
    for line in &report.entries {
        let Verdict::Undecided { reason } = &line.verdict else {
            panic!("{line:?}");
        };
        let expected = match line.function.as_str() {
            "change-password" => "password",
            _ => "does not tell",
        };
        assert!(reason.contains(expected), "{}: {reason}", line.function);
    }
    for answer in [password, suspend] {
        assert_eq!(
            state(&store, answer.journal_entry.unwrap()),
            EntryState::Unknown,
            "left for an operator"
        );
    }
}

/// Two of Webline's creates left unknown (one whose answer was lost after
/// the account was made, one cut off before Webline acted) are both
/// decided in one pass from one read of Webline's account list.
#[tokio::test(flavor = "multi_thread")]
async fn one_pass_reads_a_modules_list_once_for_all_its_entries() {
    let (sandbox, host, store) = journaled().await;
    let create = |domain: &str| Request::CreateAccount {
        service: on_domain(domain, "1"),
    };
    sandbox.webline().faults().inject(Fault::AnswerLost, 1);
    let lost = host
        .execute("webline", &create("made.co.tz"), &keyed("k-made"))
        .await;
    sandbox.webline().faults().inject(Fault::ServerErrorJson, 1);
    let cut = host
        .execute("webline", &create("unmade.co.tz"), &keyed("k-unmade"))
        .await;
    let (lost, cut) = (lost.journal_entry.unwrap(), cut.journal_entry.unwrap());
    assert_eq!(state(&store, lost), EntryState::Unknown);
    assert_eq!(state(&store, cut), EntryState::Unknown);
    let lists_before = list_reads(&sandbox);

    let report = reconciled(&host, &store).await;
    assert_eq!(report.resolved(), 2, "{report:?}");
    let verdict = |id| {
        &report
            .entries
            .iter()
            .find(|e| e.entry == id)
            .unwrap()
            .verdict
    };
    assert!(matches!(verdict(lost), Verdict::Done { .. }), "{report:?}");
    assert!(
        matches!(verdict(cut), Verdict::NotDone { .. }),
        "{report:?}"
    );
    assert_eq!(
        list_reads(&sandbox) - lists_before,
        1,
        "one list read for both"
    );
}

/// How many listAccounts requests reached Webline.
fn list_reads(sandbox: &Sandbox) -> usize {
    sandbox
        .webline()
        .requests()
        .iter()
        .filter(|r| r.action == "listAccounts")
        .count()
}
