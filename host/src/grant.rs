//! What a provider module is granted: the one list of interfaces it may
//! import, and the linker that backs exactly those, so the two cannot
//! disagree. `wasi:http` is checked per request against the module's
//! allow-list (the outbound hooks); the few WASI interfaces the Rust
//! standard library needs (io, clocks, random, cli streams and
//! environment) are each backed by a context that grants nothing.
//! `wasi:filesystem` and `wasi:sockets` are linked but grant nothing
//! either: no directory is preopened, and every socket, address and name
//! lookup is refused (see [`crate::store`]), so that modules built by
//! JavaScript's and Python's toolchains, whose runtimes import them, load
//! while a module that tries to use them gets an error back.

use wasmtime::component::Linker;
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::{cli, filesystem, random, sockets};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

use crate::store::CallState;

/// The contract's types-only interface: provider components import it to
/// share the record types; it has no functions.
const CONTRACT_TYPES: &str = "billing:provisioning/types@0.1.0";

/// What the host gives a module through an interface it may import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportGrant {
    /// Backed by the host: outgoing HTTP to the allowed origins, clocks,
    /// randomness, captured output, an empty environment.
    Granted,
    /// Linked so that a toolchain's runtime which imports it can load, but
    /// every use fails: no preopened directory, no socket, no address, no
    /// name lookup.
    LinkedGrantsNothing,
}

impl std::fmt::Display for ImportGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImportGrant::Granted => "granted",
            ImportGrant::LinkedGrantsNothing => "linked, grants nothing",
        })
    }
}

/// Interfaces a provider module may import, by name prefix, with what each
/// gives. Anything else (`wasi:nn`, `wasi:keyvalue`...) makes the load
/// fail: [`link`] backs these and nothing more.
const IMPORTABLE_PREFIXES: &[(&str, ImportGrant)] = &[
    ("billing:provisioning/types@", ImportGrant::Granted),
    ("wasi:http/outgoing-handler@", ImportGrant::Granted),
    ("wasi:http/types@", ImportGrant::Granted),
    ("wasi:io/", ImportGrant::Granted),
    ("wasi:clocks/", ImportGrant::Granted),
    ("wasi:random/random@", ImportGrant::Granted),
    ("wasi:random/insecure-seed@", ImportGrant::Granted),
    ("wasi:cli/stdin@", ImportGrant::Granted),
    ("wasi:cli/stdout@", ImportGrant::Granted),
    ("wasi:cli/stderr@", ImportGrant::Granted),
    ("wasi:cli/environment@", ImportGrant::Granted),
    ("wasi:cli/exit@", ImportGrant::Granted),
    ("wasi:cli/terminal-", ImportGrant::Granted),
    ("wasi:filesystem/", ImportGrant::LinkedGrantsNothing),
    ("wasi:sockets/", ImportGrant::LinkedGrantsNothing),
];

/// What the host gives through `import` (an interface name such as
/// `wasi:sockets/tcp@0.2.6`), or `None` when a component importing it is
/// refused at load.
pub fn import_grant(import: &str) -> Option<ImportGrant> {
    IMPORTABLE_PREFIXES
        .iter()
        .find(|(prefix, _)| import.starts_with(prefix))
        .map(|(_, grant)| *grant)
}

/// The interfaces a component binary imports at its top level, in order,
/// read from its import sections without compiling anything (the imports
/// of the core modules and components nested inside are theirs, satisfied
/// within it). Fails on a binary that does not parse.
pub(crate) fn imports_of(bytes: &[u8]) -> anyhow::Result<Vec<String>> {
    imports_and_exports(bytes).map(|(imports, _)| imports)
}

/// A component's own imports (as [`imports_of`]) and exports, by name, as
/// the wasm OCI artifact's config lists them.
pub(crate) fn imports_and_exports(bytes: &[u8]) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    use wasmparser::{Parser, Payload};
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    // How deep inside nested modules and components the parser is: each
    // opens with its section and closes with its own `End`.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    imports.push(import?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    exports.push(export?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok((imports, exports))
}

/// The imports among `imports` that are not granted (empty when the
/// component may load).
pub(crate) fn refused(imports: &[String]) -> Vec<&str> {
    imports
        .iter()
        .map(String::as_str)
        .filter(|name| import_grant(name).is_none())
        .collect()
}

/// Links exactly what [`IMPORTABLE_PREFIXES`] names.
pub(crate) fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    // io, clocks, random, stdin/stdout/stderr.
    wasmtime_wasi::p2::add_to_linker_proxy_interfaces_async(linker)?;
    let l = linker;
    // What the Rust standard library adds: it reads its (empty) environment
    // and arguments at start-up, may call exit, asks whether stdio is a
    // terminal, and seeds its hash maps.
    cli::environment::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::exit::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_input::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_output::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_stdin::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_stdout::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    cli::terminal_stderr::add_to_linker::<CallState, WasiCli>(l, CallState::cli)?;
    random::insecure_seed::add_to_linker::<CallState, WasiRandom>(l, |state| {
        state.ctx().ctx.random()
    })?;
    // What JavaScript's and Python's runtimes import, backed by the call's
    // context, which preopens no directory and refuses every socket.
    filesystem::types::add_to_linker::<CallState, WasiFilesystem>(l, CallState::filesystem)?;
    filesystem::preopens::add_to_linker::<CallState, WasiFilesystem>(l, CallState::filesystem)?;
    let network_options = sockets::network::LinkOptions::default();
    sockets::network::add_to_linker::<CallState, WasiSockets>(
        l,
        &network_options,
        CallState::sockets,
    )?;
    sockets::instance_network::add_to_linker::<CallState, WasiSockets>(l, CallState::sockets)?;
    sockets::tcp::add_to_linker::<CallState, WasiSockets>(l, CallState::sockets)?;
    sockets::tcp_create_socket::add_to_linker::<CallState, WasiSockets>(l, CallState::sockets)?;
    sockets::udp::add_to_linker::<CallState, WasiSockets>(l, CallState::sockets)?;
    sockets::udp_create_socket::add_to_linker::<CallState, WasiSockets>(l, CallState::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<CallState, WasiSockets>(l, CallState::sockets)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(l)?;
    l.instance(CONTRACT_TYPES)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_interfaces_pass() {
        let imports: Vec<String> = [
            "wasi:http/outgoing-handler@0.2.6",
            "wasi:cli/stdout@0.2.6",
            "billing:provisioning/types@0.1.0",
            "wasi:sockets/tcp@0.2.6",
            "wasi:filesystem/types@0.2.6",
            "wasi:nn/inference@0.2.0-rc-2024-10-28",
            "wasi:keyvalue/store@0.2.0-draft",
            "wasi:random/insecure@0.2.6",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            refused(&imports),
            [
                "wasi:nn/inference@0.2.0-rc-2024-10-28",
                "wasi:keyvalue/store@0.2.0-draft",
                "wasi:random/insecure@0.2.6"
            ]
        );
    }

    #[test]
    fn filesystem_and_sockets_are_linked_but_grant_nothing() {
        assert_eq!(
            import_grant("wasi:sockets/tcp@0.2.6"),
            Some(ImportGrant::LinkedGrantsNothing)
        );
        assert_eq!(
            import_grant("wasi:filesystem/preopens@0.2.3"),
            Some(ImportGrant::LinkedGrantsNothing)
        );
        assert_eq!(
            import_grant("wasi:http/outgoing-handler@0.2.6"),
            Some(ImportGrant::Granted)
        );
        assert_eq!(
            ImportGrant::LinkedGrantsNothing.to_string(),
            "linked, grants nothing"
        );
    }

    #[test]
    fn the_linker_backs_every_granted_interface_and_no_other() {
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::<CallState>::new(&engine);
        link(&mut linker).unwrap();
        assert!(CONTRACT_TYPES.starts_with(IMPORTABLE_PREFIXES[0].0));
    }
}
