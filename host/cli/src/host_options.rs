//! How the command's hosts run modules: the options every subcommand
//! shares, built once from the command line and handed to each.

use std::path::PathBuf;

use provisioning_host::HostOptions;

/// The user's cache directory for this command (`$XDG_CACHE_HOME` or
/// `~/.cache`, then `provisioning/<what>`).
fn user_cache(what: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("provisioning").join(what))
}

/// The options from `--compile-cache` (a directory, or `off`; by default
/// the user's cache directory, so that every command after the first loads
/// its modules without compiling them) and `--module-cache` (by default
/// beside it: components pulled from registries, so that later loads need
/// no registry).
pub fn from_args(compile_cache: Option<&str>, module_cache: Option<PathBuf>) -> HostOptions {
    let compile_cache = match compile_cache {
        Some("off") => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => user_cache("compiled"),
    };
    HostOptions {
        compile_cache,
        module_cache: module_cache.or_else(|| user_cache("modules")),
        ..HostOptions::default()
    }
}
