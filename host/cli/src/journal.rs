//! `provisioning journal`: what the journal holds that a caller has not
//! acknowledged (answers with their credentials, calls whose outcome is
//! unknown), acknowledging entries, and making a sealing key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use provisioning_host::{Host, Journal, Manifest, PendingCall};

use crate::output::{errln, outln};

/// Arguments of `journal`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List the entries not acknowledged, credentials included: answers a
    /// caller may not have received, and calls whose outcome is unknown
    /// (check those at the provider before repeating them).
    Pending {
        /// The manifest with the `[journal]` section.
        #[arg(long, short, default_value = "provisioning.toml")]
        manifest: PathBuf,
    },
    /// Acknowledge entries: their answers are safely kept elsewhere (or an
    /// unknown outcome was checked); sealed credentials are destroyed.
    Ack {
        /// The manifest with the `[journal]` section.
        #[arg(long, short, default_value = "provisioning.toml")]
        manifest: PathBuf,
        /// Entry ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Print a new random sealing key (64 hex characters).
    Keygen,
}

/// A host with the manifest's journal, if it has one.
pub fn host_for(manifest: &Manifest) -> anyhow::Result<Host> {
    let host = crate::host_options::new_host()?;
    Ok(match open(manifest)? {
        Some(journal) => host.with_journal(journal),
        None => host,
    })
}

fn open(manifest: &Manifest) -> anyhow::Result<Option<Journal>> {
    manifest
        .journal_config()?
        .map(|(path, key)| Journal::open(&path, &key))
        .transpose()
}

fn required(manifest_path: &Path) -> anyhow::Result<Journal> {
    let manifest = Manifest::from_file(manifest_path)?;
    open(&manifest)?
        .with_context(|| format!("{} has no [journal] section", manifest_path.display()))
}

/// Runs a `journal` subcommand.
pub fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Pending { manifest } => {
            let pending = required(&manifest)?.pending()?;
            print_pending(&pending, json)?;
        }
        Command::Ack { manifest, ids } => {
            let journal = required(&manifest)?;
            let mut missing = Vec::new();
            for id in ids {
                if journal.acknowledge(id)? {
                    if !json {
                        outln!("acknowledged {id}")?;
                    }
                } else {
                    missing.push(id);
                }
            }
            if json {
                outln!("{}", serde_json::json!({ "not_pending": missing }))?;
            }
            if !missing.is_empty() {
                errln!("not pending (unknown or acknowledged already): {missing:?}");
                return Ok(ExitCode::from(1));
            }
        }
        Command::Keygen => outln!("{}", provisioning_host::journal::Sealer::generate_key_hex())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn print_pending(pending: &[PendingCall], json: bool) -> anyhow::Result<()> {
    if json {
        for call in pending {
            let mut value = serde_json::to_value(&call.entry).unwrap_or_default();
            value["status"] = call.status().into();
            value["credentials"] = serde_json::to_value(&call.credentials).unwrap_or_default();
            outln!("{value}")?;
        }
        return Ok(());
    }
    if pending.is_empty() {
        outln!("nothing pending")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = pending
        .iter()
        .map(|call| {
            let entry = &call.entry;
            let credentials = call
                .credentials
                .iter()
                .map(|c| format!("{}={}", c.name, c.value))
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                entry.id.to_string(),
                call.status().to_string(),
                entry.intent.module.clone(),
                entry.intent.function.clone(),
                entry.intent.service_id.clone().unwrap_or_default(),
                entry.intent.idempotency_key.clone(),
                entry
                    .outcome
                    .as_ref()
                    .map_or_else(|| "-".to_string(), |o| o.kind.clone()),
                credentials,
            ]
        })
        .collect();
    crate::output::print_table(
        &[
            "id",
            "status",
            "module",
            "function",
            "service",
            "idempotency key",
            "outcome",
            "credentials",
        ],
        &rows,
    )
}
