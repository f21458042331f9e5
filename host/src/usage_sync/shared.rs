//! A usage sync shared by several hosts through their journal: the nightly
//! `provisioning usage --from-journal` run on every host at once, each
//! service read once per run by whichever host claims it.
//!
//! Every host of the run registers the live services it rebuilt from the
//! journal ([`crate::Journal::start_usage_run`]; what is registered already
//! stays as it is), then, until the run is over: claims a batch of services
//! neither done nor under another host's live claim
//! ([`crate::Journal::claim_usage`]), reads them through [`sync_usage`]
//! (the module's pacing and the retry of rate-limited services as always),
//! marks each done once its report is out, and renews the claim on the
//! rest while the batch runs. A host that dies leaves its claim to lapse;
//! the next claim by another host takes its services over (those it had
//! read without marking them done are read again: at most one batch). When
//! nothing is left to claim but other hosts still hold live claims, a host
//! waits for them to end (done, or lapsed and taken over), so that the run
//! is over when any host's sync returns.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde::Serialize;

use super::{SyncOptions, SyncSummary, Tally, UsageJob, UsageReport, UsageResult, sync_usage};
use crate::error::ErrorReport;
use crate::host::Host;
use crate::journal::{Journal, MAX_KEY_BYTES, RunService, UsageServiceKey};

/// Services a host claims at once, unless [`SharedRun::batch`] says
/// otherwise: at most this many are read twice when a host dies mid-batch.
pub const DEFAULT_CLAIM_BATCH: usize = 100;

/// How long a claim lasts between renewals, unless [`SharedRun::lease`]
/// says otherwise: how long the other hosts wait before taking over the
/// services of a host that died. The host renews it every third of that
/// (at most every second).
pub const DEFAULT_CLAIM_LEASE: Duration = Duration::from_secs(30);

/// A usage run shared by several hosts: its name, which every host of the
/// run gives, and how this host claims its services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedRun {
    /// The run's name: the hosts giving the same name share the run.
    pub run: String,
    /// Services claimed at once (at least 1).
    pub batch: usize,
    /// How long a claim lasts unless renewed.
    pub lease: Duration,
}

impl SharedRun {
    /// The run named `run`, with the default batch and lease; refused when
    /// the name is empty, longer than 255 bytes or holds control
    /// characters.
    pub fn new(run: impl Into<String>) -> anyhow::Result<SharedRun> {
        let run = run.into();
        if run.trim().is_empty() || run.len() > MAX_KEY_BYTES || run.chars().any(char::is_control) {
            bail!(
                "a usage run's name is 1 to {MAX_KEY_BYTES} bytes of printable text: {:?}",
                run.chars().take(40).collect::<String>()
            );
        }
        Ok(SharedRun {
            run,
            batch: DEFAULT_CLAIM_BATCH,
            lease: DEFAULT_CLAIM_LEASE,
        })
    }

    /// The name every host of a nightly job agrees on without being told:
    /// today's date in UTC, `YYYY-MM-DD`. Hosts whose jobs start on either
    /// side of midnight UTC would run two runs; schedule the job away from
    /// it, or name the run.
    pub fn todays_name() -> String {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let (year, month, day) = civil_date((seconds / 86_400) as i64);
        format!("{year:04}-{month:02}-{day:02}")
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// What one host's part of a shared run came to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharedSyncSummary {
    /// This host's share: the services it read, by outcome, its calls and
    /// its time (waiting for the other hosts at the end included).
    #[serde(flatten)]
    pub sync: SyncSummary,
    /// The run's name.
    pub run: String,
    /// Services registered for the run, by every host, when this host
    /// joined it.
    pub run_services: usize,
    /// Claims this host took.
    pub batches: usize,
    /// Services this host took over from a host whose claim lapsed.
    pub taken_over: usize,
    /// This host, as the journal names it (`hostname:pid`).
    pub host: String,
}

/// Reads usage for this host's share of the run `run`, shared through
/// `journal` with every other host running it: `jobs` (the live services
/// this host rebuilt from the journal, see [`super::live_services`]) are
/// registered for the run, then batches are claimed and read as the
/// module docs say, each report going to `on_result` as soon as it is
/// known (only the services this host read). Returns when the run is over:
/// every service registered for it done, by this host or another.
///
/// Fails when the journal cannot register the run, claim, or mark a
/// finished batch done (the services this host claimed are then taken over
/// by another host once the lease runs out).
pub async fn sync_usage_shared(
    host: &Arc<Host>,
    journal: &Journal,
    jobs: Vec<UsageJob>,
    run: &SharedRun,
    options: &SyncOptions,
    mut on_result: impl FnMut(&UsageReport),
) -> anyhow::Result<SharedSyncSummary> {
    let started = Instant::now();
    let services = jobs
        .iter()
        .map(|job| {
            Ok(RunService {
                key: key_of(&job.module, &job.service.service_id),
                job: serde_json::to_string(job)?,
            })
        })
        .collect::<Result<Vec<_>, serde_json::Error>>()?;
    let run_services = journal
        .start_usage_run(&run.run, services)
        .await
        .with_context(|| format!("registering the usage run {}", run.run))?;
    tracing::info!(run = %run.run, services = run_services, host = journal.owner(), "usage run: joined");
    let tick = (run.lease / 3).clamp(Duration::from_millis(20), Duration::from_secs(1));
    let mut tally = Tally::default();
    let (mut batches, mut taken_over) = (0, 0);
    loop {
        let claim = journal
            .claim_usage(&run.run, run.batch.max(1), run.lease)
            .await
            .with_context(|| format!("claiming services of the usage run {}", run.run))?;
        if claim.services.is_empty() {
            if claim.in_progress == 0 {
                break;
            }
            // Other hosts hold the rest: wait until they are done, or
            // their leases run out and the services can be taken over.
            tokio::time::sleep(tick).await;
            continue;
        }
        batches += 1;
        taken_over += claim.taken_over;
        if claim.taken_over > 0 {
            tracing::warn!(run = %run.run, services = claim.taken_over, "usage run: taking over services whose claim lapsed (their host stopped?)");
        }
        let mut outstanding: BTreeSet<UsageServiceKey> =
            claim.services.iter().map(|s| s.key.clone()).collect();
        let reported = RefCell::new(Vec::new());
        let mut jobs = Vec::new();
        for service in claim.services {
            match serde_json::from_str::<UsageJob>(&service.job) {
                Ok(job) => jobs.push(job),
                Err(error) => {
                    let report = UsageReport {
                        module: service.key.module.clone(),
                        service_id: service.key.service_id.clone(),
                        outcome: UsageResult::Error(ErrorReport::new(
                            "host",
                            format!("the usage run's record of the service is unreadable: {error}"),
                        )),
                        attempts: 0,
                        elapsed_ms: 0,
                    };
                    tally.add(&report);
                    on_result(&report);
                    reported.borrow_mut().push(service.key);
                }
            }
        }
        {
            let batch = sync_usage(host, jobs, options, |report| {
                tally.add(report);
                on_result(report);
                reported
                    .borrow_mut()
                    .push(key_of(&report.module, &report.service_id));
            });
            tokio::pin!(batch);
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
            loop {
                tokio::select! {
                    _ = &mut batch => break,
                    _ = ticker.tick() => {
                        // Done as they come, so that a host dying mid-batch
                        // leaves few read services to be read again.
                        let done = reported.take();
                        if !done.is_empty() {
                            match journal.finish_usage(&run.run, done.clone()).await {
                                Ok(()) => {
                                    for key in &done {
                                        outstanding.remove(key);
                                    }
                                }
                                Err(error) => {
                                    tracing::warn!(run = %run.run, "usage run: marking services done failed, trying again: {error:#}");
                                    reported.borrow_mut().extend(done);
                                }
                            }
                        }
                        if !outstanding.is_empty() {
                            let keys: Vec<UsageServiceKey> = outstanding.iter().cloned().collect();
                            if let Err(error) = journal.renew_usage_claims(&run.run, keys, run.lease).await {
                                tracing::warn!(run = %run.run, "usage run: renewing the claim failed: {error:#}");
                            }
                        }
                    }
                }
            }
        }
        let done = reported.take();
        if !done.is_empty() {
            journal
                .finish_usage(&run.run, done)
                .await
                .with_context(|| format!("marking services of the usage run {} done", run.run))?;
        }
    }
    Ok(SharedSyncSummary {
        sync: tally.summary(started.elapsed()),
        run: run.run.clone(),
        run_services,
        batches,
        taken_over,
        host: journal.owner().to_string(),
    })
}

fn key_of(module: &str, service_id: &str) -> UsageServiceKey {
    UsageServiceKey {
        module: module.to_string(),
        service_id: service_id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_since_the_epoch_are_dated_in_utc() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(59), (1970, 3, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(20_000), (2024, 10, 4));
        assert_eq!(civil_date(-1), (1969, 12, 31));
        let today = SharedRun::todays_name();
        assert_eq!(today.len(), 10, "{today}");
        assert!(today.starts_with("20"), "{today}");
    }

    #[test]
    fn a_run_is_named_with_printable_text() {
        let run = SharedRun::new("2025-06-01").unwrap();
        assert_eq!(run.batch, DEFAULT_CLAIM_BATCH);
        assert_eq!(run.lease, DEFAULT_CLAIM_LEASE);
        for bad in ["", "  ", "a\nb", &"r".repeat(MAX_KEY_BYTES + 1)] {
            assert!(SharedRun::new(bad).is_err(), "{bad:?}");
        }
    }
}
