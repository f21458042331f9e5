//! The real parts of a run: the sandbox, a throwaway PostgreSQL server of
//! the run's own (the nemesis stops it), and three `provisioning serve`
//! processes (two on the PostgreSQL journal, one on a SQLite file), each
//! with a manifest file of its own so that a reload reaches one host.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use provisioning_sandbox::{Sandbox, blesta, hostmenow, logicboxes, webline};
use provisioning_test_postgres::PgServer;
use provisioning_test_support::manifest::{Module, TestManifest};

use super::schedule::{HOSTS, Reload, SQLITE_HOST, host_name};
use crate::common::{self, Serve};

/// The serve token.
pub const TOKEN: &str = "chaos-serve-token-5f2d8c1a9e7b";
const TOKEN_VAR: &str = "CHAOS_TOKEN";

/// The journal key (64 hex characters), the same for both journals.
pub fn journal_key() -> String {
    "9c".repeat(32)
}

/// Each module's deadline, in milliseconds, as the manifests give it.
pub fn deadline_ms(module: &str) -> i64 {
    match module {
        "hostmenow" => 3000,
        "webline" => 5000,
        "misbehaving" => 2000,
        _ => 10_000,
    }
}

/// Webline's rate limit per host group (the PostgreSQL hosts share one
/// budget, the SQLite host has its own), calls per second.
pub const WEBLINE_RATE: usize = 4;

/// The most requests one Webline call makes (create-account: the create
/// and the account's status; service-status: the status and the account):
/// a module's rate limit paces calls, not their requests.
const WEBLINE_REQUESTS_PER_CALL: usize = 2;

/// What the simulator allows per second: what both budgets together may
/// send at most.
const WEBLINE_PROVIDER_RATE: usize = 2 * WEBLINE_RATE * WEBLINE_REQUESTS_PER_CALL;

/// Every secret a run hands out: no log line, metric, journal dump or
/// answer may hold one (passwords a client sent are added by the run).
pub fn secrets() -> Vec<String> {
    vec![
        TOKEN.to_string(),
        journal_key(),
        hostmenow::API_KEY.to_string(),
        webline::API_KEY.to_string(),
        blesta::PASSWORD.to_string(),
        logicboxes::API_KEY.to_string(),
    ]
}

/// One serve host: its manifest and its current process, which the
/// nemesis may kill and start again (on another port).
pub struct HostSlot {
    /// Its index in the schedule.
    pub index: usize,
    /// Its own manifest file.
    pub manifest: PathBuf,
    /// The good manifest's text, put back after a reload.
    pub good_manifest: String,
    envs: Vec<(String, String)>,
    serve: Mutex<Serve>,
    base: RwLock<String>,
    /// The logs of processes the nemesis killed.
    retired_logs: Mutex<Vec<String>>,
}

impl HostSlot {
    fn start(index: usize, manifest: PathBuf, envs: Vec<(String, String)>) -> HostSlot {
        let good_manifest = std::fs::read_to_string(&manifest).unwrap();
        let serve = start_serve(&manifest, &envs);
        HostSlot {
            index,
            manifest,
            good_manifest,
            envs,
            base: RwLock::new(serve.base.clone()),
            serve: Mutex::new(serve),
            retired_logs: Mutex::new(Vec::new()),
        }
    }

    /// `http://127.0.0.1:PORT` of the current process.
    pub fn base(&self) -> String {
        self.base.read().unwrap().clone()
    }

    /// The current process's id.
    pub fn pid(&self) -> u32 {
        self.serve.lock().unwrap().child.id()
    }

    /// Sends `signal` (`STOP`, `CONT`, `HUP`) to the current process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {}", host_name(self.index));
    }

    /// SIGKILLs the current process and waits for it; its log is kept.
    pub fn kill(&self) {
        let mut serve = self.serve.lock().unwrap();
        serve.child.kill().unwrap();
        serve.child.wait().unwrap();
    }

    /// Starts a new process on the manifest, after [`HostSlot::kill`].
    pub fn restart(&self) {
        let fresh = start_serve(&self.manifest, &self.envs);
        *self.base.write().unwrap() = fresh.base.clone();
        let old = std::mem::replace(&mut *self.serve.lock().unwrap(), fresh);
        self.retired_logs.lock().unwrap().push(old.log());
    }

    /// Every line every process of this slot logged.
    pub fn logs(&self) -> String {
        let mut all = self.retired_logs.lock().unwrap().join("");
        all.push_str(&self.serve.lock().unwrap().log());
        all
    }

    /// Whether the current process is still running (the nemesis' kills
    /// are followed by a restart, so any other end is a death).
    pub fn alive(&self) -> bool {
        self.serve
            .lock()
            .unwrap()
            .child
            .try_wait()
            .unwrap()
            .is_none()
    }

    /// Rewrites the manifest for `reload` and sends SIGHUP.
    pub fn reload_with(&self, reload: Reload, sandbox: &Sandbox) {
        let dir = self.manifest.parent().unwrap();
        let extra = |component: &str| {
            let extra = TestManifest::new().module(
                "extra",
                Module::new(component)
                    .allow(&sandbox.origin())
                    .setting("endpoint", &sandbox.hostmenow().endpoint())
                    .secret_env("api-key", "CHAOS_HMN_KEY"),
            );
            format!("{}\n{}", self.good_manifest, extra.toml())
        };
        let text = match reload {
            Reload::NewComponent => extra(provisioning_components::HOSTMENOW_NEXT),
            Reload::GarbageComponent => {
                let garbage = dir.join("garbage.wasm");
                std::fs::write(&garbage, b"\0asm this is not a component \x01\x02\x03").unwrap();
                extra(garbage.to_str().unwrap())
            }
            Reload::MissingComponent => extra(dir.join("missing.wasm").to_str().unwrap()),
            Reload::GarbageManifest => format!(
                "{}\n[modules.extra.settings]\napi-key = \"{}\" = broken\n",
                self.good_manifest,
                webline::API_KEY
            ),
        };
        std::fs::write(&self.manifest, text).unwrap();
        self.signal("HUP");
    }

    /// Puts the good manifest back and sends SIGHUP.
    pub fn restore_manifest(&self) {
        std::fs::write(&self.manifest, &self.good_manifest).unwrap();
        self.signal("HUP");
    }
}

fn start_serve(manifest: &Path, envs: &[(String, String)]) -> Serve {
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Serve::start(manifest, (TOKEN_VAR, TOKEN), &envs, &[])
}

/// The parts of one run.
pub struct Cluster {
    /// The provider simulators.
    pub sandbox: Sandbox,
    /// The PostgreSQL server of this run.
    pub pg: PgServer,
    /// The shared journal's URL.
    pub pg_url: String,
    /// The SQLite host's journal file.
    pub sqlite_journal: PathBuf,
    /// The serve hosts, by index.
    pub hosts: Vec<HostSlot>,
}

impl Cluster {
    /// Starts everything for seed `seed`'s run, inside `runtime` (which
    /// serves the sandbox).
    pub fn start(runtime: &tokio::runtime::Runtime, seed: u64) -> Cluster {
        let sandbox = runtime.block_on(Sandbox::start()).unwrap();
        sandbox
            .webline()
            .set_rate_limit(WEBLINE_PROVIDER_RATE, std::time::Duration::from_secs(1));
        let pg = PgServer::start();
        let pg_url = pg.database("chaos");
        let root = common::fresh_dir(&format!("chaos-{seed}"));
        let mut hosts = Vec::new();
        let mut sqlite_journal = PathBuf::new();
        for index in 0..HOSTS {
            let dir = root.join(host_name(index));
            std::fs::create_dir_all(&dir).unwrap();
            let journal = if index == SQLITE_HOST {
                sqlite_journal = dir.join("journal.sqlite3");
                TestManifest::new().sqlite_journal("journal.sqlite3", "CHAOS_JOURNAL_KEY")
            } else {
                TestManifest::new().postgres_journal("CHAOS_JOURNAL_URL", "CHAOS_JOURNAL_KEY")
            };
            let manifest = manifest(&sandbox, journal).write(dir.join("provisioning.toml"));
            let envs = vec![
                ("CHAOS_JOURNAL_URL".to_string(), pg_url.clone()),
                ("CHAOS_JOURNAL_KEY".to_string(), journal_key()),
                ("CHAOS_HMN_KEY".to_string(), hostmenow::API_KEY.to_string()),
                (
                    "CHAOS_WEBLINE_KEY".to_string(),
                    webline::API_KEY.to_string(),
                ),
                (
                    "CHAOS_BLESTA_PASSWORD".to_string(),
                    blesta::PASSWORD.to_string(),
                ),
                ("CHAOS_LB_KEY".to_string(), logicboxes::API_KEY.to_string()),
            ];
            hosts.push(HostSlot::start(index, manifest, envs));
        }
        Cluster {
            sandbox,
            pg,
            pg_url,
            sqlite_journal,
            hosts,
        }
    }
}

/// A host's manifest: the four provider modules and the misbehaving one,
/// on `journal`'s `[journal]` section.
fn manifest(sandbox: &Sandbox, journal: TestManifest) -> TestManifest {
    let deadline = |module: &str| Duration::from_millis(deadline_ms(module) as u64);
    journal
        .lease_seconds(1)
        .module(
            "hostmenow",
            Module::hostmenow(sandbox)
                .deadline(deadline("hostmenow"))
                .secret_env("api-key", "CHAOS_HMN_KEY"),
        )
        .module(
            "webline",
            Module::webline(sandbox)
                .deadline(deadline("webline"))
                .rate_limit(WEBLINE_RATE as u32, 1)
                .secret_env("api-key", "CHAOS_WEBLINE_KEY")
                .setting("activation-wait-seconds", "0"),
        )
        .module(
            "blesta",
            Module::blesta(sandbox).secret_env("password", "CHAOS_BLESTA_PASSWORD"),
        )
        .module(
            "logicboxes",
            Module::logicboxes(sandbox)
                .secret_env("api-key", "CHAOS_LB_KEY")
                .setting("order-id", logicboxes::ORDER_ID),
        )
        .module(
            "misbehaving",
            Module::misbehaving("ok")
                .allow(&sandbox.origin())
                .deadline(deadline("misbehaving")),
        )
}
