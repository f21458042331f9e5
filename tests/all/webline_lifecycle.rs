//! The whole life of a Webline hosting account through the real component
//! in real wasmtime, against the simulator over loopback, checking the
//! provider's state after every step: what the API supports works, and
//! what it does not answers `unsupported`.

use std::time::{Duration, Instant};

use provisioning_host::types::{Function, ServiceState};
use provisioning_host::{Request, Response};
use provisioning_sandbox::webline::{AccountStatus, Provisioning, STARTING_CREDIT_TZS};
use provisioning_test_support::webline::{Harness, created, service, setting};

#[tokio::test(flavor = "multi_thread")]
async fn an_account_lives_its_supported_life_through_the_component() {
    let harness = Harness::start().await;
    let sim = harness.simulator();

    let Response::Connection(status) = harness.call(&Request::TestConnection).await.unwrap() else {
        panic!("test-connection answers a connection status")
    };
    assert!(
        status.message.contains("3 hosting package"),
        "{}",
        status.message
    );

    let Response::Packages(packages) = harness.call(&Request::ListPackages).await.unwrap() else {
        panic!("list-packages answers packages")
    };
    assert_eq!(packages.len(), 3);
    let basic = &packages[0];
    assert_eq!(
        (basic.id.as_str(), basic.name.as_str()),
        ("1", "Basic Hosting")
    );
    let monthly = basic.prices.iter().find(|p| p.cycle == "monthly").unwrap();
    assert_eq!(monthly.amount, "25000");
    assert_eq!(monthly.currency.as_deref(), Some("TZS"));
    assert!(
        basic
            .details
            .contains(&("disk_space_mb".to_owned(), "5000".to_owned()))
    );

    // create-account: the generated credentials reach the caller.
    let mut svc = service("shop.co.tz", "2");
    let account = created(
        harness
            .call(&Request::CreateAccount {
                service: svc.clone(),
            })
            .await,
    );
    assert_eq!(account.status, ServiceState::Active);
    assert!(!account.already_existed);
    let id: u64 = account.remote_id.parse().expect("numeric account id");
    let record = sim.account(id).expect("the provider has the account");
    assert_eq!(record.domain, "shop.co.tz");
    assert_eq!(record.package_id, 2);
    assert_eq!(
        (record.first_name.as_str(), record.phone.as_str()),
        ("Asha", "+255712345678")
    );
    assert_eq!(record.status, AccountStatus::Active);
    assert_eq!(sim.credit(), STARTING_CREDIT_TZS - 75000);
    let username = account
        .credentials
        .iter()
        .find(|c| c.name == "username")
        .unwrap();
    let password = account
        .credentials
        .iter()
        .find(|c| c.name == "password")
        .unwrap();
    assert_eq!(username.value, record.username);
    assert!(!username.secret);
    assert_eq!(password.value, record.password);
    assert!(password.secret);
    assert!(!account.message.contains(&record.password));
    // The key travelled in the header, and the fields by their own names.
    let sent = sim
        .requests()
        .into_iter()
        .find(|r| r.action == "createAccount")
        .unwrap();
    assert!(sent.key_in_header);
    assert_eq!(sent.fields["package_id"], 2);
    assert_eq!(sent.fields["email"], "asha@example.co.tz");
    svc.remote_id = Some(account.remote_id.clone());

    // service-status: the state and the package's limits.
    let Response::Status(report) = harness
        .call(&Request::ServiceStatus {
            service: svc.clone(),
        })
        .await
        .unwrap()
    else {
        panic!("service-status answers a status report")
    };
    assert_eq!(report.state, ServiceState::Active);
    let detail = |key: &str| {
        report
            .details
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(detail("disk_space_mb").as_deref(), Some("20000"));
    assert_eq!(detail("bandwidth_mb").as_deref(), Some("200000"));
    assert_eq!(
        detail("package_name").as_deref(),
        Some("Professional Hosting")
    );

    // The provider's staff suspend it: service-status follows.
    assert!(sim.set_status(id, AccountStatus::Suspended));
    let Response::Status(report) = harness
        .call(&Request::ServiceStatus {
            service: svc.clone(),
        })
        .await
        .unwrap()
    else {
        panic!("service-status answers a status report")
    };
    assert_eq!(report.state, ServiceState::Suspended);
}

#[tokio::test(flavor = "multi_thread")]
async fn info_lists_exactly_the_supported_functions_and_the_rest_is_unsupported() {
    let harness = Harness::start().await;
    let module = harness.host.module("webline").expect("module loaded");
    let info = module.info();
    // `inspect` (no settings, no origin granted) says the same.
    let inspected = harness
        .host
        .inspect(std::path::Path::new(provisioning_components::WEBLINE))
        .await
        .expect("the component inspects");
    assert_eq!(inspected.info.functions, info.functions);
    assert_eq!(inspected.info.id, "webline");
    assert!(
        inspected
            .info
            .settings
            .iter()
            .any(|s| s.name == "api-key" && s.kind == provisioning_host::types::SettingKind::Secret)
    );
    assert_eq!(
        info.functions,
        vec![
            Function::TestConnection,
            Function::CreateAccount,
            Function::ListPackages,
            Function::ServiceStatus,
            Function::ListAccounts,
        ]
    );
    let mut svc = service("keep.co.tz", "1");
    let account = created(
        harness
            .call(&Request::CreateAccount {
                service: svc.clone(),
            })
            .await,
    );
    svc.remote_id = Some(account.remote_id.clone());
    let requests_before = harness.simulator().requests().len();
    for request in [
        Request::Suspend {
            service: svc.clone(),
            reason: None,
        },
        Request::Unsuspend {
            service: svc.clone(),
        },
        Request::Terminate {
            service: svc.clone(),
        },
        Request::ChangePassword {
            service: svc.clone(),
            new_password: "N3w-pass!".into(),
        },
        Request::ChangePackage {
            service: svc.clone(),
            new_package: "2".into(),
        },
        Request::UsageData {
            service: svc.clone(),
        },
        Request::SingleSignOn {
            service: svc.clone(),
            app: None,
        },
    ] {
        let result = harness.call(&request).await;
        assert_eq!(
            provisioning_test_support::webline::error_kind(&result),
            "unsupported",
            "{request:?}"
        );
    }
    // None of them pretended: nothing reached the provider, nothing changed.
    assert_eq!(harness.simulator().requests().len(), requests_before);
    let id: u64 = account.remote_id.parse().unwrap();
    let record = harness.simulator().account(id).unwrap();
    assert_eq!(
        (record.status, record.package_id),
        (AccountStatus::Active, 1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_waits_for_active_within_the_callers_bound() {
    let harness = Harness::start().await;
    let sim = harness.simulator();
    sim.set_provisioning(Provisioning::After(Duration::from_millis(1500)));
    let started = Instant::now();
    let account = created(
        harness
            .host
            .call_with(
                "webline",
                &Request::CreateAccount {
                    service: service("slow.co.tz", "1"),
                },
                &[setting("activation-wait-seconds", "5")],
            )
            .await,
    );
    assert_eq!(account.status, ServiceState::Active);
    assert!(started.elapsed() >= Duration::from_millis(1500));
    let polls = sim
        .requests()
        .iter()
        .filter(|r| r.action == "getAccountStatus")
        .count();
    assert!((2..=4).contains(&polls), "{polls} polls");
    assert_eq!(account.credentials.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_reports_pending_honestly_when_the_bound_runs_out() {
    let harness = Harness::start().await;
    let sim = harness.simulator();
    sim.set_provisioning(Provisioning::After(Duration::from_secs(60)));
    let started = Instant::now();
    let account = created(
        harness
            .host
            .call_with(
                "webline",
                &Request::CreateAccount {
                    service: service("later.co.tz", "1"),
                },
                &[setting("activation-wait-seconds", "1")],
            )
            .await,
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(account.status, ServiceState::Pending);
    assert!(
        account.message.contains("still pending"),
        "{}",
        account.message
    );
    assert_eq!(account.credentials.len(), 2, "credentials are not lost");
    let id: u64 = account.remote_id.parse().unwrap();
    assert_eq!(sim.account(id).unwrap().status, AccountStatus::Pending);

    // A wait of 0 checks once; a failed provisioning says failed.
    sim.set_provisioning(Provisioning::FailAfter(Duration::ZERO));
    let account = created(
        harness
            .host
            .call_with(
                "webline",
                &Request::CreateAccount {
                    service: service("broken.co.tz", "1"),
                },
                &[setting("activation-wait-seconds", "0")],
            )
            .await,
    );
    assert_eq!(account.status, ServiceState::Failed);
    assert_eq!(account.credentials.len(), 2);
}
