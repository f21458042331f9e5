//! Part 9: a provider 50 ms away. The simulator holds every answer for
//! [`DELAY`] (a queued `Fault::Slow` per request), and the bulk run's
//! services are read at the bulk concurrency by the host and by the native
//! client; the PHP client's sequential loop and its `curl_multi` run are
//! set beside them. There the sandbox's fixed cost should vanish in the
//! wait: the goal is the host within 1.05 of the native client's time.
//!
//! The sequential PHP loop would take the delay times every read (over
//! eight minutes for 10,000), so it reads [`Scale::distant_php_reads`]
//! services and its time is scaled to the full count, which the row says.

use std::time::Duration;

use provisioning_sandbox::fault::Fault;
use tokio::runtime::Runtime;

use crate::bulk::{self, Throughput};
use crate::caller::Caller;
use crate::fixture::{Fixture, Hosts};
use crate::native::NativeClient;
use crate::php;
use crate::scale::Scale;
use crate::summary::{Figure, Goal, Row, Summary};

const PART: &str = "9. provider 50 ms away";

/// How long the simulator holds each answer.
const DELAY: Duration = Duration::from_millis(50);

/// Measures and adds the rows of part 9.
pub fn run(
    rt: &Runtime,
    fixture: &Fixture,
    hosts: &Hosts,
    native: &NativeClient,
    scale: &Scale,
    summary: &mut Summary,
) {
    let services = &fixture.bulk_services;
    let concurrency = scale.bulk_concurrency;
    // The warm-up's calls are delayed too.
    let delay_each = |extra: usize| {
        let faults = fixture.sandbox.hostmenow().faults();
        faults.clear();
        faults.inject(Fault::Slow(DELAY), extra);
    };
    let delayed = |caller: Caller| -> Throughput {
        delay_each(services.len() + concurrency);
        let run = rt.block_on(bulk::throughput(caller, fixture, services, concurrency));
        fixture.sandbox.hostmenow().faults().clear();
        run
    };
    let host = delayed(Caller::Component(hosts.default.clone()));
    let native_run = delayed(Caller::native(native));
    host.report_failures(&format!("{PART}, the host"), summary);
    native_run.report_failures(&format!("{PART}, the native client"), summary);

    let count = services.len();
    let host_time = (format!("the host, concurrency {concurrency}"), host.time());
    summary.push(Row {
        part: PART,
        measure: format!("{count} reads at concurrency {concurrency}, the host"),
        value: host.time(),
        baseline: Some((
            format!("native client, concurrency {concurrency}"),
            native_run.time(),
        )),
        goal: Goal::RatioAtMost(1.05),
    });

    let few = scale.distant_php_reads.min(count);
    let (php_loop, php_multi) = match php::php_with_curl() {
        Ok(()) => {
            let endpoint = fixture.endpoint();
            let sample = php::services_file(&services[..few], "php-distant-sample");
            let all = php::services_file(services, "php-distant-all");
            delay_each(few);
            let sequential = php::php_run(&endpoint, &sample, 1, summary)
                .map(|run| Figure::Time(run.elapsed().mul_f64(count as f64 / few as f64)));
            delay_each(count);
            let multi = php::php_run(&endpoint, &all, concurrency, summary)
                .map(|run| Figure::Time(run.elapsed()));
            fixture.sandbox.hostmenow().faults().clear();
            let failed = Figure::Missing("PHP reads failed, see the notes");
            (
                sequential.unwrap_or(failed.clone()),
                multi.unwrap_or(failed),
            )
        }
        Err(why) => (Figure::Missing(why), Figure::Missing(why)),
    };
    summary.push(Row {
        part: PART,
        measure: format!("same reads, PHP loop one after another ({few} timed, scaled to {count})"),
        value: php_loop,
        baseline: Some(host_time.clone()),
        goal: Goal::Report,
    });
    summary.push(Row {
        part: PART,
        measure: format!("same reads, PHP curl_multi at {concurrency}"),
        value: php_multi,
        baseline: Some(host_time),
        goal: Goal::Report,
    });
}
