//! The chaos run (issue 25): every promise of the host checked at once,
//! under a seeded schedule of operations and faults, in the manner of
//! Jepsen (a generator of operations from several clients, a nemesis of
//! faults, checkers over the recorded history) and of FoundationDB's
//! simulation tests (one seed drives everything; the same seed replays
//! the same schedule).
//!
//! The parts are real: three `provisioning serve` processes (two on one
//! throwaway PostgreSQL journal, one on a SQLite file), the sandbox's
//! simulators with their fault injection and request logs, the four
//! provider components and the misbehaving one. The schedule is drawn by
//! ChaCha8 (rand_chacha: a stream fixed for a seed across versions and
//! platforms); the processes' timing differs between runs, the schedule
//! does not. A failure prints the seed, the switches and the schedule.
//!
//! - PROVISIONING_CHAOS_SEED=N[,M...]: these seeds (else [`DEFAULT_SEEDS`]);
//! - PROVISIONING_CHAOS_SEEDS=N: N seeds from a time-derived first one
//!   (printed);
//! - PROVISIONING_CHAOS_OPS=N: operations per seed (else [`DEFAULT_OPS`]),
//!   the run lasting 150 ms per operation;
//! - PROVISIONING_CHAOS_ENABLE / _DISABLE: the switches (chaos/switches.rs).

#[path = "chaos/checkers.rs"]
mod checkers;
#[path = "chaos/clients.rs"]
mod clients;
#[path = "chaos/cluster.rs"]
mod cluster;
#[path = "chaos/history.rs"]
mod history;
#[path = "chaos/nemesis.rs"]
mod nemesis;
#[path = "chaos/schedule.rs"]
mod schedule;
#[path = "chaos/switches.rs"]
mod switches;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use provisioning_host::journal::{JournalStore, PostgresJournal, SqliteJournal};
use serde_json::json;

use checkers::Observed;
use cluster::Cluster;
use history::{Event, History};
use schedule::{HOSTS, Op, PG_HOSTS, SQLITE_HOST, Schedule};
use switches::Switches;

/// The seeds `cargo test` runs.
const DEFAULT_SEEDS: [u64; 3] = [25, 26, 27];
/// Operations per seed in `cargo test`: with the seeds, about a minute.
const DEFAULT_OPS: usize = 120;
/// How long the run lasts per operation.
const PER_OP: Duration = Duration::from_millis(150);

fn env_number(var: &str) -> Option<u64> {
    let value = std::env::var(var).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var} is not a number: {value:?}")),
    )
}

/// The seeds to run, from the environment.
fn seeds() -> Vec<u64> {
    if let Ok(list) = std::env::var("PROVISIONING_CHAOS_SEED") {
        return list
            .split(',')
            .map(|s| s.trim().parse().expect("PROVISIONING_CHAOS_SEED: numbers"))
            .collect();
    }
    if let Some(count) = env_number("PROVISIONING_CHAOS_SEEDS") {
        let first = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 1_000_000;
        println!("chaos: {count} seeds from {first}");
        return (first..first + count).collect();
    }
    DEFAULT_SEEDS.to_vec()
}

#[test]
fn the_chaos_run_keeps_every_promise() {
    let switches = Switches::from_env();
    let ops = env_number("PROVISIONING_CHAOS_OPS").map_or(DEFAULT_OPS, |n| n as usize);
    println!("chaos: switches {switches:?}");
    let failed: Vec<u64> = seeds()
        .into_iter()
        .filter(|&seed| {
            let report = run(seed, ops, &switches);
            if let Some(report) = &report {
                println!("{report}");
            }
            report.is_some()
        })
        .collect();
    assert!(
        failed.is_empty(),
        "the chaos run broke promises under seeds {failed:?} (each one's report above; \
         PROVISIONING_CHAOS_SEED=<seed> PROVISIONING_CHAOS_OPS={ops} replays it)"
    );
}

/// One seed's run: start the parts, run the clients, the nemesis and the
/// probes, let it settle, gather what the parts hold, check. The report
/// of what it broke, if anything.
fn run(seed: u64, ops: usize, switches: &Switches) -> Option<String> {
    let began = Instant::now();
    let schedule = Schedule::generate(seed, ops, PER_OP * ops as u32, switches);
    println!(
        "chaos: seed {seed}: {} operations, {} faults over {:?} (PROVISIONING_CHAOS_SEED={seed} \
         replays it)",
        schedule.ops(),
        schedule.faults.len(),
        schedule.duration
    );
    for at in &schedule.faults {
        println!("chaos: seed {seed}: {:>6} ms {:?}", at.ms, at.what);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cluster = Cluster::start(&runtime, seed);
    let started_in = began.elapsed();
    let history = History::new();
    let secrets = cluster::secrets();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let probes = scope.spawn(|| nemesis::probe(&cluster, &history, &secrets, &stop));
        let nemesis = scope.spawn(|| nemesis::run(&schedule.faults, &cluster, &history));
        let clients: Vec<_> = schedule
            .clients
            .iter()
            .enumerate()
            .map(|(i, ops)| {
                let (cluster, history) = (&cluster, &history);
                scope.spawn(move || clients::run(i, ops, cluster, history))
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
        nemesis.join().unwrap();
        settle(&cluster, &history);
        stop.store(true, Ordering::Relaxed);
        probes.join().unwrap();
    });
    let observed = observe(&cluster, &history, &secrets);
    let violations = checkers::check(&schedule, switches, &history, &observed);
    let (samples, p99) = checkers::liveness_under_guests(&history);
    println!(
        "chaos: seed {seed}: {:.1} s ({:.1} s to start); answers {:?}; journals pg {:?}, sqlite \
         {:?}; provider creates {} (HostMeNow) + {} (Webline); liveness p99 {p99:?} over \
         {samples} probes while guests misbehaved",
        began.elapsed().as_secs_f64(),
        started_in.as_secs_f64(),
        checkers::tally(&history),
        checkers::states(&observed.journals["pg"]),
        checkers::states(&observed.journals["lite"]),
        observed
            .hmn_requests
            .iter()
            .filter(|r| r.action == "CreateAccount")
            .count(),
        observed
            .wl_requests
            .iter()
            .filter(|r| r.action == "createAccount")
            .count(),
    );
    if !violations.is_empty() {
        let windows: Vec<String> = history
            .windows
            .lock()
            .unwrap()
            .iter()
            .map(|w| format!("  {:>6}..{:>6} ms {:?}", w.start_ms, w.end_ms, w.fault))
            .collect();
        let mut events = history.events.lock().unwrap().clone();
        events.sort_by_key(|event| event.start_ms);
        let calls: Vec<String> = events
            .iter()
            .flat_map(|event| {
                event.calls.iter().map(move |call| {
                    let line = format!(
                        "  {:>6}..{:>6} ms client {} {} {} -> {:?} {}",
                        event.start_ms,
                        event.end_ms,
                        event.client,
                        call.route,
                        call.request,
                        call.status,
                        call.body
                    );
                    line.chars().take(400).collect::<String>()
                })
            })
            .collect();
        return Some(format!(
            "chaos run of seed {seed} broke {} promise(s) (replay: PROVISIONING_CHAOS_SEED={seed} \
             PROVISIONING_CHAOS_OPS={ops}; switches {switches:?}):\n{}\n\nfaults as they \
             happened:\n{}\n\nthe history:\n{}\n\n{schedule}",
            violations.len(),
            violations.join("\n"),
            windows.join("\n"),
            calls.join("\n"),
        ));
    }
    None
}

/// After the last operation: waits until no call is in flight on either
/// journal and every attempt's deadline has passed (20 s at most), then
/// runs a reconcile pass on each, as an operator would, recorded in the
/// history.
fn settle(cluster: &Cluster, history: &History) {
    let agent = clients::agent();
    for host in [PG_HOSTS[0], SQLITE_HOST] {
        let base = cluster.hosts[host].base();
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            let (status, pending) =
                clients::send(&agent, &base, "GET", "/v1/journal/pending", None, None);
            let running = pending["pending"].as_array().is_some_and(|p| {
                p.iter()
                    .any(|e| e["state"] == "in-flight" || e["attempt_over"] == false)
            });
            if status == Some(200) && !running {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let start_ms = history.now_ms();
        let body = json!({});
        let (status, answer) = clients::send(
            &agent,
            &base,
            "POST",
            "/v1/journal/reconcile",
            Some(&body),
            None,
        );
        history.events.lock().unwrap().push(Event {
            client: usize::MAX,
            op: Op::Reconcile { host },
            start_ms,
            end_ms: history.now_ms(),
            calls: vec![history::Call {
                route: "POST /v1/journal/reconcile".into(),
                request: body,
                status,
                body: answer,
            }],
        });
        resolve_by_hand(cluster, history, host);
    }
}

/// What an operator does after a reconcile pass: for each create whose
/// outcome is still unknown, looks the account up at the provider (the
/// sandbox's state) and acknowledges the entry with what it found.
fn resolve_by_hand(cluster: &Cluster, history: &History, host: usize) {
    let agent = clients::agent();
    let base = cluster.hosts[host].base();
    let start_ms = history.now_ms();
    let (_, pending) = clients::send(&agent, &base, "GET", "/v1/journal/pending", None, None);
    let mut calls = Vec::new();
    for entry in pending["pending"].as_array().into_iter().flatten() {
        let intent = &entry["intent"];
        if entry["state"] != "unknown" || intent["function"] != "create-account" {
            continue;
        }
        let service = intent["service_id"].as_str().unwrap_or_default();
        let found = match intent["module"].as_str() {
            Some("hostmenow") => cluster
                .sandbox
                .hostmenow()
                .service(service)
                .map(|s| s.order_id),
            _ => cluster
                .sandbox
                .webline()
                .accounts()
                .into_iter()
                .find(|a| a.domain.trim_start_matches("conflict-") == format!("{service}.co.tz"))
                .map(|a| a.id.to_string()),
        };
        let body = match found {
            Some(remote_id) => {
                json!({ "finding": "done", "remote_id": remote_id, "note": "chaos operator" })
            }
            None => json!({ "finding": "not-done", "note": "chaos operator" }),
        };
        let path = format!("/v1/journal/{}/ack", entry["id"]);
        let (status, answer) = clients::send(&agent, &base, "POST", &path, Some(&body), None);
        calls.push(history::Call {
            route: format!("POST {path}"),
            request: body,
            status,
            body: answer,
        });
    }
    history.events.lock().unwrap().push(Event {
        client: usize::MAX,
        op: Op::Ack { host },
        start_ms,
        end_ms: history.now_ms(),
        calls,
    });
}

/// What the parts hold after the run; the last /metrics scrapes are
/// scanned for secrets on the way.
fn observe(cluster: &Cluster, history: &History, secrets: &[String]) -> Observed {
    for host in &cluster.hosts {
        let (_, metrics) = clients::send(
            &clients::agent(),
            &host.base(),
            "GET",
            "/metrics",
            None,
            None,
        );
        history.scan("GET /metrics", &metrics.to_string(), secrets);
    }
    let pg = PostgresJournal::connect(&cluster.pg_url).expect("the PostgreSQL journal opens");
    let lite = SqliteJournal::open(&cluster.sqlite_journal).expect("the SQLite journal opens");
    let journals = BTreeMap::from([
        (
            "pg",
            pg.entries().expect("the PostgreSQL journal's entries"),
        ),
        (
            "lite",
            lite.entries().expect("the SQLite journal's entries"),
        ),
    ]);
    let sandbox = &cluster.sandbox;
    Observed {
        hmn_requests: sandbox.hostmenow().requests(),
        hmn_services: sandbox.hostmenow().services(),
        wl_requests: sandbox.webline().requests(),
        wl_accounts: sandbox.webline().accounts(),
        wl_rate_limited_ms: (sandbox.webline().rate_limited_at().into_iter())
            .map(|at| history.offset_of(at))
            .collect(),
        journals,
        logs: (0..HOSTS).map(|h| cluster.hosts[h].logs()).collect(),
        alive: (0..HOSTS).map(|h| cluster.hosts[h].alive()).collect(),
    }
}
