//! The LogicBoxes mail module end to end: the real component in real
//! wasmtime through the host, against the simulator over loopback. The
//! lifecycle checks the provider's state after every step; the error tests
//! check that each documented answer maps to its typed error.

use provisioning_host::types::{Function, Service, ServiceState};
use provisioning_host::{CallError, Host, Limits, ModuleConfig, Request, Response};
use provisioning_sandbox::Sandbox;
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::logicboxes::{self, LogicBoxes, MailboxStatus};
use provisioning_test_support::{TEST_DEADLINE, error_kind, setting};

/// The module's name in the host.
const MODULE: &str = "logicboxes";

/// A sandbox and a host with the LogicBoxes component loaded, configured
/// with the simulator's credentials and email order.
struct Harness {
    sandbox: Sandbox,
    host: Host,
}

impl Harness {
    async fn start() -> Harness {
        Harness::configured_with(&[]).await
    }

    /// With `settings` configured over the usual ones (a wrong key):
    /// server settings are the operator's, never a call's.
    async fn configured_with(settings: &[(&str, &str)]) -> Harness {
        let sandbox = Sandbox::start().await.expect("sandbox starts");
        let host = provisioning_test_support::host();
        let mut config = ModuleConfig::new(MODULE, provisioning_components::LOGICBOXES)
            .allow_hosts(&[sandbox.origin()])
            .expect("origin parses")
            .setting("endpoint", sandbox.logicboxes().origin())
            .setting("auth-userid", logicboxes::AUTH_USERID)
            .setting("api-key", logicboxes::API_KEY)
            .setting("order-id", logicboxes::ORDER_ID)
            .limits(Limits {
                deadline: TEST_DEADLINE,
                ..Limits::default()
            });
        for (name, value) in settings {
            config = config.setting(*name, *value);
        }
        host.load(config)
            .await
            .expect("the LogicBoxes component loads");
        Harness { sandbox, host }
    }

    fn sim(&self) -> &LogicBoxes {
        self.sandbox.logicboxes()
    }

    async fn call(&self, request: &Request) -> Result<Response, CallError> {
        self.host.call(MODULE, request).await
    }

    async fn call_with(
        &self,
        request: &Request,
        settings: &[(&str, &str)],
    ) -> Result<Response, CallError> {
        let settings: Vec<_> = settings.iter().map(|(n, v)| setting(n, v)).collect();
        self.host.call_with(MODULE, request, &settings).await
    }
}

/// A mailbox service `<user>@example.com` (the simulator's order domain).
fn mailbox(user: &str) -> Service {
    let mut service = provisioning_test_support::service(user);
    service.username = Some(user.to_owned());
    service.domain = Some(logicboxes::ORDER_DOMAIN.to_owned());
    service.package = None;
    service
}

fn address(user: &str) -> String {
    format!("{user}@{}", logicboxes::ORDER_DOMAIN)
}

#[tokio::test(flavor = "multi_thread")]
async fn info_lists_exactly_the_supported_functions() {
    let harness = Harness::start().await;
    let module = harness.host.module(MODULE).expect("loaded");
    assert_eq!(
        module.info().functions,
        vec![
            Function::TestConnection,
            Function::CreateAccount,
            Function::Suspend,
            Function::Unsuspend,
            Function::Terminate,
            Function::ChangePassword,
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mailbox_lives_its_whole_life_through_the_component() {
    let harness = Harness::start().await;
    let sim = harness.sim();
    let mut svc = mailbox("jane");
    let email = address("jane");

    let Response::Connection(status) = harness.call(&Request::TestConnection).await.unwrap() else {
        panic!("test-connection answers a connection status")
    };
    assert!(status.message.contains("product"), "{}", status.message);

    let Response::Created(created) = harness
        .call(&Request::CreateAccount {
            service: svc.clone(),
        })
        .await
        .unwrap()
    else {
        panic!("create-account answers a created account")
    };
    assert_eq!(created.remote_id, email);
    assert_eq!(created.status, ServiceState::Active);
    assert!(created.credentials.is_empty());
    let record = sim.mailbox(&email).expect("the provider has the mailbox");
    assert_eq!(record.order_id, logicboxes::ORDER_ID);
    assert_eq!(record.password, svc.password);
    assert_eq!(record.notification_email, "client@example.com");
    assert_eq!(
        (record.first_name.as_str(), record.last_name.as_str()),
        ("Test", "Client")
    );
    assert_eq!(
        (record.country_code.as_str(), record.language_code.as_str()),
        ("KE", "en")
    );
    // Credentials in the query, the mailbox's fields in the form body.
    let add = sim.requests().pop().unwrap();
    assert_eq!(add.path, "mail/user/add.json");
    assert!(add.query.iter().any(|(k, _)| k == "api-key"));
    assert!(add.form.iter().any(|(k, _)| k == "passwd"));
    assert!(!add.query.iter().any(|(k, _)| k == "passwd"));
    svc.remote_id = Some(created.remote_id);

    harness
        .call(&Request::Suspend {
            service: svc.clone(),
            reason: Some("Overdue".into()),
        })
        .await
        .unwrap();
    assert_eq!(
        sim.mailbox(&email).unwrap().status,
        MailboxStatus::Suspended
    );

    harness
        .call(&Request::Unsuspend {
            service: svc.clone(),
        })
        .await
        .unwrap();
    assert_eq!(sim.mailbox(&email).unwrap().status, MailboxStatus::Active);

    // Old password known: change-password sets the requested one.
    harness
        .call(&Request::ChangePassword {
            service: svc.clone(),
            new_password: "N3w-Passw0rd!".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        sim.mailbox(&email).unwrap().password.as_deref(),
        Some("N3w-Passw0rd!")
    );

    // Old password unknown: reset-password, whose generated password
    // reaches the caller as a secret credential.
    svc.password = None;
    let Response::Done(outcome) = harness
        .call(&Request::ChangePassword {
            service: svc.clone(),
            new_password: "Ignored-1".into(),
        })
        .await
        .unwrap()
    else {
        panic!("change-password answers an outcome")
    };
    let generated = sim.mailbox(&email).unwrap().password.expect("a password");
    assert_ne!(generated, "N3w-Passw0rd!");
    assert_eq!(outcome.credentials.len(), 1);
    assert_eq!(outcome.credentials[0].name, "password");
    assert_eq!(outcome.credentials[0].value, generated);
    assert!(outcome.credentials[0].secret);
    assert!(outcome.message.contains("not set"), "{}", outcome.message);

    harness
        .call(&Request::Terminate {
            service: svc.clone(),
        })
        .await
        .unwrap();
    assert!(sim.mailbox(&email).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forward_only_account_is_a_product_option() {
    let harness = Harness::start().await;
    let mut svc = mailbox("fwd");
    svc.custom_fields
        .push(("forwards".into(), "a@example.org, b@example.org".into()));
    harness
        .call_with(
            &Request::CreateAccount { service: svc },
            &[("account-type", "forward-only")],
        )
        .await
        .unwrap();
    let record = harness.sim().mailbox(&address("fwd")).unwrap();
    assert!(record.forward_only);
    assert_eq!(record.forwards, vec!["a@example.org", "b@example.org"]);
    assert_eq!(record.password, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn functions_the_api_cannot_do_are_unsupported() {
    let harness = Harness::start().await;
    let svc = mailbox("u");
    for request in [
        Request::ChangePackage {
            service: svc.clone(),
            new_package: "2".into(),
        },
        Request::UsageData {
            service: svc.clone(),
        },
        Request::ListPackages,
        Request::SingleSignOn {
            service: svc.clone(),
            app: None,
        },
        Request::ServiceStatus {
            service: svc.clone(),
        },
        Request::ListAccounts,
    ] {
        let result = harness.call(&request).await;
        assert_eq!(
            error_kind(&result),
            "unsupported",
            "{:?}",
            request.function()
        );
    }
    assert!(harness.sim().requests().is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_are_an_auth_failure_without_the_key() {
    let harness = Harness::configured_with(&[("api-key", "wrong-sekrit-key")]).await;
    for request in [
        Request::TestConnection,
        Request::CreateAccount {
            service: mailbox("a"),
        },
    ] {
        let result = harness.call(&request).await;
        assert_eq!(error_kind(&result), "auth-failed");
        let message = result.unwrap_err().to_string();
        assert!(!message.contains("wrong-sekrit-key"), "{message}");
        assert!(!message.contains("api-key="), "{message}");
    }
    assert!(harness.sim().mailboxes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_mailbox_is_not_found() {
    let harness = Harness::start().await;
    for request in [
        Request::Suspend {
            service: mailbox("ghost"),
            reason: None,
        },
        Request::Unsuspend {
            service: mailbox("ghost"),
        },
        Request::Terminate {
            service: mailbox("ghost"),
        },
        Request::ChangePassword {
            service: mailbox("ghost"),
            new_password: "Whatever-1".into(),
        },
    ] {
        let result = harness.call(&request).await;
        assert_eq!(error_kind(&result), "not-found", "{:?}", request.function());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_failures_map_to_typed_errors() {
    let harness = Harness::start().await;
    let create = Request::CreateAccount {
        service: mailbox("dup"),
    };
    harness.call(&create).await.unwrap();
    assert_eq!(error_kind(&harness.call(&create).await), "already-exists");

    let wrong_old = Request::ChangePassword {
        service: {
            let mut s = mailbox("dup");
            s.password = Some("not-the-old-one".into());
            s
        },
        new_password: "N3w-1".into(),
    };
    assert_eq!(error_kind(&harness.call(&wrong_old).await), "invalid-input");

    let other_order = harness
        .call_with(
            &Request::Suspend {
                service: mailbox("dup"),
                reason: None,
            },
            &[("order-id", "42")],
        )
        .await;
    assert_eq!(error_kind(&other_order), "invalid-config");
    assert_eq!(
        harness.sim().mailbox(&address("dup")).unwrap().status,
        MailboxStatus::Active
    );

    let mut foreign = mailbox("x");
    foreign.domain = Some("elsewhere.org".into());
    let result = harness
        .call(&Request::CreateAccount { service: foreign })
        .await;
    assert_eq!(error_kind(&result), "invalid-input", "{result:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_settings_and_input_fail_before_any_request() {
    let harness = Harness::start().await;
    let result = harness
        .call_with(
            &Request::Suspend {
                service: mailbox("a"),
                reason: None,
            },
            &[("order-id", "not-a-number")],
        )
        .await;
    assert_eq!(error_kind(&result), "invalid-config");
    let mut no_client = mailbox("a");
    no_client.client = None;
    let result = harness
        .call(&Request::CreateAccount { service: no_client })
        .await;
    assert_eq!(error_kind(&result), "invalid-input");
    assert!(harness.sim().requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaviours_are_typed_errors_and_the_next_call_works() {
    let harness = Harness::start().await;
    for (fault, kind) in [
        (Fault::ServerErrorHtml, "provider"),
        (Fault::ServerErrorJson, "provider"),
        (Fault::HtmlOk, "bad-response"),
        (Fault::EmptyBody, "bad-response"),
        (Fault::TruncatedJson, "bad-response"),
        (
            Fault::TooManyRequests {
                retry_after_secs: 30,
            },
            "rate-limited",
        ),
        (Fault::Slow(TEST_DEADLINE * 2), "timeout"),
    ] {
        // A safe read is tried again, so the fault stays for every attempt.
        let attempts = Limits::default().read_retries as usize + 1;
        harness.sim().faults().inject(fault.clone(), attempts);
        let result = harness.call(&Request::TestConnection).await;
        harness.sim().faults().clear();
        let got = error_kind(&result);
        // A stall past the deadline may be cut by the host or time out in
        // the guest; either way it is not an answer.
        if kind == "timeout" {
            assert!(matches!(got, "timeout" | "deadline-exceeded"), "{got}");
        } else {
            assert_eq!(got, kind, "{fault:?}");
        }
    }
    harness.call(&Request::TestConnection).await.unwrap();
}
