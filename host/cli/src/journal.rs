//! `provisioning journal`: what the journal holds that a caller has not
//! acknowledged (calls running, answers with their credentials, calls whose
//! outcome is unknown), acknowledging and resolving entries, reconciling
//! unknown outcomes with the providers, purging old acknowledged entries,
//! and making and rotating the sealing key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use provisioning_host::journal::{AckError, Finding, OperatorFinding, RekeyError};
use provisioning_host::reconcile::{ReconcileReport, Verdict};
use provisioning_host::{Host, HostOptions, Journal, Manifest, PendingCall, SettingSource};

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
    /// Delete the entries acknowledged longer ago than the manifest's
    /// `[journal] retain_acknowledged_days` (or `--older-than-days`), once,
    /// and print how many. Entries not acknowledged are never deleted. A
    /// deleted entry's idempotency key is free again, and `usage
    /// --from-journal` no longer sees its service.
    Purge {
        /// The manifest with the `[journal]` section.
        #[arg(long, short, default_value = "provisioning.toml")]
        manifest: PathBuf,
        /// Delete the entries acknowledged more than this many days ago,
        /// instead of the manifest's retention (0: every acknowledged
        /// entry).
        #[arg(long)]
        older_than_days: Option<u64>,
    },
    /// Rotate the journal's sealing key: the credentials of pending entries
    /// are sealed again under the new key, in one transaction, and the
    /// journal takes the new key's check value. Give the new key (made by
    /// `journal keygen`) in a file or an environment variable, never on the
    /// command line; the manifest's key must be the journal's current one.
    /// Refused while a call is running on a live host. Afterwards, put the
    /// new key where the manifest's `[journal] key` points and restart
    /// every host on the journal: until then they refuse mutating calls.
    Rekey {
        /// The manifest with the `[journal]` section (and the current key).
        #[arg(long, short, default_value = "provisioning.toml")]
        manifest: PathBuf,
        /// A file holding the new key (64 hex characters).
        #[arg(
            long,
            required_unless_present = "new_key_env",
            conflicts_with = "new_key_env"
        )]
        new_key_file: Option<PathBuf>,
        /// An environment variable holding the new key.
        #[arg(long)]
        new_key_env: Option<String>,
    },
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
        Command::Purge {
            manifest,
            older_than_days,
        } => {
            let journal = required(&manifest)?;
            let older_than = match older_than_days {
                Some(days) => Duration::from_secs(
                    days.checked_mul(86_400)
                        .context("--older-than-days is too large")?,
                ),
                None => journal.retain_acknowledged().with_context(|| {
                    format!(
                        "{} keeps acknowledged entries for good (no [journal] retain_acknowledged_days): give --older-than-days to purge anyway",
                        manifest.display()
                    )
                })?,
            };
            let purged = journal.purge_acknowledged(older_than).await?;
            if json {
                outln!("{}", serde_json::json!({ "purged": purged }))?;
            } else {
                outln!(
                    "purged {purged} acknowledged entries (acknowledged more than {} days ago)",
                    older_than.as_secs() / 86_400
                )?;
            }
        }
        Command::Rekey {
            manifest,
            new_key_file,
            new_key_env,
        } => return rekey(&manifest, new_key_file, new_key_env, json).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// `journal rekey`: exits 1 when the journal refused (a call running, the
/// key changed meanwhile, the same key), 2 on an error.
async fn rekey(
    manifest_path: &Path,
    new_key_file: Option<PathBuf>,
    new_key_env: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let new_key = match (&new_key_file, &new_key_env) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the new key's file {}", path.display()))?,
        (None, Some(var)) => std::env::var(var)
            .with_context(|| format!("environment variable {var} (the new key) is not set"))?,
        (None, None) => anyhow::bail!("give the new key with --new-key-file or --new-key-env"),
    };
    let manifest = Manifest::from_file(manifest_path)?;
    let journal = manifest
        .journal_config()?
        .with_context(|| format!("{} has no [journal] section", manifest_path.display()))?
        .open()?;
    let report = match journal.rekey(&new_key).await {
        Ok(report) => report,
        Err(RekeyError::Failed(error)) => return Err(error),
        Err(refused) => {
            errln!("{refused}");
            return Ok(ExitCode::from(1));
        }
    };
    if json {
        outln!("{}", serde_json::to_value(report).unwrap_or_default())?;
    }
    let key_place = match manifest.journal.as_ref().map(|section| &section.key) {
        Some(SettingSource::Env { env }) => format!("the environment variable {env}"),
        Some(SettingSource::File { file }) => format!("the file {}", file.display()),
        _ => "where the manifest's [journal] key points".to_string(),
    };
    let message = format!(
        "re-sealed the credentials of {} pending entries under the new key; the old key was replaced on {}.\n\
         Now put the new key in {key_place} (the manifest's [journal] key) and restart every host on this journal: until then they refuse mutating calls, and a host given the old key refuses to start.",
        report.resealed,
        report.replaced_on()
    );
    if json {
        errln!("{message}");
    } else {
        outln!("{message}")?;
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
                entry.intent.function().to_string(),
                entry.intent.service_id().unwrap_or_default().to_string(),
                entry.intent.idempotency_key.clone(),
                entry
                    .outcome
                    .as_ref()
                    .map_or_else(|| "-".to_string(), |o| o.kind().to_string()),
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
