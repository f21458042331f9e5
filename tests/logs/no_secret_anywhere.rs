//! No secret leaks, whichever provider and whatever goes wrong: every
//! provider's lifecycle and every fault, run through one journaled host
//! while every log line of the process is captured at TRACE level. No API
//! key, reseller password, service password or generated credential may
//! appear in a log line or the journal; no API key or platform password may
//! appear in an answer or error (generated credentials do reach the caller:
//! that is their purpose).
//!
//! One test in its own binary: the log capture is process-wide.

use std::sync::Arc;
use std::time::Duration;

use provisioning_host::journal::{JournalStore, Sealer, SqliteJournal};
use provisioning_host::types::Service;
use provisioning_host::{
    CallError, CallOptions, Host, Journal, Limits, ModuleConfig, Request, Response,
};
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::{Sandbox, blesta, hostmenow, logicboxes, webline};
use provisioning_test_support::log_capture::LogCapture;
use provisioning_test_support::{TEST_DEADLINE, hostmenow_config, service};

fn faults() -> Vec<Fault> {
    vec![
        Fault::ServerErrorJson,
        Fault::ServerErrorHtml,
        Fault::HtmlOk,
        Fault::EmptyBody,
        Fault::TruncatedJson,
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
        Fault::DisconnectMidBody,
        Fault::OversizedBody { bytes: 8 << 20 },
        Fault::RedirectTo {
            location: "http://ungranted.invalid/steal".into(),
        },
        Fault::Slow(TEST_DEADLINE + Duration::from_secs(1)),
    ]
}

fn limits() -> Limits {
    Limits {
        deadline: TEST_DEADLINE,
        ..Limits::default()
    }
}

struct Run {
    host: Host,
    sandbox: Sandbox,
    /// Every answer and error, as the caller would print it.
    answers: Vec<String>,
}

impl Run {
    async fn call(&mut self, module: &str, request: Request) -> Result<Response, CallError> {
        let result = self
            .host
            .execute(module, &request, &CallOptions::default())
            .await
            .result;
        self.answers.push(match &result {
            Ok(response) => format!("{response:?}"),
            Err(error) => format!("{error} / {error:?}"),
        });
        result
    }

    fn inject(&self, module: &str, fault: Fault, times: usize) {
        let injector = match module {
            "hostmenow" => self.sandbox.hostmenow().faults(),
            "blesta" => self.sandbox.blesta().faults(),
            "webline" => self.sandbox.webline().faults(),
            _ => self.sandbox.logicboxes().faults(),
        };
        injector.clear();
        injector.inject(fault, times);
    }
}

fn remote(mut service: Service, response: &Response) -> Service {
    if let Response::Created(created) = response {
        service.remote_id = Some(created.remote_id.clone());
    }
    service
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_a_log_line_an_answer_or_the_journal() {
    let capture = LogCapture::install();
    let sandbox = Sandbox::start().await.unwrap();
    let store = Arc::new(SqliteJournal::in_memory().unwrap());
    let sealer = Sealer::from_hex(&Sealer::generate_key_hex()).unwrap();
    let host = provisioning_test_support::host()
        .with_journal(Journal::new(store.clone(), sealer).unwrap());
    host.load(hostmenow_config(&sandbox, "hostmenow"))
        .await
        .unwrap();
    host.load(
        ModuleConfig::new("blesta", provisioning_components::BLESTA)
            .allow_hosts(&[sandbox.origin()])
            .unwrap()
            .setting("endpoint", sandbox.blesta().endpoint())
            .setting("uid", blesta::UID)
            .setting("password", blesta::PASSWORD)
            .limits(limits()),
    )
    .await
    .unwrap();
    host.load(provisioning_test_support::webline::config(&sandbox).limits(limits()))
        .await
        .unwrap();
    host.load(
        ModuleConfig::new("logicboxes", provisioning_components::LOGICBOXES)
            .allow_hosts(&[sandbox.origin()])
            .unwrap()
            .setting("endpoint", sandbox.logicboxes().origin())
            .setting("auth-userid", logicboxes::AUTH_USERID)
            .setting("api-key", logicboxes::API_KEY)
            .setting("order-id", logicboxes::ORDER_ID)
            .limits(limits()),
    )
    .await
    .unwrap();
    let mut run = Run {
        host,
        sandbox,
        answers: Vec::new(),
    };

    // Platform passwords: the service's own and the new ones it sets.
    let new_password = "N3w-Secret-Pa55!".to_string();
    let mut platform_secrets = vec![new_password.clone()];
    // What providers generate, which only the caller may see.
    let mut generated: Vec<String> = Vec::new();

    // HostMeNow: the whole lifecycle.
    let svc = service("nsa-1");
    platform_secrets.push(svc.password.clone().unwrap());
    run.call("hostmenow", Request::TestConnection)
        .await
        .unwrap();
    run.call(
        "hostmenow",
        Request::CreateAccount {
            service: svc.clone(),
        },
    )
    .await
    .unwrap();
    for request in [
        Request::Suspend {
            service: svc.clone(),
            reason: Some("overdue".into()),
        },
        Request::Unsuspend {
            service: svc.clone(),
        },
        Request::ChangePassword {
            service: svc.clone(),
            new_password: new_password.clone(),
        },
        Request::ChangePackage {
            service: svc.clone(),
            new_package: "102".into(),
        },
        Request::UsageData {
            service: svc.clone(),
        },
        Request::Terminate {
            service: svc.clone(),
        },
    ] {
        run.call("hostmenow", request).await.unwrap();
    }

    // Blesta: a license's life.
    let mut license = service("nsa-lic");
    license.domain = Some("nsa.example.com".into());
    license.package = Some("monthly".into());
    license.password = None;
    let created = run
        .call(
            "blesta",
            Request::CreateAccount {
                service: license.clone(),
            },
        )
        .await
        .unwrap();
    let license = remote(license, &created);
    for request in [
        Request::Suspend {
            service: license.clone(),
            reason: None,
        },
        Request::Unsuspend {
            service: license.clone(),
        },
        Request::Terminate {
            service: license.clone(),
        },
    ] {
        run.call("blesta", request).await.unwrap();
    }

    // Webline: the provider generates the username and password.
    let site = provisioning_test_support::webline::service("nsa.co.tz", "1");
    let created = run
        .call(
            "webline",
            Request::CreateAccount {
                service: site.clone(),
            },
        )
        .await
        .unwrap();
    generated.extend(
        created
            .credentials()
            .iter()
            .filter(|c| c.secret)
            .map(|c| c.value.clone()),
    );
    assert!(!generated.is_empty(), "Webline issued a password");
    let site = remote(site, &created);
    // Its API can create and read, nothing more.
    for request in [
        Request::ServiceStatus {
            service: site.clone(),
        },
        Request::ListPackages,
    ] {
        run.call("webline", request).await.unwrap();
    }

    // LogicBoxes: a mailbox, a password change, a reset.
    let mut mailbox = service("nsa-mail");
    mailbox.username = Some("nsa".into());
    mailbox.domain = Some(logicboxes::ORDER_DOMAIN.into());
    platform_secrets.push(mailbox.password.clone().unwrap());
    run.call(
        "logicboxes",
        Request::CreateAccount {
            service: mailbox.clone(),
        },
    )
    .await
    .unwrap();
    run.call(
        "logicboxes",
        Request::ChangePassword {
            service: mailbox.clone(),
            new_password: new_password.clone(),
        },
    )
    .await
    .unwrap();
    mailbox.password = None;
    let reset = run
        .call(
            "logicboxes",
            Request::ChangePassword {
                service: mailbox.clone(),
                new_password: "unused".into(),
            },
        )
        .await
        .unwrap();
    generated.extend(reset.credentials().iter().map(|c| c.value.clone()));

    // Every fault against every provider, on a mutating call and on a read
    // (which is retried, so the fault stays for each attempt).
    let targets = [
        (
            "hostmenow",
            Request::Suspend {
                service: svc.clone(),
                reason: None,
            },
        ),
        (
            "blesta",
            Request::Suspend {
                service: license.clone(),
                reason: None,
            },
        ),
        (
            "webline",
            Request::CreateAccount {
                service: provisioning_test_support::webline::service("fault.co.tz", "1"),
            },
        ),
        (
            "logicboxes",
            Request::Suspend {
                service: mailbox.clone(),
                reason: None,
            },
        ),
    ];
    let mut faults_tried = 0;
    for (module, mutation) in &targets {
        for fault in faults() {
            run.inject(module, fault.clone(), 1);
            let result = run.call(module, mutation.clone()).await;
            assert!(result.is_err(), "{module} {fault:?}: {result:?}");
            if !matches!(fault, Fault::Slow(_)) {
                run.inject(module, fault.clone(), 3);
                let _ = run.call(module, Request::TestConnection).await;
            }
            faults_tried += 1;
        }
        run.inject(module, Fault::EmptyBody, 0);
    }
    assert_eq!(faults_tried, 4 * faults().len());

    let logs = capture.text();
    assert!(
        logs.contains("call succeeded"),
        "the capture saw the host's log"
    );
    assert!(
        logs.contains("set-path-with-query"),
        "the capture saw wasi-http's TRACE lines"
    );
    // The JSON lines are a second, complete copy: every one is an object,
    // and they carry the call's correlation fields in their spans.
    let json_lines = capture.json_lines();
    let objects: Vec<serde_json::Value> = json_lines
        .lines()
        .map(|line| serde_json::from_str(line).expect("every JSON log line is JSON"))
        .collect();
    assert!(
        objects
            .iter()
            .any(|line| line["message"] == "call succeeded"
                && line["spans"][0]["service_id"].is_string()),
        "the JSON capture saw the host's log with the call's fields"
    );
    assert!(json_lines.contains("set-path-with-query"));
    // The journal as a program sees it (its types) and as an operator
    // reads it (their JSON, every request and answer in the contract's
    // words): no secret in either.
    let pending = store.pending().unwrap();
    let journal = format!("{pending:?}\n{}", serde_json::to_string(&pending).unwrap());
    assert!(
        journal.contains("create-account"),
        "the journal recorded the calls"
    );

    let provider_secrets = [
        hostmenow::API_KEY,
        blesta::PASSWORD,
        webline::API_KEY,
        logicboxes::API_KEY,
    ];
    let everything: Vec<&str> = provider_secrets
        .iter()
        .copied()
        .chain(platform_secrets.iter().map(String::as_str))
        .chain(generated.iter().map(String::as_str))
        .collect();
    for secret in &everything {
        let leaks: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains(secret))
            .take(3)
            .collect();
        assert!(leaks.is_empty(), "`{secret}` in the log: {leaks:#?}");
        assert!(!journal.contains(secret), "`{secret}` in the journal");
    }
    for secret in provider_secrets
        .iter()
        .copied()
        .chain(platform_secrets.iter().map(String::as_str))
    {
        for answer in &run.answers {
            assert!(
                !answer.contains(secret),
                "`{secret}` in an answer: {answer}"
            );
        }
    }
    println!(
        "{} calls, {faults_tried} faults, {} log lines, {} secrets checked: none found",
        run.answers.len(),
        logs.lines().count(),
        everything.len()
    );
}
