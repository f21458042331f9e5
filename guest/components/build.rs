//! Builds the guest crates for `wasm32-wasip2` so that a plain `cargo build`,
//! `cargo run` or `cargo test` of the workspace also produces the components
//! the host loads: nobody runs a separate build step or copies a `.wasm`.
//!
//! The guests are built by a nested cargo into `<target>/guests`, their own
//! target directory, so the nested build never waits on the outer build's
//! lock and its artifacts do not mix with the host's.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-wasip2";

/// Guest crates to build: (constant name, directory under `guest/`).
/// The package is `<directory>-module`, its artifact the package name with
/// `_` for `-` and `.wasm`.
const GUESTS: &[(&str, &str)] = &[
    ("HOSTMENOW", "hostmenow"),
    // HostMeNow's module as its next release would be, for tests that swap a
    // module under live products: one more product setting, in front.
    ("HOSTMENOW_NEXT", "hostmenow-next"),
    ("BLESTA", "blesta"),
    ("WEBLINE", "webline"),
    ("LOGICBOXES", "logicboxes"),
    ("MISBEHAVING", "misbehaving"),
    ("OVERREACHING", "overreaching"),
    // Lies about itself, for the conformance kit's tests.
    ("DISHONEST", "dishonest"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .join("../..")
        .canonicalize()
        .expect("workspace root exists");
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let guest_target_dir = target_dir.join("guests");

    let guest_dirs = GUESTS.iter().map(|(_, dir)| format!("guest/{dir}"));
    for watched in ["wit", "guest/support", "Cargo.lock"]
        .map(String::from)
        .into_iter()
        .chain(guest_dirs)
    {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    ensure_wasm_target();

    let mut build = Command::new(&cargo);
    build
        .current_dir(&workspace)
        .args(["build", "--release", "--target", WASM_TARGET])
        .arg("--target-dir")
        .arg(&guest_target_dir);
    for (_, dir) in GUESTS {
        build.args(["-p", &format!("{dir}-module")]);
    }
    // The outer build's flags and wrappers are for the host target (and
    // clippy's driver when linting); the guests get a clean environment.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        build.env_remove(var);
    }
    // Components ship without DWARF: it makes them ten times larger and
    // slower to compile at load, while the name section (kept) is enough
    // for readable traps.
    // Whole-program LTO in one codegen unit keeps the optimisation level
    // and makes HostMeNow's component 12% smaller and its cold compile at
    // load about 5% faster (BENCHMARKS.md, "Guest build settings").
    build
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("could not run `{cargo}` to build the guest components: {e}"));
    assert!(
        status.success(),
        "building the guest components for {WASM_TARGET} failed (see the output above)"
    );

    let artifacts = guest_target_dir.join(WASM_TARGET).join("release");
    let mut constants = String::new();
    for (name, dir) in GUESTS {
        let package = format!("{dir}-module");
        let path = artifacts.join(format!("{}.wasm", package.replace('-', "_")));
        assert!(path.is_file(), "{} was not produced", path.display());
        writeln!(
            constants,
            "/// The `{package}` component, built for {WASM_TARGET}.\npub const {name}: &str = {path:?};"
        )
        .expect("writing to a String");
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("components.rs");
    std::fs::write(&out, constants).expect("write components.rs");
}

/// Installs the wasm32-wasip2 standard library through rustup when it is
/// missing: `rust-toolchain.toml` names the target, but rustup only adds
/// targets by itself when it installs the whole toolchain.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if libdir.as_deref().is_some_and(Path::is_dir) {
        return;
    }
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .status()
        .unwrap_or_else(|e| {
            panic!("the {WASM_TARGET} target is missing and rustup could not be run: {e}")
        });
    assert!(status.success(), "`rustup target add {WASM_TARGET}` failed");
}
