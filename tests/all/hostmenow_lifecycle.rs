//! The whole life of a HostMeNow service through the real component in real
//! wasmtime, against the simulator over loopback, checking the provider's
//! state after every step: each scenario once per language the module is
//! written in (Rust, JavaScript, Python), the component its parameter.

use provisioning_host::types::{Limit, ServiceState};
use provisioning_host::{Request, Response};
use provisioning_sandbox::hostmenow::ServiceStatus;
use provisioning_test_support::{Harness, service};

/// One test per language for `scenario`, which takes the component.
macro_rules! in_every_language {
    ($scenario:ident: $rust:ident, $javascript:ident, $python:ident) => {
        #[tokio::test(flavor = "multi_thread")]
        async fn $rust() {
            $scenario(provisioning_components::HOSTMENOW).await;
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn $javascript() {
            $scenario(provisioning_polyglot_components::HOSTMENOW_JS).await;
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn $python() {
            $scenario(provisioning_polyglot_components::HOSTMENOW_PY).await;
        }
    };
}

in_every_language!(whole_life:
    a_service_lives_its_whole_life_through_the_component,
    a_service_lives_its_whole_life_through_the_javascript_module,
    a_service_lives_its_whole_life_through_the_python_module);

in_every_language!(describes_itself:
    the_module_describes_itself_and_refuses_what_the_api_cannot_do,
    the_javascript_module_describes_itself_and_refuses_what_the_api_cannot_do,
    the_python_module_describes_itself_and_refuses_what_the_api_cannot_do);

in_every_language!(sso_only_on_cpanel:
    single_sign_on_is_refused_for_a_service_not_on_cpanel,
    single_sign_on_is_refused_by_the_javascript_module_for_a_service_not_on_cpanel,
    single_sign_on_is_refused_by_the_python_module_for_a_service_not_on_cpanel);

async fn whole_life(component: &str) {
    let harness = Harness::hostmenow_in(component).await;
    let sim = harness.simulator();
    let mut svc = service("life-1");
    let credit_before = sim.credit();

    // test-connection
    let Response::Connection(status) = harness.call(&Request::TestConnection).await.unwrap() else {
        panic!("test-connection answers a connection status")
    };
    assert!(!status.message.is_empty());

    // list-packages: the simulator's catalogue, with prices per cycle.
    let Response::Packages(packages) = harness.call(&Request::ListPackages).await.unwrap() else {
        panic!("list-packages answers packages")
    };
    let basic = packages
        .iter()
        .find(|p| p.id == "101")
        .expect("product 101 listed");
    assert!(basic.prices.iter().any(|p| p.cycle == "monthly"));

    // create-account
    let Response::Created(created) = harness
        .call(&Request::CreateAccount {
            service: svc.clone(),
        })
        .await
        .unwrap()
    else {
        panic!("create-account answers a created account")
    };
    assert_eq!(created.status, ServiceState::Active);
    assert!(!created.already_existed);
    assert!(!created.remote_id.is_empty());
    let record = sim.service("life-1").expect("the provider has the service");
    assert_eq!(record.status, ServiceStatus::Active);
    assert_eq!(record.product_id, "101");
    assert_eq!(record.domain, "life-1.example.com");
    assert_eq!(Some(record.password.clone()), svc.password);
    assert!(
        sim.credit() < credit_before,
        "the provider charged the reseller"
    );
    svc.remote_id = Some(created.remote_id.clone());

    // suspend with a reason
    harness
        .call(&Request::Suspend {
            service: svc.clone(),
            reason: Some("Overdue invoice".into()),
        })
        .await
        .unwrap();
    let record = sim.service("life-1").unwrap();
    assert_eq!(record.status, ServiceStatus::Suspended);
    assert_eq!(record.suspend_reason.as_deref(), Some("Overdue invoice"));

    // unsuspend
    harness
        .call(&Request::Unsuspend {
            service: svc.clone(),
        })
        .await
        .unwrap();
    assert_eq!(sim.service("life-1").unwrap().status, ServiceStatus::Active);

    // change-password
    harness
        .call(&Request::ChangePassword {
            service: svc.clone(),
            new_password: "N3w-Passw0rd!".into(),
        })
        .await
        .unwrap();
    assert_eq!(sim.service("life-1").unwrap().password, "N3w-Passw0rd!");

    // change-package: the new product travels as selected_product.
    let Response::Done(outcome) = harness
        .call(&Request::ChangePackage {
            service: svc.clone(),
            new_package: "102".into(),
        })
        .await
        .unwrap()
    else {
        panic!("change-package answers an outcome")
    };
    assert!(!outcome.message.is_empty());
    assert_eq!(sim.service("life-1").unwrap().product_id, "102");
    let change = sim
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.action == "ChangePackage")
        .expect("ChangePackage was sent");
    assert_eq!(change.params["selected_product"], "102");

    // usage-data: figures as the provider keeps them; product 102 has
    // unlimited bandwidth, which must not read as a limit of 0.
    assert!(sim.set_usage("life-1", 1250.5, 5000, 3500.75, 0));
    let Response::Usage(usage) = harness
        .call(&Request::UsageData {
            service: svc.clone(),
        })
        .await
        .unwrap()
    else {
        panic!("usage-data answers usage")
    };
    let disk = usage.figures.iter().find(|f| f.name == "disk").unwrap();
    assert_eq!(disk.used, 1250.5);
    assert_eq!(disk.limit, Limit::Value(5000.0));
    let bandwidth = usage
        .figures
        .iter()
        .find(|f| f.name == "bandwidth")
        .unwrap();
    assert_eq!(bandwidth.used, 3500.75);
    assert_eq!(bandwidth.limit, Limit::Unlimited);
    assert!(usage.updated_at.is_some());

    // single-sign-on (a cPanel product)
    let Response::SignOn(url) = harness
        .call(&Request::SingleSignOn {
            service: svc.clone(),
            app: Some("Email_Accounts".into()),
        })
        .await
        .unwrap()
    else {
        panic!("single-sign-on answers a URL")
    };
    assert!(url.starts_with("https://"), "{url}");

    // terminate
    harness
        .call(&Request::Terminate {
            service: svc.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        sim.service("life-1").unwrap().status,
        ServiceStatus::Terminated
    );

    // A terminated service is gone for the provider.
    let result = harness
        .call(&Request::Suspend {
            service: svc,
            reason: None,
        })
        .await;
    assert_eq!(provisioning_test_support::error_kind(&result), "not-found");
}

async fn describes_itself(component: &str) {
    let harness = Harness::hostmenow_in(component).await;
    let module = harness.host.module("hostmenow").unwrap();
    let info = module.info();
    assert_eq!(info.id, "hostmenow");
    let names: Vec<&str> = info
        .functions
        .iter()
        .map(|f| provisioning_host::function_name(*f))
        .collect();
    for expected in [
        "test-connection",
        "create-account",
        "suspend",
        "unsuspend",
        "terminate",
        "change-password",
        "change-package",
        "usage-data",
        "list-packages",
        "single-sign-on",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(!names.contains(&"service-status"));
    let api_key = info.settings.iter().find(|s| s.name == "api-key").unwrap();
    assert_eq!(api_key.kind, provisioning_host::types::SettingKind::Secret);

    let result = harness
        .call(&Request::ServiceStatus {
            service: service("status-1"),
        })
        .await;
    assert_eq!(
        provisioning_test_support::error_kind(&result),
        "unsupported"
    );
}

async fn sso_only_on_cpanel(component: &str) {
    let harness = Harness::hostmenow_in(component).await;
    let mut svc = service("plesk-1");
    svc.package = Some("201".into());
    harness
        .call(&Request::CreateAccount {
            service: svc.clone(),
        })
        .await
        .unwrap();
    let result = harness
        .call(&Request::SingleSignOn {
            service: svc,
            app: None,
        })
        .await;
    assert_eq!(
        provisioning_test_support::error_kind(&result),
        "unsupported"
    );
    assert!(
        !harness
            .simulator()
            .requests()
            .iter()
            .any(|r| r.action == "CreateSSOSession"),
        "no SSO session was requested for a Plesk service"
    );
}
