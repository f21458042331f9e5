//! list-accounts end to end: the real components in real wasmtime through
//! the host, against the simulators over loopback. A module whose provider
//! can list shows the accounts created through it (and those it did not
//! create) with the provider's id, domain, package and state; a module
//! whose provider cannot list answers `unsupported` without sending
//! anything, and does not declare the function.
//!
//! Neither listing call pages (Webline's `listAccounts` and Blesta's
//! `getlicenses` each answer every account at once), so no test here
//! crosses a page.

use provisioning_host::types::{Function, ListedAccount, Service, ServiceState};
use provisioning_host::{Host, Limits, ModuleConfig, Request, Response};
use provisioning_sandbox::webline::{AccountStatus, Provisioning};
use provisioning_sandbox::{Sandbox, blesta, logicboxes};
use provisioning_test_support::{TEST_DEADLINE, error_kind};

/// The answer of list-accounts, or a panic naming what came instead.
fn accounts(answer: Result<Response, provisioning_host::CallError>) -> Vec<ListedAccount> {
    match answer {
        Ok(Response::Accounts(accounts)) => accounts,
        other => panic!("list-accounts answered {other:?}"),
    }
}

/// The listed account with remote id `id`.
fn by_id<'a>(list: &'a [ListedAccount], id: &str) -> &'a ListedAccount {
    list.iter()
        .find(|a| a.remote_id == id)
        .unwrap_or_else(|| panic!("{id} is not in {list:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn webline_lists_its_accounts_with_package_ids_and_states() {
    let harness = provisioning_test_support::webline::Harness::start().await;
    let sim = harness.simulator();

    let mut ids = Vec::new();
    for (domain, package) in [("one.co.tz", "1"), ("two.co.tz", "2")] {
        let created = provisioning_test_support::webline::created(
            harness
                .call(&Request::CreateAccount {
                    service: provisioning_test_support::webline::service(domain, package),
                })
                .await,
        );
        ids.push(created.remote_id);
    }
    // The provider's staff suspend the second (the API cannot); a third
    // account is still being provisioned.
    assert!(sim.set_status(ids[1].parse().unwrap(), AccountStatus::Suspended));
    sim.set_provisioning(Provisioning::After(std::time::Duration::from_secs(600)));
    let pending = provisioning_test_support::webline::created(
        harness
            .call(&Request::CreateAccount {
                service: provisioning_test_support::webline::service("three.co.tz", "3"),
            })
            .await,
    );
    ids.push(pending.remote_id);

    let requests_before = sim.requests().len();
    let list = accounts(harness.call(&Request::ListAccounts).await);
    assert_eq!(list.len(), 3, "{list:#?}");
    for (id, domain, package, state) in [
        (&ids[0], "one.co.tz", "1", ServiceState::Active),
        (&ids[1], "two.co.tz", "2", ServiceState::Suspended),
        (&ids[2], "three.co.tz", "3", ServiceState::Pending),
    ] {
        let listed = by_id(&list, id);
        let record = sim.account(id.parse().unwrap()).unwrap();
        assert_eq!(listed.domain.as_deref(), Some(domain), "{listed:?}");
        // The list names the package; the module answers its id, the one
        // list-packages gives and create-account takes.
        assert_eq!(listed.package.as_deref(), Some(package), "{listed:?}");
        assert_eq!(listed.state, state, "{listed:?}");
        assert_eq!(listed.username.as_deref(), Some(record.username.as_str()));
        assert_eq!(listed.created.as_deref(), Some(&record.created_at[..10]));
    }
    // One listAccounts and one getPackages: no call per account, which the
    // provider's rate limit could not afford for a long list.
    let actions: Vec<String> = sim.requests()[requests_before..]
        .iter()
        .map(|r| r.action.clone())
        .collect();
    assert_eq!(actions, ["listAccounts", "getPackages"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn webline_lists_nothing_when_the_reseller_has_no_account() {
    let harness = provisioning_test_support::webline::Harness::start().await;
    assert!(accounts(harness.call(&Request::ListAccounts).await).is_empty());
}

/// A host with the Blesta component loaded as `blesta` against `sandbox`.
async fn blesta_host(sandbox: &Sandbox) -> Host {
    let host = provisioning_test_support::host();
    let config = ModuleConfig::new("blesta", provisioning_components::BLESTA)
        .allow_hosts(&[sandbox.origin()])
        .expect("origin parses")
        .setting("endpoint", sandbox.blesta().endpoint())
        .setting("uid", blesta::UID)
        .setting("password", blesta::PASSWORD)
        .limits(Limits {
            deadline: TEST_DEADLINE,
            ..Limits::default()
        });
    host.load(config).await.expect("the Blesta component loads");
    host
}

fn license_service(domain: &str, term: &str) -> Service {
    Service {
        service_id: format!("svc-{domain}"),
        remote_id: None,
        domain: Some(domain.into()),
        username: None,
        password: None,
        package: Some(term.into()),
        billing_cycle: None,
        client: None,
        custom_fields: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn blesta_lists_live_licenses_with_their_term_and_suspension() {
    let sandbox = Sandbox::start().await.expect("sandbox starts");
    let host = blesta_host(&sandbox).await;
    let sim = sandbox.blesta();

    let mut services = Vec::new();
    for (domain, term) in [
        ("kept.example.com", "monthly"),
        ("paused.example.com", "yearly"),
        ("gone.example.com", "monthly"),
    ] {
        let mut svc = license_service(domain, term);
        let Response::Created(created) = host
            .call(
                "blesta",
                &Request::CreateAccount {
                    service: svc.clone(),
                },
            )
            .await
            .unwrap()
        else {
            panic!("create-account answers the created license")
        };
        svc.remote_id = Some(created.remote_id);
        services.push(svc);
    }
    host.call(
        "blesta",
        &Request::Suspend {
            service: services[1].clone(),
            reason: None,
        },
    )
    .await
    .unwrap();
    host.call(
        "blesta",
        &Request::Terminate {
            service: services[2].clone(),
        },
    )
    .await
    .unwrap();
    // A license added elsewhere (the reseller's panel): what an import finds.
    let elsewhere = sim.seed_license("imported.example.com", "owned");

    let list = accounts(host.call("blesta", &Request::ListAccounts).await);
    let key = |i: usize| services[i].remote_id.clone().unwrap();
    for (id, domain, term, state) in [
        (key(0), "kept.example.com", "monthly", ServiceState::Active),
        (
            key(1),
            "paused.example.com",
            "yearly",
            ServiceState::Suspended,
        ),
        (
            elsewhere.clone(),
            "imported.example.com",
            "owned",
            ServiceState::Active,
        ),
    ] {
        let listed = by_id(&list, &id);
        assert_eq!(listed.domain.as_deref(), Some(domain), "{listed:?}");
        assert_eq!(listed.package.as_deref(), Some(term), "{listed:?}");
        assert_eq!(listed.state, state, "{listed:?}");
        let record = sim.license(&id).unwrap();
        assert_eq!(listed.created.as_deref(), Some(record.date_added.as_str()));
        assert_eq!((&listed.username, &listed.email), (&None, &None));
    }
    // A cancelled license no longer exists for the API.
    assert!(
        list.iter().all(|a| a.remote_id != key(2)),
        "the cancelled license is not listed: {list:#?}"
    );
    assert_eq!(list.len(), 3, "{list:#?}");
    let listing = sim.requests().pop().unwrap();
    assert_eq!(listing.field("action"), Some("getlicenses"));
}

#[tokio::test(flavor = "multi_thread")]
async fn modules_that_can_list_declare_it() {
    let host = provisioning_test_support::host();
    for component in [
        provisioning_components::WEBLINE,
        provisioning_components::BLESTA,
    ] {
        let inspected = host
            .inspect(std::path::Path::new(component))
            .await
            .expect("the component inspects");
        assert!(
            inspected.info.functions.contains(&Function::ListAccounts),
            "{} declares list-accounts",
            inspected.info.id
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn modules_whose_provider_cannot_list_answer_unsupported_and_do_not_declare_it() {
    let sandbox = Sandbox::start().await.expect("sandbox starts");
    let host = provisioning_test_support::host();
    host.load(provisioning_test_support::hostmenow_config(
        &sandbox,
        "hostmenow",
    ))
    .await
    .expect("the HostMeNow component loads");
    host.load(
        ModuleConfig::new("logicboxes", provisioning_components::LOGICBOXES)
            .allow_hosts(&[sandbox.origin()])
            .expect("origin parses")
            .setting("endpoint", sandbox.logicboxes().origin())
            .setting("auth-userid", logicboxes::AUTH_USERID)
            .setting("api-key", logicboxes::API_KEY)
            .setting("order-id", logicboxes::ORDER_ID),
    )
    .await
    .expect("the LogicBoxes component loads");
    host.load(
        ModuleConfig::new("misbehaving", provisioning_components::MISBEHAVING)
            .setting("behaviour", "ok"),
    )
    .await
    .expect("the misbehaving component loads");

    for (module, component, says) in [
        ("hostmenow", provisioning_components::HOSTMENOW, "HostMeNow"),
        (
            "logicboxes",
            provisioning_components::LOGICBOXES,
            "LogicBoxes",
        ),
        (
            "misbehaving",
            provisioning_components::MISBEHAVING,
            "test module",
        ),
    ] {
        let inspected = host
            .inspect(std::path::Path::new(component))
            .await
            .expect("the component inspects");
        assert!(
            !inspected.info.functions.contains(&Function::ListAccounts),
            "{module} does not declare list-accounts"
        );
        let result = host.call(module, &Request::ListAccounts).await;
        assert_eq!(error_kind(&result), "unsupported", "{module}: {result:?}");
        let message = result.unwrap_err().to_string();
        assert!(message.contains(says), "{module}: {message}");
    }
    assert!(
        sandbox.hostmenow().requests().is_empty(),
        "nothing reached HostMeNow"
    );
    assert!(
        sandbox.logicboxes().requests().is_empty(),
        "nothing reached LogicBoxes"
    );
}
