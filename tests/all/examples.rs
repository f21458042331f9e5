//! The embedding examples build and run: `examples/embed.rs` provisions an
//! order, stores it, acknowledges it, recovers one lost to a crash and
//! leaves nothing pending in the journal.
//!
//! A full `cargo test` builds the examples, but `cargo test --test all examples`
//! does not; so the test asks cargo to build the example (a no-op after
//! `cargo test --workspace`) and takes the binary's path from cargo's own
//! JSON messages rather than guessing the target directory. Cargo has released its build lock by
//! the time tests run, so this waits only for other builds of the same
//! target directory, never for the `cargo test` that started it.

use std::path::PathBuf;
use std::process::Command;

/// Builds an example of this package and returns its executable.
fn build_example(name: &str) -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args([
        "build",
        "--quiet",
        "--message-format=json",
        // The workspace's units, as `cargo test --workspace` (README's
        // test command) built them: this package alone builds the example
        // over other units of its dependencies, which recompiled wasmtime
        // in the middle of the test run (140 s of a cold CI run).
        "--workspace",
        "--example",
        name,
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
