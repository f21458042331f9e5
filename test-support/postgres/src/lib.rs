//! A throwaway PostgreSQL server for tests: Debian's server binaries
//! (installed with apt-get when missing), a cluster in a temporary
//! directory, listening on a free loopback port with `trust` auth on
//! 127.0.0.1 only, stopped and removed when the test process ends.
//!
//! [`PgServer::shared`] starts one server per test binary (each test then
//! takes a database of its own with [`PgServer::database`], so tests run
//! in parallel); [`PgServer::start`] gives a test a server of its own, for
//! a test that stops and restarts it.
//!
//! initdb and pg_ctl refuse to run as root: as root, they run as the
//! `postgres` user (`runuser -u postgres --`) in a directory that user
//! owns. The server is stopped when the value is dropped, at the process's
//! exit (for the shared one, which is never dropped), and by a watchdog
//! process that kills it should the test process die any other way.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A running PostgreSQL server of the tests.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    databases: AtomicUsize,
    /// How long initdb and the first start took.
    pub started_in: Duration,
}

/// The superuser the cluster is made with.
pub const USER: &str = "postgres";

static SHARED: OnceLock<PgServer> = OnceLock::new();
static TO_STOP: Mutex<Vec<(PathBuf, PathBuf, bool)>> = Mutex::new(Vec::new());
static SERVERS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> i32;
}

extern "C" fn stop_at_exit() {
    let servers = std::mem::take(&mut *TO_STOP.lock().unwrap_or_else(|p| p.into_inner()));
    for (bin, dir, as_postgres) in servers {
        stop_cluster(&bin, &dir, as_postgres, "immediate");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

impl PgServer {
    /// The server shared by every test of this test binary, started on
    /// first use.
    pub fn shared() -> &'static PgServer {
        SHARED.get_or_init(PgServer::start)
    }

    /// A server of its own (for a test that stops it); stopped and removed
    /// on drop.
    pub fn start() -> PgServer {
        let begun = Instant::now();
        let bin = server_binaries();
        let as_postgres = is_root();
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("provisioning-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the server's directory");
        if as_postgres {
            chown_to_postgres(&dir);
        }
        let data = dir.join("data");
        let initdb = bin.join("initdb");
        run(
            as_postgres,
            &initdb,
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "--username".as_ref(),
                USER.as_ref(),
                "--auth=trust".as_ref(),
                "--no-sync".as_ref(),
                "--encoding=UTF8".as_ref(),
                "--locale=C".as_ref(),
            ],
        );
        // Loopback only, trust from 127.0.0.1 only, and nothing durable:
        // the tests need a server, not its disk.
        std::fs::write(
            data.join("pg_hba.conf"),
            "host all all 127.0.0.1/32 trust\nlocal all all trust\n",
        )
        .expect("writing pg_hba.conf");
        let port = free_port();
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n",
            dir.display()
        );
        let mut text = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        text.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), text).unwrap();
        {
            let mut to_stop = TO_STOP.lock().unwrap_or_else(|p| p.into_inner());
            if to_stop.is_empty() && n == 0 {
                // SAFETY: registers a plain function with the C runtime.
                unsafe { atexit(stop_at_exit) };
            }
            to_stop.push((bin.clone(), dir.clone(), as_postgres));
        }
        let mut server = PgServer {
            bin,
            dir,
            port,
            as_postgres,
            databases: AtomicUsize::new(0),
            started_in: Duration::ZERO,
        };
        server.start_again();
        server.watchdog();
        server.started_in = begun.elapsed();
        server
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{USER}@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    /// A new empty database for one test, named after `test`; its URL.
    pub fn database(&self, test: &str) -> String {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name: String = format!("{test}_{n}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(60)
            .collect();
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url(&name)
    }

    /// Runs SQL in `database` with psql, panicking on failure; what it
    /// printed (unaligned, tuples only).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                "-d",
                database,
                "-c",
                sql,
            ])
            .output()
            .expect("running psql");
        assert!(
            output.status.success(),
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Stops the server (fast shutdown: connections are cut).
    pub fn stop(&self) {
        stop_cluster(&self.bin, &self.dir, self.as_postgres, "fast");
    }

    /// Starts it again after [`PgServer::stop`], on the same port, and
    /// waits until it takes connections.
    pub fn start_again(&self) {
        let data = self.dir.join("data");
        let log = self.dir.join("server.log");
        run(
            self.as_postgres,
            &self.bin.join("pg_ctl"),
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        );
    }

    /// The running server's processes: the postmaster (from its pid file)
    /// and every process it started (backends, checkpointer, WAL
    /// writer...), for a test that freezes the server with SIGSTOP. Empty
    /// when it is not running.
    pub fn pids(&self) -> Vec<u32> {
        let pid_file = self.dir.join("data").join("postmaster.pid");
        let Some(postmaster) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok())
        else {
            return Vec::new();
        };
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            // /proc/PID/stat: "pid (comm) state ppid ...", comm may hold
            // spaces, so the fields are counted after its closing paren.
            let parent = std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|stat| {
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                });
            if parent == Some(postmaster) {
                pids.push(pid);
            }
        }
        pids
    }

    /// A process that kills the server once this process is gone, however
    /// it ended.
    fn watchdog(&self) {
        let pid_file = self.dir.join("data").join("postmaster.pid");
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             kill -QUIT $(head -1 '{pid_file}') 2>/dev/null; sleep 1; rm -rf '{dir}'",
            pid = std::process::id(),
            pid_file = pid_file.display(),
            dir = self.dir.display()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        stop_cluster(&self.bin, &self.dir, self.as_postgres, "immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
        TO_STOP
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(_, dir, _)| dir != &self.dir);
    }
}

fn stop_cluster(bin: &Path, dir: &Path, as_postgres: bool, mode: &str) {
    let data = dir.join("data");
    if !data.join("postmaster.pid").exists() {
        return;
    }
    let _ = command(as_postgres, &bin.join("pg_ctl"))
        .arg("-D")
        .arg(&data)
        .args(["-m", mode, "-w", "stop"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn chown_to_postgres(dir: &Path) {
    let id = |flag: &str| -> u32 {
        let output = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("running id");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("the postgres user exists (Debian's postgresql package makes it)")
    };
    std::os::unix::fs::chown(dir, Some(id("-u")), Some(id("-g")))
        .expect("giving the server's directory to postgres");
}

fn command(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(as_postgres: bool, program: &Path, args: &[&std::ffi::OsStr]) {
    let output: Output = command(as_postgres, program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", program.display()));
    assert!(
        output.status.success(),
        "{} failed ({}): {}{}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A port free on 127.0.0.1 now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// The directory of the newest installed server's binaries, installing
/// Debian's `postgresql` when there is none.
fn server_binaries() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = installed() {
            return bin;
        }
        eprintln!("no PostgreSQL server binaries: installing Debian's postgresql");
        for args in [
            &["update"][..],
            &["install", "-y", "--no-install-recommends", "postgresql"][..],
        ] {
            let status = Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .unwrap_or_else(|error| {
                    panic!("cannot run apt-get ({error}); install Debian's postgresql yourself")
                });
            assert!(
                status.success(),
                "apt-get {} failed; install Debian's postgresql yourself",
                args.join(" ")
            );
        }
        installed().expect("postgresql was installed, but no /usr/lib/postgresql/*/bin/initdb")
    })
    .clone()
}

fn installed() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_starts_takes_a_database_stops_and_starts_again() {
        let server = PgServer::start();
        eprintln!("started in {:?}", server.started_in);
        let url = server.database("smoke");
        let db = url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_string();
        assert_eq!(server.psql(&db, "SELECT 1 + 1"), "2");
        server.stop();
        assert!(
            TcpListener::bind(("127.0.0.1", server.port())).is_ok(),
            "stopped"
        );
        server.start_again();
        assert_eq!(server.psql(&db, "SELECT 2 + 2"), "4");
        let dir = server.dir.clone();
        drop(server);
        assert!(!dir.exists(), "removed");
    }
}
