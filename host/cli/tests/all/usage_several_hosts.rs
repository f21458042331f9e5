//! The nightly usage sync spread over several hosts: real `provisioning
//! usage --from-journal --run NAME` processes on one PostgreSQL journal
//! (a throwaway server) holding 1,000 live HostMeNow services, against
//! the sandbox, whose simulator counts every service's usage reads. Two
//! hosts at once read each service exactly once between them; a host
//! SIGKILLed mid-run leaves its services to the other, and only the ones
//! it held claimed when it died may be read twice.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use provisioning_host::journal::{CallOutcome, Intent, JournalStore, PostgresJournal};
use provisioning_host::types::{CreatedAccount, Service, ServiceState};
use provisioning_host::{Request, Response};
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_test_postgres::PgServer;
use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::Value;

/// Live services in the journal.
const SERVICES: usize = 1000;
/// Services a host claims at once.
const BATCH: usize = 50;
/// The claims' lease: how soon a dead host's services are taken over.
const LEASE_SECS: u64 = 3;

const JOURNAL_KEY: &str = "7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e";

/// A journal on the shared test server, seeded with [`SERVICES`] live
/// HostMeNow services (also put into the simulator), and a manifest for
/// it in a fresh directory. Returns the manifest and the database's name.
fn setup(sandbox: &Sandbox, name: &str) -> (PathBuf, String, String) {
    let url = PgServer::shared().database(name);
    let database = url
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .unwrap()
        .to_string();
    seed_live_services(&url, sandbox.hostmenow());
    let dir = common::fresh_dir(&format!("usage-several-{name}"));
    let manifest = dir.join("provisioning.toml");
    // Each host paces its own calls: 100 a second, so that a run of two
    // hosts lasts some seconds and one can be killed in the middle.
    TestManifest::new()
        .postgres_journal("TEST_USH_JOURNAL_URL", "TEST_USH_JOURNAL_KEY")
        .module(
            "hostmenow",
            Module::hostmenow(sandbox)
                .rate_limit(100, 1)
                .secret_env("api-key", "TEST_HMN_KEY"),
        )
        .write(&manifest);
    (manifest, url, database)
}

/// The services `usage-000`...: each ordered at the simulator, and a
/// create-account in the journal with its recorded answer, written through
/// the library as a host that created them would have.
fn seed_live_services(url: &str, sim: &hostmenow::HostMeNow) {
    let journal = PostgresJournal::connect(url).unwrap();
    let started = Instant::now();
    for i in 0..SERVICES {
        let id = service_id(i);
        assert!(sim.seed_service(
            &id,
            &format!("{id}.example.com"),
            &format!("u{i}"),
            "Pw-1",
            "101"
        ));
        let service = Service {
            service_id: id.clone(),
            remote_id: None,
            domain: Some(format!("{id}.example.com")),
            username: Some(format!("u{i}")),
            password: None,
            package: Some("101".into()),
            billing_cycle: Some("monthly".into()),
            client: None,
            custom_fields: Vec::new(),
        };
        let intent = Intent {
            module: "hostmenow".into(),
            idempotency_key: format!("create-{id}"),
            input: Request::CreateAccount { service },
            request_digest: None,
        };
        let entry = match journal
            .begin(
                &intent,
                "seeding-host:1",
                Duration::from_secs(3600),
                Duration::ZERO,
            )
            .unwrap()
        {
            provisioning_host::journal::Begun::Started(entry) => entry,
            existing => panic!("{existing:?}"),
        };
        let created = Response::Created(CreatedAccount {
            remote_id: format!("{}", 7001 + i),
            already_existed: false,
            status: ServiceState::Active,
            message: "created".into(),
            credentials: Vec::new(),
        });
        let outcome = CallOutcome {
            answer: Ok(created),
            uncertain: false,
            module_digest: None,
            sealed_credentials: None,
        };
        journal.finish(entry, "seeding-host:1", &outcome).unwrap();
    }
    println!(
        "seeded {SERVICES} live services in the journal and the simulator in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn service_id(i: usize) -> String {
    format!("usage-{i:03}")
}

/// A `provisioning usage --from-journal --run RUN` process, its stdout
/// and stderr piped.
fn spawn_host(manifest: &Path, url: &str, run: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_provisioning"))
        .args([
            "usage",
            "--manifest",
            manifest.to_str().unwrap(),
            "--from-journal",
        ])
        .args(["--run", run, "--concurrency", "8"])
        .args(["--claim-batch", &BATCH.to_string()])
        .args(["--claim-lease-secs", &LEASE_SECS.to_string()])
        .env_remove("RUST_LOG")
        .env("TEST_HMN_KEY", hostmenow::API_KEY)
        .env("TEST_USH_JOURNAL_URL", url)
        .env("TEST_USH_JOURNAL_KEY", JOURNAL_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs")
}

/// A running host's output, read as it comes.
struct Host {
    child: Child,
    /// The service ids of the lines printed so far (each line a report).
    lines: Arc<Mutex<Vec<String>>>,
    stdout: Option<std::thread::JoinHandle<()>>,
}

impl Host {
    fn start(manifest: &Path, url: &str, run: &str) -> Host {
        let mut child = spawn_host(manifest, url, run);
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let pipe = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                // A line cut off by a kill is no report.
                let Ok(report) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                assert!(report["ok"].is_object(), "{report}");
                let id = report["service_id"].as_str().unwrap().to_string();
                sink.lock().unwrap().push(id);
            }
        });
        Host {
            child,
            lines,
            stdout: Some(stdout),
        }
    }

    fn printed(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// Waits for the end: the services it printed, its stderr, its status.
    fn finish(mut self) -> (Vec<String>, String, ExitStatus) {
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = self.child.wait().unwrap();
        self.stdout.take().unwrap().join().unwrap();
        let lines = self.lines.lock().unwrap().clone();
        (lines, stderr, status)
    }
}

/// Every service id, and how often each one's usage was read.
fn reads(sim: &hostmenow::HostMeNow) -> BTreeMap<String, u64> {
    let reads = sim.usage_reads();
    assert_eq!(reads.len(), SERVICES);
    reads
}

fn distinct(lines: &[String]) -> BTreeSet<&String> {
    lines.iter().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hosts_syncing_usage_read_each_of_1000_services_exactly_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let sim = sandbox.hostmenow().clone();
    let sandbox = Arc::new(sandbox);
    tokio::task::spawn_blocking(move || {
        let (manifest, url, _) = setup(&sandbox, "usage_two_hosts");
        let started = Instant::now();
        let first = Host::start(&manifest, &url, "nightly");
        let second = Host::start(&manifest, &url, "nightly");
        let (first, first_err, first_status) = first.finish();
        let (second, second_err, second_status) = second.finish();
        let elapsed = started.elapsed();
        assert!(first_status.success(), "{first_err}");
        assert!(second_status.success(), "{second_err}");

        let reads = reads(&sim);
        let not_once: Vec<_> = reads.iter().filter(|(_, n)| **n != 1).collect();
        assert!(not_once.is_empty(), "read other than once: {not_once:?}");
        assert_eq!(
            first.len() + second.len(),
            SERVICES,
            "one line per service in all"
        );
        assert_eq!(distinct(&first).len(), first.len());
        assert_eq!(distinct(&second).len(), second.len());
        let all: BTreeSet<&String> = first.iter().chain(&second).collect();
        assert_eq!(
            all.len(),
            SERVICES,
            "each service printed once, by one host"
        );
        assert!(!first.is_empty() && !second.is_empty(), "both did a share");
        for (lines, stderr) in [(&first, &first_err), (&second, &second_err)] {
            let expected = format!(
                "run nightly: shared through the journal; {} of its {SERVICES} services read here",
                lines.len()
            );
            assert!(stderr.contains(&expected), "{stderr}");
            assert!(
                stderr.starts_with(&format!(
                    "usage: {} services ({} ok)",
                    lines.len(),
                    lines.len()
                )),
                "{stderr}"
            );
        }
        println!(
            "two hosts, {SERVICES} services: {} + {} read, each exactly once, in {:.1} s",
            first.len(),
            second.len(),
            elapsed.as_secs_f64()
        );
        println!("host 1 said: {}", first_err.trim());
        println!("host 2 said: {}", second_err.trim());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_killed_mid_run_leaves_its_services_to_the_other() {
    let sandbox = Sandbox::start().await.unwrap();
    let sim = sandbox.hostmenow().clone();
    let sandbox = Arc::new(sandbox);
    tokio::task::spawn_blocking(move || {
        let (manifest, url, database) = setup(&sandbox, "usage_killed_host");
        let started = Instant::now();
        let mut doomed = Host::start(&manifest, &url, "nightly");
        let survivor = Host::start(&manifest, &url, "nightly");
        // Halfway through its third claim: it holds services, some read.
        while doomed.printed() < 2 * BATCH + BATCH / 2 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the doomed host never got going"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        doomed.child.kill().unwrap(); // SIGKILL
        let killed_at = started.elapsed();
        let (dead_lines, _, dead_status) = doomed.finish();
        assert!(!dead_status.success());
        let (lines, stderr, status) = survivor.finish();
        let elapsed = started.elapsed();
        assert!(status.success(), "{stderr}");

        let reads = reads(&sim);
        let unread: Vec<_> = reads.iter().filter(|(_, n)| **n == 0).collect();
        assert!(unread.is_empty(), "never read: {unread:?}");
        let twice: BTreeSet<&String> = reads
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, _)| id)
            .collect();
        assert!(reads.values().all(|n| *n <= 2), "{reads:?}");
        // The services taken over from the dead host: claimed twice.
        let taken_over_text = PgServer::shared().psql(
            &database,
            "SELECT service_id FROM provisioning_journal_usage_claims \
             WHERE run = 'nightly' AND times_claimed > 1 ORDER BY service_id",
        );
        let taken_over: BTreeSet<String> =
            taken_over_text.lines().map(str::to_string).collect();
        assert!(
            taken_over.len() <= BATCH,
            "at most the dead host's one claim: {taken_over:?}"
        );
        assert!(!taken_over.is_empty(), "the dead host held a claim when it died");
        for id in &twice {
            assert!(
                taken_over.contains(*id),
                "{id} was read twice without being taken over from the dead host"
            );
        }
        let all: BTreeSet<&String> = dead_lines.iter().chain(&lines).collect();
        assert_eq!(all.len(), SERVICES, "every service printed by one host or the other");
        assert_eq!(distinct(&lines).len(), lines.len(), "the survivor printed each once");
        assert!(
            stderr.contains(&format!("{} taken over from a host that stopped", taken_over.len())),
            "{stderr}"
        );
        println!(
            "host killed at {:.1} s after printing {} reports; the survivor read {} (taking over {}), \
             {} read twice (all of them taken over), done in {:.1} s",
            killed_at.as_secs_f64(),
            dead_lines.len(),
            lines.len(),
            taken_over.len(),
            twice.len(),
            elapsed.as_secs_f64()
        );
        println!("the survivor said: {}", stderr.trim());

        // The run is over: run again under its name, nothing is read.
        let (again, again_err, again_status) = Host::start(&manifest, &url, "nightly").finish();
        assert!(again_status.success(), "{again_err}");
        assert!(again.is_empty(), "{again:?}");
        assert!(
            again_err.contains(&format!("0 of its {SERVICES} services read here")),
            "{again_err}"
        );
        assert_eq!(sim.usage_reads(), reads, "no read in a finished run");
    })
    .await
    .unwrap();
}
