//! The HostMeNow module written in JavaScript and in Python answers every
//! call as the Rust module does, and sends the provider the same requests:
//! the same calls go to each module, each against a simulator of its own
//! (fresh, so that order ids and state line up), and the answers, the
//! errors and the requests each simulator received are compared.

use provisioning_host::types::{Service, Setting};
use provisioning_host::{CallError, Limits, Request, Response};
use provisioning_sandbox::fault::Fault;
use provisioning_test_support::{Harness, service, setting};

#[tokio::test(flavor = "multi_thread")]
async fn the_javascript_module_answers_and_asks_as_the_rust_module_does() {
    same_as_rust(provisioning_polyglot_components::HOSTMENOW_JS).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_module_answers_and_asks_as_the_rust_module_does() {
    same_as_rust(provisioning_polyglot_components::HOSTMENOW_PY).await;
}

/// One step of the script: what to set up on the simulator, and the call.
struct Step {
    what: &'static str,
    fault: Option<Fault>,
    request: Request,
    settings: Vec<Setting>,
}

fn step(what: &'static str, request: Request) -> Step {
    Step {
        what,
        fault: None,
        request,
        settings: Vec::new(),
    }
}

/// Every function the module has, the ones it refuses, bad input and the
/// provider's faults.
fn script() -> Vec<Step> {
    let svc = Service {
        remote_id: Some("7001".into()),
        custom_fields: vec![("IP_Address".into(), "10.1.2.3".into())],
        ..service("parity-1")
    };
    let plesk = Service {
        package: Some("201".into()),
        ..service("parity-plesk")
    };
    let account = |what, request| step(what, request);
    let faulty = |what, fault: Fault| Step {
        fault: Some(fault),
        ..step(what, Request::TestConnection)
    };
    vec![
        account("test-connection", Request::TestConnection),
        account("list-packages", Request::ListPackages),
        account(
            "create",
            Request::CreateAccount {
                service: svc.clone(),
            },
        ),
        account(
            "create again",
            Request::CreateAccount {
                service: svc.clone(),
            },
        ),
        account(
            "create with no domain",
            Request::CreateAccount {
                service: Service {
                    domain: None,
                    ..service("parity-2")
                },
            },
        ),
        account(
            "suspend",
            Request::Suspend {
                service: svc.clone(),
                reason: Some("  Overdue invoice ".into()),
            },
        ),
        account(
            "unsuspend",
            Request::Unsuspend {
                service: svc.clone(),
            },
        ),
        account(
            "change-password",
            Request::ChangePassword {
                service: svc.clone(),
                new_password: " N3w Passw0rd! ".into(),
            },
        ),
        account(
            "change-password to nothing",
            Request::ChangePassword {
                service: svc.clone(),
                new_password: "  ".into(),
            },
        ),
        account(
            "change-package",
            Request::ChangePackage {
                service: svc.clone(),
                new_package: " 102 ".into(),
            },
        ),
        account(
            "usage-data",
            Request::UsageData {
                service: svc.clone(),
            },
        ),
        account(
            "single-sign-on",
            Request::SingleSignOn {
                service: svc.clone(),
                app: Some("Email_Accounts".into()),
            },
        ),
        account(
            "create on Plesk",
            Request::CreateAccount {
                service: plesk.clone(),
            },
        ),
        account(
            "single-sign-on on Plesk",
            Request::SingleSignOn {
                service: plesk,
                app: None,
            },
        ),
        account(
            "change-domain",
            Request::ChangeDomain {
                service: svc.clone(),
                new_domain: "other.example.com".into(),
            },
        ),
        account(
            "service-status",
            Request::ServiceStatus {
                service: svc.clone(),
            },
        ),
        account("list-accounts", Request::ListAccounts),
        Step {
            settings: vec![setting("ip-address", "not-an-ip")],
            ..account(
                "a bad product setting",
                Request::Unsuspend {
                    service: svc.clone(),
                },
            )
        },
        account(
            "terminate",
            Request::Terminate {
                service: svc.clone(),
            },
        ),
        account(
            "suspend once terminated",
            Request::Suspend {
                service: svc,
                reason: None,
            },
        ),
        faulty("a 5xx with JSON", Fault::ServerErrorJson),
        faulty("a 5xx with HTML", Fault::ServerErrorHtml),
        faulty("HTML with a 200", Fault::HtmlOk),
        faulty("an empty body", Fault::EmptyBody),
        faulty("truncated JSON", Fault::TruncatedJson),
        faulty(
            "a 429 with Retry-After",
            Fault::TooManyRequests {
                retry_after_secs: 30,
            },
        ),
        faulty(
            "a redirect",
            Fault::RedirectTo {
                location: "https://www.hostmenow.org/api.php?key=secret".into(),
            },
        ),
        faulty("an oversized body", Fault::OversizedBody { bytes: 2 << 20 }),
    ]
}

/// An answer with what differs between two runs by nature (the clock's
/// time in usage, the session token in a login URL, the simulator's
/// port) taken out.
fn comparable(
    answer: Result<Response, CallError>,
    harness: &Harness,
) -> Result<Response, (String, String)> {
    match answer {
        Ok(Response::Usage(mut usage)) => {
            usage.updated_at = usage.updated_at.map(|_| "(a time)".into());
            Ok(Response::Usage(usage))
        }
        Ok(Response::SignOn(url)) => Ok(Response::SignOn(
            url.split("session=").next().unwrap_or_default().to_owned(),
        )),
        Ok(other) => Ok(other),
        Err(error) => Err((
            error.kind().to_owned(),
            error
                .to_string()
                .replace(&harness.sandbox.origin(), "(the simulator)"),
        )),
    }
}

async fn same_as_rust(component: &str) {
    let rust = Harness::hostmenow().await;
    let other = Harness::hostmenow_in(component).await;
    assert_eq!(
        other.host.module("hostmenow").unwrap().info(),
        rust.host.module("hostmenow").unwrap().info(),
        "the same info"
    );
    let mut differences = Vec::new();
    for step in script() {
        for harness in [&rust, &other] {
            if let Some(fault) = &step.fault {
                // Every attempt of a retried read meets it.
                let attempts = Limits::default().read_retries as usize + 1;
                harness.simulator().faults().inject(fault.clone(), attempts);
            }
            if matches!(step.request, Request::UsageData { .. }) {
                harness
                    .simulator()
                    .set_usage("parity-1", 1250.5, 5000, 3500.75, 0);
            }
        }
        let expected = comparable(
            rust.host
                .call_with("hostmenow", &step.request, &step.settings)
                .await,
            &rust,
        );
        let answered = comparable(
            other
                .host
                .call_with("hostmenow", &step.request, &step.settings)
                .await,
            &other,
        );
        for harness in [&rust, &other] {
            // What an answer that was not retried left unmet.
            harness.simulator().faults().clear();
        }
        if answered != expected {
            differences.push(format!(
                "{}:\n  rust:  {expected:?}\n  other: {answered:?}",
                step.what
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} answered otherwise than the Rust module:\n{}",
        component,
        differences.join("\n")
    );
    assert_eq!(
        other.simulator().requests(),
        rust.simulator().requests(),
        "the provider received the same requests"
    );
    assert!(
        rust.simulator().requests().len() >= 15,
        "the script reached the provider"
    );
}

/// Where no answer comes back, the modules in Python and JavaScript map
/// wasi:http's error code as the Rust module does, word for word: here for
/// an origin the host's allow-list denies and for a refused connection.
#[tokio::test(flavor = "multi_thread")]
async fn without_an_answer_each_module_says_what_the_rust_module_says() {
    let sandbox = provisioning_sandbox::Sandbox::start()
        .await
        .expect("sandbox starts");
    // A port nothing listens on: bound, then let go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = format!("http://{closed}/api.php");
    let cases = [
        ("denied", "http://denied.invalid/api.php", sandbox.origin()),
        ("refused", refused.as_str(), format!("http://{closed}")),
    ];
    for (case, endpoint, allowed) in cases {
        let mut answers = Vec::new();
        for component in [
            provisioning_components::HOSTMENOW,
            provisioning_polyglot_components::HOSTMENOW_PY,
            provisioning_polyglot_components::HOSTMENOW_JS,
        ] {
            let host = provisioning_test_support::host();
            let config =
                provisioning_test_support::hostmenow_config_of(&sandbox, "hostmenow", component)
                    .allow_hosts(&[allowed.as_str()])
                    .unwrap()
                    .setting("endpoint", endpoint);
            provisioning_test_support::load_in_turn(&host, config)
                .await
                .expect("the module loads");
            let error = host
                .call("hostmenow", &Request::TestConnection)
                .await
                .expect_err("no answer came back");
            answers.push((error.kind().to_owned(), error.to_string()));
        }
        let [rust, python, javascript] = &answers[..] else {
            unreachable!("three modules")
        };
        assert_eq!(rust.0, "transport", "{case}: {rust:?}");
        assert_eq!(python, rust, "{case}");
        assert_eq!(javascript, rust, "{case}");
    }
}
