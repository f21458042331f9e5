//! `provisioning usage`: usage-data for many services at once (a billing
//! platform's nightly refresh), one JSON line per service on stdout as the
//! answers come, a summary on stderr, a progress bar only on a terminal.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use provisioning_host::{
    ErrorReport, Host, HostOptions, Manifest, SyncOptions, SyncSummary, UsageJob, UsageReport,
    UsageResult, live_services, sync_usage,
};
use serde_json::Value;

use crate::output::{errln, outln};

/// Arguments of `usage`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest that names the modules (and their rate limits).
    #[arg(long, short, default_value = "provisioning.toml")]
    manifest: PathBuf,
    /// The services, one JSON object a line:
    /// `{"module": "hostmenow", "service": {"service_id": "456", ...}}`
    /// (the contract's service record, snake_case).
    #[arg(long, required_unless_present = "from_journal")]
    services: Option<PathBuf>,
    /// Every live service the journal knows of: created and not terminated
    /// (needs the manifest's `[journal]`).
    #[arg(long, conflicts_with = "services")]
    from_journal: bool,
    /// Calls in flight at once, over every module.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,
    /// Calls at most per service: the first, plus one more after each
    /// final rate-limited answer.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    max_rounds: u32,
}

/// Reads every service's usage; exits 0 when every one was read, 1
/// otherwise.
pub async fn run(args: Args, options: HostOptions, json: bool) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::from_file(&args.manifest)?;
    let host = Host::from_manifest(&manifest, options)?;
    let jobs = match &args.services {
        Some(path) => read_services(path)?,
        None => {
            let journal = host
                .journal()
                .with_context(|| format!("{} has no [journal] section", args.manifest.display()))?;
            live_services(&journal.entries().await?)
        }
    };
    // Only the modules the services need; a service of one that does not
    // load gets an error line of its own, and the others are read.
    let mut failures = BTreeMap::new();
    let needed: BTreeSet<&str> = jobs.iter().map(|job| job.module.as_str()).collect();
    for name in needed {
        if !manifest.modules.contains_key(name) {
            continue; // the sync reports its services `unknown-module`
        }
        if let Err(failure) = host.load_from_manifest(&manifest, name).await {
            eprintln!("warning: {failure}");
            failures.insert(name.to_string(), failure);
        }
    }
    let (unloaded, jobs): (Vec<UsageJob>, Vec<UsageJob>) = jobs
        .into_iter()
        .partition(|job| failures.contains_key(&job.module));
    let options = SyncOptions {
        concurrency: usize::try_from(args.concurrency).unwrap_or(usize::MAX),
        max_rounds: args.max_rounds,
        ..SyncOptions::default()
    };

    let bar = progress_bar(jobs.len() as u64);
    let mut write_error = None;
    let unread: Vec<UsageReport> = unloaded
        .into_iter()
        .map(|job| {
            let failure = &failures[&job.module];
            UsageReport {
                module: job.module,
                service_id: job.service.service_id,
                outcome: UsageResult::Error(ErrorReport::new(
                    failure.kind.as_str(),
                    failure.message.clone(),
                )),
                attempts: 0,
                elapsed_ms: 0,
            }
        })
        .collect();
    for report in &unread {
        let line = serde_json::to_string(report).unwrap_or_default();
        if let Err(error) = outln!("{line}") {
            write_error.get_or_insert(error);
        }
    }
    let mut summary = sync_usage(&host, jobs, &options, |report| {
        // The bar steps aside while a line is printed, so that on a
        // terminal the two streams do not tear each other.
        bar.suspend(|| {
            let line = serde_json::to_string(report).unwrap_or_default();
            if let Err(error) = outln!("{line}") {
                write_error.get_or_insert(error);
            }
        });
        bar.inc(1);
    })
    .await;
    bar.finish_and_clear();
    for report in &unread {
        summary.services += 1;
        *summary
            .outcomes
            .entry(report.kind().to_string())
            .or_default() += 1;
    }
    if let Some(error) = write_error {
        return Err(error.context("writing the reports"));
    }
    print_summary(&summary, json);
    Ok(if summary.all_succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The jobs of a services file: one JSON object a line, blank lines
/// skipped. `custom_fields` may be left out.
fn read_services(path: &Path) -> anyhow::Result<Vec<UsageJob>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut jobs = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let job =
            parse_job(line).with_context(|| format!("{} line {}", path.display(), index + 1))?;
        jobs.push(job);
    }
    Ok(jobs)
}

fn parse_job(line: &str) -> anyhow::Result<UsageJob> {
    let value: Value = serde_json::from_str(line).context("not JSON")?;
    serde_json::from_value(value)
        .context("expected {\"module\": \"...\", \"service\": {\"service_id\": \"...\", ...}}")
}

/// A bar with rate and ETA on stderr when stderr is a terminal; a hidden
/// one otherwise, so that a piped or logged run holds only the lines.
fn progress_bar(services: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(services), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{wide_bar} {pos}/{len} services  {rate}  ETA {eta}  ({elapsed})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    // indicatif's own {per_sec} prints four decimals.
    .with_key(
        "rate",
        |state: &ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.1}/s", state.per_sec());
        },
    );
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// One line on stderr: counts by outcome, calls, time and rate.
fn print_summary(summary: &SyncSummary, json: bool) {
    if json {
        errln!(
            "{}",
            serde_json::to_string(summary).unwrap_or_else(|_| "{}".into())
        );
        return;
    }
    let outcomes: Vec<String> = summary
        .outcomes
        .iter()
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect();
    errln!(
        "usage: {} services ({}); {} calls in {:.1} s, {:.1} calls/s",
        summary.services,
        if outcomes.is_empty() {
            "none".to_string()
        } else {
            outcomes.join(", ")
        },
        summary.calls,
        summary.elapsed_ms as f64 / 1000.0,
        summary.calls_per_second
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_services_line_needs_a_module_and_a_service_id() {
        let job = parse_job(
            r#"{"module": "hostmenow", "service": {"service_id": "456", "remote_id": "7001"}}"#,
        )
        .unwrap();
        assert_eq!(job.module, "hostmenow");
        assert_eq!(job.service.service_id, "456");
        assert_eq!(job.service.remote_id.as_deref(), Some("7001"));
        assert!(job.settings.is_empty());
        let with_settings = parse_job(
            r#"{"module": "hostmenow", "service": {"service_id": "456"}, "settings": [{"name": "ip-address", "value": "yes"}]}"#,
        )
        .unwrap();
        assert_eq!(with_settings.settings.len(), 1);
        assert_eq!(with_settings.settings[0].name, "ip-address");
        assert!(parse_job(r#"{"service": {"service_id": "456"}}"#).is_err());
        assert!(parse_job(r#"{"module": "hostmenow", "service": {}}"#).is_err());
        assert!(parse_job("456").is_err());
    }
}
