//! `provisioning inspect`: what a component says it is, and what it imports.

use std::path::PathBuf;
use std::process::ExitCode;

use provisioning_host::{Host, HostOptions};

use crate::output::outln;

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The component file (.wasm).
    component: PathBuf,
}

/// Prints the component's info, digest and imports.
pub async fn run(args: Args, options: HostOptions, json: bool) -> anyhow::Result<ExitCode> {
    let host = Host::with_options(options)?;
    let inspection = host.inspect(&args.component).await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&inspection)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let info = &inspection.info;
    outln!("{} ({}) {}", info.name, info.id, info.version)?;
    outln!("sha256: {}", inspection.digest)?;
    outln!("functions:")?;
    for function in &info.functions {
        outln!("  {}", provisioning_host::function_name(*function))?;
    }
    outln!("settings:")?;
    for setting in &info.settings {
        outln!(
            "  {} ({}, {}{}{}): {}",
            setting.name,
            provisioning_host::setting_kind_name(setting.kind),
            provisioning_host::setting_scope_name(setting.scope),
            if setting.required { ", required" } else { "" },
            setting
                .default
                .as_deref()
                .map(|d| format!(", default {d}"))
                .unwrap_or_default(),
            setting.label
        )?;
    }
    outln!("outbound hosts: {}", info.outbound_hosts.join(", "))?;
    outln!("imports:")?;
    for import in &inspection.imports {
        match provisioning_host::import_grant(import) {
            // Said beside the name: importing filesystem or sockets does not
            // mean the module gets either.
            Some(grant @ provisioning_host::ImportGrant::LinkedGrantsNothing) => {
                outln!("  {import} ({grant})")?
            }
            _ => outln!("  {import}")?,
        }
    }
    Ok(ExitCode::SUCCESS)
}
