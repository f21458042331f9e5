//! The real parts of a run: the sandbox, a throwaway PostgreSQL server of
//! the run's own (the nemesis stops it), and three `provisioning serve`
//! processes (two on the PostgreSQL journal, one on a SQLite file), each
//! with a manifest file of its own so that a reload reaches one host.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, RwLock};

use provisioning_sandbox::{Sandbox, blesta, hostmenow, logicboxes, webline};
use provisioning_test_postgres::PgServer;

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
            format!(
                "{}\n[modules.extra]\ncomponent = {component:?}\nallowed_hosts = [{origin:?}]\n\
                 [modules.extra.settings]\nendpoint = {endpoint:?}\napi-key = {{ env = \"CHAOS_HMN_KEY\" }}\n",
                self.good_manifest,
                origin = sandbox.origin(),
                endpoint = sandbox.hostmenow().endpoint(),
            )
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
                "path = \"journal.sqlite3\"".to_string()
            } else {
                "url = { env = \"CHAOS_JOURNAL_URL\" }".to_string()
            };
            let manifest = dir.join("provisioning.toml");
            std::fs::write(&manifest, manifest_text(&sandbox, &journal)).unwrap();
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
/// on the journal whose location line is `journal`.
fn manifest_text(sandbox: &Sandbox, journal: &str) -> String {
    format!(
        "[journal]\n{journal}\nkey = {{ env = \"CHAOS_JOURNAL_KEY\" }}\nlease_seconds = 1\n\n\
         [modules.hostmenow]\ncomponent = {hostmenow:?}\nallowed_hosts = [{origin:?}]\ndeadline_ms = {hmn_deadline}\n\
         [modules.hostmenow.settings]\nendpoint = {hmn_endpoint:?}\napi-key = {{ env = \"CHAOS_HMN_KEY\" }}\n\n\
         [modules.webline]\ncomponent = {webline:?}\nallowed_hosts = [{origin:?}]\ndeadline_ms = {wl_deadline}\n\
         rate_limit = {{ requests = {WEBLINE_RATE}, per_seconds = 1 }}\n\
         [modules.webline.settings]\nendpoint = {wl_endpoint:?}\napi-key = {{ env = \"CHAOS_WEBLINE_KEY\" }}\n\
         activation-wait-seconds = \"0\"\n\n\
         [modules.blesta]\ncomponent = {blesta:?}\nallowed_hosts = [{origin:?}]\n\
         [modules.blesta.settings]\nendpoint = {blesta_endpoint:?}\nuid = {uid:?}\n\
         password = {{ env = \"CHAOS_BLESTA_PASSWORD\" }}\n\n\
         [modules.logicboxes]\ncomponent = {logicboxes:?}\nallowed_hosts = [{origin:?}]\n\
         [modules.logicboxes.settings]\nendpoint = {origin:?}\nauth-userid = {lb_user:?}\n\
         api-key = {{ env = \"CHAOS_LB_KEY\" }}\norder-id = {lb_order:?}\n\n\
         [modules.misbehaving]\ncomponent = {misbehaving:?}\nallowed_hosts = [{origin:?}]\n\
         deadline_ms = {mis_deadline}\n\
         [modules.misbehaving.settings]\nbehaviour = \"ok\"\n",
        hostmenow = provisioning_components::HOSTMENOW,
        webline = provisioning_components::WEBLINE,
        blesta = provisioning_components::BLESTA,
        logicboxes = provisioning_components::LOGICBOXES,
        misbehaving = provisioning_components::MISBEHAVING,
        origin = sandbox.origin(),
        hmn_endpoint = sandbox.hostmenow().endpoint(),
        wl_endpoint = sandbox.webline().endpoint(),
        blesta_endpoint = sandbox.blesta().endpoint(),
        uid = blesta::UID,
        lb_user = logicboxes::AUTH_USERID,
        lb_order = logicboxes::ORDER_ID,
        hmn_deadline = deadline_ms("hostmenow"),
        wl_deadline = deadline_ms("webline"),
        mis_deadline = deadline_ms("misbehaving"),
    )
}
