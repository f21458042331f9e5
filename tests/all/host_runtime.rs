//! How the host runs modules (`HostOptions`), end to end: guests' requests
//! share pooled keep-alive connections, compiled components are kept in a
//! cache keyed by their contents and the engine's settings and mapped from
//! there (safely: artifacts are replaced, never rewritten), calls beyond
//! the host's bound wait for a slot (and, when none comes in time, are
//! refused `busy`, definitely unsent, journaled or not), both instance
//! allocators run the same
//! calls, and each call reports the memory its guest reached.

use std::path::Path;
use std::time::Duration;

use provisioning_host::{CallError, CallOptions, Host, HostOptions, Limits, ModuleConfig, Request};
use provisioning_sandbox::Sandbox;
use provisioning_test_support::{hostmenow_config, setting};

/// The compiled artifacts in a cache directory (files being written left
/// out).
fn artifacts(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ending| ending == "cwasm"))
        .collect();
    found.sort();
    found
}

fn cached_artifacts(dir: &Path) -> usize {
    artifacts(dir).len()
}

fn temp_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provisioning-{label}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Connections the sandbox accepted while a host with `options` made
/// `calls` HostMeNow test-connection calls in a row.
async fn connections_for(sandbox: &Sandbox, options: HostOptions, calls: u64) -> u64 {
    let host = Host::with_options(options).unwrap();
    host.load(hostmenow_config(sandbox, "hostmenow"))
        .await
        .unwrap();
    let before = sandbox.connections_accepted();
    for _ in 0..calls {
        host.call("hostmenow", &Request::TestConnection)
            .await
            .expect("test-connection answers");
    }
    sandbox.connections_accepted() - before
}

#[tokio::test(flavor = "multi_thread")]
async fn guests_requests_reuse_pooled_connections() {
    let sandbox = Sandbox::start().await.unwrap();
    let calls = 10;
    assert_eq!(
        connections_for(&sandbox, HostOptions::default(), calls).await,
        1,
        "{calls} calls in a row share one kept-alive connection"
    );
    let unpooled = HostOptions {
        pooled_http: false,
        ..HostOptions::default()
    };
    assert!(
        connections_for(&sandbox, unpooled, calls).await >= calls,
        "without the pool every request opens its own connection"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_compile_cache_keeps_one_artifact_per_component_and_engine() {
    let sandbox = Sandbox::start().await.unwrap();
    let cache = temp_dir("compile-cache");
    let options = HostOptions {
        compile_cache: Some(cache.clone()),
        ..HostOptions::default()
    };

    let first = Host::with_options(options.clone()).unwrap();
    first
        .load(hostmenow_config(&sandbox, "hostmenow"))
        .await
        .unwrap();
    let after_first = cached_artifacts(&cache);
    assert_eq!(after_first, 1, "the compiled HostMeNow component is kept");

    // A restarted host loads the same file from the cache: nothing new.
    let restarted = Host::with_options(options.clone()).unwrap();
    restarted
        .load(hostmenow_config(&sandbox, "hostmenow"))
        .await
        .unwrap();
    restarted
        .call("hostmenow", &Request::TestConnection)
        .await
        .expect("the module loaded from the cache answers");
    assert_eq!(cached_artifacts(&cache), 1, "loaded, not compiled again");

    // Another component gets its own artifact.
    restarted
        .load(ModuleConfig::new("blesta", provisioning_components::BLESTA))
        .await
        .unwrap();
    assert_eq!(cached_artifacts(&cache), 2, "another component");
    // The on-demand allocator compiles with the same settings as the pool
    // (both reserve 4 GiB per memory, so code has no bounds checks): the
    // artifact is shared, not compiled again.
    let on_demand = Host::with_options(HostOptions {
        pooling_allocator: false,
        ..options
    })
    .unwrap();
    on_demand
        .load(hostmenow_config(&sandbox, "hostmenow"))
        .await
        .unwrap();
    on_demand
        .call("hostmenow", &Request::TestConnection)
        .await
        .expect("the module loaded from the pool's artifact answers");
    assert_eq!(
        cached_artifacts(&cache),
        2,
        "the same compiler settings share one artifact"
    );
    let _ = std::fs::remove_dir_all(&cache);
}

/// The sandbox, a new compile cache holding HostMeNow's artifact (a host
/// loaded it), the options of hosts using that cache, and the artifact.
async fn cache_holding_hostmenow(
    label: &str,
) -> (Sandbox, std::path::PathBuf, HostOptions, std::path::PathBuf) {
    let sandbox = Sandbox::start().await.unwrap();
    let cache = temp_dir(label);
    let options = HostOptions {
        compile_cache: Some(cache.clone()),
        ..HostOptions::default()
    };
    Host::with_options(options.clone())
        .unwrap()
        .load(hostmenow_config(&sandbox, "hostmenow"))
        .await
        .unwrap();
    let [artifact] = artifacts(&cache).try_into().expect("one artifact");
    (sandbox, cache, options, artifact)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mapped_artifact_outlives_its_file_and_a_damaged_one_is_compiled_again() {
    use std::os::unix::fs::MetadataExt;
    let (sandbox, cache, options, artifact) = cache_holding_hostmenow("mapped-cache").await;
    // The first host compiled and wrote the artifact; this one maps it.
    let mapping = Host::with_options(options.clone()).unwrap();
    mapping
        .load(hostmenow_config(&sandbox, "hostmenow"))
        .await
        .unwrap();

    // Damage: the artifact's name now holds bytes wasmtime refuses. A host
    // loading it compiles the component again and puts a new artifact in
    // place: a new file, renamed over the name, not written into the old.
    let damaged = cache.join("damaged");
    std::fs::write(&damaged, b"not a compiled component").unwrap();
    std::fs::rename(&damaged, &artifact).unwrap();
    let damaged_inode = std::fs::metadata(&artifact).unwrap().ino();
    let recompiling = Host::with_options(options.clone()).unwrap();
    recompiling
        .load(hostmenow_config(&sandbox, "hostmenow"))
        .await
        .expect("a damaged artifact costs a compile, not the module");
    let replaced = std::fs::read(&artifact).unwrap();
    assert!(
        replaced.starts_with(b"\x7fELF"),
        "the damaged artifact was replaced by a compiled one"
    );
    assert_ne!(
        std::fs::metadata(&artifact).unwrap().ino(),
        damaged_inode,
        "the new artifact is a new file, renamed into place"
    );

    // The mapped module never saw any of it, nor the cache's removal.
    std::fs::remove_dir_all(&cache).unwrap();
    for host in [&mapping, &recompiling] {
        host.call("hostmenow", &Request::TestConnection)
            .await
            .expect("a module answers from its mapping after its artifact is gone");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn artifacts_unused_for_30_days_are_removed_when_a_new_one_is_written() {
    use std::time::SystemTime;
    let (sandbox, cache, options, hostmenow) = cache_holding_hostmenow("unused-cache").await;
    let month_ago = SystemTime::now() - Duration::from_secs(31 * 24 * 60 * 60);
    let age = |path: &Path| {
        std::fs::File::open(path)
            .unwrap()
            .set_modified(month_ago)
            .unwrap()
    };
    // An old build's artifact and a write a dead host left half done.
    let old_build = cache.join(format!("{}-0000000000000000.cwasm", "0".repeat(64)));
    let half_done = cache.join("partial-write.1.0.partial");
    for path in [&old_build, &half_done] {
        std::fs::write(path, b"old").unwrap();
        age(path);
    }
    // HostMeNow's artifact is as old, but a host maps it now: it is used.
    age(&hostmenow);
    let host = Host::with_options(options).unwrap();
    host.load(hostmenow_config(&sandbox, "hostmenow"))
        .await
        .unwrap();

    // Another component is compiled: writing its artifact clears the unused.
    host.load(ModuleConfig::new("blesta", provisioning_components::BLESTA))
        .await
        .unwrap();
    assert!(
        !old_build.exists(),
        "an artifact unused for a month is removed"
    );
    assert!(
        !half_done.exists(),
        "a dead writer's partial file is removed"
    );
    assert!(hostmenow.exists(), "an artifact loaded today is kept");
    assert_eq!(cached_artifacts(&cache), 2, "HostMeNow's and Blesta's");
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_compile_cache_another_user_owns_is_refused() {
    let cache = temp_dir("foreign-cache");
    std::fs::create_dir_all(&cache).unwrap();
    // Only root can give a directory away; the suite runs as root where it
    // installs its own packages (CI), and says so where it cannot.
    let foreign = 65534; // nobody
    if std::os::unix::fs::chown(&cache, Some(foreign), None).is_ok() {
        let refused = refusal_of(&cache);
        assert!(refused.contains("belongs to user 65534"), "{refused}");
    } else {
        println!("not root: the refusal of another user's directory is not shown here");
    }
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_compile_cache_other_users_may_write_in_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let cache = temp_dir("shared-cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = refusal_of(&cache);
    assert!(
        refused.contains("may be written by other users"),
        "{refused}"
    );
    let _ = std::fs::remove_dir_all(&cache);
}

/// Why a host given `cache` as its compile cache refused to start; panics
/// if it started.
fn refusal_of(cache: &Path) -> String {
    let refused = Host::with_options(HostOptions {
        compile_cache: Some(cache.to_path_buf()),
        ..HostOptions::default()
    })
    .err()
    .expect("the cache is refused");
    format!("{refused:#}")
}

/// Loads a misbehaving module (deadline `spin_for`) and HostMeNow (deadline
/// `hostmenow_deadline`) into `host`, whose only call slot then spins in a
/// misbehaving call until its deadline; returns that call once it has the
/// slot.
async fn take_the_only_slot(
    host: &std::sync::Arc<Host>,
    sandbox: &Sandbox,
    spin_for: Duration,
    hostmenow_deadline: Duration,
) -> tokio::task::JoinHandle<Result<provisioning_host::Response, CallError>> {
    host.load(
        ModuleConfig::new("misbehaving", provisioning_components::MISBEHAVING).limits(Limits {
            deadline: spin_for,
            ..Limits::default()
        }),
    )
    .await
    .unwrap();
    host.load(hostmenow_config(sandbox, "hostmenow").limits(Limits {
        deadline: hostmenow_deadline,
        ..Limits::default()
    }))
    .await
    .unwrap();
    let looping = tokio::spawn({
        let host = host.clone();
        async move {
            host.call_with(
                "misbehaving",
                &Request::TestConnection,
                &[setting("behaviour", "loop")],
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    looping
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_beyond_the_bound_waits_for_a_slot_within_its_deadline() {
    let sandbox = Sandbox::start().await.unwrap();
    // The cache makes the load under full load below quick (the first
    // load fills it), so that it ends while the slot is still taken.
    let cache = temp_dir("bounded-cache");
    let host = std::sync::Arc::new(
        Host::with_options(HostOptions {
            max_concurrent_calls: 1,
            compile_cache: Some(cache.clone()),
            ..HostOptions::default()
        })
        .unwrap(),
    );
    // The only slot spins until its deadline.
    let looping = take_the_only_slot(
        &host,
        &sandbox,
        Duration::from_secs(5),
        Duration::from_millis(300),
    )
    .await;
    let waited = host.call("hostmenow", &Request::TestConnection).await;
    assert!(
        matches!(waited, Err(CallError::Busy { ref module, .. }) if module == "hostmenow"),
        "no slot came free within the deadline: {waited:?}"
    );
    let busy = waited.unwrap_err();
    assert!(
        !busy.leaves_provider_state_unknown(),
        "a call that never started left nothing uncertain: {busy}"
    );
    assert!(
        sandbox.hostmenow().requests().is_empty(),
        "a call that got no slot never ran"
    );
    // Loading (reading `info`) is outside the bound: a swap under full
    // load still goes through.
    host.load(hostmenow_config(&sandbox, "hostmenow").limits(Limits {
        deadline: Duration::from_millis(300),
        ..Limits::default()
    }))
    .await
    .expect("a new version loads while every call slot is taken");
    assert!(!looping.is_finished(), "the slot was still taken");
    assert!(matches!(
        looping.await.unwrap(),
        Err(CallError::DeadlineExceeded { .. })
    ));
    host.call("hostmenow", &Request::TestConnection)
        .await
        .expect("once the slot is free, calls run");
    let _ = std::fs::remove_dir_all(&cache);
}

#[tokio::test(flavor = "multi_thread")]
async fn both_instance_allocators_run_the_same_calls() {
    let sandbox = Sandbox::start().await.unwrap();
    for pooling_allocator in [true, false] {
        let host = Host::with_options(HostOptions {
            pooling_allocator,
            ..HostOptions::default()
        })
        .unwrap();
        let module = host
            .load(hostmenow_config(&sandbox, "hostmenow"))
            .await
            .unwrap();
        module
            .instantiate_idle()
            .await
            .expect("an idle instance is made and dropped");
        let answer = host
            .execute(
                "hostmenow",
                &Request::TestConnection,
                &CallOptions::default(),
            )
            .await;
        assert!(
            answer.result.is_ok(),
            "pooling {pooling_allocator}: {answer:?}"
        );
        let peak = answer.memory_peak_bytes.expect("a guest ran");
        assert!(
            peak > 0 && peak <= module.limits().memory_bytes as u64,
            "the guest's memory ({peak} bytes) is reported and within its cap"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_cap_beyond_the_hosts_limit_is_refused_at_load() {
    let host = provisioning_test_support::host();
    let error = host
        .load(
            ModuleConfig::new("hostmenow", provisioning_components::HOSTMENOW).limits(Limits {
                memory_bytes: 2 << 30,
                ..Limits::default()
            }),
        )
        .await
        .unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("above the host's limit"), "{message}");
    assert!(host.module("hostmenow").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journaled_call_that_gets_no_slot_is_a_definite_refusal_and_its_key_stays_usable() {
    use provisioning_host::Journal;
    use provisioning_host::journal::{Sealer, SqliteJournal};

    let sandbox = Sandbox::start().await.unwrap();
    let store = std::sync::Arc::new(SqliteJournal::in_memory().unwrap());
    let host = std::sync::Arc::new(
        Host::with_options(HostOptions {
            max_concurrent_calls: 1,
            ..HostOptions::default()
        })
        .unwrap()
        .with_journal(Journal::new(store, Sealer::from_hex(&"cd".repeat(32)).unwrap()).unwrap()),
    );
    let looping = take_the_only_slot(
        &host,
        &sandbox,
        Duration::from_secs(3),
        Duration::from_millis(400),
    )
    .await;
    let create = Request::CreateAccount {
        service: provisioning_test_support::service("busy-1"),
    };
    let options = CallOptions {
        idempotency_key: Some("create-busy-1".into()),
        ..CallOptions::default()
    };
    let refused = host.execute("hostmenow", &create, &options).await;
    assert!(
        matches!(refused.result, Err(CallError::Busy { .. })),
        "{:?}",
        refused.result
    );
    assert!(
        sandbox.hostmenow().requests().is_empty(),
        "nothing was sent"
    );
    let entry = host
        .journal()
        .unwrap()
        .entry(refused.journal_entry.expect("the intent was journaled"))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        entry.state,
        provisioning_host::journal::EntryState::Unknown,
        "a call that never started is not an unknown outcome: {entry:?}"
    );
    let _ = looping.await;
    // Once a slot is free, the same key creates the account.
    let created = host.execute("hostmenow", &create, &options).await;
    assert!(created.result.is_ok(), "{:?}", created.result);
    assert!(!created.replayed, "the refusal was not replayed");
}

/// A copy of the misbehaving component whose instance makes `extra` more
/// core instances (of an empty core module appended to it), as a
/// component of another language does (a Python one instantiates 17 where
/// a Rust one makes 3), written under `label` in the test's directory.
fn misbehaving_with_core_instances(extra: u32, label: &str) -> std::path::PathBuf {
    use wasm_encoder::{ComponentSection, InstanceSection, Module, ModuleSection};
    use wasmparser::{Parser, Payload};

    let mut bytes = std::fs::read(provisioning_components::MISBEHAVING).unwrap();
    // The appended module's index: the core modules the component itself
    // defines (its nested modules' and components' sections left out).
    let (mut depth, mut modules) = (0, 0);
    for payload in Parser::new(0).parse_all(&bytes) {
        match payload.unwrap() {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ModuleSection { .. } if depth == 1 => modules += 1,
            _ => {}
        }
    }
    ModuleSection(&Module::new()).append_to_component(&mut bytes);
    let mut instances = InstanceSection::new();
    for _ in 0..extra {
        instances.instantiate(modules, Vec::<(&str, wasm_encoder::ModuleArg)>::new());
    }
    instances.append_to_component(&mut bytes);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{label}.wasm"));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_of_many_core_instances_runs_at_full_concurrency_or_is_refused_at_load() {
    const SLOTS: u32 = 8;
    let host = std::sync::Arc::new(
        Host::with_options(HostOptions {
            max_concurrent_calls: SLOTS,
            ..HostOptions::default()
        })
        .unwrap(),
    );
    // A listener that accepts and never answers: each call holds its
    // instance, waiting, until its deadline, so that every slot's instance
    // is alive at once.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", silent.local_addr().unwrap());
    let wide = misbehaving_with_core_instances(20, "core-instances-20");
    host.load(
        ModuleConfig::new("wide", &wide)
            .allow_hosts(&[origin.as_str()])
            .unwrap()
            .setting("behaviour", "ungranted-host")
            .setting("target-url", format!("{origin}/never-answers"))
            .limits(Limits {
                deadline: Duration::from_millis(600),
                ..Limits::default()
            }),
    )
    .await
    .expect("23 core instances a call fit the pool's share");
    let calls: Vec<_> = (0..SLOTS)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(async move { host.call("wide", &Request::TestConnection).await })
        })
        .collect();
    let mut kinds = Vec::new();
    for call in calls {
        kinds.push(call.await.unwrap().unwrap_err().kind().to_string());
    }
    assert!(
        kinds.iter().all(|kind| kind == &kinds[0] && kind != "host"),
        "every call ended the same way, none for want of an instance: {kinds:?}"
    );
    drop(silent);

    let too_wide = misbehaving_with_core_instances(70, "core-instances-70");
    let refused = host
        .load(ModuleConfig::new("too-wide", &too_wide))
        .await
        .err()
        .map(|error| format!("{error:#}"))
        .expect("a component needing more than a call's share is refused at load");
    assert!(
        refused.contains("core module instances") && refused.contains("64"),
        "the reason names what the component needs: {refused}"
    );
}
