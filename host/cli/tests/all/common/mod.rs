//! What the CLI's tests share: running the real `provisioning` binary, and
//! a `provisioning serve` process to talk to over loopback.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use provisioning_host::SettingSource;
use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::Value;

pub mod php;
pub mod tls;

/// Runs the binary to its end with `args` and extra environment variables
/// (and no `RUST_LOG`, so stderr holds only what the command itself says).
pub fn provisioning(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_provisioning"));
    command.args(args).env_remove("RUST_LOG");
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().expect("the binary runs")
}

/// Runs the binary to its end like [`provisioning`], its stdout a pipe
/// whose reader is already gone (as in `provisioning ... | true` once
/// `true` has exited); stderr is captured, or closed the same way when
/// `close_stderr`.
pub fn provisioning_into_closed_pipe(
    args: &[&str],
    envs: &[(&str, &str)],
    close_stderr: bool,
) -> Output {
    let closed = || {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        Stdio::from(writer)
    };
    let mut command = Command::new(env!("CARGO_BIN_EXE_provisioning"));
    command.args(args).env_remove("RUST_LOG").stdout(closed());
    if close_stderr {
        command.stderr(closed());
    }
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().expect("the binary runs")
}

/// The variable [`journal_manifest`]'s manifest reads the journal key from.
pub const JOURNAL_KEY_VAR: &str = "TEST_CLI_JOURNAL_KEY";

/// The journal key (64 hex characters) for [`JOURNAL_KEY_VAR`].
pub fn journal_key() -> String {
    "ab".repeat(32)
}

/// A manifest with only a `[journal]` section, in a fresh directory named
/// after `name`, its journal holding one call in flight per idempotency
/// key in `keys` (written through the library, as a host that then died
/// would: their leases have run out, so they show as unknown).
pub fn journal_manifest(name: &str, keys: &[String]) -> PathBuf {
    let dir = fresh_dir(&format!("cli-journal-{name}"));
    seed_dead_host_entries(&dir.join("journal.sqlite3"), "svc-1", keys);
    TestManifest::new()
        .sqlite_journal("journal.sqlite3", JOURNAL_KEY_VAR)
        .write(dir.join("provisioning.toml"))
}

/// A fresh, empty directory for one test, named after `label`, under this
/// process's own directory (`provisioning-tests-PID` in the temporary
/// directory).
pub fn fresh_dir(label: &str) -> PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(sweep_dirs_of_ended_runs);
    let dir = std::env::temp_dir()
        .join(format!("{RUN_DIR_PREFIX}{}", std::process::id()))
        .join(label);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The start of the name of a test process's directory; its process id
/// follows.
const RUN_DIR_PREFIX: &str = "provisioning-tests-";

/// Removes the directories of test processes that have ended: a generated
/// JavaScript project alone holds 400 MB of node_modules, and runs after
/// runs filled the disk. The directory of a process still running
/// (another test run) is left alone.
fn sweep_dirs_of_ended_runs() {
    let proc = Path::new("/proc");
    if !proc.is_dir() {
        return; // no way to tell a live process here: keep everything
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(RUN_DIR_PREFIX))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Writes into the SQLite journal at `path` one create-account of
/// HostMeNow in flight per idempotency key in `keys`, owned by a host that
/// then died (their leases have run out, so they show as unknown).
pub fn seed_dead_host_entries(path: &Path, service_id: &str, keys: &[String]) {
    use provisioning_host::journal::{Intent, JournalStore, SqliteJournal};

    let journal = SqliteJournal::open(path).unwrap();
    for key in keys {
        journal
            .begin(
                &Intent {
                    module: "hostmenow".into(),
                    idempotency_key: key.clone(),
                    input: provisioning_host::Request::CreateAccount {
                        service: provisioning_host::types::Service {
                            service_id: service_id.into(),
                            remote_id: None,
                            domain: None,
                            username: None,
                            password: None,
                            package: None,
                            billing_cycle: None,
                            client: None,
                            custom_fields: Vec::new(),
                        },
                    },
                    request_digest: None,
                },
                "gone-host:1",
                std::time::Duration::ZERO,
                std::time::Duration::ZERO,
            )
            .unwrap();
    }
}

/// Bytes a process printed, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A running `provisioning serve` on a free loopback port; killed when
/// dropped.
pub struct Serve {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, from the server's first stdout line.
    pub base: String,
    token: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `serve` on `manifest` with the bearer `token` in the
    /// variable `token_var`, further variables `envs` and arguments
    /// `extra`, logging at info, and waits until it listens.
    pub fn start(
        manifest: &Path,
        token: (&str, &str),
        envs: &[(&str, &str)],
        extra: &[&str],
    ) -> Serve {
        Serve::start_program(
            Path::new(env!("CARGO_BIN_EXE_provisioning")),
            manifest,
            token,
            envs,
            extra,
        )
    }

    /// [`Serve::start`] with another build of the binary, `program` (the
    /// one a package installed).
    pub fn start_program(
        program: &Path,
        manifest: &Path,
        (token_var, token): (&str, &str),
        envs: &[(&str, &str)],
        extra: &[&str],
    ) -> Serve {
        let mut command = Command::new(program);
        command
            .args(["serve", "--manifest", manifest.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--token-env", token_var])
            .args(extra)
            .env(token_var, token)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("the binary runs");
        // Keep draining stderr so the server never blocks on a full pipe.
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve did not start (first line {line:?}); it said:\n{}",
                stderr.lock().unwrap()
            );
        };
        Serve {
            base: base.to_string(),
            child,
            token: token.to_string(),
            stderr,
        }
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (up to a minute: a reload compiles a component, and CI
    /// machines are busy) for `done`, showing the server's log if it never
    /// comes.
    pub fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let started = std::time::Instant::now();
        while !done() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "timed out waiting for {what}; the server said:\n{}",
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// The digest of the version of `module` in service.
    pub fn digest(&self, module: &str) -> String {
        let (status, body) = self.get(&format!("/v1/modules/{module}"));
        assert_eq!(status, 200, "{body}");
        body["digest"].as_str().unwrap().to_string()
    }

    /// Sends the server SIGHUP: reload the manifest (and TLS files).
    pub fn sighup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// `GET path` with the token: the status and the JSON body.
    pub fn get(&self, path: &str) -> (u16, Value) {
        answer(
            ureq::get(&format!("{}{path}", self.base))
                .set("Authorization", &format!("Bearer {}", self.token))
                .call(),
        )
    }

    /// `POST path` with the token and a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        answer(
            ureq::post(&format!("{}{path}", self.base))
                .set("Authorization", &format!("Bearer {}", self.token))
                .send_json(body.clone()),
        )
    }
}

/// A response's status and its body as JSON (a string when it is not
/// JSON); error statuses are answers too, transport errors panic.
pub fn answer(result: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("transport error: {error}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A manifest with a good HostMeNow module (key from `TEST_HMN_KEY`) and a
/// Blesta module whose password comes from `blesta_password`.
pub fn hostmenow_and_blesta(
    sandbox: &provisioning_sandbox::Sandbox,
    blesta_password: SettingSource,
) -> TestManifest {
    TestManifest::new()
        .module(
            "hostmenow",
            Module::hostmenow(sandbox).secret_env("api-key", "TEST_HMN_KEY"),
        )
        .module(
            "blesta",
            Module::blesta(sandbox).source("password", blesta_password),
        )
}

/// A loopback port held bound but never listened on, so that every
/// connection to it is refused for as long as the socket is kept (a port
/// merely released could be taken by a simulator another test starts).
pub fn refused_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind("127.0.0.1:0".parse().unwrap())
        .expect("a free port");
    let port = socket.local_addr().expect("its address").port();
    (socket, port)
}
