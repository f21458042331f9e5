//! Swapping a module while calls run: calls in flight finish on the version
//! they started with, new calls go to the new one, nothing is dropped; a
//! swap to a component that does not load, does not match its pinned digest
//! or says it is another module leaves the old version in service.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use provisioning_host::{CallOptions, Host, ModuleConfig, Request, Response};
use provisioning_sandbox::Sandbox;
use provisioning_test_support::hostmenow_config;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const CALLS: usize = 1000;
const CONCURRENCY: usize = 32;
const SWAPS: usize = 10;

/// The HostMeNow component with a custom section naming `version`: the
/// same code, a different file and digest, as a rebuilt module would be.
fn version_of_component(version: usize) -> (PathBuf, String) {
    let mut bytes = std::fs::read(provisioning_components::HOSTMENOW).unwrap();
    let name = b"swap-test-version";
    let payload = format!("v{version}");
    let mut section = leb128(name.len());
    section.extend_from_slice(name);
    section.extend_from_slice(payload.as_bytes());
    bytes.push(0); // custom section id
    bytes.extend(leb128(section.len()));
    bytes.extend(section);
    let path = std::env::temp_dir().join(format!(
        "hostmenow-swap-{}-v{version}.wasm",
        std::process::id()
    ));
    std::fs::write(&path, &bytes).unwrap();
    let digest = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (path, digest)
}

fn leb128(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn config(sandbox: &Sandbox, component: &Path) -> ModuleConfig {
    let mut config = hostmenow_config(sandbox, "hostmenow");
    config.component = component.to_path_buf();
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_swaps_under_a_thousand_concurrent_calls_drop_nothing() {
    let sandbox = Sandbox::start().await.unwrap();
    let host = Arc::new(provisioning_test_support::host());
    let versions: Vec<(PathBuf, String)> = (0..=SWAPS).map(version_of_component).collect();
    host.load(config(&sandbox, &versions[0].0)).await.unwrap();

    // Bounds on the version in service: `announced` is bumped before a swap
    // starts, `confirmed` once it has returned. A call that starts with
    // version `confirmed` in service and ends with `announced` must have
    // been answered by a version between the two.
    let announced = Arc::new(AtomicUsize::new(0));
    let confirmed = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let swapper = {
        let (host, announced, confirmed, done) = (
            host.clone(),
            announced.clone(),
            confirmed.clone(),
            done.clone(),
        );
        // Compiling takes far longer than a call, so each new version is
        // prepared (compiled, checked, pre-linked) up front while the old one
        // serves; the swap proper is the install.
        let mut prepared = Vec::new();
        for (path, digest) in versions.iter().skip(1) {
            let module = host
                .prepare(config(&sandbox, path).pin_sha256(digest.clone()))
                .await
                .unwrap();
            assert_eq!(module.digest(), digest);
            prepared.push(module);
        }
        tokio::spawn(async move {
            for (index, module) in (1..).zip(prepared) {
                // Spread the swaps over the run.
                while done.load(Ordering::SeqCst) < index * CALLS / (SWAPS + 2) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                announced.store(index, Ordering::SeqCst);
                host.install(module).unwrap();
                confirmed.store(index, Ordering::SeqCst);
            }
        })
    };

    let limit = Arc::new(Semaphore::new(CONCURRENCY));
    let mut calls = JoinSet::new();
    for _ in 0..CALLS {
        let permit = limit.clone().acquire_owned().await.unwrap();
        let (host, announced, confirmed, done) = (
            host.clone(),
            announced.clone(),
            confirmed.clone(),
            done.clone(),
        );
        calls.spawn(async move {
            let before = confirmed.load(Ordering::SeqCst);
            let answer = host
                .execute(
                    "hostmenow",
                    &Request::TestConnection,
                    &CallOptions::default(),
                )
                .await;
            let after = announced.load(Ordering::SeqCst);
            done.fetch_add(1, Ordering::SeqCst);
            drop(permit);
            (before, answer, after)
        });
    }

    let mut served_by = vec![0usize; versions.len()];
    let mut failures = Vec::new();
    while let Some(joined) = calls.join_next().await {
        let (before, answer, after) = joined.unwrap();
        match &answer.result {
            Ok(Response::Connection(_)) => {}
            other => failures.push(format!("{other:?}")),
        }
        let digest = answer.module_digest.expect("a loaded module answered");
        let version = versions
            .iter()
            .position(|(_, d)| *d == digest)
            .expect("the answer came from one of the loaded versions");
        assert!(
            (before..=after).contains(&version),
            "a call started with version {before} in service and ended with at most {after}, but version {version} answered"
        );
        served_by[version] += 1;
    }
    swapper.await.unwrap();

    assert!(
        failures.is_empty(),
        "{} failed calls: {failures:?}",
        failures.len()
    );
    assert_eq!(served_by.iter().sum::<usize>(), CALLS);
    assert!(
        served_by.iter().all(|&n| n > 0),
        "every version served calls: the swaps happened while calls ran: {served_by:?}"
    );
    assert_eq!(
        host.module("hostmenow").unwrap().digest(),
        versions[SWAPS].1,
        "the last version is in service"
    );
    println!("calls per version during {SWAPS} swaps: {served_by:?}");
    for (path, _) in versions {
        let _ = std::fs::remove_file(path);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_new_version_leaves_the_old_one_in_service() {
    let sandbox = Sandbox::start().await.unwrap();
    let host = provisioning_test_support::host();
    let (good, good_digest) = version_of_component(100);
    host.load(config(&sandbox, &good)).await.unwrap();
    let serves_the_good_version = |host: &Host| {
        assert_eq!(host.module("hostmenow").unwrap().digest(), good_digest);
    };

    // A file that is not a component.
    let garbage =
        std::env::temp_dir().join(format!("hostmenow-garbage-{}.wasm", std::process::id()));
    std::fs::write(&garbage, b"\0asm\x0d\0\x01\0 not really").unwrap();
    let error = host.load(config(&sandbox, &garbage)).await.unwrap_err();
    assert!(
        format!("{error:#}").contains("is not a WebAssembly component"),
        "{error:#}"
    );
    serves_the_good_version(&host);

    // A component whose digest is not the pinned one: both digests named.
    let (other, other_digest) = version_of_component(101);
    let pinned = "0".repeat(64);
    let error = host
        .load(config(&sandbox, &other).pin_sha256(&pinned))
        .await
        .unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains(&other_digest), "{message}");
    assert!(message.contains(&pinned), "{message}");
    serves_the_good_version(&host);

    // A component that says it is another module.
    let mut impostor = config(&sandbox, &good);
    impostor.component = provisioning_components::MISBEHAVING.into();
    impostor.settings.clear();
    let error = host.load(impostor).await.unwrap_err();
    assert!(format!("{error:#}").contains("misbehaving"), "{error:#}");
    serves_the_good_version(&host);

    let answer = host
        .execute(
            "hostmenow",
            &Request::TestConnection,
            &CallOptions::default(),
        )
        .await;
    assert!(answer.result.is_ok(), "{:?}", answer.result);
    assert_eq!(answer.module_digest.as_deref(), Some(good_digest.as_str()));
    for path in [good, garbage, other] {
        let _ = std::fs::remove_file(path);
    }
}
