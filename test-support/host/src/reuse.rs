//! What the tests of instance reuse share: the misbehaving module, whose
//! `usage-data` reports how many calls its instance served and the `tag`
//! of the call before, and a sync of its services.

use std::sync::Arc;
use std::time::Duration;

use provisioning_host::types::{Setting, Usage};
use provisioning_host::{
    Host, Limits, ModuleConfig, ReusePolicy, SyncOptions, UsageJob, UsageReport, UsageResult,
    sync_usage,
};

use crate::{bare_service, setting};

pub const DEADLINE: Duration = Duration::from_secs(2);
pub const MEMORY_CAP: usize = 32 << 20;

/// The misbehaving module, granted nothing, with `target-url` pointing at
/// `target` (for `ungranted-host`).
pub fn config(target: &str) -> ModuleConfig {
    ModuleConfig::new("misbehaving", provisioning_components::MISBEHAVING)
        .setting("behaviour", "remember")
        .setting("target-url", target)
        .limits(Limits {
            deadline: DEADLINE,
            memory_bytes: MEMORY_CAP,
            read_retries: 0,
            ..Limits::default()
        })
}

pub async fn host(target: &str) -> Arc<Host> {
    let host = crate::host();
    host.load(config(target)).await.expect("the module loads");
    Arc::new(host)
}

pub fn job(id: &str, settings: Vec<Setting>) -> UsageJob {
    UsageJob {
        module: "misbehaving".into(),
        service: bare_service(id),
        settings,
    }
}

pub fn tagged(id: &str, tag: &str) -> UsageJob {
    job(id, vec![setting("tag", tag)])
}

/// Runs the jobs one at a time (so that the order of calls is the order
/// given) or `concurrency` at once, and returns the reports by service id
/// order of completion.
pub async fn sync(
    host: &Arc<Host>,
    jobs: Vec<UsageJob>,
    reuse: Option<ReusePolicy>,
    concurrency: usize,
    mut between: impl FnMut(&UsageReport),
) -> Vec<UsageReport> {
    let options = SyncOptions {
        concurrency,
        reuse,
        ..SyncOptions::default()
    };
    let mut reports = Vec::new();
    sync_usage(host, jobs, &options, |report| {
        between(report);
        reports.push(report.clone());
    })
    .await;
    reports
}

pub fn usage(report: &UsageReport) -> &Usage {
    match &report.outcome {
        UsageResult::Ok(usage) => usage,
        UsageResult::Error(error) => panic!("{}: {error:?}", report.service_id),
    }
}

/// Calls the report's instance had served, this one included.
pub fn calls(report: &UsageReport) -> u32 {
    let usage = usage(report);
    let figure = usage.figures.iter().find(|f| f.name == "calls").unwrap();
    figure.used as u32
}

/// The tag of the call before in the report's instance ("" for none).
pub fn previous_tag(report: &UsageReport) -> String {
    usage(report)
        .figures
        .iter()
        .find_map(|f| f.name.strip_prefix("previous-tag:"))
        .expect("a previous-tag figure")
        .to_string()
}

pub fn calls_in_order(reports: &[UsageReport]) -> Vec<u32> {
    reports.iter().map(calls).collect()
}
