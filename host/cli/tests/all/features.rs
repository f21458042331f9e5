//! The operator's binary leaves the test bench out: without the default
//! `demo` feature, the CLI does not depend on the provider simulators nor
//! on the guest components (`.ci/run` checks its `--help` too).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The crates the CLI links, with `extra` arguments to `cargo tree`
/// (resolved from the manifests alone: nothing is built).
fn normal_dependencies(extra: &[&str]) -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args(["tree", "-p", "provisioning-cli", "-e", "normal"])
        .args(["--prefix", "none"])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

const TEST_BENCH: [&str; 2] = ["provisioning-sandbox", "provisioning-components"];

#[test]
fn without_default_features_the_cli_links_no_test_bench() {
    let crates = normal_dependencies(&["--no-default-features"]);
    assert!(
        crates.iter().any(|c| c == "provisioning-host"),
        "{crates:?}"
    );
    for bench in TEST_BENCH {
        assert!(!crates.iter().any(|c| c == bench), "{bench} in {crates:?}");
    }
}

#[test]
fn by_default_the_cli_has_the_demo() {
    let crates = normal_dependencies(&[]);
    for bench in TEST_BENCH {
        assert!(
            crates.iter().any(|c| c == bench),
            "{bench} not in {crates:?}"
        );
    }
}

/// Each third-party package `cargo tree` lists with `selection`, with the
/// feature sets it is built with (one per way it is built: for the target,
/// or for a build script or proc macro).
fn feature_sets(selection: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let output = Command::new(env!("CARGO"))
        .arg("tree")
        .args(selection)
        .args(["--prefix", "none", "--format", "{p}|{f}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut sets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some((package, features)) = line.split_once('|') else {
            continue;
        };
        let package = package.trim_end_matches(" (*)");
        // Workspace members are named with their path; their features are
        // what is being compared against, not what must agree.
        if package.contains(" (/") {
            continue;
        }
        let features = features.trim_end_matches(" (*)").to_owned();
        sets.entry(package.to_owned()).or_default().insert(features);
    }
    sets
}

/// `cargo test --workspace` and the operator's build (`.ci/run` builds
/// both) resolve every shared dependency with the same features, so the
/// second build reuses the first's wasmtime instead of compiling it again
/// (3 min 50 s on 2 cores before). The workspace-hack crate holds the
/// union; `cargo hakari generate` rewrites it when a dependency changes.
#[test]
fn the_operators_build_reuses_the_test_builds_dependencies() {
    let workspace = feature_sets(&["--workspace", "-e", "normal,build,dev"]);
    let operator = feature_sets(&[
        "-p",
        "provisioning-cli",
        "--no-default-features",
        "-e",
        "normal,build",
    ]);
    let differing: Vec<String> = operator
        .iter()
        .filter(|(package, sets)| workspace.get(*package).is_some_and(|all| all != *sets))
        .map(|(package, sets)| {
            format!(
                "{package}: operator {sets:?}, workspace {:?}",
                workspace[package]
            )
        })
        .collect();
    assert!(
        differing.is_empty(),
        "features differ (run `cargo hakari generate`, see workspace-hack/Cargo.toml):\n{}",
        differing.join("\n")
    );
}

/// One TLS stack: rustls with ring, as the guests' client, serve and the
/// PostgreSQL journal use. The registry client (oci-client's reqwest) is
/// built without a crypto provider of its own and takes ring; none of the
/// other crypto libraries comes in.
#[test]
fn the_cli_links_ring_and_no_other_crypto_library() {
    let crates = normal_dependencies(&[]);
    assert!(crates.iter().any(|c| c == "ring"), "{crates:?}");
    for other in [
        "aws-lc-rs",
        "aws-lc-sys",
        "openssl",
        "openssl-sys",
        "native-tls",
    ] {
        assert!(
            !crates.iter().any(|c| c == other),
            "{other} is linked: {crates:?}"
        );
    }
}
