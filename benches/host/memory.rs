//! Item 5: resident memory each idle loaded module adds, and the largest
//! linear memory one call reaches against its cap.
//!
//! Runs first, in a process that has done little else, and averages over
//! many modules, so that heap the allocator kept from earlier work absorbs
//! little of what the modules add.

use provisioning_host::{CallOptions, Host, Limits};
use tokio::runtime::Runtime;

use crate::fixture::{self, Fixture, MODULE, SINGLE_SERVICE, usage_request};
use crate::scale::Scale;
use crate::summary::{Figure, Goal, Row, Summary};

/// The per-module target of the issue.
const IDLE_GOAL_BYTES: u64 = 5 << 20;

/// Measures and adds the memory rows.
pub fn run(rt: &Runtime, fixture: &Fixture, scale: &Scale, summary: &mut Summary) {
    let host = rt.block_on(fixture::loaded_host(fixture, fixture::options(true, true)));
    let idle = rt.block_on(idle_module_bytes(&host, fixture, scale.idle_modules));
    summary.push(Row {
        part: "5. memory",
        measure: format!(
            "RSS added per idle HostMeNow module ({} loaded, from the compile cache)",
            scale.idle_modules
        ),
        value: idle.map_or(Figure::Missing("no /proc/self/status"), Figure::Bytes),
        baseline: None,
        goal: Goal::AtMost(Figure::Bytes(IDLE_GOAL_BYTES)),
    });

    let peak = rt.block_on(call_peak_bytes(&host));
    let cap = Limits::default().memory_bytes as u64;
    summary.push(Row {
        part: "5. memory",
        measure: "peak linear memory of one usage-data call".into(),
        value: peak.map_or(Figure::Missing("the host reported no peak"), Figure::Bytes),
        baseline: Some(("the module's memory cap".into(), Figure::Bytes(cap))),
        goal: Goal::RatioAtMost(1.0),
    });
}

/// Loads `count` copies of HostMeNow under names of their own and divides
/// the resident memory they added by `count`. `None` when the system does
/// not tell resident memory.
async fn idle_module_bytes(host: &Host, fixture: &Fixture, count: usize) -> Option<u64> {
    // One load first, so that the baseline includes whatever the first
    // load of a component sets up once for the whole host.
    host.load(fixture.config("idle-warm-up"))
        .await
        .expect("the HostMeNow component loads");
    let before = resident_bytes()?;
    for i in 0..count {
        host.load(fixture.config(&format!("idle-{i}")))
            .await
            .expect("the HostMeNow component loads");
    }
    let after = resident_bytes()?;
    Some(after.saturating_sub(before) / count.max(1) as u64)
}

/// The largest linear memory the guest reached during one usage-data call.
async fn call_peak_bytes(host: &Host) -> Option<u64> {
    let answer = host
        .execute(
            MODULE,
            &usage_request(SINGLE_SERVICE),
            &CallOptions::default(),
        )
        .await;
    if let Err(error) = &answer.result {
        panic!(
            "usage-data through the component failed ({}): {error}",
            error.kind()
        );
    }
    answer.memory_peak_bytes
}

/// VmRSS of this process, from /proc/self/status.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
