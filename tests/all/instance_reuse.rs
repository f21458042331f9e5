//! Opt-in instance reuse for bulk reads (`SyncOptions::reuse`), through the
//! real misbehaving component in real wasmtime: its `usage-data` reports
//! how many calls its instance has served and the `tag` setting of the
//! call before, and does what the service's id names (`trap/3`), so that a
//! run of reads with the same settings can go wrong half-way.
//!
//! What must hold: reads with the same settings share an instance, at
//! most `max_calls` each; state an instance keeps never reaches a call
//! with other settings; a swap, a password or a secret setting of the
//! call's own means a fresh instance; an instance is thrown away after a
//! trap, the deadline, the memory cap, the output cap, a result too large,
//! a denied request or unusual memory growth.

use provisioning_host::{ReusePolicy, UsageJob};
use provisioning_sandbox::Sandbox;
use provisioning_test_support::reuse::{
    calls, calls_in_order, config, host, job, previous_tag, sync, tagged,
};
use provisioning_test_support::setting;

#[tokio::test(flavor = "multi_thread")]
async fn reads_with_the_same_settings_share_an_instance_up_to_max_calls() {
    let host = host("http://127.0.0.1:9").await;
    let jobs = || (0..10).map(|i| tagged(&format!("s-{i}"), "a")).collect();

    let fresh = sync(&host, jobs(), None, 1, |_| {}).await;
    assert_eq!(
        calls_in_order(&fresh),
        [1; 10],
        "off: a fresh instance each"
    );

    let reused = sync(&host, jobs(), Some(ReusePolicy::new(4)), 1, |_| {}).await;
    assert_eq!(
        calls_in_order(&reused),
        [1, 2, 3, 4, 1, 2, 3, 4, 1, 2],
        "at most four calls per instance"
    );
    // The next run starts afresh: a run's instances end with it.
    let next = sync(&host, jobs(), Some(ReusePolicy::new(4)), 1, |_| {}).await;
    assert_eq!(calls(&next[0]), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn state_kept_in_a_reused_instance_never_reaches_a_call_with_other_settings() {
    let host = host("http://127.0.0.1:9").await;
    // One at a time, three tenants in turns of three services (a run keeps
    // at most one instance per call in flight: one here, which the next
    // tenant's first call replaces); four at a time, interleaved.
    for (concurrency, tenant) in [(1, 3), (4, 1)] {
        let jobs: Vec<UsageJob> = (0..60)
            .map(|i| tagged(&format!("s-{i}"), ["a", "b", "c"][i / tenant % 3]))
            .collect();
        let tags: std::collections::HashMap<String, String> = jobs
            .iter()
            .map(|j| (j.service.service_id.clone(), j.settings[0].value.clone()))
            .collect();
        let reports = sync(&host, jobs, Some(ReusePolicy::new(8)), concurrency, |_| {}).await;
        assert_eq!(reports.len(), 60);
        let mut reused = 0;
        for report in &reports {
            let own = &tags[&report.service_id];
            let previous = previous_tag(report);
            if calls(report) == 1 {
                assert_eq!(previous, "", "a fresh instance remembers nothing");
            } else {
                reused += 1;
                assert_eq!(
                    &previous, own,
                    "{}: tenant {own}'s call saw what tenant {previous}'s call left (concurrency {concurrency})",
                    report.service_id
                );
            }
        }
        eprintln!("concurrency {concurrency}: {reused} of 60 calls in a reused instance");
        assert!(
            reused >= 20,
            "instances were reused ({reused} of 60 at concurrency {concurrency})"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_is_thrown_away_after_anything_unusual() {
    let sandbox = Sandbox::start().await.expect("sandbox starts");
    let target = sandbox.hostmenow().endpoint();
    let host = host(&target).await;
    // (behaviour of the third call, its error kind, whether the fourth
    // call still finds the instance of the first two).
    let cases = [
        ("ok", "ok", true),
        ("trap", "trap", false),
        ("loop", "deadline-exceeded", false),
        ("memory", "memory-exhausted", false),
        ("flood-log", "output-exceeded", false),
        ("huge-result", "result-too-large", false),
        ("ungranted-host", "transport", false),
        // Succeeds, but its memory grew far past the first call's.
        ("grow", "ok", false),
    ];
    for (behaviour, kind, kept) in cases {
        let jobs = vec![
            tagged("remember/1", "a"),
            tagged("remember/2", "a"),
            tagged(&format!("{behaviour}/3"), "a"),
            tagged("remember/4", "a"),
        ];
        let reports = sync(&host, jobs, Some(ReusePolicy::default()), 1, |_| {}).await;
        assert_eq!(calls(&reports[0]), 1, "{behaviour}");
        assert_eq!(calls(&reports[1]), 2, "{behaviour}");
        assert_eq!(reports[2].kind(), kind, "{behaviour}: {:?}", reports[2]);
        let expected = if kept { 4 } else { 1 };
        assert_eq!(
            calls(&reports[3]),
            expected,
            "after `{behaviour}` the instance was {}",
            if kept { "kept" } else { "thrown away" }
        );
        if !kept {
            assert_eq!(previous_tag(&reports[3]), "", "{behaviour}");
        }
    }
    assert!(
        sandbox.hostmenow().requests().is_empty(),
        "the ungranted request reached nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_or_a_secret_setting_of_the_call_gets_a_fresh_instance() {
    let host = host("http://127.0.0.1:9").await;
    let with_password = (0..4)
        .map(|i| {
            let mut job = tagged(&format!("s-{i}"), "a");
            job.service.password = Some("Pw-never-shared-1".into());
            job
        })
        .collect();
    let reports = sync(
        &host,
        with_password,
        Some(ReusePolicy::default()),
        1,
        |_| {},
    )
    .await;
    assert_eq!(calls_in_order(&reports), [1; 4], "a password: fresh");

    let with_secret = (0..4)
        .map(|i| {
            job(
                &format!("s-{i}"),
                vec![setting("tag", "a"), setting("token", "tok-never-shared")],
            )
        })
        .collect();
    let reports = sync(&host, with_secret, Some(ReusePolicy::default()), 1, |_| {}).await;
    assert_eq!(calls_in_order(&reports), [1; 4], "a secret setting: fresh");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_swap_retires_the_old_versions_instances() {
    let host = host("http://127.0.0.1:9").await;
    let next_version = host
        .prepare(config("http://127.0.0.1:9"))
        .await
        .expect("the new version prepares");
    let jobs = (0..5).map(|i| tagged(&format!("s-{i}"), "a")).collect();
    let mut seen = 0;
    let reports = sync(&host, jobs, Some(ReusePolicy::default()), 1, |_| {
        seen += 1;
        if seen == 2 {
            host.install(next_version.clone()).expect("swapped in");
        }
    })
    .await;
    assert_eq!(
        calls_in_order(&reports),
        [1, 2, 1, 2, 3],
        "the new version starts with a fresh instance"
    );
}
