//! Two hundred calls at once to the HostMeNow module written in Python
//! (whose instance holds 17 core instances, against Rust's 3) and in
//! JavaScript all answer: the pooling allocator has room for that many
//! instances of them, and each call gets a fresh one.

use std::sync::Arc;
use std::time::Duration;

use provisioning_host::{Limits, Request, Response};
use provisioning_sandbox::Sandbox;
use provisioning_test_support::{hostmenow_config_of, service};

/// Calls at once: beyond the default pool's load headroom, within its
/// call bound.
const CONCURRENT_CALLS: usize = 200;

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_calls_at_once_to_the_python_module_all_answer() {
    all_answer(provisioning_polyglot_components::HOSTMENOW_PY).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_calls_at_once_to_the_javascript_module_all_answer() {
    all_answer(provisioning_polyglot_components::HOSTMENOW_JS).await;
}

async fn all_answer(component: &str) {
    let sandbox = Sandbox::start().await.expect("sandbox starts");
    for n in 0..CONCURRENT_CALLS {
        assert!(sandbox.hostmenow().seed_service(
            &format!("many-{n}"),
            &format!("many-{n}.example.com"),
            &format!("many{n}"),
            "Secret-Passw0rd",
            "101",
        ));
    }
    let host = Arc::new(provisioning_test_support::host());
    // Two hundred guests share two cores here: the deadline is the
    // queue's, not one call's.
    let config = hostmenow_config_of(&sandbox, "hostmenow", component).limits(Limits {
        deadline: Duration::from_secs(120),
        ..Limits::default()
    });
    provisioning_test_support::load_in_turn(&host, config)
        .await
        .expect("the module loads");
    let calls: Vec<_> = (0..CONCURRENT_CALLS)
        .map(|n| {
            let host = host.clone();
            tokio::spawn(async move {
                host.call(
                    "hostmenow",
                    &Request::UsageData {
                        service: service(&format!("many-{n}")),
                    },
                )
                .await
            })
        })
        .collect();
    for call in calls {
        let answer = call.await.expect("the task ran");
        assert!(
            matches!(answer, Ok(Response::Usage(_))),
            "a call failed: {answer:?}"
        );
    }
    assert_eq!(
        sandbox.hostmenow().requests().len(),
        CONCURRENT_CALLS,
        "every call reached the provider once"
    );
}
