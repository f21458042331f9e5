//! Bad input and bad answers: every one a typed error, none a panic or a
//! hang, and the host answers the next call.

use std::time::{Duration, Instant};

use provisioning_host::types::Error as ModuleError;
use provisioning_host::{CallError, Limits, Request};
use provisioning_sandbox::fault::Fault;
use provisioning_test_support::{Harness, TEST_DEADLINE, error_kind, service};

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_api_key_is_an_auth_failure() {
    let harness = Harness::hostmenow().await;
    let result = configured_with(&harness, "api-key", "not-the-key")
        .await
        .call("hostmenow", &Request::TestConnection)
        .await;
    assert_eq!(error_kind(&result), "auth-failed");
}

/// A host with HostMeNow on the harness's simulator, its configured
/// `name` set to `value` (a server setting is the operator's: a call
/// cannot bring its own).
async fn configured_with(harness: &Harness, name: &str, value: &str) -> provisioning_host::Host {
    let host = provisioning_test_support::host();
    host.load(
        provisioning_test_support::hostmenow_config(&harness.sandbox, "hostmenow")
            .setting(name, value),
    )
    .await
    .unwrap();
    host
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_ip_is_an_auth_failure_that_says_so() {
    let harness = Harness::hostmenow().await;
    harness.simulator().set_ip_whitelisted(false);
    let result = harness.call(&Request::TestConnection).await;
    assert_eq!(error_kind(&result), "auth-failed");
    let message = result.unwrap_err().to_string().to_lowercase();
    assert!(message.contains("whitelist"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_permission_is_an_auth_failure() {
    let harness = Harness::hostmenow().await;
    harness.simulator().deny_permission("SuspendAccount");
    harness
        .call(&Request::CreateAccount {
            service: service("perm-1"),
        })
        .await
        .unwrap();
    let result = harness
        .call(&Request::Suspend {
            service: service("perm-1"),
            reason: None,
        })
        .await;
    assert_eq!(error_kind(&result), "auth-failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_service_is_not_found() {
    let harness = Harness::hostmenow().await;
    for request in [
        Request::Suspend {
            service: service("ghost"),
            reason: None,
        },
        Request::Unsuspend {
            service: service("ghost"),
        },
        Request::Terminate {
            service: service("ghost"),
        },
        Request::UsageData {
            service: service("ghost"),
        },
        Request::ChangePassword {
            service: service("ghost"),
            new_password: "Whatever-1".into(),
        },
    ] {
        let result = harness.call(&request).await;
        assert_eq!(error_kind(&result), "not-found", "{:?}", request.function());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_required_setting_is_refused_before_the_guest_runs() {
    let harness = Harness::hostmenow().await;
    let result = configured_with(&harness, "api-key", "")
        .await
        .call("hostmenow", &Request::TestConnection)
        .await;
    assert_eq!(error_kind(&result), "invalid-config");
    assert!(result.unwrap_err().to_string().contains("api-key"));
    assert!(
        harness.simulator().requests().is_empty(),
        "nothing reached the provider"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_endpoint_is_invalid_config() {
    let harness = Harness::hostmenow().await;
    let result = configured_with(&harness, "endpoint", "not a url")
        .await
        .call("hostmenow", &Request::TestConnection)
        .await;
    assert_eq!(error_kind(&result), "invalid-config");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_missing_what_create_needs_is_invalid_input() {
    let harness = Harness::hostmenow().await;
    for field in ["domain", "username", "password", "package", "billing_cycle"] {
        let mut svc = service("incomplete");
        match field {
            "domain" => svc.domain = None,
            "username" => svc.username = None,
            "password" => svc.password = None,
            "package" => svc.package = None,
            _ => svc.billing_cycle = None,
        }
        let result = harness.call(&Request::CreateAccount { service: svc }).await;
        assert_eq!(error_kind(&result), "invalid-input", "without {field}");
    }
    assert!(harness.simulator().service("incomplete").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_product_and_an_empty_purse_are_typed() {
    let harness = Harness::hostmenow().await;
    let mut svc = service("prod-1");
    svc.package = Some("999".into());
    let result = harness.call(&Request::CreateAccount { service: svc }).await;
    assert_eq!(error_kind(&result), "invalid-input");

    harness.simulator().set_credit(0.0);
    let result = harness
        .call(&Request::CreateAccount {
            service: service("poor-1"),
        })
        .await;
    assert_eq!(error_kind(&result), "insufficient-funds");
    assert!(harness.simulator().service("poor-1").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn creating_the_same_service_twice_is_refused() {
    let harness = Harness::hostmenow().await;
    harness
        .call(&Request::CreateAccount {
            service: service("twice"),
        })
        .await
        .unwrap();
    let result = harness
        .call(&Request::CreateAccount {
            service: service("twice"),
        })
        .await;
    assert!(
        result.is_err(),
        "a second create of the same service must not succeed"
    );
}

/// Each fault the simulator can inject, the error kind it must become.
fn faults() -> Vec<(Fault, &'static str)> {
    vec![
        (Fault::ServerErrorJson, "provider"),
        (Fault::ServerErrorHtml, "provider"),
        (Fault::HtmlOk, "bad-response"),
        (Fault::EmptyBody, "bad-response"),
        (Fault::TruncatedJson, "bad-response"),
        (
            Fault::TooManyRequests {
                retry_after_secs: 7,
            },
            "rate-limited",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_misbehaving_answer_is_a_typed_error_and_the_next_call_succeeds() {
    let harness = Harness::hostmenow().await;
    for (fault, expected) in faults() {
        // A safe read is tried again, so the fault stays for every attempt.
        let attempts = Limits::default().read_retries as usize + 1;
        harness.simulator().faults().inject(fault.clone(), attempts);
        let result = harness.call(&Request::TestConnection).await;
        harness.simulator().faults().clear();
        assert_eq!(error_kind(&result), expected, "{fault:?}");
        if let Fault::TooManyRequests { retry_after_secs } = fault {
            match result {
                Err(CallError::Module {
                    error: ModuleError::RateLimited(limit),
                    ..
                }) => {
                    assert_eq!(limit.retry_after_seconds, Some(retry_after_secs))
                }
                other => panic!("expected rate-limited, got {other:?}"),
            }
        }
        harness
            .call(&Request::TestConnection)
            .await
            .unwrap_or_else(|e| panic!("the call after {fault:?} failed: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_safe_read_is_tried_again_after_transient_failures() {
    let harness = Harness::hostmenow().await;
    let faults = harness.simulator().faults();
    faults.inject(Fault::ServerErrorJson, 1);
    faults.inject(Fault::HtmlOk, 1);
    harness
        .call(&Request::TestConnection)
        .await
        .expect("the third attempt succeeds");
    assert_eq!(faults.pending(), 0, "both faulted attempts were made");

    // Retry-After is honoured: the next attempt waits for it.
    faults.inject(
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
        1,
    );
    let started = Instant::now();
    harness
        .call(&Request::TestConnection)
        .await
        .expect("the attempt after the rate limit succeeds");
    assert!(started.elapsed() >= Duration::from_secs(1));

    // A Retry-After beyond the deadline is not waited for.
    faults.inject(
        Fault::TooManyRequests {
            retry_after_secs: 60,
        },
        1,
    );
    let started = Instant::now();
    let result = harness.call(&Request::TestConnection).await;
    assert_eq!(error_kind(&result), "rate-limited");
    assert!(started.elapsed() < TEST_DEADLINE);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mutating_call_is_never_tried_again() {
    let harness = Harness::hostmenow().await;
    harness
        .call(&Request::CreateAccount {
            service: service("once-1"),
        })
        .await
        .unwrap();
    let faults = harness.simulator().faults();
    faults.inject(Fault::ServerErrorJson, 2);
    let result = harness
        .call(&Request::Suspend {
            service: service("once-1"),
            reason: None,
        })
        .await;
    assert_eq!(error_kind(&result), "provider");
    assert_eq!(faults.pending(), 1, "one attempt only");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fault_during_a_mutation_leaves_the_service_untouched() {
    let harness = Harness::hostmenow().await;
    harness
        .call(&Request::CreateAccount {
            service: service("mut-1"),
        })
        .await
        .unwrap();
    harness
        .simulator()
        .faults()
        .inject(Fault::ServerErrorHtml, 1);
    let result = harness
        .call(&Request::Suspend {
            service: service("mut-1"),
            reason: None,
        })
        .await;
    assert_eq!(error_kind(&result), "provider");
    assert_eq!(
        harness.simulator().service("mut-1").unwrap().status,
        provisioning_sandbox::hostmenow::ServiceStatus::Active
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_slower_than_the_deadline_times_out_within_it() {
    let harness = Harness::hostmenow().await;
    harness
        .simulator()
        .faults()
        .inject(Fault::Slow(TEST_DEADLINE + Duration::from_secs(5)), 1);
    let started = Instant::now();
    let result = harness.call(&Request::TestConnection).await;
    let elapsed = started.elapsed();
    let kind = error_kind(&result);
    assert!(kind == "timeout" || kind == "deadline-exceeded", "{kind}");
    assert!(
        elapsed < TEST_DEADLINE + Duration::from_secs(2),
        "answered after {elapsed:?}, deadline {TEST_DEADLINE:?}"
    );
    harness.call(&Request::TestConnection).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_connection_is_a_transport_error() {
    let harness = Harness::hostmenow().await;
    // A port bound and never listened on: connections are refused.
    let (_held, port) = provisioning_test_support::refused_port();
    let origin = format!("http://127.0.0.1:{port}");
    let host = provisioning_test_support::host();
    host.load(
        provisioning_test_support::hostmenow_config(&harness.sandbox, "closed")
            .allow_hosts(std::slice::from_ref(&origin))
            .unwrap()
            .setting("endpoint", format!("{origin}/api.php")),
    )
    .await
    .unwrap();
    let result = host.call("closed", &Request::TestConnection).await;
    assert_eq!(error_kind(&result), "transport");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_on_an_ungranted_origin_is_denied_by_the_host() {
    let harness = Harness::hostmenow().await;
    // Same simulator, reached through another name for the same address:
    // only the granted origin (127.0.0.1:port) may be used.
    let other = harness
        .simulator()
        .endpoint()
        .replace("127.0.0.1", "localhost");
    let result = configured_with(&harness, "endpoint", &other)
        .await
        .call("hostmenow", &Request::TestConnection)
        .await;
    assert_eq!(error_kind(&result), "transport");
    assert!(result.unwrap_err().to_string().contains("denied"));
    assert!(
        harness.simulator().requests().is_empty(),
        "nothing reached the provider"
    );
}
