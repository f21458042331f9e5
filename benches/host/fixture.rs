//! What every part shares: the sandbox with its seeded services, the
//! HostMeNow module's configuration, hosts built with the options under
//! test, and where results and the compile cache go.

use std::path::PathBuf;
use std::sync::Arc;

use provisioning_host::types::Service;
use provisioning_host::{Host, HostOptions, Limits, ModuleConfig, Request};
use provisioning_sandbox::{Sandbox, hostmenow};

/// The name the HostMeNow module is loaded under.
pub const MODULE: &str = "hostmenow";

/// The service the one-call measurements read, again and again.
pub const SINGLE_SERVICE: &str = "bench-single";

/// The running sandbox and the services seeded in its HostMeNow account.
pub struct Fixture {
    pub sandbox: Sandbox,
    /// The bulk run's services, each with usage figures of its own.
    pub bulk_services: Arc<[String]>,
}

impl Fixture {
    /// Starts the sandbox on the current runtime and seeds the single
    /// service and `bulk` services.
    pub async fn start(bulk: usize) -> Fixture {
        let sandbox = Sandbox::start().await.expect("the sandbox starts");
        let simulator = sandbox.hostmenow();
        seed(simulator, SINGLE_SERVICE, 1);
        let bulk_services: Arc<[String]> = (0..bulk)
            .map(|i| {
                let id = format!("bulk-{i:05}");
                seed(simulator, &id, i);
                id
            })
            .collect();
        Fixture {
            sandbox,
            bulk_services,
        }
    }

    /// The HostMeNow endpoint of the sandbox, which both the component and
    /// the native client call.
    pub fn endpoint(&self) -> String {
        self.sandbox.hostmenow().endpoint()
    }

    /// The HostMeNow module's configuration for this sandbox, under `name`.
    pub fn config(&self, name: &str) -> ModuleConfig {
        hostmenow_config(name, &self.sandbox.origin(), &self.endpoint())
    }
}

/// Puts one active service with its own figures into the simulator.
fn seed(simulator: &hostmenow::HostMeNow, id: &str, i: usize) {
    let seeded = simulator.seed_service(
        id,
        &format!("{id}.example.com"),
        &format!("u{}", id.replace('-', "")),
        "Pw-seeded-1",
        "101",
    );
    assert!(seeded, "seeding {id} (product 101 exists, the id is new)");
    let figures_set = simulator.set_usage(id, i as f64 + 0.25, 5000, 2.0 * i as f64 + 0.5, 10000);
    assert!(figures_set, "setting the usage of {id}");
}

/// The HostMeNow module granted `origin` and pointed at `endpoint`, with
/// the default deadline and memory cap.
pub fn hostmenow_config(name: &str, origin: &str, endpoint: &str) -> ModuleConfig {
    ModuleConfig::new(name, provisioning_components::HOSTMENOW)
        .allow_hosts(&[origin])
        .expect("the sandbox's origin parses")
        .setting("endpoint", endpoint)
        .setting("api-key", hostmenow::API_KEY)
        .limits(Limits::default())
}

/// A service known only by its id, which is all HostMeNow's usage-data
/// sends.
pub fn usage_service(service_id: &str) -> Service {
    Service {
        service_id: service_id.to_owned(),
        remote_id: None,
        domain: None,
        username: None,
        password: None,
        package: None,
        billing_cycle: None,
        client: None,
        custom_fields: Vec::new(),
    }
}

/// The usage-data request for one service ([`usage_service`]).
pub fn usage_request(service_id: &str) -> Request {
    Request::UsageData {
        service: usage_service(service_id),
    }
}

/// The host options under test. Every host but the one measuring cold
/// compiles shares the compile cache, so that the run compiles each
/// component once rather than once per host.
pub fn options(pooling_allocator: bool, pooled_http: bool) -> HostOptions {
    HostOptions {
        pooling_allocator,
        compile_cache: Some(compile_cache_dir()),
        pooled_http,
        ..HostOptions::default()
    }
}

/// A host with these options and the HostMeNow module loaded as
/// [`MODULE`].
pub async fn loaded_host(fixture: &Fixture, options: HostOptions) -> Arc<Host> {
    let host = Host::with_options(options).expect("the host starts");
    host.load(fixture.config(MODULE))
        .await
        .expect("the HostMeNow component loads");
    Arc::new(host)
}

/// The hosts the parts compare, each with HostMeNow loaded as [`MODULE`].
pub struct Hosts {
    /// The default options: pooling allocator, pooled HTTP connections.
    pub default: Arc<Host>,
    /// A new connection for every guest request (before pooled HTTP).
    pub per_connection: Arc<Host>,
    /// On-demand instance allocation (before the pooling allocator).
    pub on_demand: Arc<Host>,
}

impl Hosts {
    pub async fn load(fixture: &Fixture) -> Hosts {
        Hosts {
            default: loaded_host(fixture, options(true, true)).await,
            per_connection: loaded_host(fixture, options(true, false)).await,
            on_demand: loaded_host(fixture, options(false, true)).await,
        }
    }
}

/// `target/` of this workspace (or `CARGO_TARGET_DIR`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Where the summary and the parts' files go: `target/benchmarks/`,
/// created when missing (a fresh clone has none).
pub fn results_dir() -> PathBuf {
    let dir = target_dir().join("benchmarks");
    std::fs::create_dir_all(&dir).expect("creating target/benchmarks");
    dir
}

/// The compile cache of the benchmarks' hosts, kept between runs
/// (artifacts are keyed by the component's bytes and the engine's
/// settings, so a rebuilt component never hits a stale one): the tests'
/// own, `target/<profile>/compiled-components`, so that `cargo test`'s
/// quick pass compiles no component the tests already compiled (two cold
/// compiles of the JavaScript and Python modules, 25 s of a CI run).
pub fn compile_cache_dir() -> PathBuf {
    provisioning_test_support::compiled_components()
}
