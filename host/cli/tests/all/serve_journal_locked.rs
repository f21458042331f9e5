//! Observability and the journal's routes while the journal cannot be
//! written: the real `provisioning serve`, its SQLite file locked by
//! another process (this test, through rusqlite) or on a full file system,
//! or its PostgreSQL server stopped.
//! `/metrics` and readiness answer within a second, the journal's gauges
//! present (as last seen, with their age) and readiness saying what the
//! journal can do; the journal's routes answer a typed 503
//! `journal-unavailable`; a create waits for the journal no longer than
//! its deadline.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Serve;
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::{Value, json};

const TOKEN: &str = "journal-locked-token-0123456789";
const TOKEN_VAR: &str = "TEST_JL_TOKEN";

/// HostMeNow's deadline in the manifest: longer than the journal's wait
/// for operators' routes (10 s), so that creates queued on the journal's
/// thread keep those routes from the store.
const DEADLINE: Duration = Duration::from_secs(12);

/// A manifest serving HostMeNow from the sandbox, its journal at
/// `journal`, in `dir`.
fn setup(sandbox: &Sandbox, dir: &Path, journal: &Path) -> PathBuf {
    setup_at(
        sandbox,
        dir,
        TestManifest::new().sqlite_journal(journal, "TEST_JL_JOURNAL_KEY"),
    )
}

/// [`setup`] with `journal`'s `[journal]` section.
fn setup_at(sandbox: &Sandbox, dir: &Path, journal: TestManifest) -> PathBuf {
    let manifest = dir.join("provisioning.toml");
    journal
        .lease_seconds(1)
        .module(
            "hostmenow",
            Module::hostmenow(sandbox)
                .deadline(DEADLINE)
                .secret_env("api-key", "TEST_JL_HMN"),
        )
        .write(&manifest);
    manifest
}

fn start(manifest: &Path) -> Serve {
    let journal_key = "ab".repeat(32);
    Serve::start(
        manifest,
        (TOKEN_VAR, TOKEN),
        &[
            ("TEST_JL_JOURNAL_KEY", &journal_key),
            ("TEST_JL_HMN", hostmenow::API_KEY),
        ],
        &[],
    )
}

/// A create-account of HostMeNow under `key`: its status, body and how
/// long it took.
fn create(server: &Serve, key: &str) -> (u16, Value, Duration) {
    let service = json!({
        "service_id": key, "domain": format!("{key}.example.com"),
        "username": "u1", "password": "Locked-Pa55word!", "package": "101",
        "billing_cycle": "monthly",
        "client": { "first_name": "Test", "last_name": "Client", "email": "c@example.com" },
        "custom_fields": []
    });
    let asked = Instant::now();
    let (status, body) = server.post(
        "/v1/modules/hostmenow/call",
        &json!({
            "request": { "function": "create-account", "service": service },
            "idempotency_key": key,
        }),
    );
    (status, body, asked.elapsed())
}

/// An open route (no token): its status, body and how long it took.
fn open_get(server: &Serve, path: &str) -> (u16, String, Duration) {
    let asked = Instant::now();
    let (status, body) = match ureq::get(&format!("{}{path}", server.base)).call() {
        Ok(response) => (response.status(), response.into_string().unwrap()),
        Err(ureq::Error::Status(status, response)) => (status, response.into_string().unwrap()),
        Err(error) => panic!("transport error: {error}"),
    };
    (status, body, asked.elapsed())
}

/// The value of the unlabelled sample `name` in a scrape.
fn sample(scrape: &str, name: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// With the journal's file locked by another process (its write lock held)
/// and creates queued on the journal's thread: every scrape and readiness
/// check answers within a second, the scrape with the journal's gauges
/// (the last values seen, and how old they are), readiness soon
/// `writable: false` (503); each create is refused within its deadline;
/// pending, remote-id and reconcile, queued behind the creates past their
/// wait, answer a typed 503. Unlocked, readiness says writable again and
/// creates go through.
#[tokio::test(flavor = "multi_thread")]
async fn a_locked_journal_leaves_observability_prompt_and_its_routes_typed() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = common::fresh_dir("journal-locked");
    let journal = dir.join("journal.sqlite3");
    let manifest = setup(&sandbox, &dir, &journal);
    tokio::task::spawn_blocking(move || {
        let server = start(&manifest);
        let (status, body, _) = create(&server, "before-lock");
        assert_eq!(status, 200, "{body}");
        assert!(body["ok"].is_object(), "{body}");
        let (status, body, _) = open_get(&server, "/v1/health/ready");
        assert_eq!(status, 200, "{body}");

        // Another process takes the file's write lock and holds it.
        let locker = rusqlite::Connection::open(&journal).unwrap();
        locker.busy_timeout(Duration::from_secs(5)).unwrap();
        locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let locked_at = Instant::now();

        let (creates, observed, routes) = std::thread::scope(|scope| {
            let creates: Vec<_> = (0..3)
                .map(|i| {
                    let server = &server;
                    scope.spawn(move || create(server, &format!("locked-{i}")))
                })
                .collect();
            // The journal's routes, beside the creates.
            let routes: Vec<_> = [
                ("GET", "/v1/journal/pending"),
                ("GET", "/v1/modules/hostmenow/services/before-lock/remote-id"),
                ("POST", "/v1/journal/reconcile"),
            ]
            .into_iter()
            .map(|(method, path)| {
                let server = &server;
                scope.spawn(move || {
                    std::thread::sleep(Duration::from_millis(200));
                    let asked = Instant::now();
                    let (status, body) = match method {
                        "GET" => server.get(path),
                        _ => server.post(path, &json!({})),
                    };
                    (path, status, body, asked.elapsed())
                })
            })
            .collect();
            // Scrapes and readiness checks every 300 ms for 4 s.
            let mut observed = Vec::new();
            while locked_at.elapsed() < Duration::from_secs(4) {
                std::thread::sleep(Duration::from_millis(300));
                observed.push((
                    open_get(&server, "/metrics"),
                    open_get(&server, "/v1/health/ready"),
                ));
            }
            let creates: Vec<_> = creates.into_iter().map(|c| c.join().unwrap()).collect();
            let routes: Vec<_> = routes.into_iter().map(|r| r.join().unwrap()).collect();
            (creates, observed, routes)
        });

        let slowest_scrape = observed.iter().map(|(m, _)| m.2).max().unwrap();
        let slowest_ready = observed.iter().map(|(_, r)| r.2).max().unwrap();
        let slowest_create = creates.iter().map(|c| c.2).max().unwrap();
        println!(
            "locked journal: {} scrapes, slowest {slowest_scrape:?}; readiness slowest {slowest_ready:?}; \
             creates slowest {slowest_create:?} (deadline {DEADLINE:?}); routes {:?}",
            observed.len(),
            routes
                .iter()
                .map(|(path, status, _, took)| format!("{path} {status} in {took:?}"))
                .collect::<Vec<_>>()
        );
        for ((_, scrape, took), (_, ready, ready_took)) in &observed {
            assert!(*took < Duration::from_secs(1), "a scrape took {took:?}");
            assert!(
                *ready_took < Duration::from_secs(1),
                "readiness took {ready_took:?}"
            );
            for gauge in [
                "provisioning_journal_pending_entries",
                "provisioning_journal_unknown_entries",
                "provisioning_journal_counts_age_seconds",
                "provisioning_journal_writable",
            ] {
                assert!(
                    sample(scrape, gauge).is_some(),
                    "{gauge} missing from the scrape:\n{scrape}"
                );
            }
            let ready: Value = serde_json::from_str(ready).unwrap();
            assert!(
                ready["journal"]["checked_seconds_ago"].is_number(),
                "{ready}"
            );
        }
        // Once its probe has gone unanswered, readiness says so.
        let ((_, last_scrape, _), (last_status, last_ready, _)) = observed.last().unwrap();
        assert_eq!(*last_status, 503, "{last_ready}");
        let last_ready: Value = serde_json::from_str(last_ready).unwrap();
        assert_eq!(last_ready["journal"]["writable"], false, "{last_ready}");
        assert_eq!(
            sample(last_scrape, "provisioning_journal_writable"),
            Some(0.0)
        );
        for (status, body, took) in &creates {
            assert_eq!(*status, 200, "{body}");
            assert_eq!(body["error"]["kind"], "journal", "{body}");
            assert!(
                *took < DEADLINE + Duration::from_secs(1),
                "a create waited {took:?} for the journal (deadline {DEADLINE:?})"
            );
        }
        for (path, status, body, took) in &routes {
            assert_eq!(*status, 503, "{path}: {body}");
            assert_eq!(body["error"]["kind"], "journal-unavailable", "{path}: {body}");
            assert!(*took < Duration::from_secs(12), "{path} took {took:?}");
        }

        // The lock goes: writable again, and creates go through.
        drop(locker);
        server.wait_until("readiness to say writable", || {
            open_get(&server, "/v1/health/ready").0 == 200
        });
        let (status, body, _) = create(&server, "after-lock");
        assert_eq!(status, 200, "{body}");
        assert!(body["ok"].is_object(), "{body}");
    })
    .await
    .unwrap();
}

/// A full file system under the journal: readiness says `writable: false`
/// (its probe writes, as a create does) while creates are refused, and
/// writable again once there is room. Needs a small tmpfs, so root (the
/// suite runs as root in CI); skipped with a message where the mount is
/// refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_under_the_journal_is_not_writable() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = common::fresh_dir("journal-full");
    let mount_point = dir.join("small");
    std::fs::create_dir_all(&mount_point).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&mount_point)
        .output();
    match mounted {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            eprintln!(
                "skipped: mounting a small tmpfs was refused ({}); run as root to check a full disk",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            return;
        }
        Err(error) => {
            eprintln!("skipped: no mount command ({error}); run as root to check a full disk");
            return;
        }
    }
    let unmount = Unmount(mount_point.clone());
    let journal = mount_point.join("journal.sqlite3");
    let manifest = setup(&sandbox, &dir, &journal);
    tokio::task::spawn_blocking(move || {
        let server = start(&manifest);
        let (status, body, _) = create(&server, "before-full");
        assert_eq!(status, 200, "{body}");
        assert!(body["ok"].is_object(), "{body}");
        let (status, body, _) = open_get(&server, "/v1/health/ready");
        assert_eq!(status, 200, "{body}");

        // Fill the file system to its last byte.
        let filler = mount_point.join("filler");
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&filler).unwrap();
            let block = vec![0u8; 64 * 1024];
            while file.write_all(&block).is_ok() {}
            while file.write_all(&[0]).is_ok() {}
            let _ = file.sync_all();
        }
        let (status, body, _) = create(&server, "while-full");
        assert_eq!(status, 200, "{body}");
        assert!(body["error"].is_object(), "a create went through: {body}");
        server.wait_until("readiness to say not writable", || {
            let (status, body, took) = open_get(&server, "/v1/health/ready");
            assert!(took < Duration::from_secs(1), "readiness took {took:?}");
            status == 503 && body.contains("\"writable\":false")
        });

        std::fs::remove_file(&filler).unwrap();
        server.wait_until("readiness to say writable", || {
            open_get(&server, "/v1/health/ready").0 == 200
        });
        let (status, body, _) = create(&server, "after-full");
        assert_eq!(status, 200, "{body}");
        assert!(body["ok"].is_object(), "{body}");
        drop(server);
    })
    .await
    .unwrap();
    drop(unmount);
}

/// Unmounts a test's file system when dropped (lazily: a server killed a
/// moment ago may still hold a file there).
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// The PostgreSQL server stopped under a host: readiness soon says
/// `writable: false` (503), each check within a second, and the journal's
/// routes answer a typed 503 `journal-unavailable`, not a 500; with the
/// server back, the host is ready again.
#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_database_answers_the_journal_routes_with_a_typed_503() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = common::fresh_dir("journal-stopped");
    let journal =
        TestManifest::new().postgres_journal("TEST_JL_JOURNAL_URL", "TEST_JL_JOURNAL_KEY");
    let manifest = setup_at(&sandbox, &dir, journal);
    tokio::task::spawn_blocking(move || {
        let database = provisioning_test_postgres::PgServer::start();
        let url = database.database("stopped");
        let journal_key = "ab".repeat(32);
        let server = Serve::start(
            &manifest,
            (TOKEN_VAR, TOKEN),
            &[
                ("TEST_JL_JOURNAL_URL", &url),
                ("TEST_JL_JOURNAL_KEY", &journal_key),
                ("TEST_JL_HMN", hostmenow::API_KEY),
            ],
            &[],
        );
        assert_eq!(open_get(&server, "/v1/health/ready").0, 200);

        database.stop();
        server.wait_until("readiness to say not writable", || {
            let (status, body, took) = open_get(&server, "/v1/health/ready");
            assert!(took < Duration::from_secs(1), "readiness took {took:?}");
            status == 503 && body.contains("\"writable\":false")
        });
        for path in [
            "/v1/journal/pending",
            "/v1/modules/hostmenow/services/some/remote-id",
        ] {
            let (status, body) = server.get(path);
            assert_eq!(status, 503, "{path}: {body}");
            assert_eq!(
                body["error"]["kind"], "journal-unavailable",
                "{path}: {body}"
            );
        }
        let (status, body) = server.post("/v1/journal/reconcile", &json!({}));
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["kind"], "journal-unavailable", "{body}");

        database.start_again();
        server.wait_until("readiness to say writable", || {
            open_get(&server, "/v1/health/ready").0 == 200
        });
    })
    .await
    .unwrap();
}
