//! The checkers: each reads the recorded history and what the parts hold
//! after the run (the sandbox's request log and state, both journals read
//! through the library, every process's log) and names every violation of
//! one invariant. ARCHITECTURE.md's "The chaos run" lists them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use provisioning_host::journal::{Entry, EntryState, Finding};
use provisioning_sandbox::{hostmenow, webline};
use serde_json::Value;

use super::clients::{create_password, domain, new_password};
use super::cluster::{deadline_ms, secrets};
use super::history::History;
use super::schedule::{Fault, Op, Schedule, group, module_of, service_id};
use super::switches::Switches;

/// What the parts hold once the run is over.
pub struct Observed {
    /// HostMeNow's request log and services.
    pub hmn_requests: Vec<hostmenow::RecordedRequest>,
    pub hmn_services: Vec<hostmenow::ServiceRecord>,
    /// Webline's request log and accounts.
    pub wl_requests: Vec<webline::RecordedRequest>,
    pub wl_accounts: Vec<webline::AccountRecord>,
    /// When each request Webline's own rate limit turned away came, from
    /// the start of the run.
    pub wl_rate_limited_ms: Vec<u64>,
    /// Every entry of each journal group (`pg`, `lite`).
    pub journals: BTreeMap<&'static str, Vec<Entry>>,
    /// Every line every process logged, by host.
    pub logs: Vec<String>,
    /// Whether each host's current process is still running.
    pub alive: Vec<bool>,
}

/// The liveness figure of a run: probes taken while guests misbehaved on
/// the probed host (outside its stalls and restarts, and its reloads,
/// which compile components beside the guests), and their p99.
pub fn liveness_under_guests(history: &History) -> (usize, Option<Duration>) {
    let probes = probes_under_guests(history);
    let p99 = (!probes.is_empty()).then(|| probes[(probes.len() * 99).div_ceil(100) - 1].latency);
    (probes.len(), p99)
}

/// The probes [`liveness_under_guests`] counts, fastest first.
fn probes_under_guests(history: &History) -> Vec<super::history::Probe> {
    let windows = history.windows.lock().unwrap().clone();
    let mut probes: Vec<super::history::Probe> = history
        .probes
        .lock()
        .unwrap()
        .iter()
        .filter(|probe| {
            let during = |fault_host: usize, start: u64, end: u64| {
                fault_host == probe.host && probe.at_ms >= start && probe.at_ms <= end
            };
            let guests = windows.iter().any(|w| match w.fault {
                Fault::Guests { host, .. } => during(host, w.start_ms, w.end_ms),
                _ => false,
            });
            let away = windows.iter().any(|w| match w.fault {
                Fault::Stall { host, .. } | Fault::Kill { host, .. } => {
                    during(host, w.start_ms.saturating_sub(2500), w.end_ms + 1000)
                }
                Fault::Reload { host, .. } => during(host, w.start_ms, w.end_ms + 1000),
                _ => false,
            });
            guests && !away
        })
        .copied()
        .collect();
    probes.sort_by_key(|probe| probe.latency);
    probes
}

/// Every violation of every invariant the switches include.
pub fn check(
    schedule: &Schedule,
    switches: &Switches,
    history: &History,
    observed: &Observed,
) -> Vec<String> {
    let mut violations = Vec::new();
    one_provider_effect_per_key(schedule, observed, &mut violations);
    ok_creates_have_their_account(history, observed, &mut violations);
    accounts_have_their_journal_entry(observed, &mut violations);
    nothing_decided_before_its_deadline(observed, &mut violations);
    if switches.liveness {
        let (samples, p99) = liveness_under_guests(history);
        if let Some(p99) = p99.filter(|p99| *p99 > Duration::from_millis(100)) {
            let slowest: Vec<String> = probes_under_guests(history)
                .iter()
                .rev()
                .take(5)
                .map(|p| {
                    format!(
                        "{} at {} ms: {:?}",
                        super::schedule::host_name(p.host),
                        p.at_ms,
                        p.latency
                    )
                })
                .collect();
            violations.push(format!(
                "liveness: p99 {p99:?} over {samples} probes while guests misbehaved (item 1); \
                 slowest {slowest:?}"
            ));
        }
    }
    no_secret_anywhere(schedule, history, observed, &mut violations);
    nothing_panicked(observed, &mut violations);
    answers_as_documented(history, switches, &mut violations);
    if switches.provider_rate {
        provider_rate_kept(history, observed, &mut violations);
    }
    violations
}

/// The provider's own rate limit never turned a request away (item 8),
/// but while the budget the PostgreSQL hosts share could not be reached
/// (each host then paces alone, by design) and the provider's window
/// after.
fn provider_rate_kept(history: &History, observed: &Observed, out: &mut Vec<String>) {
    let windows = history.windows.lock().unwrap();
    let alone = |ms: u64| {
        windows.iter().any(|w| {
            matches!(
                w.fault,
                Fault::StopPostgres { .. } | Fault::FreezePostgres { .. }
            ) && ms >= w.start_ms
                && ms <= w.end_ms + 1500
        })
    };
    let turned_away: Vec<u64> = observed
        .wl_rate_limited_ms
        .iter()
        .copied()
        .filter(|ms| !alone(*ms))
        .collect();
    if !turned_away.is_empty() {
        out.push(format!(
            "provider rate: Webline's own limit turned requests away at {turned_away:?} ms \
             (item 8)"
        ));
    }
}

/// The keys whose creates the schedule sends, by journal group.
fn created_keys(schedule: &Schedule) -> BTreeSet<(&'static str, usize)> {
    schedule
        .clients
        .iter()
        .flatten()
        .filter_map(|at| match at.what {
            Op::Create { host, key, .. } => Some((group(host), key)),
            _ => None,
        })
        .collect()
}

/// The provider's create requests for key `key` of `group`, its conflicting
/// variant included.
fn provider_creates(observed: &Observed, group: &str, key: usize) -> usize {
    let id = service_id(group, key);
    match module_of(key) {
        "hostmenow" => observed
            .hmn_requests
            .iter()
            .filter(|r| r.action == "CreateAccount" && r.params["serviceid"] == id.as_str())
            .count(),
        _ => {
            let domains = [domain(group, key, false), domain(group, key, true)];
            observed
                .wl_requests
                .iter()
                .filter(|r| {
                    r.action == "createAccount"
                        && domains.iter().any(|d| r.fields["domain"] == d.as_str())
                })
                .count()
        }
    }
}

/// At most one provider-side effect per idempotency key (item 2: a key
/// sent again while its first attempt could still arrive).
fn one_provider_effect_per_key(schedule: &Schedule, observed: &Observed, out: &mut Vec<String>) {
    for (group, key) in created_keys(schedule) {
        let creates = provider_creates(observed, group, key);
        if creates > 1 {
            out.push(format!(
                "one effect per key: the provider saw {creates} creates of {} (key {})",
                service_id(group, key),
                super::schedule::create_key(group, key)
            ));
        }
    }
}

/// Whether the provider holds the account of key `key` of `group`; its id.
fn account_at_provider(observed: &Observed, group: &str, key: usize) -> Option<String> {
    let id = service_id(group, key);
    match module_of(key) {
        "hostmenow" => observed
            .hmn_services
            .iter()
            .find(|s| s.service_id == id)
            .map(|s| s.service_id.clone()),
        _ => {
            let domains = [domain(group, key, false), domain(group, key, true)];
            observed
                .wl_accounts
                .iter()
                .find(|a| domains.contains(&a.domain))
                .map(|a| a.id.to_string())
        }
    }
}

/// Every create answered `ok` has its account at the provider, the one
/// the answer names.
fn ok_creates_have_their_account(history: &History, observed: &Observed, out: &mut Vec<String>) {
    for event in history.events.lock().unwrap().iter() {
        let Op::Create { host, key, .. } = event.op else {
            continue;
        };
        let Some(call) = event.calls.first() else {
            continue;
        };
        let ok = &call.body["ok"];
        if call.status != Some(200) || ok.is_null() {
            continue;
        }
        let group = group(host);
        match account_at_provider(observed, group, key) {
            None => out.push(format!(
                "ok creates have their account: {} answered ok at {} ms, no account at the provider",
                service_id(group, key),
                event.end_ms
            )),
            Some(id) if module_of(key) == "webline" && ok["value"]["remote_id"] != id.as_str() => {
                out.push(format!(
                    "ok creates have their account: {} answered remote id {}, the provider's is {id}",
                    service_id(group, key),
                    ok["value"]["remote_id"]
                ))
            }
            Some(_) => {}
        }
    }
}

/// Every account at the provider has its journal entry, which says it was
/// created: answered ok, or resolved done by a reconcile pass or by the
/// run's operator at the end (item 3: an outcome that could not be
/// written stayed unknown, and acknowledging it was refused).
fn accounts_have_their_journal_entry(observed: &Observed, out: &mut Vec<String>) {
    let mut services: Vec<(String, String)> = observed
        .hmn_services
        .iter()
        .map(|s| ("hostmenow".to_string(), s.service_id.clone()))
        .collect();
    services.extend(observed.wl_accounts.iter().map(|a| {
        let service = a.domain.trim_end_matches(".co.tz");
        let service = service.strip_prefix("conflict-").unwrap_or(service);
        ("webline".to_string(), service.to_string())
    }));
    for (module, service) in services {
        let group = if service.starts_with("chaos-pg-") {
            "pg"
        } else {
            "lite"
        };
        let entries: Vec<&Entry> = observed.journals[group]
            .iter()
            .filter(|e| {
                e.intent.module == module
                    && e.intent.function() == "create-account"
                    && e.intent.service_id() == Some(service.as_str())
            })
            .collect();
        let created = entries.iter().any(|e| {
            e.outcome.as_ref().is_some_and(|o| o.succeeded())
                || e.resolution
                    .as_ref()
                    .is_some_and(|r| r.finding == Finding::Done)
        });
        if !created {
            let states: Vec<String> = entries
                .iter()
                .map(|e| format!("entry {} {}", e.id, e.state))
                .collect();
            out.push(format!(
                "accounts have their journal entry: {module} holds {service}, the {group} journal \
                 says {states:?}"
            ));
        }
    }
}

/// No entry is decided before its attempt's deadline (the call's, by the
/// journal's clock: at most its start plus the module's deadline), and
/// none gets an outcome after it was decided (item 2).
fn nothing_decided_before_its_deadline(observed: &Observed, out: &mut Vec<String>) {
    for (group, entries) in &observed.journals {
        for entry in entries {
            let (Some(resolution), Some(decided)) = (&entry.resolution, entry.acknowledged_at_ms)
            else {
                continue;
            };
            // The attempt's deadline is the call's (which began before its
            // intent was recorded); never later than the module allows.
            let allowed = entry.started_at_ms + deadline_ms(&entry.intent.module);
            let deadline = entry.attempt_deadline_ms.unwrap_or(allowed);
            // (A few milliseconds apart: the store reads its clock twice.)
            if deadline > allowed + 100 {
                out.push(format!(
                    "decided after the deadline: {group} entry {} ({} {}) may reach the provider \
                     until {} ms after its start, past the module's deadline of {} ms",
                    entry.id,
                    entry.intent.module,
                    entry.intent.idempotency_key,
                    deadline - entry.started_at_ms,
                    deadline_ms(&entry.intent.module)
                ));
            }
            if decided < deadline {
                out.push(format!(
                    "decided after the deadline: {group} entry {} ({} {}) resolved {} {} ms after \
                     its start, {} ms before its attempt's deadline",
                    entry.id,
                    entry.intent.module,
                    entry.intent.idempotency_key,
                    resolution.finding.as_str(),
                    decided - entry.started_at_ms,
                    deadline - decided
                ));
            }
            if entry
                .finished_at_ms
                .is_some_and(|finished| finished > decided)
            {
                out.push(format!(
                    "decided after the deadline: {group} entry {} got its outcome after it was \
                     resolved",
                    entry.id
                ));
            }
        }
    }
}

/// No secret in any answer, readiness or metrics scrape (recorded as they
/// came), log line or journal dump; the passwords clients sent count too,
/// except in the answers (a caller's own credentials come back to it).
fn no_secret_anywhere(
    schedule: &Schedule,
    history: &History,
    observed: &Observed,
    out: &mut Vec<String>,
) {
    let mut all = secrets();
    for at in schedule.clients.iter().flatten() {
        match at.what {
            Op::Create { host, key, .. } if module_of(key) == "hostmenow" => {
                all.push(create_password(group(host), key))
            }
            Op::ChangePassword { n, .. } => all.push(new_password(n)),
            _ => {}
        }
    }
    for (host, log) in observed.logs.iter().enumerate() {
        history.scan(
            &format!("the log of {}", super::schedule::host_name(host)),
            log,
            &all,
        );
    }
    for (group, entries) in &observed.journals {
        let dump = serde_json::to_string(entries).unwrap();
        history.scan(&format!("the {group} journal"), &dump, &all);
    }
    let leaks = history.leaks.lock().unwrap();
    let mut seen = BTreeSet::new();
    for (place, secret) in leaks.iter() {
        if seen.insert((place, secret)) {
            out.push(format!("no secret anywhere: {secret} in {place}"));
        }
    }
}

/// Nothing panicked, and no process died but those the nemesis killed.
fn nothing_panicked(observed: &Observed, out: &mut Vec<String>) {
    for (host, log) in observed.logs.iter().enumerate() {
        let name = super::schedule::host_name(host);
        // A guest's own panic (its output, relayed after `guest:`) is a
        // trap the host reports, not the host panicking.
        let host_panic = |line: &&str| {
            line.split_once(" guest: ")
                .map_or(*line, |(host_part, _)| host_part)
                .contains("panicked")
        };
        if let Some(line) = log.lines().find(host_panic) {
            out.push(format!("nothing panicked: {name} logged {line}"));
        }
        if !observed.alive[host] {
            out.push(format!("nothing panicked: {name}'s process died"));
        }
    }
}

/// Every answer is one the API documents: no 500 (item 6, behind its
/// switch), a refusal is a JSON error body (item 9), and per-call
/// settings cannot replace the operator's (item 7).
fn answers_as_documented(history: &History, switches: &Switches, out: &mut Vec<String>) {
    for event in history.events.lock().unwrap().iter() {
        for call in &event.calls {
            let Some(status) = call.status else { continue };
            if switches.no_500 && status >= 500 && status != 503 {
                out.push(format!(
                    "answers as documented: {} answered {status} at {} ms: {}",
                    call.route, event.end_ms, call.body
                ));
            }
            if status >= 400 && !call.body["error"]["kind"].is_string() {
                out.push(format!(
                    "answers as documented: {} answered {status} without an error body: {}",
                    call.route, call.body
                ));
            }
        }
        if let Op::SettingOverride { .. } = event.op
            && let Some(call) = event.calls.first()
            && call.status.is_some()
            && call.body["error"]["kind"] != "invalid-input"
        {
            out.push(format!(
                "answers as documented: a call replacing the operator's api-key was not refused \
                 invalid-input: {}",
                call.body
            ));
        }
    }
}

/// A short account of the answers: how many of each status and kind.
pub fn tally(history: &History) -> BTreeMap<String, usize> {
    let mut tally = BTreeMap::new();
    for event in history.events.lock().unwrap().iter() {
        for call in &event.calls {
            let what = match call.status {
                None => "no answer".to_string(),
                Some(status) => match (&call.body["ok"], &call.body["error"]["kind"]) {
                    (Value::Object(_), _) => format!("{status} ok"),
                    (_, Value::String(kind)) => format!("{status} {kind}"),
                    _ => status.to_string(),
                },
            };
            *tally.entry(what).or_insert(0) += 1;
        }
    }
    tally
}

/// The states of a journal's entries at the end, for the report.
pub fn states(entries: &[Entry]) -> BTreeMap<&'static str, usize> {
    let mut states = BTreeMap::new();
    for entry in entries {
        let state: EntryState = entry.state;
        *states.entry(state.as_str()).or_insert(0) += 1;
    }
    states
}
