//! What a call may bring of its own settings: the product settings its
//! module declares, each once. A server setting (the operator's endpoint or
//! key), a name the module does not declare, or a setting given twice
//! refuses the call `invalid-input`, naming the setting, before anything is
//! journaled or sent: through `execute`, `call_with` and the usage sync
//! alike.

use std::sync::Arc;

use provisioning_host::journal::JournalOptions;
use provisioning_host::types::Setting;
use provisioning_host::{
    CallOptions, Request, Response, SyncOptions, UsageJob, UsageResult, sync_usage,
};
use provisioning_sandbox::Sandbox;
use provisioning_test_support::journal_store::{Store, TestJournal};
use provisioning_test_support::{hostmenow_config, service, setting};

#[tokio::test(flavor = "multi_thread")]
async fn only_the_modules_product_settings_come_with_a_call() {
    let sandbox = Sandbox::start().await.unwrap();
    let journal = TestJournal::new(Store::Sqlite, "call-settings");
    let host =
        provisioning_test_support::host().with_journal(journal.open(JournalOptions::default()));
    host.load(hostmenow_config(&sandbox, "hostmenow"))
        .await
        .unwrap();
    let host = Arc::new(host);
    // The same simulator, as another reseller would reach it: granted, so
    // only the setting's scope can stop a call from moving there.
    let elsewhere = format!("{}/elsewhere", sandbox.hostmenow().endpoint());

    let refused: [(Vec<Setting>, &str, &str); 4] = [
        (
            vec![setting("api-key", "someone-elses-key-123")],
            "api-key",
            "server setting",
        ),
        (
            vec![setting("endpoint", &elsewhere)],
            "endpoint",
            "server setting",
        ),
        (
            vec![
                setting("ip-address", "10.1.2.3"),
                setting("product-note", "x"),
            ],
            "product-note",
            "not one of the module's",
        ),
        (
            vec![
                setting("ip-address", "10.1.2.3"),
                setting("ip-address", "10.1.2.4"),
            ],
            "ip-address",
            "given twice",
        ),
    ];
    for (settings, named, why) in refused {
        // A journaled create: refused before its intent is recorded.
        let options = CallOptions {
            settings: settings.clone(),
            idempotency_key: Some(format!("create-{named}")),
        };
        let create = Request::CreateAccount {
            service: service(&format!("s-{named}")),
        };
        let answer = host.execute("hostmenow", &create, &options).await;
        let error = answer.result.unwrap_err();
        assert_eq!(error.kind(), "invalid-input", "{error}");
        let message = error.to_string();
        assert!(
            message.contains(&format!("\"{named}\"")) && message.contains(why),
            "{message}"
        );
        assert!(
            why == "given twice" || message.contains("product settings (ip-address)"),
            "the settings a call may give are named: {message}"
        );
        assert!(!message.contains("someone-elses-key-123"), "{message}");
        assert!(!error.leaves_provider_state_unknown());
        assert_eq!(answer.journal_entry, None, "nothing journaled");
        // A read through `call_with`.
        let error = host
            .call_with("hostmenow", &Request::TestConnection, &settings)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), "invalid-input", "{error}");
    }
    // The usage sync: the job carrying the operator's key is refused on
    // its own.
    let mut reports = Vec::new();
    sync_usage(
        &host,
        vec![UsageJob {
            module: "hostmenow".into(),
            service: service("s-usage"),
            settings: vec![setting("api-key", "someone-elses-key-123")],
        }],
        &SyncOptions::default(),
        |report| reports.push(report.clone()),
    )
    .await;
    match &reports[..] {
        [report] => match &report.outcome {
            UsageResult::Error(error) => {
                assert_eq!(error.kind, "invalid-input", "{error:?}");
                assert!(error.message.contains("\"api-key\""), "{error:?}");
            }
            other => panic!("read: {other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert!(
        sandbox.hostmenow().requests().is_empty(),
        "nothing reached the provider"
    );
    let journal = host.journal().unwrap();
    assert!(
        journal.pending().await.unwrap().is_empty(),
        "nothing journaled"
    );

    // The module's product settings still come with a call.
    let options = CallOptions {
        settings: vec![setting("ip-address", "10.1.2.3")],
        idempotency_key: Some("create-ok".into()),
    };
    let create = Request::CreateAccount {
        service: service("s-ok"),
    };
    let answer = host.execute("hostmenow", &create, &options).await;
    assert!(
        matches!(answer.result, Ok(Response::Created(_))),
        "{:?}",
        answer.result
    );
    assert!(sandbox.hostmenow().service("s-ok").is_some());
}
