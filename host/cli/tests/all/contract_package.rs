//! The contract package (`wit/`) as an author outside this repository gets
//! it: it resolves on its own, with the WASI interfaces under `wit/deps/`,
//! and the host grants every interface its worlds import, so the package
//! and the host's grant cannot drift apart.

use std::path::Path;

use wit_parser::{Resolve, WorldItem};

/// The package in `wit/`, resolved as WIT tools resolve it (its `deps/`
/// included), and the interfaces each of its worlds imports, by world.
fn worlds_and_imports() -> Vec<(String, Vec<String>)> {
    let mut resolve = Resolve::default();
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
    let (package, _) = resolve
        .push_dir(&wit)
        .unwrap_or_else(|e| panic!("{} does not resolve on its own: {e:?}", wit.display()));
    resolve.packages[package]
        .worlds
        .iter()
        .map(|(name, world)| {
            let imports = resolve.worlds[*world]
                .imports
                .values()
                .filter_map(|item| match item {
                    WorldItem::Interface { id, .. } => resolve.id_of(*id),
                    WorldItem::Function(_) | WorldItem::Type { .. } => None,
                })
                .collect();
            (name.clone(), imports)
        })
        .collect()
}

#[test]
fn the_host_grants_every_interface_the_contracts_worlds_import() {
    let worlds = worlds_and_imports();
    let names: Vec<&str> = worlds.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["provider", "provider-http"]);
    for (world, imports) in &worlds {
        let ungranted = ungranted(imports);
        assert!(
            ungranted.is_empty(),
            "world `{world}` imports {ungranted:?}, which the host does not grant"
        );
    }
    // The world for other languages reaches out through wasi:http, with
    // the interfaces it uses: what the check above holds the host to.
    let (_, http_imports) = &worlds[1];
    for expected in [
        "wasi:http/outgoing-handler@",
        "wasi:http/types@",
        "wasi:io/streams@",
        "billing:provisioning/types@",
    ] {
        assert!(
            http_imports.iter().any(|i| i.starts_with(expected)),
            "provider-http imports no {expected}…: {http_imports:?}"
        );
    }
}

#[test]
fn the_grant_check_refuses_an_interface_the_host_does_not_know() {
    // The check above, on interfaces no host grants: it could not pass by a
    // check that lets everything through.
    let unknown = [
        "wasi:keyvalue/store@0.2.0-draft".to_owned(),
        "example:anything/else@1.0.0".to_owned(),
    ];
    assert_eq!(
        ungranted(&unknown),
        [
            "wasi:keyvalue/store@0.2.0-draft",
            "example:anything/else@1.0.0"
        ]
    );
}

/// The imports among `imports` that the host refuses to link.
fn ungranted(imports: &[String]) -> Vec<&str> {
    imports
        .iter()
        .map(String::as_str)
        .filter(|import| provisioning_host::import_grant(import).is_none())
        .collect()
}
