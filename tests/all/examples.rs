//! The embedding examples build and run: `examples/embed.rs` provisions an
//! order, stores it, acknowledges it, recovers one lost to a crash and
//! leaves nothing pending in the journal.
//!
//! The test takes the example's executable from cargo's own JSON messages
//! for README's test command, `cargo test --workspace --no-run`: after that
//! command (how CI runs this test) the example is already built and cargo
//! only reports it, in under a second. A narrower command, such as
//! `cargo build --example embed`, resolves the workspace's features without
//! the other members' dev-dependencies and so recompiled tokio-rustls,
//! wasmtime-wasi-http and the host in the middle of the run (113 s of a cold
//! CI run). Cargo has released its build lock by the time tests run, so this
//! waits only for other builds of the same target directory.

use std::path::PathBuf;
use std::process::Command;

/// Builds an example of this package, as README's test command builds it,
/// and returns its executable.
fn build_example(name: &str) -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args([
        "test",
        "--workspace",
        "--no-run",
        "--quiet",
        "--message-format=json",
    ]);
    cargo
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
    if !cfg!(debug_assertions) {
        cargo.arg("--release"); // the profile this test was built with
    }
    let output = cargo.output().expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "building example {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == name)
        .filter(|message| message["target"]["kind"][0] == "example")
        // Built as the program, not as a test harness.
        .filter(|message| message["profile"]["test"] == false)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo named no executable for example {name}"))
}

#[test]
fn embed_provisions_stores_acknowledges_and_recovers() {
    let binary = build_example("embed");
    let output = Command::new(&binary)
        .env_remove("PROVISIONING_JOURNAL_KEY") // the example generates one
        .env_remove("RUST_LOG")
        .output()
        .unwrap_or_else(|error| panic!("running {}: {error}", binary.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the example failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let expected = [
        "start-up: nothing pending in the journal",
        "create-account svc-1001: created remote id",
        "stored svc-1001 in the billing database",
        "acknowledged journal entry 1",
        "crash: create-account svc-1002 answered (journal entry 2), never stored",
        "start-up: recovered entry 2 create-account svc-1002: stored",
        "start-up: acknowledged journal entry 2",
        "create-account svc-1001: replayed from journal entry 1, no second account",
        "  unsupported -> ",
        "  not-found -> ",
        "  invalid-input -> ",
        // The provider's Retry-After counts down its window: 60 s or a
        // second less, depending on when the example ran.
        "  rate-limited -> requeue the job in ",
        " s, as the provider asked (Retry-After)",
        "end: nothing pending in the journal; 2 services stored",
    ];
    // In this order.
    let mut rest = stdout.as_ref();
    for step in expected {
        let at = rest
            .find(step)
            .unwrap_or_else(|| panic!("missing, or out of order: {step:?}\n{stdout}"));
        rest = &rest[at + step.len()..];
    }
}
