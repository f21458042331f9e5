//! Bulk usage sync: usage-data for every service of a billing platform (the
//! nightly refresh), many calls at once, each provider paced under its
//! published rate limit by the host's limiter of the module (the one every
//! call to it waits on), a final `rate-limited` answer waited out and
//! tried again.
//!
//! ```no_run
//! # async fn example(host: &std::sync::Arc<provisioning_host::Host>, jobs: Vec<provisioning_host::UsageJob>) {
//! use provisioning_host::{SyncOptions, sync_usage};
//!
//! let summary = sync_usage(host, jobs, &SyncOptions::default(), |report| {
//!     println!("{}", serde_json::to_string(report).unwrap());
//! })
//! .await;
//! eprintln!("{} of {} services ok", summary.succeeded(), summary.services);
//! # }
//! ```
//!
//! Several hosts share one nightly sync of the services their journal
//! knows through [`sync_usage_shared`]: each service is claimed by one
//! host through the journal and read once per run.

mod from_journal;
mod queue;
mod shared;

pub use from_journal::live_services;
pub use shared::{
    DEFAULT_CLAIM_BATCH, DEFAULT_CLAIM_LEASE, SharedRun, SharedSyncSummary, sync_usage_shared,
};

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use crate::bindings::types::{Error as ModuleError, Function, Service, Setting, Usage};
use crate::call_runner::FromRun;
use crate::error::{CallError, ErrorReport};
use crate::host::{CallOptions, Host};
use crate::rate::Within;
use crate::request::{Request, Response};
use crate::reuse::{InstancePool, ReusePolicy};
use queue::Queue;

/// One service whose usage to read, and the module that serves it.
///
/// In JSON (a line of a services file):
/// `{"module": "hostmenow", "service": {"service_id": "456", ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageJob {
    /// The module's name in the manifest.
    pub module: String,
    /// The service, as for any call (its `remote_id` when the provider
    /// needs it).
    #[serde(with = "crate::wire::as_json")]
    pub service: Service,
    /// Settings for this service's call (a billing platform's product
    /// settings), overriding the module's configured ones by name; none
    /// when left out. As for any call, only the module's product settings
    /// ([`crate::CallOptions::settings`]): another refuses this service's
    /// read `invalid-input`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "crate::wire::as_json"
    )]
    pub settings: Vec<Setting>,
}

/// How a sync runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// Calls in flight at once, over every module (at least 1).
    pub concurrency: usize,
    /// Calls at most per service: the first, plus one more after each
    /// final `rate-limited` answer (at least 1).
    pub max_rounds: u32,
    /// The longest wait before trying a rate-limited service again; a
    /// provider that asks for longer gets the `rate-limited` report
    /// instead, for the next sync to pick up.
    pub max_retry_wait: Duration,
    /// Let one instance serve several services' reads of one module
    /// version with the same settings ([`ReusePolicy`]); `None` (the
    /// default): a fresh instance per call, as for every other call. Reads
    /// with a secret setting of their own still get a fresh instance, and
    /// any instance is thrown away after a trap, the deadline, a cap, a
    /// denied request, a host error or unusual memory growth.
    pub reuse: Option<ReusePolicy>,
}

impl Default for SyncOptions {
    fn default() -> SyncOptions {
        SyncOptions {
            concurrency: 16,
            max_rounds: 3,
            max_retry_wait: Duration::from_secs(60),
            reuse: None,
        }
    }
}

/// What a sync learnt of one service.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsageReport {
    /// The module's name.
    pub module: String,
    /// The platform's service id.
    pub service_id: String,
    /// The figures, or why there are none.
    #[serde(flatten)]
    pub outcome: UsageResult,
    /// Calls the sync made for this service (0 when it made none; the
    /// host's own retries within one call count once).
    pub attempts: u32,
    /// From the first call to the final answer, retry waits included.
    pub elapsed_ms: u64,
}

/// A service's usage, or the error that kept it (in JSON `"ok": {...}` or
/// `"error": {...}` in the one shape of [`ErrorReport`], as
/// `provisioning call --json` prints them).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageResult {
    /// The contract's usage figures.
    Ok(#[serde(with = "crate::wire::as_json")] Usage),
    /// The call failed or was not made.
    Error(ErrorReport),
}

impl UsageReport {
    /// Whether the figures were read.
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, UsageResult::Ok(_))
    }

    /// `ok`, or the error's kind.
    pub fn kind(&self) -> &str {
        match &self.outcome {
            UsageResult::Ok(_) => "ok",
            UsageResult::Error(error) => &error.kind,
        }
    }
}

/// What a whole sync came to.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SyncSummary {
    /// Services reported on.
    pub services: usize,
    /// Services by outcome: `ok`, or the error's kind.
    pub outcomes: BTreeMap<String, usize>,
    /// Calls made, over every service.
    pub calls: u64,
    /// Wall-clock time of the whole sync.
    pub elapsed_ms: u64,
    /// Calls made per second of the sync.
    pub calls_per_second: f64,
}

impl SyncSummary {
    /// Services whose figures were read.
    pub fn succeeded(&self) -> usize {
        self.outcomes.get("ok").copied().unwrap_or(0)
    }

    /// Whether every service's figures were read.
    pub fn all_succeeded(&self) -> bool {
        self.succeeded() == self.services
    }
}

/// Reads usage-data for every job, at most `options.concurrency` calls at a
/// time, each module paced under its [`crate::RequestRate`] when it has one.
/// Each service's report goes to `on_result` as soon as it is known, so a
/// caller can stream them; the summary comes back at the end.
///
/// A module that does not offer usage-data gets an `unsupported` report
/// without a call, an unloaded one `unknown-module`. The host already tries
/// a read again within its deadline; a service whose final answer is still
/// `rate-limited` waits out the provider's Retry-After (or a backoff from 1
/// s), holding back every call to that module meanwhile, and is tried again
/// up to `options.max_rounds` calls. Other failures are reported as they
/// are: the host has already retried what was transient, and hammering a
/// provider that is failing helps nobody.
///
/// Each call runs on a task of its own, so that the calls' guest work and
/// instantiation spread over the runtime's worker threads (on one task
/// they would share one); the tasks end with the sync, dropped or not.
/// Pacing is the host's, shared with every other caller of the module: a
/// call of the sync waits for its module's turn before its deadline starts
/// (however long a slow rate makes the queue), and the host's own retries
/// within the call take their turns within the deadline. A provider's
/// Retry-After longer than `options.max_retry_wait` holds the module's
/// services back: they are reported `rate-limited` without a call.
pub async fn sync_usage(
    host: &Arc<Host>,
    jobs: Vec<UsageJob>,
    options: &SyncOptions,
    mut on_result: impl FnMut(&UsageReport),
) -> SyncSummary {
    let started = Instant::now();
    let concurrency = options.concurrency.max(1);
    let mut tally = Tally::default();
    let mut queue = Queue::new();
    for job in jobs {
        let module = job.module.clone();
        queue.push_back(&module, QueuedService::new(job));
    }
    // The run's instances, when it reuses them: gone with the run. At most
    // one per call in flight, so the run holds no more call slots than
    // with fresh instances.
    let pool = options
        .reuse
        .map(|policy| Arc::new(InstancePool::new(policy, concurrency)));
    let shared_options = Arc::new(options.clone());
    let mut running = JoinSet::new();
    let mut waiting = FuturesUnordered::new();
    loop {
        while let Some(pending) = queue.next(concurrency) {
            running.spawn(attempt_on_task(
                host.clone(),
                pending,
                shared_options.clone(),
                pool.clone(),
            ));
        }
        if running.is_empty() && waiting.is_empty() {
            break;
        }
        tokio::select! {
            Some(step) = running.join_next(), if !running.is_empty() => match step.unwrap_or_else(|cancelled| {
                // The set is only dropped with the sync, and the attempts
                // catch their panics: nothing cancels a task before.
                unreachable!("a usage read's task ended without a step: {cancelled}")
            }) {
                Step::Done(report) => {
                    queue.finished(&report.module);
                    tally.add(&report);
                    on_result(&report);
                }
                Step::Retry(pending, wait) => {
                    // A service waiting out a rate limit holds no slot.
                    queue.finished(&pending.job.module);
                    waiting.push(async move {
                        tokio::time::sleep(wait).await;
                        pending
                    });
                }
            },
            Some(pending) = waiting.next(), if !waiting.is_empty() => {
                let module = pending.job.module.clone();
                queue.push_front(&module, *pending);
            }
        }
    }
    tally.summary(started.elapsed())
}

/// A job with what the sync has done for it so far.
struct QueuedService {
    job: UsageJob,
    attempts: u32,
    /// When its first call started.
    first_call: Option<Instant>,
}

impl QueuedService {
    fn new(job: UsageJob) -> QueuedService {
        QueuedService {
            job,
            attempts: 0,
            first_call: None,
        }
    }

    fn report(self, outcome: UsageResult) -> UsageReport {
        UsageReport {
            elapsed_ms: self
                .first_call
                .map_or(0, |at| at.elapsed().as_millis() as u64),
            module: self.job.module,
            service_id: self.job.service.service_id,
            outcome,
            attempts: self.attempts,
        }
    }
}

/// What one turn of a job came to.
enum Step {
    /// The service's report.
    Done(UsageReport),
    /// Rate-limited: try again after this wait (boxed: a service record
    /// is large, and most steps are reports).
    Retry(Box<QueuedService>, Duration),
}

/// [`attempt`] as a task's body: a panic in it (a bug) becomes the
/// service's `host` failure instead of ending the sync.
async fn attempt_on_task(
    host: Arc<Host>,
    pending: QueuedService,
    options: Arc<SyncOptions>,
    pool: Option<Arc<InstancePool>>,
) -> Step {
    let (module, service_id) = (
        pending.job.module.clone(),
        pending.job.service.service_id.clone(),
    );
    AssertUnwindSafe(attempt(&host, pending, &options, pool.as_ref()))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            Step::Done(UsageReport {
                module,
                service_id,
                outcome: failure("host", "the usage read failed inside the host".to_owned()),
                attempts: 1,
                elapsed_ms: 0,
            })
        })
}

/// One call of usage-data for a job, after its module's turn under the
/// rate limit.
async fn attempt(
    host: &Host,
    mut pending: QueuedService,
    options: &SyncOptions,
    pool: Option<&Arc<InstancePool>>,
) -> Step {
    let module_name = pending.job.module.clone();
    let Some(module) = host.module(&module_name) else {
        let error = CallError::UnknownModule(module_name);
        return Step::Done(pending.report(call_failure(&error)));
    };
    if !module.info().functions.contains(&Function::UsageData) {
        let message = format!("{module_name}: the module does not offer usage-data");
        return Step::Done(pending.report(failure("unsupported", message)));
    }
    // Waited for here, before the call's deadline starts: however many
    // services queue for a slowly paced provider, each call's deadline
    // starts with its turn. Not through a provider's hold longer than the
    // sync waits, though.
    let limiter = host.rate_limiter(&module_name);
    let turn = match &limiter {
        Some(limiter) => match limiter.turn(Within::Hold(options.max_retry_wait)).await {
            Ok(turn) => Some(turn),
            Err(no_turn) => {
                let error = held_back(&module_name, no_turn.retry_after_seconds());
                return Step::Done(pending.report(call_failure(&error)));
            }
        },
        None => None,
    };
    pending.attempts += 1;
    pending.first_call.get_or_insert_with(Instant::now);
    let request = Request::UsageData {
        service: pending.job.service.clone(),
    };
    let call_options = CallOptions {
        settings: pending.job.settings.clone(),
        idempotency_key: None,
    };
    let from_run = FromRun {
        first_turn: turn,
        reuse: pool.cloned(),
    };
    let answer = host
        .execute_in(&module_name, &request, &call_options, from_run)
        .await;
    match answer.result {
        Ok(Response::Usage(usage)) => Step::Done(pending.report(UsageResult::Ok(usage))),
        Ok(other) => {
            let message = format!("{module_name}: usage-data answered {other:?}");
            Step::Done(pending.report(failure("host", message)))
        }
        Err(error) => match retry_wait(&error, pending.attempts, options) {
            Some(wait) => {
                // A provider's Retry-After holds the module's calls in the
                // host already; a backoff of the sync's own does here.
                if let (Some(limiter), None) = (&limiter, retry_after(&error)) {
                    limiter.hold_until(Instant::now() + wait).await;
                }
                tracing::info!(module = %module_name, service = %pending.job.service.service_id, attempt = pending.attempts, wait_ms = wait.as_millis() as u64, "usage sync: rate-limited; trying the service again");
                Step::Retry(Box::new(pending), wait)
            }
            None => Step::Done(pending.report(call_failure(&error))),
        },
    }
}

/// The provider's Retry-After of a `rate-limited` failure, if it gave one.
fn retry_after(error: &CallError) -> Option<u32> {
    match error.module_error() {
        Some(ModuleError::RateLimited(limit)) => limit.retry_after_seconds,
        _ => None,
    }
}

/// The report of a service not called because its module is held back
/// (by a provider's Retry-After) for longer than the sync waits.
fn held_back(module: &str, seconds: u32) -> CallError {
    CallError::Module {
        module: module.to_string(),
        error: ModuleError::RateLimited(crate::bindings::types::RateLimit {
            retry_after_seconds: Some(seconds),
            message: format!(
                "not called: the provider asked the module's callers to wait, and its next turn is {seconds} s away, longer than the sync waits"
            ),
        }),
    }
}

fn failure(kind: &str, message: String) -> UsageResult {
    UsageResult::Error(ErrorReport::new(kind, message))
}

fn call_failure(error: &CallError) -> UsageResult {
    UsageResult::Error(ErrorReport::from(error))
}

/// How long to wait before calling a rate-limited service again, or `None`
/// when the failure is not a rate limit, the rounds are used up, or the
/// provider asks for more than `max_retry_wait`.
fn retry_wait(error: &CallError, attempts: u32, options: &SyncOptions) -> Option<Duration> {
    let Some(ModuleError::RateLimited(limit)) = error.module_error() else {
        return None;
    };
    if attempts >= options.max_rounds {
        return None;
    }
    let wait = match limit.retry_after_seconds {
        Some(seconds) => Duration::from_secs(seconds.into()),
        None => Duration::from_secs(1) * 2u32.saturating_pow(attempts.saturating_sub(1)),
    };
    (wait <= options.max_retry_wait).then_some(wait)
}

/// Counts reports as they come.
#[derive(Default)]
struct Tally {
    services: usize,
    outcomes: BTreeMap<String, usize>,
    calls: u64,
}

impl Tally {
    fn add(&mut self, report: &UsageReport) {
        self.services += 1;
        *self.outcomes.entry(report.kind().to_string()).or_default() += 1;
        self.calls += u64::from(report.attempts);
    }

    fn summary(self, elapsed: Duration) -> SyncSummary {
        let seconds = elapsed.as_secs_f64();
        SyncSummary {
            services: self.services,
            outcomes: self.outcomes,
            calls: self.calls,
            elapsed_ms: elapsed.as_millis() as u64,
            calls_per_second: if seconds > 0.0 {
                self.calls as f64 / seconds
            } else {
                0.0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::{Limit, RateLimit, UsageFigure};

    fn rate_limited(retry_after_seconds: Option<u32>) -> CallError {
        CallError::Module {
            module: "m".into(),
            error: ModuleError::RateLimited(RateLimit {
                retry_after_seconds,
                message: "slow down".into(),
            }),
        }
    }

    #[test]
    fn only_a_rate_limit_is_waited_out_and_only_so_often() {
        let options = SyncOptions::default();
        assert_eq!(
            retry_wait(&rate_limited(Some(7)), 1, &options),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_wait(&rate_limited(None), 2, &options),
            Some(Duration::from_secs(2)),
            "backoff when the provider names no wait"
        );
        assert_eq!(retry_wait(&rate_limited(Some(1)), 3, &options), None);
        assert_eq!(retry_wait(&rate_limited(Some(3600)), 1, &options), None);
        let transport = CallError::Module {
            module: "m".into(),
            error: ModuleError::Transport("refused".into()),
        };
        assert_eq!(retry_wait(&transport, 1, &options), None);
    }

    #[test]
    fn a_report_is_one_json_object_with_ok_or_error() {
        let usage = Usage {
            figures: vec![UsageFigure {
                name: "disk".into(),
                unit: "MB".into(),
                used: 12.5,
                limit: Limit::Unlimited,
            }],
            updated_at: None,
        };
        let ok = UsageReport {
            module: "hostmenow".into(),
            service_id: "s-1".into(),
            outcome: UsageResult::Ok(usage),
            attempts: 1,
            elapsed_ms: 4,
        };
        let json = serde_json::to_value(&ok).unwrap();
        assert_eq!(json["module"], "hostmenow");
        assert_eq!(json["service_id"], "s-1");
        assert_eq!(json["ok"]["figures"][0]["used"], 12.5);
        assert_eq!(json["attempts"], 1);
        let failed = UsageReport {
            outcome: failure("unsupported", "no".into()),
            ..ok
        };
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(json["error"]["kind"], "unsupported");
        assert!(json.get("ok").is_none());
    }
}
