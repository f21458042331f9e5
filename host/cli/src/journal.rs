//! `provisioning journal`: what the journal holds that a caller has not
//! acknowledged (calls running, answers with their credentials, calls whose
//! outcome is unknown), acknowledging and resolving entries, reconciling
//! unknown outcomes with the providers, and making a sealing key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use provisioning_host::journal::{AckError, Finding, OperatorFinding};
use provisioning_host::reconcile::{ReconcileReport, Verdict};
use provisioning_host::{Host, HostOptions, Journal, Manifest, PendingCall};

use crate::output::{errln, outln};

/// Arguments of `journal`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List the entries not acknowledged, credentials included, each with
    /// its state: `in-flight` (running on a live host), `answered` (a
    /// caller may not have received the answer), `unknown` (nobody knows
    /// whether the provider acted: check it there, then `ack --found-done`
    /// or `--found-not-done`).
    Pending {
        /// The manifest with the `[journal]` section.
        #[arg(long, short, default_value = "provisioning.toml")]
        manifest: PathBuf,
    },
    /// Acknowledge entries: their answers are safely kept elsewhere
    /// (sealed credentials are destroyed). An entry whose outcome is
    /// unknown needs what you found at the provider: `--found-done` (it
    /// happened: the next call with its key is answered with it) or
    /// `--found-not-done` (it did not: its key is freed for a new attempt).
    /// An entry still running cannot be acknowledged.
    Ack {
        /// The manifest with the `[journal]` section.
        #[arg(long, short, default_value = "provisioning.toml")]
        manifest: PathBuf,
        /// The call took effect at the provider.
        #[arg(long, conflicts_with = "found_not_done")]
        found_done: bool,
        /// The call did not take effect at the provider.
        #[arg(long)]
        found_not_done: bool,
        /// With `--found-done` for a create-account: the provider's id of
        /// the account you found.
        #[arg(long, requires = "found_done")]
        remote_id: Option<String>,
        /// What you found, kept with the entry.
        #[arg(long)]
        note: Option<String>,
        /// Entry ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Resolve the entries whose outcome is unknown where the provider can
    /// tell what happened: each entry's module is asked, through its read
    /// functions (service-status, list-accounts, usage-data), about the
    /// entry's service, and the entry is resolved done or not done with
    /// what was seen. The others stay for `ack --found-done` or
    /// `--found-not-done`. Exits 1 when any stays.
    Reconcile {
        /// The manifest with the `[journal]` section and the modules.
        #[arg(long, short, default_value = "provisioning.toml")]
        manifest: PathBuf,
    },
    /// Print a new random sealing key (64 hex characters).
    Keygen,
}

/// The manifest's journal, opened on its own: reading and acknowledging
/// entries needs no host (and no engine to start).
fn required(manifest_path: &Path) -> anyhow::Result<Journal> {
    let manifest = Manifest::from_file(manifest_path)?;
    manifest
        .journal_config()?
        .with_context(|| format!("{} has no [journal] section", manifest_path.display()))?
        .open()
}

/// Runs a `journal` subcommand. `ack` exits 1 when any entry was
/// refused (each refusal is said on stderr, or in the JSON).
pub async fn run(args: Args, options: HostOptions, json: bool) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Reconcile { manifest } => {
            let report = reconcile(&manifest, options).await?;
            print_reconciled(&report, json)?;
            if report.resolved() < report.entries.len() {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Pending { manifest } => {
            let pending = required(&manifest)?.pending().await?;
            print_pending(&pending, json)?;
        }
        Command::Ack {
            manifest,
            found_done,
            found_not_done,
            remote_id,
            note,
            ids,
        } => {
            let journal = required(&manifest)?;
            let finding = match (found_done, found_not_done) {
                (true, _) => Some(Finding::Done),
                (_, true) => Some(Finding::NotDone),
                _ => None,
            };
            let mut refused = Vec::new();
            for id in ids {
                let done = match finding {
                    None => journal.acknowledge(id).await,
                    Some(finding) => {
                        let found = OperatorFinding {
                            finding,
                            remote_id: remote_id.clone(),
                            note: note.clone(),
                        };
                        journal.resolve(id, found).await
                    }
                };
                match done {
                    Ok(()) if !json => outln!("acknowledged {id}")?,
                    Ok(()) => {}
                    Err(AckError::Store(error)) => return Err(error),
                    Err(error) => {
                        errln!("{error}");
                        refused.push(serde_json::json!({
                            "entry": id, "kind": error.kind(), "message": error.to_string(),
                        }));
                    }
                }
            }
            if json {
                outln!("{}", serde_json::json!({ "refused": refused }))?;
            }
            if !refused.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Keygen => outln!("{}", provisioning_host::journal::Sealer::generate_key_hex())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// One reconcile pass with the manifest's journal and the modules its
/// unknown entries name (a module that does not load leaves its entries
/// undecided, with why).
async fn reconcile(manifest_path: &Path, options: HostOptions) -> anyhow::Result<ReconcileReport> {
    let manifest = Manifest::from_file(manifest_path)?;
    let host = Host::from_manifest(&manifest, options)?;
    let journal = host
        .journal()
        .with_context(|| format!("{} has no [journal] section", manifest_path.display()))?;
    let mut modules: Vec<String> = journal
        .pending()
        .await?
        .into_iter()
        .map(|call| call.entry.intent.module)
        .collect();
    modules.sort();
    modules.dedup();
    for name in modules {
        if let Err(failure) = host.load_from_manifest(&manifest, &name).await {
            errln!("warning: {failure}");
        }
    }
    provisioning_host::reconcile::reconcile(&host).await
}

fn print_reconciled(report: &ReconcileReport, json: bool) -> anyhow::Result<()> {
    if json {
        for line in &report.entries {
            outln!("{}", serde_json::to_value(line).unwrap_or_default())?;
        }
        return Ok(());
    }
    for line in &report.entries {
        let what = format!(
            "{} {} {} service {}",
            line.entry,
            line.module,
            line.function,
            line.service_id.as_deref().unwrap_or("-")
        );
        match &line.verdict {
            Verdict::Done {
                remote_id,
                evidence,
            } => outln!(
                "{what}: done{} ({evidence})",
                remote_id
                    .as_deref()
                    .map(|id| format!(", remote id {id}"))
                    .unwrap_or_default()
            )?,
            Verdict::NotDone { evidence } => outln!("{what}: not done ({evidence})")?,
            Verdict::Undecided { reason } => outln!("{what}: left for an operator ({reason})")?,
        }
    }
    outln!(
        "{} of {} unknown entries resolved",
        report.resolved(),
        report.entries.len()
    )?;
    Ok(())
}

fn print_pending(pending: &[PendingCall], json: bool) -> anyhow::Result<()> {
    if json {
        for call in pending {
            outln!("{}", serde_json::to_value(call).unwrap_or_default())?;
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
                entry.state.to_string(),
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
            "state",
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
