//! `provisioning inspect`: what a component says it is, and what it imports.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The component file (.wasm).
    component: PathBuf,
}

/// Prints the component's info, digest and imports.
pub async fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let host = crate::host_options::new_host()?;
    let inspection = host.inspect(&args.component).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
        return Ok(ExitCode::SUCCESS);
    }
    let info = &inspection.info;
    println!("{} ({}) {}", info.name, info.id, info.version);
    println!("sha256: {}", inspection.digest);
    println!("functions:");
    for function in &info.functions {
        println!("  {}", provisioning_host::function_name(*function));
    }
    println!("settings:");
    for setting in &info.settings {
        println!(
            "  {} ({:?}, {:?}{}{}): {}",
            setting.name,
            setting.kind,
            setting.scope,
            if setting.required { ", required" } else { "" },
            setting
                .default
                .as_deref()
                .map(|d| format!(", default {d}"))
                .unwrap_or_default(),
            setting.label
        );
    }
    println!("outbound hosts: {}", info.outbound_hosts.join(", "));
    println!("imports:");
    for import in &inspection.imports {
        println!("  {import}");
    }
    Ok(ExitCode::SUCCESS)
}
