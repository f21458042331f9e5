//! Each call of a reused instance logs only what it printed itself: the
//! instance's captured output is emptied between calls (and so each call
//! also gets the whole output cap). A binary of its own: it installs the
//! process's logger, which slows every guest's output.

use provisioning_host::ReusePolicy;
use provisioning_test_support::reuse::{calls_in_order, host, sync, tagged};

#[tokio::test(flavor = "multi_thread")]
async fn each_call_of_a_reused_instance_logs_only_its_own_output() {
    let logs = provisioning_test_support::log_capture::LogCapture::install();
    let host = host("http://127.0.0.1:9").await;
    let jobs = (1..=3)
        .map(|i| tagged(&format!("print/{i}"), "out"))
        .collect();
    let reports = sync(&host, jobs, Some(ReusePolicy::default()), 1, |_| {}).await;
    assert_eq!(
        calls_in_order(&reports),
        [1, 2, 3],
        "one instance served all three"
    );
    let text = logs.text();
    let count = |call: u32| {
        text.matches(&format!("printed tag=out call={call}"))
            .count()
    };
    assert!(count(1) > 0, "the guest's output is logged:\n{text}");
    assert_eq!(
        (count(2), count(3)),
        (count(1), count(1)),
        "each call logged its own line once, not the calls' before it again"
    );
}
