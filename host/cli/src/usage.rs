//! `provisioning usage`: usage-data for many services at once (a billing
//! platform's nightly refresh), one JSON line per service on stdout as the
//! answers come, a summary on stderr, a progress bar only on a terminal.
//!
//! `--from-journal` is a run shared by every host that runs it under the
//! same `--run` name (today's UTC date by default): the hosts split the
//! live services between them through the journal, each read once per
//! run (see `provisioning_host::sync_usage_shared`); each host prints the
//! services it read.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use provisioning_host::{
    ErrorReport, Host, HostOptions, Manifest, ModuleLoadError, SharedRun, SharedSyncSummary,
    SyncOptions, SyncSummary, UsageJob, UsageReport, UsageResult, live_services, sync_usage,
    sync_usage_shared,
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
    /// (needs the manifest's `[journal]`), in a run shared with every host
    /// running it under the same `--run`: each service is read by one of
    /// them, once per run.
    #[arg(long, conflicts_with = "services")]
    from_journal: bool,
    /// The run's name (with `--from-journal`): the hosts giving the same
    /// name share the run, and a service done in it is not read again
    /// under that name (run it again to finish what a failed run left).
    /// Default: today's date in UTC (`YYYY-MM-DD`).
    #[arg(long, requires = "from_journal")]
    run: Option<String>,
    /// Services a host claims at once (with `--from-journal`): at most
    /// this many are read twice when a host dies mid-run.
    #[arg(long, default_value_t = provisioning_host::DEFAULT_CLAIM_BATCH as u64, value_parser = clap::value_parser!(u64).range(1..), requires = "from_journal")]
    claim_batch: u64,
    /// How long a host's claim lasts unless renewed (it is, every third of
    /// that while the host reads): how soon the other hosts take over the
    /// services of a host that died (with `--from-journal`).
    #[arg(long, default_value_t = provisioning_host::DEFAULT_CLAIM_LEASE.as_secs(), value_parser = clap::value_parser!(u64).range(1..), requires = "from_journal")]
    claim_lease_secs: u64,
    /// Calls in flight at once, over every module.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,
    /// Calls at most per service: the first, plus one more after each
    /// final rate-limited answer.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    max_rounds: u32,
    /// Let one instance serve up to MAX_CALLS reads (16 when given without
    /// a number) of one module version with the same settings, one at a
    /// time, instead of a fresh instance per read. A read carrying a
    /// password or a secret setting of its own still gets a fresh one, and
    /// an instance is thrown away after a trap, the deadline, a cap, a
    /// denied request, a host error or unusual memory growth.
    #[arg(long, value_name = "MAX_CALLS", num_args = 0..=1, default_missing_value = "16", value_parser = clap::value_parser!(u32).range(1..=1000))]
    reuse: Option<u32>,
}

/// Reads every service's usage; exits 0 when every one was read, 1
/// otherwise.
pub async fn run(args: Args, options: HostOptions, json: bool) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::from_file(&args.manifest)?;
    let host = Arc::new(Host::from_manifest(&manifest, options)?);
    let jobs = match &args.services {
        Some(path) => read_services(path)?,
        None => {
            let journal = host
                .journal()
                .with_context(|| format!("{} has no [journal] section", args.manifest.display()))?;
            live_services(&journal.entries().await?)
        }
    };
    let failures = load_modules(&host, &manifest, &jobs).await;
    let options = SyncOptions {
        concurrency: usize::try_from(args.concurrency).unwrap_or(usize::MAX),
        max_rounds: args.max_rounds,
        reuse: args.reuse.map(provisioning_host::ReusePolicy::new),
        ..SyncOptions::default()
    };
    if args.from_journal {
        let mut run = SharedRun::new(args.run.clone().unwrap_or_else(SharedRun::todays_name))?;
        run.batch = usize::try_from(args.claim_batch).unwrap_or(usize::MAX);
        run.lease = Duration::from_secs(args.claim_lease_secs);
        return run_shared(&host, jobs, &run, &options, &failures, json).await;
    }
    let (unloaded, jobs): (Vec<UsageJob>, Vec<UsageJob>) = jobs
        .into_iter()
        .partition(|job| failures.contains_key(&job.module));

    let bar = progress_bar(jobs.len() as u64);
    let mut write_error = None;
    let unread: Vec<UsageReport> = unloaded
        .into_iter()
        .map(|job| UsageReport {
            outcome: not_loaded(&failures[&job.module]),
            module: job.module,
            service_id: job.service.service_id,
            attempts: 0,
            elapsed_ms: 0,
        })
        .collect();
    for report in &unread {
        print_report(&bar, report, &mut write_error);
    }
    let mut summary = sync_usage(&host, jobs, &options, |report| {
        print_report(&bar, report, &mut write_error);
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

/// The outcome reported for a service whose module did not load: why.
fn not_loaded(failure: &ModuleLoadError) -> UsageResult {
    UsageResult::Error(ErrorReport::new(
        failure.kind.as_str(),
        failure.message.clone(),
    ))
}

/// Prints a report as one JSON line on stdout, the bar stepping aside so
/// that on a terminal the two streams do not tear each other; the first
/// write error is kept for the end.
fn print_report(bar: &ProgressBar, report: &UsageReport, write_error: &mut Option<anyhow::Error>) {
    bar.suspend(|| {
        let line = serde_json::to_string(report).unwrap_or_default();
        if let Err(error) = outln!("{line}") {
            write_error.get_or_insert(error);
        }
    });
}

/// Loads the modules the services need (only those); a service of one
/// that does not load gets an error line of its own, and the others are
/// read. Returns the failures by module.
async fn load_modules(
    host: &Host,
    manifest: &Manifest,
    jobs: &[UsageJob],
) -> BTreeMap<String, ModuleLoadError> {
    let mut failures = BTreeMap::new();
    let needed: BTreeSet<&str> = jobs.iter().map(|job| job.module.as_str()).collect();
    for name in needed {
        if !manifest.modules.contains_key(name) {
            continue; // the sync reports its services `unknown-module`
        }
        if let Err(failure) = host.load_from_manifest(manifest, name).await {
            eprintln!("warning: {failure}");
            failures.insert(name.to_string(), failure);
        }
    }
    failures
}

/// This host's share of the run shared through the journal: one line per
/// service it read, then the summary; exits 0 when every one it read was
/// read successfully, 1 otherwise.
async fn run_shared(
    host: &Arc<Host>,
    jobs: Vec<UsageJob>,
    run: &SharedRun,
    options: &SyncOptions,
    failures: &BTreeMap<String, ModuleLoadError>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let journal = host.journal().context("the shared run needs the journal")?;
    // This host's share is not known in advance: the bar counts the
    // services read here against the live services it knows of.
    let bar = progress_bar(jobs.len() as u64);
    let mut write_error = None;
    let mut relabelled = Vec::new();
    let summary = sync_usage_shared(host, journal, jobs, run, options, |report| {
        // A service of a module that did not load here is reported with
        // why, as without a shared run.
        let unloaded = failures.get(&report.module).map(|failure| UsageReport {
            outcome: not_loaded(failure),
            ..report.clone()
        });
        if let Some(unloaded) = &unloaded {
            relabelled.push(unloaded.kind().to_string());
        }
        print_report(&bar, unloaded.as_ref().unwrap_or(report), &mut write_error);
        bar.inc(1);
    })
    .await;
    bar.finish_and_clear();
    let mut summary = summary?;
    if let Some(error) = write_error {
        return Err(error.context("writing the reports"));
    }
    // The outcomes as printed: a module that did not load here counts by
    // its load error, not as `unknown-module`.
    for kind in relabelled {
        if let Some(count) = summary.sync.outcomes.get_mut("unknown-module") {
            *count -= 1;
            if *count == 0 {
                summary.sync.outcomes.remove("unknown-module");
            }
        }
        *summary.sync.outcomes.entry(kind).or_default() += 1;
    }
    print_shared_summary(&summary, json);
    Ok(if summary.sync.all_succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The summary of this host's share of a shared run, on stderr: as
/// [`print_summary`]'s, then the run and this host's part in it.
fn print_shared_summary(summary: &SharedSyncSummary, json: bool) {
    if json {
        errln!(
            "{}",
            serde_json::to_string(summary).unwrap_or_else(|_| "{}".into())
        );
        return;
    }
    print_summary(&summary.sync, false);
    let taken_over = match summary.taken_over {
        0 => String::new(),
        n => format!(", {n} taken over from a host that stopped"),
    };
    errln!(
        "run {}: shared through the journal; {} of its {} services read here by {} in {} claims{taken_over}",
        summary.run,
        summary.sync.services,
        summary.run_services,
        summary.host,
        summary.batches,
    );
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
