//! What the journal keeps of a usage run shared by several hosts: the
//! services registered for the run, which host has claimed which (under a
//! lease), and which are done.
//!
//! A run is named (`provisioning usage --from-journal --run NAME`); every
//! host taking part registers the live services it rebuilt from the
//! journal (existing ones are left as they are), then claims batches of
//! services that are neither done nor under a live claim, reads them, and
//! marks each done. A claim whose lease ran out (its host died) is taken
//! over by the next claim. A done service is never claimed again in the
//! run; another run name starts afresh. Rows of runs registered more than
//! [`USAGE_RUNS_KEPT`] ago are deleted when a run is registered.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long the rows of a usage run are kept: registering a run deletes
/// every row registered longer ago than this (a run name reused after
/// that starts afresh).
pub const USAGE_RUNS_KEPT: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// A service of a usage run, by the names the journal knows it under.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UsageServiceKey {
    /// The module's name.
    pub module: String,
    /// The platform's service id.
    pub service_id: String,
}

/// A service registered for a usage run: its key, and the job that reads
/// it as JSON (a [`crate::UsageJob`], rebuilt from journal entries whose
/// secrets were removed), so that any host of the run can read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunService {
    /// Which service.
    pub key: UsageServiceKey,
    /// The job, as JSON; the store keeps it as it is.
    pub job: String,
}

/// What one claim took.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsageClaim {
    /// The services now claimed by the claimer, in the order they were
    /// registered (at most the limit asked for).
    pub services: Vec<RunService>,
    /// How many of them had been claimed before by a host whose lease ran
    /// out without marking them done (it died, or stalled).
    pub taken_over: usize,
    /// Services of the run not done and under a live claim other than
    /// this one's: work other hosts still hold. When nothing was claimed
    /// and this is 0, the run is over.
    pub in_progress: usize,
}

/// The SQL condition of a service of a run that may be claimed, its
/// lease judged by `now` (the store's clock: a parameter or an
/// expression): not done, and never claimed or its claim's lease ran out.
pub(crate) fn claimable_where(now: &str) -> String {
    format!("done_at_ms IS NULL AND (lease_until_ms IS NULL OR lease_until_ms <= {now})")
}

/// The SQL condition of a service of a run under a live claim at `now`:
/// not done, its claim's lease current.
pub(crate) fn held_where(now: &str) -> String {
    format!("done_at_ms IS NULL AND lease_until_ms > {now}")
}

/// Milliseconds of a duration, for the stores' integer columns.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
