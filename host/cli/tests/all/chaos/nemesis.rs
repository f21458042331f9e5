//! The nemesis: injects the schedule's faults one after another, not
//! before their time, heals each (SIGCONT, a restart, PostgreSQL started
//! again, the good manifest back) before the next, and records when each
//! really happened. Misbehaving guests and slow clients run beside it.
//! Also the probes of liveness, readiness and /metrics that run all along.

use std::io::Write as _;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use provisioning_sandbox::fault::Fault as SandboxFault;

use super::clients;
use super::cluster::Cluster;
use super::history::{History, Probe, Window};
use super::schedule::{At, CLIENTS, Fault, HOSTS, Op, ProviderFault};

/// How long a liveness probe waits for its answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs `faults` against `cluster`, recording each into `history`.
pub fn run(faults: &[At<Fault>], cluster: &Cluster, history: &History) {
    std::thread::scope(|scope| {
        for at in faults {
            let due = history.instant(at.ms);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let start_ms = history.now_ms();
            let record = move |end_ms: u64| {
                history.windows.lock().unwrap().push(Window {
                    fault: at.what.clone(),
                    start_ms,
                    end_ms,
                })
            };
            match &at.what {
                Fault::Stall { host, millis } => {
                    let host = &cluster.hosts[*host];
                    host.signal("STOP");
                    std::thread::sleep(Duration::from_millis(*millis));
                    host.signal("CONT");
                    record(history.now_ms());
                }
                Fault::Kill { host, millis } => {
                    let host = &cluster.hosts[*host];
                    host.kill();
                    std::thread::sleep(Duration::from_millis(*millis));
                    host.restart();
                    record(history.now_ms());
                }
                Fault::StopPostgres { millis } => {
                    cluster.pg.stop();
                    std::thread::sleep(Duration::from_millis(*millis));
                    cluster.pg.start_again();
                    record(history.now_ms());
                }
                Fault::Provider {
                    module,
                    fault,
                    times,
                } => {
                    let fault = match *fault {
                        ProviderFault::Slow(ms) => SandboxFault::Slow(Duration::from_millis(ms)),
                        ProviderFault::AnswerLost => SandboxFault::AnswerLost,
                        ProviderFault::Disconnect => SandboxFault::DisconnectMidBody,
                        ProviderFault::TooManyRequests(secs) => SandboxFault::TooManyRequests {
                            retry_after_secs: secs,
                        },
                    };
                    let injector = match *module {
                        "hostmenow" => cluster.sandbox.hostmenow().faults(),
                        _ => cluster.sandbox.webline().faults(),
                    };
                    injector.inject(fault, *times);
                    record(start_ms);
                }
                Fault::Guests { host, guest, count } => {
                    let misbehave = At {
                        ms: at.ms,
                        what: Op::Misbehave {
                            host: *host,
                            guest: *guest,
                        },
                    };
                    scope.spawn(move || {
                        std::thread::scope(|calls| {
                            for i in 0..*count {
                                let ops = std::slice::from_ref(&misbehave);
                                // Numbered past the clients.
                                calls.spawn(move || {
                                    clients::run(CLIENTS + i, ops, cluster, history)
                                });
                            }
                        });
                        record(history.now_ms());
                    });
                }
                Fault::Reload {
                    host,
                    reload,
                    millis,
                } => {
                    let host = &cluster.hosts[*host];
                    host.reload_with(*reload, &cluster.sandbox);
                    std::thread::sleep(Duration::from_millis(*millis));
                    host.restore_manifest();
                    record(history.now_ms());
                }
                Fault::FreezePostgres { millis } => {
                    let pids: Vec<String> = cluster.pg.pids().iter().map(u32::to_string).collect();
                    let signal = |signal: &str| {
                        let _ = std::process::Command::new("kill")
                            .arg(format!("-{signal}"))
                            .args(&pids)
                            .status();
                    };
                    signal("STOP");
                    std::thread::sleep(Duration::from_millis(*millis));
                    signal("CONT");
                    record(history.now_ms());
                }
                Fault::LockSqlite { millis } => {
                    let holder = rusqlite::Connection::open(&cluster.sqlite_journal).unwrap();
                    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
                    std::thread::sleep(Duration::from_millis(*millis));
                    holder.execute_batch("ROLLBACK").unwrap();
                    record(history.now_ms());
                }
                Fault::SlowClient { host, millis } => {
                    let base = cluster.hosts[*host].base();
                    let millis = *millis;
                    scope.spawn(move || {
                        let address = base.trim_start_matches("http://");
                        if let Ok(mut stream) = TcpStream::connect(address) {
                            // Half a head, a byte at a time, then silence.
                            let head = b"POST /v1/modules/hostmenow/call HTTP/1.1\r\nHost: x\r\n";
                            let started = Instant::now();
                            for byte in head {
                                if started.elapsed() > Duration::from_millis(millis)
                                    || stream.write_all(&[*byte]).is_err()
                                {
                                    break;
                                }
                                std::thread::sleep(Duration::from_millis(millis / 60 + 1));
                            }
                        }
                        record(history.now_ms());
                    });
                }
            }
        }
    });
}

/// Probes every host's liveness every 10 ms (a storm of looping guests
/// lasts their 2 s deadline: some 200 probes, enough for a p99 that is not
/// the one slowest), and scrapes its readiness and /metrics every second
/// (scanned for secrets), until `stop`.
pub fn probe(cluster: &Cluster, history: &History, secrets: &[String], stop: &AtomicBool) {
    std::thread::scope(|scope| {
        for host in 0..HOSTS {
            scope.spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(PROBE_TIMEOUT).build();
                let mut round = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let base = cluster.hosts[host].base();
                    let at_ms = history.now_ms();
                    let sent = Instant::now();
                    let answered = agent.get(&format!("{base}/v1/health/live")).call().is_ok();
                    let latency = if answered {
                        sent.elapsed()
                    } else {
                        PROBE_TIMEOUT.max(sent.elapsed())
                    };
                    history.probes.lock().unwrap().push(Probe {
                        host,
                        at_ms,
                        latency,
                    });
                    round += 1;
                    if round.is_multiple_of(100) {
                        for path in ["/v1/health/ready", "/metrics"] {
                            let response = match agent.get(&format!("{base}{path}")).call() {
                                Ok(response) | Err(ureq::Error::Status(_, response)) => response,
                                Err(_) => continue,
                            };
                            if let Ok(text) = response.into_string() {
                                history.scan(&format!("GET {path}"), &text, secrets);
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
        }
    });
}
