//! Bad input, the provider's documented errors, its limits and its
//! misbehaviours: every one a typed error (never a panic, a hang or a fake
//! success), and once the provider has created an account its one-time
//! credentials reach the caller whatever happens next.

use std::time::Duration;

use provisioning_host::Request;
use provisioning_host::types::{Error as ModuleError, RateLimit, ServiceState};
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::webline::{AccountStatus, STARTING_CREDIT_TZS};
use provisioning_test_support::webline::{
    Harness, created, error_kind, host_configured_with, service,
};

fn create(domain: &str, package: &str) -> Request {
    Request::CreateAccount {
        service: service(domain, package),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_api_key_is_an_auth_failure() {
    let harness = Harness::start().await;
    let result = host_configured_with(&harness.sandbox, "api-key", "not-the-key")
        .await
        .call("webline", &Request::TestConnection)
        .await;
    assert_eq!(error_kind(&result), "auth-failed");
    assert!(!result.unwrap_err().to_string().contains("not-the-key"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_missing_what_the_provider_requires_is_refused_before_sending() {
    let harness = Harness::start().await;
    let mut no_phone = service("a.co.tz", "1");
    no_phone.client.as_mut().unwrap().phone = None;
    let mut no_package = service("a.co.tz", "1");
    no_package.package = None;
    let mut bad_package = service("a.co.tz", "1");
    bad_package.package = Some("basic".into());
    for svc in [no_phone, no_package, bad_package] {
        let result = harness.call(&Request::CreateAccount { service: svc }).await;
        assert_eq!(error_kind(&result), "invalid-input");
    }
    let no_remote = harness
        .call(&Request::ServiceStatus {
            service: service("a.co.tz", "1"),
        })
        .await;
    assert_eq!(error_kind(&no_remote), "invalid-input");
    assert!(harness.simulator().requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documented_messages_map_to_their_kinds() {
    let harness = Harness::start().await;
    let sim = harness.simulator();
    // "Invalid hosting package", "Invalid domain name format".
    assert_eq!(
        error_kind(&harness.call(&create("a.co.tz", "99")).await),
        "invalid-input"
    );
    assert_eq!(
        error_kind(&harness.call(&create("not_a_domain", "1")).await),
        "invalid-input"
    );
    // "Account not found".
    let mut ghost = service("ghost.co.tz", "1");
    ghost.remote_id = Some("999".into());
    let result = harness
        .call(&Request::ServiceStatus { service: ghost })
        .await;
    assert_eq!(error_kind(&result), "not-found");
    // "Insufficient credit balance" with the amounts.
    sim.set_credit(1000);
    let result = harness.call(&create("poor.co.tz", "1")).await;
    assert_eq!(error_kind(&result), "insufficient-funds");
    assert!(result.unwrap_err().to_string().contains("Required: 25000"));
    assert!(sim.accounts().is_empty());
    assert_eq!(sim.credit(), 1000);
    // A domain already hosted.
    sim.set_credit(STARTING_CREDIT_TZS);
    created(harness.call(&create("twice.co.tz", "1")).await);
    let result = harness.call(&create("twice.co.tz", "1")).await;
    assert_eq!(error_kind(&result), "already-exists");
    assert_eq!(sim.accounts().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_providers_rate_limit_the_call_is_rate_limited_with_retry_after() {
    let harness = Harness::start().await;
    harness
        .simulator()
        .set_rate_limit(2, Duration::from_secs(60));
    harness.call(&Request::TestConnection).await.unwrap();
    harness.call(&Request::ListPackages).await.unwrap();
    let result = harness.call(&Request::TestConnection).await;
    match result.as_ref().map_err(|e| e.module_error()) {
        Err(Some(ModuleError::RateLimited(RateLimit {
            retry_after_seconds: Some(wait),
            ..
        }))) => assert!((55..=60).contains(wait), "{wait}"),
        other => panic!("expected rate-limited with Retry-After, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaving_answers_are_typed_errors_and_change_nothing() {
    let harness = Harness::start().await;
    let sim = harness.simulator();
    for (fault, kind) in [
        (Fault::HtmlOk, "bad-response"),
        (Fault::EmptyBody, "bad-response"),
        (Fault::TruncatedJson, "bad-response"),
        (Fault::ServerErrorHtml, "provider"),
        (Fault::ServerErrorJson, "provider"),
        (
            Fault::TooManyRequests {
                retry_after_secs: 7,
            },
            "rate-limited",
        ),
    ] {
        sim.faults().inject(fault.clone(), 1);
        let result = harness.call(&create("faulty.co.tz", "1")).await;
        assert_eq!(error_kind(&result), kind, "{fault:?}");
    }
    assert!(sim.accounts().is_empty());
    assert_eq!(sim.credit(), STARTING_CREDIT_TZS);
    // And the module answers the next call.
    created(harness.call(&create("faulty.co.tz", "1")).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_survive_a_failed_status_check_after_creation() {
    let harness = Harness::start().await;
    let sim = harness.simulator();
    // The create call goes through; the status poll that follows fails.
    sim.faults().inject(Fault::Slow(Duration::ZERO), 1);
    sim.faults().inject(Fault::ServerErrorHtml, 1);
    let account = created(harness.call(&create("kept.co.tz", "1")).await);
    let id: u64 = account.remote_id.parse().unwrap();
    let record = sim.account(id).unwrap();
    assert_eq!(account.status, ServiceState::Unknown);
    assert!(
        account.message.contains("could not be read"),
        "{}",
        account.message
    );
    let password = account.credentials.iter().find(|c| c.name == "password");
    assert_eq!(
        password.map(|c| c.value.as_str()),
        Some(record.password.as_str())
    );

    // The same when the poll runs into the rate limit.
    sim.set_rate_limit(sim.requests().len() + 1, Duration::from_secs(300));
    let account = created(harness.call(&create("limited.co.tz", "1")).await);
    assert_eq!(account.status, ServiceState::Unknown);
    assert!(account.message.contains("429"), "{}", account.message);
    let id: u64 = account.remote_id.parse().unwrap();
    assert_eq!(
        account
            .credentials
            .iter()
            .find(|c| c.name == "password")
            .unwrap()
            .value,
        sim.account(id).unwrap().password
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_survive_an_answer_without_account_id() {
    let harness = Harness::start().await;
    let sim = harness.simulator();
    sim.omit_account_id_once();
    let account = created(harness.call(&create("noid.co.tz", "3")).await);
    // The id is found again by domain, and the credentials are all there.
    let record = sim.accounts().pop().unwrap();
    assert_eq!(account.remote_id, record.id.to_string());
    assert_eq!(account.status, ServiceState::Active);
    assert_eq!(record.status, AccountStatus::Active);
    let values: Vec<&str> = account
        .credentials
        .iter()
        .map(|c| c.value.as_str())
        .collect();
    assert_eq!(values, [record.username.as_str(), record.password.as_str()]);
}
