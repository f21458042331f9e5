//! Part 8: the host against the PHP client it replaces, on the same
//! sandbox and services in the same run: `php_client.php` (a new curl
//! handle per request, `json_decode`) one read after another and with
//! `curl_multi` at the bulk concurrency, against the host reading the same
//! services sequentially and at that concurrency.
//!
//! The reads cycle over [`SERVICES`] services, the first seeded, so that
//! the simulator's lookup scan stays short and the figures are the
//! clients' own. Runs when `php` with its curl extension is on PATH; the
//! rows say so when it is not.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use provisioning_sandbox::hostmenow;
use serde::Deserialize;
use tokio::runtime::Runtime;

use crate::bulk;
use crate::caller::Caller;
use crate::fixture::{self, Fixture, Hosts};
use crate::native::NativeClient;
use crate::scale::Scale;
use crate::summary::{Figure, Goal, Row, Summary};

const PART: &str = "8. against PHP";

/// Distinct services the reads cycle over.
const SERVICES: usize = 50;

/// The PHP client, beside this file.
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/host/php_client.php");

/// What the PHP client prints when it is done.
#[derive(Deserialize)]
pub struct PhpRun {
    /// Reads made.
    pub calls: usize,
    seconds: f64,
    failures: usize,
    first_failure: Option<String>,
}

impl PhpRun {
    /// How long the reads took.
    pub fn elapsed(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }
}

/// Measures and adds the rows of part 8.
pub fn run(
    rt: &Runtime,
    fixture: &Fixture,
    hosts: &Hosts,
    native: &NativeClient,
    scale: &Scale,
    summary: &mut Summary,
) {
    let reads: Arc<[String]> = fixture
        .bulk_services
        .iter()
        .take(SERVICES)
        .cycle()
        .take(scale.php_reads)
        .cloned()
        .collect();
    let concurrency = scale.bulk_concurrency;
    let component = Caller::Component(hosts.default.clone());
    let mut rate = |caller: &Caller, in_flight: usize| {
        let run = rt.block_on(bulk::throughput(caller.clone(), fixture, &reads, in_flight));
        run.report_failures(&format!("{PART}, in flight {in_flight}"), summary);
        run.figure()
    };
    let host_sequential = rate(&component, 1);
    let native_sequential = rate(&Caller::native(native), 1);
    let host_concurrent = rate(&component, concurrency);
    let (php_sequential, php_multi) = match php_with_curl() {
        Ok(()) => {
            let services = services_file(&reads, "php-reads");
            let endpoint = fixture.endpoint();
            (
                php_rate(&endpoint, &services, 1, summary),
                php_rate(&endpoint, &services, concurrency, summary),
            )
        }
        Err(why) => (Figure::Missing(why), Figure::Missing(why)),
    };
    let count = reads.len();
    let php_loop = "PHP loop, a curl handle per read".to_owned();
    summary.push(Row {
        part: PART,
        measure: format!("{count} reads of {SERVICES} services one after another, the host"),
        value: host_sequential,
        baseline: Some((php_loop.clone(), php_sequential.clone())),
        goal: Goal::RatioAtLeast(0.6),
    });
    summary.push(Row {
        part: PART,
        measure: "same, the native client".into(),
        value: native_sequential,
        baseline: Some((php_loop, php_sequential)),
        goal: Goal::Report,
    });
    summary.push(Row {
        part: PART,
        measure: format!("same reads at concurrency {concurrency}, the host"),
        value: host_concurrent,
        baseline: Some((
            format!("PHP curl_multi, {concurrency} in flight"),
            php_multi,
        )),
        goal: Goal::RatioAtLeast(0.35),
    });
}

/// `Ok` when `php` runs and has curl, else why the PHP rows are missing.
pub fn php_with_curl() -> Result<(), &'static str> {
    let probe = Command::new("php")
        .args(["-r", "exit(function_exists('curl_multi_init') ? 0 : 1);"])
        .output();
    match probe {
        Ok(output) if output.status.success() => Ok(()),
        Ok(_) => Err("php has no curl extension"),
        Err(_) => Err("php is not installed"),
    }
}

/// Writes `services`, one per line, to `target/benchmarks/<name>.txt`.
pub fn services_file(services: &[String], name: &str) -> PathBuf {
    let path = fixture::results_dir().join(format!("{name}.txt"));
    std::fs::write(&path, services.join("\n")).expect("writing the PHP client's services");
    path
}

/// Runs the PHP client over `services` with `in_flight` requests at once,
/// or gives `None` (with a note) when reads failed.
pub fn php_run(
    endpoint: &str,
    services: &Path,
    in_flight: usize,
    summary: &mut Summary,
) -> Option<PhpRun> {
    let output = Command::new("php")
        .arg(CLIENT)
        .arg(endpoint)
        .arg(hostmenow::API_KEY)
        .arg(services)
        .arg(in_flight.to_string())
        .output()
        .expect("php was found a moment ago");
    let run: PhpRun = match serde_json::from_slice(&output.stdout) {
        Ok(run) if output.status.success() => run,
        _ => {
            summary.note(format!(
                "{PART}: the PHP client failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
            return None;
        }
    };
    if run.failures > 0 {
        summary.note(format!(
            "{PART}: {} of {} PHP reads failed (in flight {in_flight}); the first: {}",
            run.failures,
            run.calls,
            run.first_failure.as_deref().unwrap_or("?")
        ));
        return None;
    }
    Some(run)
}

/// Reads per second of the PHP client over `services`.
fn php_rate(endpoint: &str, services: &Path, in_flight: usize, summary: &mut Summary) -> Figure {
    match php_run(endpoint, services, in_flight, summary) {
        Some(run) => Figure::Rate(run.calls as f64 / run.elapsed().as_secs_f64()),
        None => Figure::Missing("PHP reads failed, see the notes"),
    }
}
