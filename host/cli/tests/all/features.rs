//! The operator's binary leaves the test bench out: without the default
//! `demo` feature, the CLI does not depend on the provider simulators nor
//! on the guest components (`.ci/run` checks its `--help` too).

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
