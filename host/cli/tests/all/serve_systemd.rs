//! `provisioning serve` under systemd: the notify protocol as a service
//! manager hears it (a datagram socket in `NOTIFY_SOCKET`, the real binary
//! and a real module), and the unit file in packaging/systemd checked by
//! `systemd-analyze verify` where that command exists.

use crate::common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Serve, text};
use provisioning_test_support::manifest::{Module, TestManifest};

const TOKEN: &str = "systemd-serve-test-token-5e1d";
const TOKEN_VAR: &str = "TEST_SYSTEMD_SERVE_TOKEN";

/// A fresh directory for one test.
fn fresh_dir(name: &str) -> PathBuf {
    common::fresh_dir(&format!("sd-{name}"))
}

/// One datagram the server sent: its `KEY=value` lines, and when it came.
struct Message {
    lines: Vec<String>,
    at: Instant,
}

impl Message {
    fn has(&self, line: &str) -> bool {
        self.lines.iter().any(|l| l == line)
    }

    fn value(&self, key: &str) -> Option<&str> {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    }
}

/// The service manager's end of `NOTIFY_SOCKET`: every message heard so
/// far, in order.
struct Manager {
    socket: UnixDatagram,
    heard: Vec<Message>,
}

impl Manager {
    fn bind(path: &Path) -> Manager {
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        Manager {
            socket,
            heard: Vec::new(),
        }
    }

    /// Listens until a message after the one at `after` (any message, for
    /// `None`) has `line`, up to a minute; its index.
    fn next(&mut self, line: &str, after: Option<usize>, server: &Serve) -> usize {
        let from = after.map_or(0, |i| i + 1);
        let started = Instant::now();
        loop {
            if let Some(i) = (from..self.heard.len()).find(|&i| self.heard[i].has(line)) {
                return i;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no {line} heard; heard {:?}; the server said:\n{}",
                self.kinds(),
                server.log()
            );
            let mut buffer = [0u8; 4096];
            if let Ok(n) = self.socket.recv(&mut buffer) {
                self.heard.push(Message {
                    lines: text(&buffer[..n]).lines().map(str::to_string).collect(),
                    at: Instant::now(),
                });
            }
        }
    }

    /// The first line of every message heard, in order.
    fn kinds(&self) -> Vec<String> {
        self.heard.iter().map(|m| m.lines[0].clone()).collect()
    }
}

/// The monotonic clock, as systemd reads it, in microseconds.
fn monotonic_usec() -> u64 {
    let now = sd_notify::NotifyState::monotonic_usec_now()
        .unwrap()
        .to_string();
    now.strip_prefix("MONOTONIC_USEC=")
        .unwrap()
        .parse()
        .unwrap()
}

fn signal(server: &Serve, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn the_service_manager_hears_ready_reloading_watchdog_pings_and_stopping() {
    let dir = fresh_dir("notify");
    let socket = dir.join("notify.sock");
    let mut manager = Manager::bind(&socket);
    // A real module, so that READY=1 is heard once it has loaded (its
    // provider is never called).
    let manifest = dir.join("provisioning.toml");
    TestManifest::new()
        .module(
            "hostmenow",
            Module::new(provisioning_components::HOSTMENOW)
                .allow("http://127.0.0.1:9")
                .setting("endpoint", "http://127.0.0.1:9/api.php")
                .secret_env("api-key", "TEST_HMN_KEY"),
        )
        .write(&manifest);
    let mut server = Serve::start(
        &manifest,
        (TOKEN_VAR, TOKEN),
        &[
            ("NOTIFY_SOCKET", socket.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
            ("TEST_HMN_KEY", "hmn_test_key"),
        ],
        &["--watch-interval-ms", "3600000"],
    );

    let ready = manager.next("READY=1", None, &server);
    assert_eq!(ready, 0, "READY=1 comes first: {:?}", manager.kinds());
    assert_eq!(
        manager.heard[0].value("STATUS"),
        Some("serving 1 module"),
        "{:?}",
        manager.heard[0].lines
    );
    let (status, modules) = server.get("/v1/modules/hostmenow");
    assert_eq!(
        (status, &modules["ready"]),
        (200, &true.into()),
        "{modules}"
    );

    // Pings at half of WATCHDOG_USEC: every 100 ms.
    let mut pings = Vec::new();
    let mut after = ready;
    while pings.len() < 6 {
        after = manager.next("WATCHDOG=1", Some(after), &server);
        pings.push(manager.heard[after].at);
    }
    let mut gaps: Vec<Duration> = pings.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort();
    println!("watchdog pings {gaps:?} apart");
    let median = gaps[gaps.len() / 2];
    assert!(
        median >= Duration::from_millis(60) && median <= Duration::from_millis(160),
        "pings {gaps:?} apart, for a 200 ms watchdog"
    );

    let before = monotonic_usec();
    signal(&server, "HUP");
    let reloading = manager.next("RELOADING=1", Some(after), &server);
    let stamp: u64 = manager.heard[reloading]
        .value("MONOTONIC_USEC")
        .expect("RELOADING=1 carries MONOTONIC_USEC=")
        .parse()
        .unwrap();
    assert!(
        before <= stamp && stamp <= monotonic_usec(),
        "MONOTONIC_USEC={stamp} is the time of the reload"
    );
    let reloaded = manager.next("READY=1", Some(reloading), &server);
    // The pings go on after a reload.
    let pinged = manager.next("WATCHDOG=1", Some(reloaded), &server);

    signal(&server, "TERM");
    let stopping = manager.next("STOPPING=1", Some(pinged), &server);
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(
        manager.heard[stopping + 1..]
            .iter()
            .all(|m| !m.has("READY=1"))
    );

    let sequence: Vec<String> = manager
        .kinds()
        .into_iter()
        .filter(|kind| kind != "WATCHDOG=1")
        .collect();
    assert_eq!(
        sequence,
        ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"],
        "{:?}",
        manager.kinds()
    );
}
/// The unit file as shipped.
fn unit() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packaging/systemd/provisioning.service"
    ))
    .unwrap()
}

#[test]
fn the_unit_file_has_what_the_service_needs_and_systemd_analyze_accepts_it() {
    let unit = unit();
    let directives: Vec<&str> = unit
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    for wanted in [
        "Type=notify",
        "ExecStart=/usr/bin/provisioning serve --manifest /etc/provisioning/provisioning.toml --token-file ${CREDENTIALS_DIRECTORY}/serve-token",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "StateDirectory=provisioning",
        "LoadCredential=serve-token:/etc/provisioning/serve-token",
        "WatchdogSec=30",
        "Restart=on-failure",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=",
    ] {
        assert!(directives.contains(&wanted), "the unit lacks {wanted}");
    }
    assert!(
        !directives
            .iter()
            .any(|line| line.starts_with("MemoryDenyWriteExecute")),
        "MemoryDenyWriteExecute would stop wasmtime's compiled code"
    );

    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if !analyze.is_ok_and(|output| output.status.success()) {
        println!("skipped `systemd-analyze verify`: systemd-analyze is not on PATH");
        return;
    }
    // The unit as installed, but starting the binary under test (verify
    // checks that ExecStart's program exists).
    let dir = fresh_dir("unit");
    let copy = dir.join("provisioning.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/bin/provisioning", env!("CARGO_BIN_EXE_provisioning")),
    )
    .unwrap();
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=no", "--recursive-errors=no"])
        .arg(&copy)
        .output()
        .unwrap();
    let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
    println!("systemd-analyze verify: {:?}", said.trim());
    assert!(output.status.success(), "{said}");
    assert!(
        !said.contains("provisioning.service"),
        "systemd-analyze has something to say about the unit:\n{said}"
    );
}

#[test]
fn the_example_manifest_reads_its_secrets_from_the_units_credentials() {
    let example = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packaging/systemd/provisioning.toml.example"
    ));
    let manifest = provisioning_host::Manifest::from_file(example).unwrap();
    let unit = unit();
    let credentials: Vec<&str> = unit
        .lines()
        .filter_map(|line| line.strip_prefix("LoadCredential="))
        .filter_map(|credential| credential.split(':').next())
        .collect();
    let secrets: Vec<PathBuf> = manifest
        .referenced_files()
        .into_iter()
        .filter(|file| file.extension().is_none_or(|ext| ext != "wasm"))
        .collect();
    assert!(!secrets.is_empty());
    for secret in secrets {
        let name = secret
            .strip_prefix("/run/credentials/provisioning.service")
            .unwrap_or_else(|_| panic!("{} is not a credential of the unit", secret.display()));
        let name = name.to_str().unwrap();
        assert!(
            credentials.contains(&name),
            "the unit loads no credential {name}: {credentials:?}"
        );
    }
    let text = std::fs::read_to_string(example).unwrap();
    assert!(
        text.contains("path = \"/var/lib/provisioning/journal.sqlite\""),
        "the journal is in the unit's StateDirectory"
    );
}
