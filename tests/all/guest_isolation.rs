//! Guests that misbehave are stopped and reported, and the host keeps
//! serving: a trap, an endless loop, a memory bomb, a request to a host that
//! was not granted, a flood of log output, a huge answer, a raw socket
//! (linked with nothing granted); and a component that imports what the
//! host does not list is refused at load.

use std::time::{Duration, Instant};

use provisioning_host::{CallError, Host, Limits, ModuleConfig, Request, Response};
use provisioning_test_support::{Harness, setting};

const DEADLINE: Duration = Duration::from_secs(2);
const MEMORY_CAP: usize = 32 << 20;

async fn misbehaving_host(granted: &[String]) -> Host {
    let host = provisioning_test_support::host();
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
async fn a_flood_of_log_output_is_stopped_with_output_exceeded() {
    let host = misbehaving_host(&[]).await;
    let started = Instant::now();
    let result = behave(&host, "flood-log", &[]).await;
    assert!(
        matches!(&result, Err(CallError::OutputExceeded { module, cap_bytes })
            if module == "misbehaving" && *cap_bytes == Limits::default().output_bytes),
        "{result:?}"
    );
    assert!(
        started.elapsed() < DEADLINE,
        "stopped by the cap, not the deadline"
    );
    still_serves(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_answer_is_refused_with_result_too_large() {
    let host = misbehaving_host(&[]).await;
    let result = behave(&host, "huge-result", &[]).await;
    match &result {
        Err(CallError::ResultTooLarge {
            module,
            bytes,
            cap_bytes,
        }) => {
            assert_eq!(module, "misbehaving");
            assert_eq!(*cap_bytes, Limits::default().result_bytes);
            assert!(bytes > cap_bytes, "{bytes} <= {cap_bytes}");
        }
        other => panic!("expected result-too-large, got {other:?}"),
    }
    still_serves(&host).await;
}

/// `wasi:sockets` is linked with nothing granted: a module that opens a
/// TCP socket loads, and its attempt fails inside the guest (answered
/// `transport`) without reaching the loopback listener it aims at.
#[tokio::test(flavor = "multi_thread")]
async fn a_module_opening_a_socket_loads_and_its_attempt_reaches_nothing() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let host = provisioning_test_support::host();
    let loaded = host
        .load(ModuleConfig::new(
            "overreaching",
            provisioning_components::OVERREACHING,
        ))
        .await
        .expect("a module importing sockets loads");
    assert!(
        loaded
            .imports()
            .iter()
            .any(|import| import.starts_with("wasi:sockets/tcp@")),
        "the module does import sockets: {:?}",
        loaded.imports()
    );

    let result = host
        .call_with(
            "overreaching",
            &Request::TestConnection,
            &[setting("target-address", &target)],
        )
        .await;
    match &result {
        Err(CallError::Module { error, .. }) => {
            assert_eq!(
                provisioning_host::error_kind(error),
                "transport",
                "{error:?}"
            );
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    // A connection the kernel completed would wait here to be accepted.
    match listener.accept() {
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the listener saw a connection: {other:?}"),
    }
}

/// An interface the host does not list (here `wasi:keyvalue`) is still
/// refused at load, named, and before anything is compiled.
#[tokio::test(flavor = "multi_thread")]
async fn a_component_importing_what_is_not_granted_is_refused_before_it_is_compiled() {
    let bytes = provisioning_test_support::component_importing_uncompilable(
        "wasi:keyvalue/store@0.2.0-draft",
    );
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("keyvalue-invalid.wasm");
    std::fs::write(&path, &bytes).unwrap();

    let host = provisioning_test_support::host();
    let error = host
        .load(ModuleConfig::new("keyvalue", &path))
        .await
        .unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("keyvalue"), "{message}");
    assert!(
        message.contains("does not grant") && message.contains("wasi:keyvalue/store"),
        "refused for its imports, not at compiling: {message}"
    );
    assert!(host.module("keyvalue").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaving_calls_do_not_disturb_good_calls_running_beside_them() {
    let harness = std::sync::Arc::new(Harness::hostmenow().await);
    let target = harness.simulator().endpoint();
    let bad = std::sync::Arc::new(misbehaving_host(&[]).await);
    let mut tasks = Vec::new();
    let expectations = [
        ("trap", "trap"),
        ("loop", "deadline-exceeded"),
        ("memory", "memory-exhausted"),
        ("ungranted-host", "transport"),
        ("flood-log", "output-exceeded"),
        ("huge-result", "result-too-large"),
    ];
    for (behaviour, kind) in expectations {
        let bad = bad.clone();
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let result = behave(&bad, behaviour, &[setting("target-url", &target)]).await;
            match result {
                Err(error) => {
                    assert_eq!(error.kind(), kind, "{behaviour}: {error}");
                    assert!(error.to_string().contains("misbehaving"), "{error}");
                }
                Ok(answer) => panic!("{behaviour} answered {answer:?}"),
            }
        }));
    }
    for _ in 0..12 {
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
    assert_eq!(
        harness.simulator().requests().len(),
        12,
        "only the good calls reached the simulator; the ungranted one was stopped at the host"
    );
    still_serves(&bad).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_that_is_not_a_provider_module_is_refused_at_load() {
    let host = provisioning_test_support::host();
    let path = std::env::temp_dir().join(format!("not-a-component-{}.wasm", std::process::id()));
    std::fs::write(&path, b"\0asm garbage").unwrap();
    let error = host
        .load(ModuleConfig::new("broken", &path))
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("broken"), "{error:#}");
    assert!(host.module("broken").is_none());
}

/// Guests computing without end on every guest thread (four to each) take
/// nothing from the caller's threads, and the host's other calls go on
/// beside them: each guest yields its thread at every epoch tick.
#[tokio::test(flavor = "current_thread")]
async fn looping_guests_leave_the_callers_thread_and_other_calls_running() {
    let sandbox = provisioning_sandbox::Sandbox::start().await.unwrap();
    let host = std::sync::Arc::new(
        Host::with_options(provisioning_host::HostOptions {
            guest_threads: 1,
            ..provisioning_host::HostOptions::default()
        })
        .unwrap(),
    );
    let spin_for = Duration::from_secs(6);
    host.load(
        ModuleConfig::new("misbehaving", provisioning_components::MISBEHAVING).limits(Limits {
            deadline: spin_for,
            ..Limits::default()
        }),
    )
    .await
    .unwrap();
    host.load(provisioning_test_support::hostmenow_config(
        &sandbox,
        "hostmenow",
    ))
    .await
    .unwrap();
    let started = Instant::now();
    let loops: Vec<_> = (0..4)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(async move {
                host.call_with(
                    "misbehaving",
                    &Request::TestConnection,
                    &[setting("behaviour", "loop")],
                )
                .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // This test's own (single) thread: a timer comes on time.
    let mut worst_tick = Duration::ZERO;
    for _ in 0..20 {
        let asked = Instant::now();
        tokio::time::sleep(Duration::from_millis(10)).await;
        worst_tick = worst_tick.max(asked.elapsed());
    }
    assert!(
        worst_tick < Duration::from_millis(60),
        "a 10 ms timer on the caller's thread took {worst_tick:?}"
    );
    // Another module's call, on the guest thread the loops share.
    let beside = Instant::now();
    host.call("hostmenow", &Request::TestConnection)
        .await
        .expect("the call beside the loops succeeds");
    assert!(
        beside.elapsed() < Duration::from_secs(2),
        "the call beside four looping guests took {:?}",
        beside.elapsed()
    );
    for looping in loops {
        let error = looping.await.unwrap().unwrap_err();
        assert_eq!(error.kind(), "deadline-exceeded", "{error}");
    }
    assert!(
        started.elapsed() < spin_for + Duration::from_secs(2),
        "the loops were stopped at their deadline ({:?})",
        started.elapsed()
    );
}
