//! A throwaway OCI registry for tests: Debian's `docker-registry`
//! (distribution 2.8, installed with apt-get when missing), its storage in
//! a temporary directory, listening on a free loopback port over plain
//! HTTP, with or without basic auth (an htpasswd file of a fresh random
//! password, bcrypt as the registry requires; distribution takes basic
//! auth over plain HTTP).
//!
//! Each test starts a registry of its own ([`Registry::start`]), so that a
//! test may stop it or tamper with its storage; it is killed and its
//! directory removed when the value is dropped, and by a watchdog process
//! should the test process die any other way. Starting one takes tens of
//! milliseconds.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Debian's registry binary.
const BINARY: &str = "/usr/bin/docker-registry";

/// A running registry of the tests.
#[derive(Debug)]
pub struct Registry {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    credentials: Option<(String, String)>,
}

impl Registry {
    /// A registry anyone may push to and pull from.
    pub fn start() -> Registry {
        Registry::launch(None)
    }

    /// A registry that takes only the user it returns with
    /// [`Registry::credentials`] (basic auth, a random password).
    pub fn start_with_basic_auth() -> Registry {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("random bytes");
        let password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Registry::launch(Some(("operator".to_string(), password)))
    }

    fn launch(credentials: Option<(String, String)>) -> Registry {
        static REGISTRIES: AtomicUsize = AtomicUsize::new(0);
        installed();
        let n = REGISTRIES.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("provisioning-registry-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).expect("creating the registry's directory");
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: not-shared\n",
            dir.join("data").display()
        );
        if let Some((user, password)) = &credentials {
            // Cost 4, bcrypt's least: a test needs a file the registry
            // accepts, not a slow hash.
            let hash = bcrypt::hash(password, 4).expect("bcrypt hashes");
            std::fs::write(dir.join("htpasswd"), format!("{user}:{hash}\n"))
                .expect("writing htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: provisioning-tests\n    path: {}\n",
                dir.join("htpasswd").display()
            ));
        }
        std::fs::write(dir.join("config.yml"), config).expect("writing the registry's config");
        let mut registry = Registry {
            child: None,
            dir,
            port,
            credentials,
        };
        registry.start_again();
        registry
    }

    /// Starts it again after [`Registry::stop`], on the same port and
    /// storage, and waits until it takes connections.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the registry is running");
        let log = std::fs::File::create(self.dir.join("registry.log")).expect("the registry's log");
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(self.dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log again"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {BINARY}: {error}"));
        watchdog(child.id());
        self.child = Some(child);
        let begun = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("the registry exited ({status}): {}", self.log());
            }
            assert!(
                begun.elapsed() < Duration::from_secs(30),
                "the registry did not listen within 30 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it (killed: nothing of it is wanted but its storage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `127.0.0.1:PORT`, the registry part of a reference.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The user and password it takes, when it has basic auth.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.as_str()))
    }

    /// The file holding the blob `digest` (`sha256:HEX`) in its storage
    /// (manifests are blobs too), for a test that tampers with it.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    /// Its directory (storage, config, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A process that kills the registry once this process is gone, however
/// it ended (only if that process id is still a registry's: a registry
/// stopped earlier may have left its id to another process).
fn watchdog(registry: u32) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         [ \"$(cat /proc/{registry}/comm 2>/dev/null)\" = docker-registry ] && kill -9 {registry}",
        pid = std::process::id(),
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// A port free on 127.0.0.1 now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// Installs Debian's `docker-registry` when it is missing.
fn installed() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        if Path::new(BINARY).exists() {
            return;
        }
        eprintln!("no {BINARY}: installing Debian's docker-registry");
        for args in [
            &["update"][..],
            &[
                "install",
                "-y",
                "--no-install-recommends",
                "docker-registry",
            ][..],
        ] {
            let status = Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .unwrap_or_else(|error| {
                    panic!(
                        "cannot run apt-get ({error}); install Debian's docker-registry yourself"
                    )
                });
            assert!(
                status.success(),
                "apt-get {} failed; install Debian's docker-registry yourself",
                args.join(" ")
            );
        }
        assert!(
            Path::new(BINARY).exists(),
            "docker-registry was installed, but no {BINARY}"
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `GET /v2/` with `authorization` (an HTTP header line, or none): the
    /// status code.
    fn v2_status(registry: &Registry, authorization: Option<String>) -> u16 {
        use std::io::{Read, Write};
        let mut stream = TcpStream::connect(("127.0.0.1", registry.port)).unwrap();
        let header = authorization.unwrap_or_default();
        write!(
            stream,
            "GET /v2/ HTTP/1.1\r\nHost: {}\r\n{header}Connection: close\r\n\r\n",
            registry.address()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn a_registry_with_basic_auth_takes_its_user_only_and_stops() {
        let mut registry = Registry::start_with_basic_auth();
        let (user, password) = registry.credentials().unwrap();
        // base64 by hand: the test needs no crate for one header.
        let basic = |text: &str| {
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let bytes = text.as_bytes();
            let mut out = String::new();
            for chunk in bytes.chunks(3) {
                let n = chunk
                    .iter()
                    .enumerate()
                    .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
                for i in 0..4 {
                    if i <= chunk.len() {
                        out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                    } else {
                        out.push('=');
                    }
                }
            }
            format!("Authorization: Basic {out}\r\n")
        };
        assert_eq!(v2_status(&registry, None), 401);
        assert_eq!(
            v2_status(&registry, Some(basic(&format!("{user}:wrong")))),
            401
        );
        assert_eq!(
            v2_status(&registry, Some(basic(&format!("{user}:{password}")))),
            200
        );
        registry.stop();
        assert!(
            TcpStream::connect(("127.0.0.1", registry.port)).is_err(),
            "stopped"
        );
        let dir = registry.dir().to_path_buf();
        drop(registry);
        assert!(!dir.exists(), "removed");
    }
}
