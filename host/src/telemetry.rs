//! What the host counts and times, recorded through the `metrics` facade:
//! without a recorder installed (the default) every record is a no-op; an
//! embedder or `provisioning serve` installs one (serve: a Prometheus
//! exporter) and calls [`describe`] once.
//!
//! Every metric's name, unit and help is stated here once. Label values are
//! bounded: module names from the manifest, the contract's function names,
//! outcome kinds; never a service id, a domain or a key.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};

/// Calls by `module`, `function` and `outcome` (`ok` or the error kind).
pub const CALLS_TOTAL: &str = "provisioning_calls_total";
/// Duration of a call, journal and retries included, by `module` and
/// `function`.
pub const CALL_DURATION_SECONDS: &str = "provisioning_call_duration_seconds";
/// Time a call attempt waited for one of the host's call slots, by
/// `module`.
pub const CALL_SLOT_WAIT_SECONDS: &str = "provisioning_call_slot_wait_seconds";
/// Time a call attempt waited for its turn under the module's rate
/// limit, by `module` (0 when the turn came at once).
pub const RATE_LIMIT_WAIT_SECONDS: &str = "provisioning_rate_limit_wait_seconds";
/// Calls answered `rate-limited` without being sent, because their turn
/// would have come after their deadline, by `module`.
pub const RATE_LIMIT_REFUSALS_TOTAL: &str = "provisioning_rate_limit_refusals_total";
/// Outbound requests refused because their origin is not on the module's
/// allow-list, by `module`.
pub const OUTBOUND_DENIED_TOTAL: &str = "provisioning_outbound_denied_total";
/// Attempts of bulk reads that opted into instance reuse, by `module` and
/// `instance` (`fresh`: a new instance; `reused`: one that served calls
/// before).
pub const REUSE_ATTEMPTS_TOTAL: &str = "provisioning_reuse_attempts_total";
/// The largest linear memory a call's guest grew to, by `module`.
pub const GUEST_MEMORY_PEAK_BYTES: &str = "provisioning_guest_memory_peak_bytes";
/// Instances (calls) running now.
pub const INSTANCES_IN_USE: &str = "provisioning_instances_in_use";
/// Instances that may run at once (the pool's capacity).
pub const INSTANCES_CAPACITY: &str = "provisioning_instances_capacity";
/// Journal entries not acknowledged yet.
pub const JOURNAL_PENDING_ENTRIES: &str = "provisioning_journal_pending_entries";
/// Journal entries whose outcome is unknown: each needs a person.
pub const JOURNAL_UNKNOWN_ENTRIES: &str = "provisioning_journal_unknown_entries";
/// How old the two journal counts are: they are the latest the journal
/// answered, read beside the scrape, never waited for.
pub const JOURNAL_COUNTS_AGE_SECONDS: &str = "provisioning_journal_counts_age_seconds";
/// 1 when the journal took its latest write probe in time, else 0.
pub const JOURNAL_WRITABLE: &str = "provisioning_journal_writable";
/// Reloads of the manifest by `result` (`accepted`, `refused`).
pub const RELOADS_TOTAL: &str = "provisioning_reloads_total";
/// 1 for the version each module serves, by `module` and `digest`.
pub const MODULE_INFO: &str = "provisioning_module_info";
/// 1, labelled with what this build is: the fields of
/// [`BuildInfo`](crate::BuildInfo) (`version`, `commit`, `wasmtime`,
/// `contract`).
pub const BUILD_INFO: &str = "provisioning_build_info";
/// When the process started, in seconds since the Unix epoch.
pub const PROCESS_START_TIME_SECONDS: &str = "process_start_time_seconds";

/// When the process started (strictly: when the host first looked).
static STARTED: LazyLock<SystemTime> = LazyLock::new(SystemTime::now);

/// Names, units and help of every metric, for the installed recorder;
/// called once, as soon as the process starts.
pub fn describe() {
    LazyLock::force(&STARTED);
    describe_counter!(
        CALLS_TOTAL,
        Unit::Count,
        "Calls by module, function and outcome (ok or the error kind)."
    );
    describe_histogram!(
        CALL_DURATION_SECONDS,
        Unit::Seconds,
        "Duration of a call, journal and retries included."
    );
    describe_histogram!(
        CALL_SLOT_WAIT_SECONDS,
        Unit::Seconds,
        "Time a call attempt waited for a free call slot."
    );
    describe_histogram!(
        RATE_LIMIT_WAIT_SECONDS,
        Unit::Seconds,
        "Time a call attempt waited for its turn under the module's rate limit."
    );
    describe_counter!(
        RATE_LIMIT_REFUSALS_TOTAL,
        Unit::Count,
        "Calls answered rate-limited unsent: their turn would have come after their deadline."
    );
    describe_counter!(
        REUSE_ATTEMPTS_TOTAL,
        Unit::Count,
        "Attempts of bulk reads with instance reuse, by instance: fresh or reused."
    );
    describe_counter!(
        OUTBOUND_DENIED_TOTAL,
        Unit::Count,
        "Outbound requests refused: origin not on the module's allow-list."
    );
    describe_histogram!(
        GUEST_MEMORY_PEAK_BYTES,
        Unit::Bytes,
        "The largest linear memory of a call's guest."
    );
    describe_gauge!(
        INSTANCES_IN_USE,
        Unit::Count,
        "Instances (calls) running now."
    );
    describe_gauge!(
        INSTANCES_CAPACITY,
        Unit::Count,
        "Instances that may run at once."
    );
    describe_gauge!(
        JOURNAL_PENDING_ENTRIES,
        Unit::Count,
        "Journal entries not acknowledged yet."
    );
    describe_gauge!(
        JOURNAL_UNKNOWN_ENTRIES,
        Unit::Count,
        "Journal entries whose outcome is unknown: check the provider, then resolve them."
    );
    describe_gauge!(
        JOURNAL_COUNTS_AGE_SECONDS,
        Unit::Seconds,
        "How long ago the journal counts were read (they are the latest the journal answered)."
    );
    describe_gauge!(
        JOURNAL_WRITABLE,
        Unit::Count,
        "1 when the journal took its latest write probe in time, else 0."
    );
    describe_counter!(
        RELOADS_TOTAL,
        Unit::Count,
        "Reloads of the manifest by result (accepted, refused)."
    );
    // Shown from the start at 0, so that a rate over them is defined.
    for result in ["accepted", "refused"] {
        counter!(RELOADS_TOTAL, "result" => result).increment(0);
    }
    describe_gauge!(MODULE_INFO, "The version (digest) each module serves.");
    describe_gauge!(
        BUILD_INFO,
        "What this build is: its version, git commit, wasmtime and contract package."
    );
    describe_gauge!(
        PROCESS_START_TIME_SECONDS,
        Unit::Seconds,
        "Start time of the process since the Unix epoch."
    );
}

/// One finished call.
pub(crate) fn record_call(
    module: &str,
    function: &'static str,
    outcome: &'static str,
    took: Duration,
) {
    let module = module.to_string();
    counter!(CALLS_TOTAL, "module" => module.clone(), "function" => function, "outcome" => outcome)
        .increment(1);
    histogram!(CALL_DURATION_SECONDS, "module" => module, "function" => function)
        .record(took.as_secs_f64());
}

/// One attempt's wait for a call slot.
pub(crate) fn record_slot_wait(module: &str, waited: Duration) {
    histogram!(CALL_SLOT_WAIT_SECONDS, "module" => module.to_string()).record(waited.as_secs_f64());
}

/// One attempt's wait for its turn under the rate limit.
pub(crate) fn record_rate_limit_wait(module: &str, waited: Duration) {
    histogram!(RATE_LIMIT_WAIT_SECONDS, "module" => module.to_string())
        .record(waited.as_secs_f64());
}

/// One call refused unsent because its turn would come after its deadline.
pub(crate) fn record_rate_limit_refusal(module: &str) {
    counter!(RATE_LIMIT_REFUSALS_TOTAL, "module" => module.to_string()).increment(1);
}

/// One attempt of a bulk read with instance reuse, in a reused instance
/// or a fresh one.
pub(crate) fn record_reuse_attempt(module: &str, reused: bool) {
    let instance = if reused { "reused" } else { "fresh" };
    counter!(REUSE_ATTEMPTS_TOTAL, "module" => module.to_string(), "instance" => instance)
        .increment(1);
}

/// One outbound request refused by the allow-list.
pub(crate) fn record_outbound_denied(module: &str) {
    counter!(OUTBOUND_DENIED_TOTAL, "module" => module.to_string()).increment(1);
}

/// The memory peak of one call's guest.
pub(crate) fn record_memory_peak(module: &str, bytes: u64) {
    histogram!(GUEST_MEMORY_PEAK_BYTES, "module" => module.to_string()).record(bytes as f64);
}

/// One reload of the manifest: accepted (every changed module swapped in)
/// or refused (the manifest unreadable, or a module's new version
/// refused while the old one keeps serving).
pub fn record_reload(accepted: bool) {
    let result = if accepted { "accepted" } else { "refused" };
    counter!(RELOADS_TOTAL, "result" => result).increment(1);
}

/// The journal's gauges, from what it was last seen to do (plain values:
/// this module imports nothing of the host's).
pub(crate) struct JournalGauges {
    /// `(pending, unknown, how long ago they were read)`, once read.
    pub(crate) counts: Option<(usize, usize, std::time::Duration)>,
    /// Whether the journal takes writes.
    pub(crate) writable: bool,
}

/// The state gauges, as [`crate::Host::record_state`] reads them.
pub(crate) struct State<'a> {
    pub(crate) instances_in_use: usize,
    pub(crate) instances_capacity: usize,
    /// What the journal was last seen to do, when one is configured.
    pub(crate) journal: Option<JournalGauges>,
    /// `(module, digest)` of every module served.
    pub(crate) modules: Vec<(&'a str, &'a str)>,
}

/// Sets the state gauges.
pub(crate) fn record_state(state: &State<'_>) {
    gauge!(INSTANCES_IN_USE).set(state.instances_in_use as f64);
    gauge!(INSTANCES_CAPACITY).set(state.instances_capacity as f64);
    if let Some(journal) = &state.journal {
        if let Some((pending, unknown, age)) = journal.counts {
            gauge!(JOURNAL_PENDING_ENTRIES).set(pending as f64);
            gauge!(JOURNAL_UNKNOWN_ENTRIES).set(unknown as f64);
            gauge!(JOURNAL_COUNTS_AGE_SECONDS).set(age.as_secs_f64());
        }
        gauge!(JOURNAL_WRITABLE).set(if journal.writable { 1.0 } else { 0.0 });
    }
    for (module, digest) in &state.modules {
        gauge!(MODULE_INFO, "module" => module.to_string(), "digest" => digest.to_string())
            .set(1.0);
    }
    gauge!(BUILD_INFO, &crate::BuildInfo::CURRENT.fields()).set(1.0);
    let started = STARTED
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    gauge!(PROCESS_START_TIME_SECONDS).set(started.as_secs_f64());
}
