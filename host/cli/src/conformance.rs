//! `provisioning conformance`: the conformance kit's command line. The
//! checks are the `provisioning-conformance` library's; here are the
//! arguments, the table and `--json`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use provisioning_conformance::{GuestOutput, Kit};
use provisioning_host::wire::Contract;
use provisioning_host::{HostOptions, Manifest};

use crate::output::outln;

/// Arguments of `conformance`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The module's component (`.wasm`).
    component: PathBuf,
    /// A manifest to take the module's settings from (secrets from their
    /// environment variables or files, as `call` reads them); with
    /// `--module`.
    #[arg(long, requires = "module")]
    manifest: Option<PathBuf>,
    /// The module's name in `--manifest`.
    #[arg(long, requires = "manifest")]
    module: Option<String>,
    /// A setting, `name=value` (repeatable; overrides the manifest's).
    #[arg(long = "setting", value_parser = crate::call::parse_setting)]
    settings: Vec<(String, String)>,
    /// Run the functions that change things at the provider (create,
    /// suspend, unsuspend, change-*, terminate) and the create-retry
    /// check. Point the module at a test endpoint.
    #[arg(long)]
    allow_changes: bool,
    /// The service as a JSON file (the contract's `service` record,
    /// snake_case fields); the flags below override its fields, and what
    /// neither gives is generated (an id, a domain under example.test...).
    #[arg(long)]
    service: Option<PathBuf>,
    /// The platform's service id.
    #[arg(long)]
    service_id: Option<String>,
    /// The service's domain.
    #[arg(long)]
    domain: Option<String>,
    /// The service's username.
    #[arg(long)]
    username: Option<String>,
    /// The provider's package id (default: the first `list-packages`
    /// offers).
    #[arg(long)]
    package: Option<String>,
    /// The billing cycle.
    #[arg(long)]
    billing_cycle: Option<String>,
    /// The package change-package moves to (default: another one
    /// `list-packages` offers).
    #[arg(long)]
    new_package: Option<String>,
    /// Each call's memory cap, in MiB.
    #[arg(long, default_value_t = provisioning_conformance::DEFAULT_MEMORY_BYTES >> 20)]
    memory_mib: usize,
    /// Each call's deadline, in seconds; the slow fault waits past it.
    #[arg(long, default_value_t = provisioning_conformance::DEFAULT_DEADLINE.as_secs())]
    deadline_secs: u64,
    /// Also trust the certificate authorities in this PEM file for an https
    /// endpoint (a provider's test endpoint under a private CA); the
    /// webpki roots, which the host trusts, are trusted either way.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
}

/// Runs the kit and prints its report. Exits 0 when every check holds, 1
/// when one fails (2, through `main`, on a usage error).
pub async fn run(
    args: Args,
    options: HostOptions,
    json: bool,
    output: Option<GuestOutput>,
) -> anyhow::Result<ExitCode> {
    // A file that is not there is the caller's slip, not the module's
    // failure (a component that does not load is: check `load`).
    if !args.component.is_file() {
        anyhow::bail!("{} is not a file", args.component.display());
    }
    if args.deadline_secs == 0 {
        anyhow::bail!("--deadline-secs must be above 0");
    }
    let memory_bytes = args
        .memory_mib
        .checked_mul(1 << 20)
        .filter(|bytes| *bytes > 0)
        .context("--memory-mib must be above 0 and fit in memory")?;
    let kit = Kit {
        settings: settings(&args)?,
        service: service(&args)?,
        component: args.component,
        new_package: args.new_package,
        allow_changes: args.allow_changes,
        memory_bytes,
        deadline: Duration::from_secs(args.deadline_secs),
        host_options: options,
        upstream_roots: match &args.ca_file {
            Some(file) => provisioning_conformance::read_certificate_authorities(file)?,
            None => Vec::new(),
        },
    };
    let report = provisioning_conformance::run(kit, output.as_ref()).await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        let rows: Vec<Vec<String>> = report
            .checks
            .iter()
            .map(|c| vec![c.name.clone(), c.result.word().to_owned(), c.reason.clone()])
            .collect();
        crate::output::print_table(&["check", "result", "reason"], &rows)?;
        let failed: Vec<_> = report
            .checks
            .iter()
            .filter(|c| c.result == provisioning_conformance::Outcome::Fail)
            .collect();
        outln!(
            "{} {}: {} checks, {} failed",
            report.module.id,
            report.module.version,
            report.checks.len(),
            failed.len()
        )?;
        // A failure's reason is what the author acts on: whole, not cut
        // to the table's cell.
        for check in failed {
            outln!(
                "{}: {}",
                check.name,
                crate::output::printable_line(&check.reason)
            )?;
        }
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The manifest's settings of the module, then the command line's.
fn settings(args: &Args) -> anyhow::Result<Vec<(String, String)>> {
    let mut settings: Vec<(String, String)> = match (&args.manifest, &args.module) {
        (Some(path), Some(module)) => Manifest::from_file(path)?
            .module_config(module)?
            .settings
            .into_iter()
            .map(|(name, value)| (name, value.value))
            .collect(),
        _ => Vec::new(),
    };
    for (name, value) in &args.settings {
        settings.retain(|(existing, _)| existing != name);
        settings.push((name.clone(), value.clone()));
    }
    Ok(settings)
}

/// The kit's service: generated, then the file's fields, then the flags.
fn service(args: &Args) -> anyhow::Result<provisioning_host::types::Service> {
    let generated = provisioning_conformance::default_service();
    let mut service = match &args.service {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let json: provisioning_host::wire::Service = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", path.display()))?;
            let mut service: provisioning_host::types::Service = Contract::from_json(json);
            for (field, default) in [
                (&mut service.domain, generated.domain),
                (&mut service.username, generated.username),
                (&mut service.password, generated.password),
                (&mut service.billing_cycle, generated.billing_cycle),
            ] {
                if field.is_none() {
                    *field = default;
                }
            }
            service.client = service.client.or(generated.client);
            service
        }
        None => generated,
    };
    for (field, value) in [
        (&mut service.domain, &args.domain),
        (&mut service.username, &args.username),
        (&mut service.package, &args.package),
        (&mut service.billing_cycle, &args.billing_cycle),
    ] {
        if value.is_some() {
            field.clone_from(value);
        }
    }
    if let Some(id) = &args.service_id {
        service.service_id.clone_from(id);
    }
    Ok(service)
}
