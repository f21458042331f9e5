//! How the command's hosts run modules: the options every subcommand
//! shares, built once from the command line and handed to each.

use std::path::PathBuf;

use provisioning_host::HostOptions;

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

/// The options from `--compile-cache` (a directory, or `off`).
pub fn from_args(compile_cache: Option<&str>) -> HostOptions {
    let compile_cache = match compile_cache {
        Some("off") => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => default_compile_cache(),
    };
    HostOptions {
        compile_cache,
        ..HostOptions::default()
    }
}
