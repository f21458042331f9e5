//! The schedule of one run, drawn from its seed alone: what each client
//! sends and when (the generator), and which fault the nemesis injects
//! when. Times are offsets from the start of the run; the real processes'
//! timing differs between runs, the schedule never does.

use std::fmt;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::switches::Switches;

/// The serve hosts: two on the PostgreSQL journal, one on a SQLite file.
pub const HOSTS: usize = 3;
/// The hosts on the shared PostgreSQL journal.
pub const PG_HOSTS: [usize; 2] = [0, 1];
/// The host on its own SQLite journal.
pub const SQLITE_HOST: usize = 2;

/// A host's name in the schedule and the report.
pub fn host_name(host: usize) -> &'static str {
    ["pg-a", "pg-b", "sqlite"][host]
}

/// The journal a host writes to: hosts of one group share idempotency
/// keys; the groups' keys and services never overlap, as two journals
/// know nothing of each other.
pub fn group(host: usize) -> &'static str {
    if host == SQLITE_HOST { "lite" } else { "pg" }
}

/// The provider a key's service lives at: even keys HostMeNow, odd ones
/// Webline.
pub fn module_of(key: usize) -> &'static str {
    if key.is_multiple_of(2) {
        "hostmenow"
    } else {
        "webline"
    }
}

/// The platform's service id of key `key` in journal group `group`.
pub fn service_id(group: &str, key: usize) -> String {
    format!("chaos-{group}-{key}")
}

/// The idempotency key of key `key`'s create in journal group `group`.
pub fn create_key(group: &str, key: usize) -> String {
    format!("create-{group}-{key}")
}

/// One operation of a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// create-account of key `key` (its service, its idempotency key);
    /// `conflicting`: the same key with another domain, which the journal
    /// must refuse unsent.
    Create {
        host: usize,
        key: usize,
        conflicting: bool,
    },
    /// suspend (or unsuspend) key `key`'s HostMeNow service, under an
    /// idempotency key of its own (`n`).
    Suspend {
        host: usize,
        key: usize,
        n: usize,
        unsuspend: bool,
    },
    /// change-password of key `key`'s HostMeNow service to a new secret
    /// password (`n` makes both the password and the idempotency key).
    ChangePassword { host: usize, key: usize, n: usize },
    /// service-status of key `key`'s service.
    Read { host: usize, key: usize },
    /// test-connection of one of the provider modules.
    TestConnection { host: usize, module: &'static str },
    /// A usage run (POST /v1/usage) over these keys' HostMeNow services.
    Usage { host: usize, keys: Vec<usize> },
    /// Reads the pending list and acknowledges the answered entries.
    Ack { host: usize },
    /// POST /v1/journal/reconcile.
    Reconcile { host: usize },
    /// A call carrying the serve token as its request id and an
    /// unknown finding in an acknowledgement: a hostile client (items 5
    /// and 9).
    Hostile { host: usize },
    /// A call whose per-call settings try to replace the operator's
    /// api-key (item 7).
    SettingOverride { host: usize },
    /// A misbehaving guest's call, sent by the nemesis.
    Misbehave { host: usize, guest: Guest },
}

impl Op {
    /// The host the operation is sent to.
    pub fn host(&self) -> usize {
        match self {
            Op::Create { host, .. }
            | Op::Suspend { host, .. }
            | Op::ChangePassword { host, .. }
            | Op::Read { host, .. }
            | Op::TestConnection { host, .. }
            | Op::Usage { host, .. }
            | Op::Ack { host }
            | Op::Reconcile { host }
            | Op::Hostile { host }
            | Op::SettingOverride { host }
            | Op::Misbehave { host, .. } => *host,
        }
    }
}

/// How a provider misbehaves for a few requests (the sandbox's faults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderFault {
    /// Answers after this many milliseconds.
    Slow(u64),
    /// Acts, then loses its answer.
    AnswerLost,
    /// Cuts the connection mid-body, without acting.
    Disconnect,
    /// 429 with a Retry-After of this many seconds.
    TooManyRequests(u32),
}

/// What a misbehaving guest does (the misbehaving module's usage-data,
/// chosen by the service id's prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guest {
    /// Spins until its deadline.
    Loop,
    /// Allocates until the memory cap.
    Memory,
    /// Prints without end.
    FloodLog,
}

impl Guest {
    /// The behaviour's name, as the misbehaving module knows it.
    pub fn behaviour(self) -> &'static str {
        match self {
            Guest::Loop => "loop",
            Guest::Memory => "memory",
            Guest::FloodLog => "flood-log",
        }
    }
}

/// What a reload brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reload {
    /// A manifest with one more, good module.
    NewComponent,
    /// One more module whose component file is garbage bytes.
    GarbageComponent,
    /// One more module whose component file does not exist.
    MissingComponent,
    /// A manifest that is not TOML, on a line holding an inline key
    /// (item 5: readiness quoted it).
    GarbageManifest,
}

/// One fault of the nemesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// SIGSTOP a host, SIGCONT it after `millis`.
    Stall { host: usize, millis: u64 },
    /// SIGKILL a host, start it again after `millis`.
    Kill { host: usize, millis: u64 },
    /// Stop PostgreSQL, start it again after `millis`.
    StopPostgres { millis: u64 },
    /// Queue a provider fault for the next `times` requests of a provider.
    Provider {
        module: &'static str,
        fault: ProviderFault,
        times: usize,
    },
    /// `count` concurrent misbehaving calls on a host.
    Guests {
        host: usize,
        guest: Guest,
        count: usize,
    },
    /// Rewrite a host's manifest, SIGHUP it, and put the good one back
    /// (SIGHUP again) after `millis`.
    Reload {
        host: usize,
        reload: Reload,
        millis: u64,
    },
    /// A client that sends half a request head and holds its connection
    /// for `millis`.
    SlowClient { host: usize, millis: u64 },
    /// Another process holds the SQLite journal's write lock for `millis`.
    LockSqlite { millis: u64 },
    /// Every PostgreSQL process SIGSTOPped, SIGCONT after `millis`.
    FreezePostgres { millis: u64 },
}

/// A thing scheduled at an offset from the start of the run.
#[derive(Clone, Debug)]
pub struct At<T> {
    /// Offset from the start, in milliseconds.
    pub ms: u64,
    /// What happens then.
    pub what: T,
}

/// Everything one run does, from its seed.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// The seed it was drawn from.
    pub seed: u64,
    /// Each client's operations, in time order.
    pub clients: Vec<Vec<At<Op>>>,
    /// The nemesis' faults, in time order.
    pub faults: Vec<At<Fault>>,
    /// How long clients keep sending.
    pub duration: Duration,
}

/// Concurrent clients.
pub const CLIENTS: usize = 6;

impl Schedule {
    /// Draws the schedule of `ops` operations and the faults of a run of
    /// `duration` from `seed`, leaving out what `switches` hold back.
    pub fn generate(seed: u64, ops: usize, duration: Duration, switches: &Switches) -> Schedule {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let span = duration.as_millis() as u64;
        // About one key per four operations, so that keys repeat.
        let keys = (ops / 4).max(4);
        let mut clients: Vec<Vec<At<Op>>> = vec![Vec::new(); CLIENTS];
        let mut next_n = 0usize;
        for i in 0..ops {
            let ms = rng.random_range(0..span);
            let host = rng.random_range(0..HOSTS);
            let key = rng.random_range(0..keys);
            // HostMeNow's services: the even keys.
            let hmn_key = key & !1;
            let roll = rng.random_range(0..100);
            let op = match roll {
                0..40 => Op::Create {
                    host,
                    key,
                    conflicting: rng.random_range(0..10) == 0,
                },
                40..52 => {
                    next_n += 1;
                    Op::Suspend {
                        host,
                        key: hmn_key,
                        n: next_n,
                        unsuspend: rng.random_bool(0.5),
                    }
                }
                52..58 => {
                    next_n += 1;
                    Op::ChangePassword {
                        host,
                        key: hmn_key,
                        n: next_n,
                    }
                }
                58..70 => Op::Read { host, key },
                70..75 => Op::TestConnection {
                    host,
                    module: ["hostmenow", "webline", "blesta", "logicboxes"]
                        [rng.random_range(0..4)],
                },
                75..82 => Op::Usage {
                    host,
                    keys: (0..rng.random_range(1..6))
                        .map(|_| rng.random_range(0..keys) & !1)
                        .collect(),
                },
                82..90 => Op::Ack { host },
                90..96 => Op::Reconcile { host },
                96..98 if switches.hostile_clients => Op::Hostile { host },
                96..98 => Op::Read { host, key },
                _ if switches.setting_override => Op::SettingOverride { host },
                _ => Op::Read { host, key },
            };
            clients[i % CLIENTS].push(At { ms, what: op });
        }
        for client in &mut clients {
            client.sort_by_key(|at| at.ms);
        }
        let mut faults = Vec::new();
        // A fault every 1.5 s or so, none in the first or the last second
        // (the hosts come up, the run winds down).
        let count = (span / 1500).max(3);
        for _ in 0..count {
            let ms = rng.random_range(1000..span.saturating_sub(1000).max(1001));
            let host = rng.random_range(0..HOSTS);
            let fault = match rng.random_range(0..100) {
                0..10 if switches.stall_hosts => Fault::Stall {
                    host: PG_HOSTS[rng.random_range(0..2)],
                    millis: rng.random_range(500..4000),
                },
                0..10 => Fault::Stall {
                    host: SQLITE_HOST,
                    millis: rng.random_range(500..2000),
                },
                10..18 => Fault::Kill {
                    host,
                    millis: rng.random_range(200..1500),
                },
                18..21 if switches.stop_postgres => Fault::StopPostgres {
                    millis: rng.random_range(500..3000),
                },
                21..24 if switches.freeze_postgres => Fault::FreezePostgres {
                    millis: rng.random_range(500..3000),
                },
                18..50 => {
                    let module = ["hostmenow", "webline"][rng.random_range(0..2)];
                    let fault = match rng.random_range(0..4) {
                        0 => ProviderFault::Slow(rng.random_range(200..6000)),
                        1 => ProviderFault::AnswerLost,
                        2 => ProviderFault::Disconnect,
                        _ => ProviderFault::TooManyRequests(rng.random_range(1..3)),
                    };
                    Fault::Provider {
                        // The sandbox counts a request against Webline's
                        // limit after a slow fault's wait, as if it had
                        // been sent then: its own limit would see a burst
                        // the hosts never sent.
                        module: match fault {
                            ProviderFault::Slow(_) if switches.provider_rate => "hostmenow",
                            _ => module,
                        },
                        fault,
                        times: rng.random_range(1..4),
                    }
                }
                50..58 => Fault::Guests {
                    host,
                    guest: Guest::Loop,
                    // Four per CPU of a two-CPU machine (item 1's measure).
                    count: 8,
                },
                58..65 => Fault::Guests {
                    host,
                    guest: [Guest::Memory, Guest::FloodLog][rng.random_range(0..2)],
                    count: rng.random_range(2..9),
                },
                65..80 => Fault::Reload {
                    host,
                    reload: match rng.random_range(0..4) {
                        0 => Reload::NewComponent,
                        1 => Reload::GarbageComponent,
                        2 => Reload::MissingComponent,
                        _ if switches.garbage_manifest => Reload::GarbageManifest,
                        _ => Reload::GarbageComponent,
                    },
                    millis: rng.random_range(300..2000),
                },
                80..86 if switches.lock_sqlite => Fault::LockSqlite {
                    millis: rng.random_range(500..4000),
                },
                _ => Fault::SlowClient {
                    host,
                    millis: rng.random_range(500..5000),
                },
            };
            faults.push(At { ms, what: fault });
        }
        // Item 1's measure, at least once per 10 s: four looping guests
        // per CPU of a two-CPU machine on one host, probed meanwhile.
        for _ in 0..(span / 10_000).max(1) {
            faults.push(At {
                ms: rng.random_range(1000..span.saturating_sub(1000).max(1001)),
                what: Fault::Guests {
                    host: rng.random_range(0..HOSTS),
                    guest: Guest::Loop,
                    count: 8,
                },
            });
        }
        faults.sort_by_key(|at| at.ms);
        Schedule {
            seed,
            clients,
            faults,
            duration,
        }
    }

    /// Operations over every client.
    pub fn ops(&self) -> usize {
        self.clients.iter().map(Vec::len).sum()
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "schedule of seed {} ({} operations over {:?}):",
            self.seed,
            self.ops(),
            self.duration
        )?;
        for at in &self.faults {
            writeln!(f, "  {:>6} ms nemesis {:?}", at.ms, at.what)?;
        }
        for (client, ops) in self.clients.iter().enumerate() {
            for at in ops {
                writeln!(f, "  {:>6} ms client {client} {:?}", at.ms, at.what)?;
            }
        }
        Ok(())
    }
}
