//! How the command's hosts run modules: the options every subcommand
//! shares, set once from the command line.

use std::path::PathBuf;
use std::sync::OnceLock;

use provisioning_host::{Host, HostOptions};

static OPTIONS: OnceLock<HostOptions> = OnceLock::new();

/// Where compiled components are kept when the command line names no
/// place: the user's cache directory, so that every command after the
/// first loads its modules without compiling them.
fn default_compile_cache() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("provisioning").join("compiled"))
}

/// Sets the options from `--compile-cache` (a directory, or `off`).
pub fn init(compile_cache: Option<&str>) {
    let compile_cache = match compile_cache {
        Some("off") => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => default_compile_cache(),
    };
    let _ = OPTIONS.set(HostOptions {
        compile_cache,
        ..HostOptions::default()
    });
}

/// The command's options.
pub fn options() -> HostOptions {
    OPTIONS.get().cloned().unwrap_or_default()
}

/// A new host with the command's options.
pub fn new_host() -> anyhow::Result<Host> {
    Host::with_options(options())
}
