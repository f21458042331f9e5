//! Records what this build is, for [`BuildInfo`](src/build_info.rs): the
//! git commit, the wasmtime version Cargo resolved and the contract
//! package's version, each read from its one source at build time.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .parent()
        .expect("host/ is inside the workspace");
    emit("PROVISIONING_BUILD_COMMIT", &commit(&manifest_dir));
    emit(
        "PROVISIONING_BUILD_WASMTIME",
        &locked_version(&workspace.join("Cargo.lock"), "wasmtime"),
    );
    emit(
        "PROVISIONING_BUILD_CONTRACT",
        &contract_package(&workspace.join("wit/provisioning.wit")),
    );
}

fn emit(name: &str, value: &str) {
    println!("cargo:rustc-env={name}={value}");
}

/// The short hash of the commit checked out, or `unknown` outside git (a
/// source tarball): the build never fails for want of it. Reruns when
/// HEAD moves (a checkout, or a commit on the branch checked out).
fn commit(dir: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .map(|text| text.trim().to_string())
            .filter(|text| !text.is_empty())
    };
    let Some(hash) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".into();
    };
    // Only files that exist: cargo reruns a build script on every build
    // while a file it was told to watch is missing.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name])
            && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    hash
}

/// The version of `package` in the workspace's lock file: the one this
/// build links.
fn locked_version(lock_file: &Path, package: &str) -> String {
    println!("cargo:rerun-if-changed={}", lock_file.display());
    let text = std::fs::read_to_string(lock_file)
        .unwrap_or_else(|error| panic!("reading {}: {error}", lock_file.display()));
    let lock: toml::Table = text
        .parse()
        .unwrap_or_else(|error| panic!("parsing {}: {error}", lock_file.display()));
    let packages = lock.get("package").and_then(toml::Value::as_array);
    packages
        .into_iter()
        .flatten()
        .filter(|entry| entry.get("name").and_then(toml::Value::as_str) == Some(package))
        .find_map(|entry| entry.get("version").and_then(toml::Value::as_str))
        .unwrap_or_else(|| panic!("{} locks no {package}", lock_file.display()))
        .to_string()
}

/// The contract's package id with its version (`billing:provisioning@0.1.0`),
/// from the WIT file's `package` declaration.
fn contract_package(wit: &Path) -> String {
    println!("cargo:rerun-if-changed={}", wit.display());
    let text = std::fs::read_to_string(wit)
        .unwrap_or_else(|error| panic!("reading {}: {error}", wit.display()));
    text.lines()
        .find_map(|line| line.trim().strip_prefix("package ")?.strip_suffix(';'))
        .unwrap_or_else(|| panic!("{} declares no package", wit.display()))
        .trim()
        .to_string()
}
