//! What a provider module is granted: the one list of interfaces it may
//! import, and the linker that backs exactly those, so the two cannot
//! disagree. `wasi:http` is checked per request against the module's
//! allow-list (the outbound hooks); the few WASI interfaces the Rust
//! standard library needs (io, clocks, random, cli streams and
//! environment) are each backed by a context that grants nothing. No
//! filesystem, no sockets.

use wasmtime::component::Linker;
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::p2::bindings::{cli, random};
use wasmtime_wasi::random::WasiRandom;

use crate::store::CallState;

/// The contract's types-only interface: provider components import it to
/// share the record types; it has no functions.
const CONTRACT_TYPES: &str = "billing:provisioning/types@0.1.0";

/// Interfaces a provider module may import, by name prefix. Anything else
/// (sockets, filesystem...) makes the load fail: [`link`] grants these and
/// nothing more.
const GRANTED_IMPORT_PREFIXES: &[&str] = &[
    "billing:provisioning/types@",
    "wasi:http/outgoing-handler@",
    "wasi:http/types@",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/random@",
    "wasi:random/insecure-seed@",
    "wasi:cli/stdin@",
    "wasi:cli/stdout@",
    "wasi:cli/stderr@",
    "wasi:cli/environment@",
    "wasi:cli/exit@",
    "wasi:cli/terminal-",
];

/// The interfaces a component binary imports at its top level, in order,
/// read from its import sections without compiling anything (the imports
/// of the core modules and components nested inside are theirs, satisfied
/// within it). Fails on a binary that does not parse.
pub(crate) fn imports_of(bytes: &[u8]) -> anyhow::Result<Vec<String>> {
    use wasmparser::{Parser, Payload};
    let mut imports = Vec::new();
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
            _ => {}
        }
    }
    Ok(imports)
}

/// The imports among `imports` that are not granted (empty when the
/// component may load).
pub(crate) fn refused(imports: &[String]) -> Vec<&str> {
    imports
        .iter()
        .map(String::as_str)
        .filter(|name| !GRANTED_IMPORT_PREFIXES.iter().any(|p| name.starts_with(p)))
        .collect()
}

/// Links exactly what [`GRANTED_IMPORT_PREFIXES`] names.
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
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(l)?;
    l.instance(CONTRACT_TYPES)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_granted_interfaces_pass() {
        let imports: Vec<String> = [
            "wasi:http/outgoing-handler@0.2.6",
            "wasi:cli/stdout@0.2.6",
            "billing:provisioning/types@0.1.0",
            "wasi:sockets/tcp@0.2.6",
            "wasi:filesystem/types@0.2.6",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            refused(&imports),
            ["wasi:sockets/tcp@0.2.6", "wasi:filesystem/types@0.2.6"]
        );
    }

    #[test]
    fn the_linker_backs_every_granted_interface_and_no_other() {
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::<CallState>::new(&engine);
        link(&mut linker).unwrap();
        assert!(CONTRACT_TYPES.starts_with(GRANTED_IMPORT_PREFIXES[0]));
    }
}
