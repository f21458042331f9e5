//! No secret leaks: the API key and the service passwords appear in no log
//! line (captured at trace level, every crate), no error message and no
//! answer, across a whole lifecycle, the error paths and the faults.
//!
//! One test in its own binary: the log capture is process-wide.

use provisioning_host::Request;
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::hostmenow::API_KEY;
use provisioning_test_support::log_capture::LogCapture;
use provisioning_test_support::{Harness, service};

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_appears_in_logs_errors_or_answers() {
    let capture = LogCapture::install();

    let harness = Harness::hostmenow().await;
    let mut svc = service("secret-1");
    let first_password = svc.password.clone().unwrap();
    let second_password = "Second-Pa55word!".to_string();
    let mut answers = Vec::new();

    let mut run = |result: Result<provisioning_host::Response, provisioning_host::CallError>| {
        answers.push(match result {
            Ok(response) => format!("{response:?}"),
            Err(error) => format!("{error} / {error:?}"),
        });
    };

    run(harness.call(&Request::TestConnection).await);
    run(harness
        .call(&Request::CreateAccount {
            service: svc.clone(),
        })
        .await);
    run(harness
        .call(&Request::Suspend {
            service: svc.clone(),
            reason: None,
        })
        .await);
    run(harness
        .call(&Request::Unsuspend {
            service: svc.clone(),
        })
        .await);
    run(harness
        .call(&Request::ChangePassword {
            service: svc.clone(),
            new_password: second_password.clone(),
        })
        .await);
    svc.password = Some(second_password.clone());
    run(harness
        .call(&Request::ChangePackage {
            service: svc.clone(),
            new_package: "102".into(),
        })
        .await);
    run(harness
        .call(&Request::UsageData {
            service: svc.clone(),
        })
        .await);
    run(harness
        .call(&Request::SingleSignOn {
            service: svc.clone(),
            app: None,
        })
        .await);
    // Error paths: unknown service, wrong key (configured for a second
    // module: a call cannot bring a key of its own; the right one must
    // still not show), faults.
    run(harness
        .call(&Request::Suspend {
            service: service("ghost"),
            reason: None,
        })
        .await);
    harness
        .host
        .load(
            provisioning_test_support::hostmenow_config(&harness.sandbox, "wrong-key")
                .setting("api-key", "wrong-key-123"),
        )
        .await
        .unwrap();
    run(harness
        .host
        .call("wrong-key", &Request::TestConnection)
        .await);
    for fault in [
        Fault::ServerErrorJson,
        Fault::ServerErrorHtml,
        Fault::HtmlOk,
        Fault::EmptyBody,
        Fault::TruncatedJson,
        Fault::TooManyRequests {
            retry_after_secs: 3,
        },
    ] {
        harness.simulator().faults().inject(fault, 1);
        run(harness
            .call(&Request::UsageData {
                service: svc.clone(),
            })
            .await);
    }
    run(harness
        .call(&Request::Terminate {
            service: svc.clone(),
        })
        .await);

    let logs = capture.text();
    assert!(
        logs.contains("call succeeded"),
        "the capture saw the host's log"
    );
    assert!(answers.len() > 10);
    for secret in [API_KEY, first_password.as_str(), second_password.as_str()] {
        assert!(!logs.contains(secret), "a secret appeared in the log");
        for answer in &answers {
            assert!(
                !answer.contains(secret),
                "a secret appeared in an answer: {answer}"
            );
        }
    }
}
