//! A module's rate limit paces every call that reaches its provider: the
//! real Webline component in real wasmtime against the simulator over
//! loopback. A call whose turn would come after its deadline is answered
//! `rate-limited` at once with nothing sent (journaled, its key stays
//! usable); each attempt of a retried read takes a turn; a provider's
//! Retry-After holds the module's other callers; a swap keeps the pacing
//! and a new rate applies at once. The metrics record each turn's wait and
//! each refusal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use provisioning_host::journal::{EntryState, JournalStore, Sealer, SqliteJournal};
use provisioning_host::types::{Error as ModuleError, RateLimit};
use provisioning_host::{
    CallError, CallOptions, Host, Journal, Limits, Manifest, ModuleConfig, Request, RequestRate,
    Response,
};
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::{Sandbox, webline};
use provisioning_test_support::manifest::{Module, TestManifest};

const WAIT_SECONDS: &str = "provisioning_rate_limit_wait_seconds";
const REFUSALS: &str = "provisioning_rate_limit_refusals_total";

/// What the host recorded through the `metrics` facade, by metric name and
/// `module` label: every counter's total, every histogram's samples.
#[derive(Default)]
struct Recorded {
    counters: Mutex<HashMap<(String, String), u64>>,
    histograms: Mutex<HashMap<(String, String), Vec<f64>>>,
}

impl Recorded {
    fn counter(&self, name: &str, module: &str) -> u64 {
        let key = (name.to_string(), module.to_string());
        self.counters
            .lock()
            .unwrap()
            .get(&key)
            .copied()
            .unwrap_or(0)
    }

    fn samples(&self, name: &str, module: &str) -> Vec<f64> {
        let key = (name.to_string(), module.to_string());
        self.histograms
            .lock()
            .unwrap()
            .get(&key)
            .cloned()
            .unwrap_or_default()
    }
}

/// The process's recorder (tests of this file run at once; each uses a
/// module name of its own).
fn recorded() -> &'static Recorded {
    static RECORDED: OnceLock<&'static Recorded> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let recorded: &'static Recorded = Box::leak(Box::default());
        metrics::set_global_recorder(Collect(recorded)).expect("the only recorder");
        recorded
    })
}

struct Collect(&'static Recorded);

/// One metric of [`Collect`]: its name and module label.
struct Handle {
    recorded: &'static Recorded,
    key: (String, String),
}

impl Handle {
    fn new(recorded: &'static Recorded, key: &Key) -> Arc<Handle> {
        let module = key
            .labels()
            .find(|label| label.key() == "module")
            .map(|label| label.value().to_string())
            .unwrap_or_default();
        Arc::new(Handle {
            recorded,
            key: (key.name().to_string(), module),
        })
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        let mut counters = self.recorded.counters.lock().unwrap();
        *counters.entry(self.key.clone()).or_default() += value;
    }

    fn absolute(&self, value: u64) {
        let mut counters = self.recorded.counters.lock().unwrap();
        counters.insert(self.key.clone(), value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        let mut histograms = self.recorded.histograms.lock().unwrap();
        histograms.entry(self.key.clone()).or_default().push(value);
    }
}

impl Recorder for Collect {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Handle::new(self.0, key))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        panic!("the host records no gauge, yet registered {}", key.name())
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Handle::new(self.0, key))
    }
}

/// The Webline module as `name`, paced by `rate`, with `limits`.
fn webline(sandbox: &Sandbox, name: &str, rate: RequestRate, limits: Limits) -> ModuleConfig {
    ModuleConfig {
        name: name.into(),
        ..provisioning_test_support::webline::config(sandbox)
    }
    .limits(limits)
    .rate_limit(rate)
}

fn limits(deadline: Duration, read_retries: u32) -> Limits {
    Limits {
        deadline,
        read_retries,
        ..Limits::default()
    }
}

fn rate(requests: u32, per: Duration) -> RequestRate {
    RequestRate::new(requests, per).unwrap()
}

/// The Retry-After of a `rate-limited` answer; panics on any other.
fn retry_after(result: &Result<Response, CallError>) -> u32 {
    match result.as_ref().map_err(CallError::module_error) {
        Err(Some(ModuleError::RateLimited(RateLimit {
            retry_after_seconds: Some(seconds),
            ..
        }))) => *seconds,
        other => panic!("expected rate-limited with a Retry-After, got {other:?}"),
    }
}

fn creates(sim: &webline::Webline) -> usize {
    sim.requests()
        .iter()
        .filter(|request| request.action == "createAccount")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_whose_turn_comes_after_its_deadline_is_refused_unsent_and_its_key_stays_usable() {
    let metrics = recorded();
    let sandbox = Sandbox::start().await.unwrap();
    let sim = sandbox.webline();
    let store = Arc::new(SqliteJournal::in_memory().unwrap());
    let sealer = Sealer::from_hex(&Sealer::generate_key_hex()).unwrap();
    let host = provisioning_test_support::host()
        .with_journal(Journal::new(store.clone(), sealer).unwrap());
    let name = "webline-deadline";
    // One call per 5 s, a deadline of 3 s: the call after one must wait
    // longer than its deadline.
    let config = webline(
        &sandbox,
        name,
        rate(1, Duration::from_secs(5)),
        limits(Duration::from_secs(3), 2),
    );
    host.load(config).await.unwrap();

    host.call(name, &Request::TestConnection).await.unwrap();
    let create = Request::CreateAccount {
        service: provisioning_test_support::webline::service("paced.co.tz", "1"),
    };
    let keyed = CallOptions {
        idempotency_key: Some("create-paced".into()),
        ..CallOptions::default()
    };
    let asked = Instant::now();
    let refused = host.execute(name, &create, &keyed).await;
    let took = asked.elapsed();

    // The first call counts for the window and its margin, 5.5 s.
    let seconds = retry_after(&refused.result);
    assert!((5..=6).contains(&seconds), "retry after {seconds} s");
    assert!(
        took < Duration::from_millis(500),
        "answered at once, not after waiting: {took:?}"
    );
    let error = refused.result.as_ref().unwrap_err();
    assert!(error.to_string().contains("not sent"), "{error}");
    assert!(!error.leaves_provider_state_unknown());
    assert_eq!(sim.requests().len(), 1, "only the first call reached it");
    assert_eq!(creates(sim), 0);
    assert_eq!(sim.rate_limited(), 0);

    // The journal closed the intent as a definite refusal.
    let entry = refused.journal_entry.expect("the call was journaled");
    let recorded_entry = store.get(entry).unwrap().unwrap();
    assert_eq!(recorded_entry.state, EntryState::Answered);
    let outcome = recorded_entry.outcome.unwrap();
    assert!(!outcome.succeeded());
    assert!(!outcome.uncertain, "nothing was sent");
    assert_eq!(outcome.kind(), "rate-limited");

    assert_eq!(metrics.counter(REFUSALS, name), 1);
    assert_eq!(
        metrics.samples(WAIT_SECONDS, name),
        [0.0],
        "one turn taken, at once"
    );

    // Once the turn has come, the same key runs the call.
    tokio::time::sleep(Duration::from_secs(seconds.into())).await;
    let again = host.execute(name, &create, &keyed).await;
    assert!(
        matches!(again.result, Ok(Response::Created(_))),
        "{:?}",
        again.result
    );
    assert!(!again.replayed);
    assert_eq!(creates(sim), 1);
    assert_eq!(sim.rate_limited(), 0);
    assert_eq!(metrics.counter(REFUSALS, name), 1);
    assert!(metrics.samples(WAIT_SECONDS, name).len() >= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_attempt_of_a_retried_read_waits_for_its_turn() {
    let metrics = recorded();
    let sandbox = Sandbox::start().await.unwrap();
    let sim = sandbox.webline();
    let host = provisioning_test_support::host();
    let name = "webline-retried";
    let config = webline(
        &sandbox,
        name,
        rate(1, Duration::from_secs(1)),
        limits(Duration::from_secs(5), 2),
    );
    host.load(config).await.unwrap();
    sim.faults().inject(Fault::ServerErrorJson, 1);

    let asked = Instant::now();
    host.call(name, &Request::TestConnection).await.unwrap();
    let took = asked.elapsed();

    // The retry came 100 ms after the 500, but its turn a second after
    // the first attempt ended.
    assert!(took >= Duration::from_millis(950), "{took:?}");
    let waits = metrics.samples(WAIT_SECONDS, name);
    assert_eq!(waits.len(), 2, "a turn per attempt: {waits:?}");
    assert_eq!(waits[0], 0.0);
    assert!(waits[1] >= 0.8, "{waits:?}");
    assert_eq!(sim.requests().len(), 1, "the faulted request is not kept");
    assert_eq!(sim.faults().pending(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_providers_retry_after_holds_every_caller_of_the_module() {
    let metrics = recorded();
    let sandbox = Sandbox::start().await.unwrap();
    let sim = sandbox.webline();
    let host = provisioning_test_support::host();
    let name = "webline-held";
    // A generous rate and no retries: only the provider's hold delays.
    let config = webline(
        &sandbox,
        name,
        rate(100, Duration::from_secs(1)),
        limits(Duration::from_secs(6), 0),
    );
    host.load(config).await.unwrap();
    // The same provider account without a rate limit: not paced, not held.
    let unpaced = ModuleConfig {
        name: "webline-unpaced".into(),
        ..provisioning_test_support::webline::config(&sandbox)
    };
    host.load(unpaced).await.unwrap();
    sim.faults().inject(
        Fault::TooManyRequests {
            retry_after_secs: 2,
        },
        1,
    );

    let first = host.call(name, &Request::TestConnection).await;
    let answered = Instant::now();
    assert_eq!(retry_after(&first), 2);
    assert_eq!(sim.faults().pending(), 0);

    let (second, third, unpaced) = tokio::join!(
        async {
            let result = host.call(name, &Request::TestConnection).await;
            (result, answered.elapsed())
        },
        async {
            let result = host.call(name, &Request::ListPackages).await;
            (result, answered.elapsed())
        },
        async {
            let result = host.call("webline-unpaced", &Request::TestConnection).await;
            (result, answered.elapsed())
        },
    );
    for (what, (result, after)) in [("second", second), ("third", third)] {
        assert!(result.is_ok(), "{what}: {result:?}");
        assert!(
            after >= Duration::from_millis(1900),
            "the {what} caller went {after:?} after the 429 that asked for 2 s"
        );
    }
    let (result, after) = unpaced;
    assert!(result.is_ok(), "{result:?}");
    assert!(after < Duration::from_millis(1500), "{after:?}");
    assert_eq!(sim.rate_limited(), 0);
    let waits = metrics.samples(WAIT_SECONDS, name);
    assert_eq!(waits.len(), 3, "{waits:?}");
    assert!(waits[1..].iter().all(|wait| *wait >= 1.8), "{waits:?}");
}

/// A manifest of the Webline module `webline-swap` paced by `requests`
/// calls per `per_seconds`, with `read_retries` (changed to make a swap
/// without changing the rate), in `dir`.
fn swap_manifest(
    dir: &std::path::Path,
    sandbox: &Sandbox,
    requests: u32,
    per_seconds: u64,
    read_retries: u32,
) -> Manifest {
    let path = TestManifest::new()
        .module(
            "webline-swap",
            Module::webline(sandbox)
                .deadline(Duration::from_secs(3))
                .read_retries(read_retries)
                .rate_limit(requests, per_seconds)
                .secret_file("api-key", "webline.key")
                .setting("activation-wait-seconds", "0"),
        )
        .write(dir.join("provisioning.toml"));
    Manifest::from_file(&path).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_swap_keeps_the_pacing_and_a_new_rate_applies_at_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("provisioning-rate-swap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("webline.key"), webline::API_KEY).unwrap();
    let name = "webline-swap";
    // A window far longer than a swap takes (it compiles the component).
    let manifest = swap_manifest(&dir, &sandbox, 1, 60, 2);
    let host = Host::from_manifest(&manifest, provisioning_test_support::host_options()).unwrap();
    host.load_manifest(&manifest).await.unwrap();

    host.call(name, &Request::TestConnection).await.unwrap();
    // The same rate, another entry: swapped in, the pacing goes on.
    let report = host
        .apply_manifest(&swap_manifest(&dir, &sandbox, 1, 60, 1))
        .await;
    assert_eq!(report.swapped.len(), 1, "{report:?}");
    let refused = host.call(name, &Request::TestConnection).await;
    assert!(retry_after(&refused) >= 30, "{refused:?}");

    // A faster rate: the next turn is one new interval after the last.
    let report = host
        .apply_manifest(&swap_manifest(&dir, &sandbox, 10, 1, 1))
        .await;
    assert_eq!(report.swapped.len(), 1, "{report:?}");
    assert_eq!(
        host.module(name).unwrap().rate_limit(),
        Some(rate(10, Duration::from_secs(1)))
    );
    host.call(name, &Request::TestConnection).await.unwrap();
    assert_eq!(sandbox.webline().requests().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
