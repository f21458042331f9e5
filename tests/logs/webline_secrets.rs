//! Webline's one-time credentials reach the caller and nothing else: the
//! generated password and the API key appear in no log line (captured at
//! trace level, every crate) and no error message, while the created
//! account hands the password over.
//!
//! One test in its own binary: the log capture is process-wide.

use std::time::Duration;

use provisioning_host::Request;
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::webline::{API_KEY, Provisioning};
use provisioning_test_support::log_capture::LogCapture;
use provisioning_test_support::webline::{Harness, created, service, setting};

#[tokio::test(flavor = "multi_thread")]
async fn generated_credentials_reach_the_caller_and_no_log() {
    let capture = LogCapture::install();

    let harness = Harness::start().await;
    let sim = harness.simulator();
    let mut errors = Vec::new();

    // A pending account, waited for; then one whose status poll fails.
    sim.set_provisioning(Provisioning::After(Duration::from_millis(800)));
    let first = created(
        harness
            .host
            .call_with(
                "webline",
                &Request::CreateAccount {
                    service: service("first.co.tz", "1"),
                },
                &[setting("activation-wait-seconds", "3")],
            )
            .await,
    );
    sim.faults().inject(Fault::Slow(Duration::ZERO), 1);
    sim.faults().inject(Fault::ServerErrorJson, 1);
    let second = created(
        harness
            .call(&Request::CreateAccount {
                service: service("second.co.tz", "2"),
            })
            .await,
    );
    // Error paths: a duplicate, a wrong key, a fault.
    for result in [
        harness
            .call(&Request::CreateAccount {
                service: service("first.co.tz", "1"),
            })
            .await,
        provisioning_test_support::webline::host_configured_with(
            &harness.sandbox,
            "api-key",
            "wrong-key-1",
        )
        .await
        .call("webline", &Request::TestConnection)
        .await,
    ] {
        errors.push(format!("{:?}", result.unwrap_err()));
    }

    let mut passwords = Vec::new();
    for account in [&first, &second] {
        let id: u64 = account.remote_id.parse().unwrap();
        let record = sim.account(id).unwrap();
        let given = account
            .credentials
            .iter()
            .find(|c| c.name == "password")
            .unwrap();
        assert_eq!(given.value, record.password, "the caller got the password");
        assert!(!account.message.contains(&record.password));
        passwords.push(record.password);
    }

    let logs = capture.text();
    assert!(logs.contains("webline"), "the capture saw the calls");
    for secret in passwords.iter().map(String::as_str).chain([API_KEY]) {
        assert!(!logs.contains(secret), "a secret appeared in the log");
        for error in &errors {
            assert!(
                !error.contains(secret),
                "a secret appeared in an error: {error}"
            );
        }
    }
}
