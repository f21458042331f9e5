//! Guests that misbehave are stopped and reported, and the host keeps
//! serving: a trap, an endless loop, a memory bomb, a request to a host that
//! was not granted.

mod common;

use std::time::{Duration, Instant};

use common::{Harness, setting};
use provisioning_host::{CallError, Host, Limits, ModuleConfig, Request, Response};

const DEADLINE: Duration = Duration::from_secs(2);
const MEMORY_CAP: usize = 32 << 20;

async fn misbehaving_host(granted: &[String]) -> Host {
    let host = Host::new().unwrap();
    host.load(
        ModuleConfig::new("misbehaving", provisioning_components::MISBEHAVING)
            .allow_hosts(granted)
            .unwrap()
            .limits(Limits {
                deadline: DEADLINE,
                memory_bytes: MEMORY_CAP,
                ..Limits::default()
            }),
    )
    .await
    .expect("the misbehaving component loads");
    host
}

async fn behave(
    host: &Host,
    behaviour: &str,
    extra: &[provisioning_host::types::Setting],
) -> Result<Response, CallError> {
    let mut settings = vec![setting("behaviour", behaviour)];
    settings.extend_from_slice(extra);
    host.call_with("misbehaving", &Request::TestConnection, &settings)
        .await
}

/// After whatever happened, the same module still answers.
async fn still_serves(host: &Host) {
    behave(host, "ok", &[])
        .await
        .expect("the module answers the next call");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_is_reported_as_a_trap() {
    let host = misbehaving_host(&[]).await;
    let result = behave(&host, "trap", &[]).await;
    assert!(
        matches!(&result, Err(CallError::Trap { module, .. }) if module == "misbehaving"),
        "{result:?}"
    );
    still_serves(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_loop_is_stopped_at_the_deadline() {
    let host = misbehaving_host(&[]).await;
    let started = Instant::now();
    let result = behave(&host, "loop", &[]).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(CallError::DeadlineExceeded { .. })),
        "{result:?}"
    );
    assert!(elapsed >= DEADLINE, "stopped early: {elapsed:?}");
    assert!(
        elapsed < DEADLINE + Duration::from_secs(1),
        "stopped late: {elapsed:?}"
    );
    still_serves(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_bomb_is_stopped_at_the_cap() {
    let host = misbehaving_host(&[]).await;
    let result = behave(&host, "memory", &[]).await;
    assert!(
        matches!(result, Err(CallError::MemoryExhausted { cap_bytes, .. }) if cap_bytes == MEMORY_CAP),
        "{result:?}"
    );
    still_serves(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_to_an_ungranted_host_is_denied_inside_the_guest() {
    let harness = Harness::hostmenow().await;
    // The guest is granted nothing; the simulator is right there on loopback.
    let host = misbehaving_host(&[]).await;
    let target = harness.simulator().endpoint();
    let result = behave(&host, "ungranted-host", &[setting("target-url", &target)]).await;
    match &result {
        Err(CallError::Module { error, .. }) => {
            assert_eq!(provisioning_host::error_kind(error), "transport");
            assert!(
                provisioning_host::error_message(error).contains("denied"),
                "{error:?}"
            );
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert!(
        harness.simulator().requests().is_empty(),
        "nothing reached the simulator"
    );
    still_serves(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaving_calls_do_not_disturb_good_calls_running_beside_them() {
    let harness = std::sync::Arc::new(Harness::hostmenow().await);
    let bad = std::sync::Arc::new(misbehaving_host(&[]).await);
    let mut tasks = Vec::new();
    for behaviour in ["trap", "loop", "memory"] {
        let bad = bad.clone();
        tasks.push(tokio::spawn(async move {
            assert!(behave(&bad, behaviour, &[]).await.is_err());
        }));
    }
    for _ in 0..5 {
        let harness = harness.clone();
        tasks.push(tokio::spawn(async move {
            harness
                .call(&Request::TestConnection)
                .await
                .expect("good call succeeds");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_that_is_not_a_provider_module_is_refused_at_load() {
    let host = Host::new().unwrap();
    let path = std::env::temp_dir().join(format!("not-a-component-{}.wasm", std::process::id()));
    std::fs::write(&path, b"\0asm garbage").unwrap();
    let error = host
        .load(ModuleConfig::new("broken", &path))
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("broken"), "{error:#}");
    assert!(host.module("broken").is_none());
}
