//! `provisioning call`: one function of one module from a manifest, against
//! the module's configured endpoint.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use provisioning_host::journal::AckError;
use provisioning_host::types::Setting;
use provisioning_host::{
    CallOptions, Host, HostOptions, LoadErrorKind, Manifest, Redactor, Request,
};
use serde_json::{Map, Value, json};

use crate::output::{errln, outln};

/// Arguments of `call`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest that names the module.
    #[arg(long, short, default_value = "provisioning.toml")]
    manifest: PathBuf,
    /// The module's name in the manifest.
    module: String,
    /// The function, e.g. test-connection, create-account, usage-data.
    function: String,
    /// The service as a JSON file (fields of the contract's `service` record,
    /// snake_case); the flags below override its fields.
    #[arg(long)]
    service: Option<PathBuf>,
    /// The platform's service id.
    #[arg(long)]
    service_id: Option<String>,
    /// The provider's id of the service.
    #[arg(long)]
    remote_id: Option<String>,
    /// The service's domain.
    #[arg(long)]
    domain: Option<String>,
    /// The service's username.
    #[arg(long)]
    username: Option<String>,
    /// Environment variable holding the service's password (never a flag:
    /// flags show up in process lists and shell history).
    #[arg(long)]
    password_env: Option<String>,
    /// The provider's package id.
    #[arg(long)]
    package: Option<String>,
    /// The billing cycle (monthly, annually...).
    #[arg(long)]
    billing_cycle: Option<String>,
    /// Suspension reason (suspend).
    #[arg(long)]
    reason: Option<String>,
    /// Environment variable holding the new password (change-password).
    #[arg(long)]
    new_password_env: Option<String>,
    /// The new package id (change-package).
    #[arg(long)]
    new_package: Option<String>,
    /// The new domain (change-domain).
    #[arg(long)]
    new_domain: Option<String>,
    /// The control-panel app to open (single-sign-on).
    #[arg(long)]
    app: Option<String>,
    /// Extra per-call setting, `name=value` (repeatable).
    #[arg(long = "setting", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// Key of this call: repeating a mutating call with the same key gets
    /// the journaled answer instead of acting twice (needs `[journal]`).
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Crash drill: once the outcome is journaled, say so on stderr and
    /// wait to be killed instead of printing the answer.
    #[arg(long, hide = true)]
    halt_before_answer: bool,
}

/// A `name=value` argument (`--setting`), split at its first `=`.
pub(crate) fn parse_setting(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{text}` is not name=value"))
}

fn env_secret(var: &Option<String>) -> anyhow::Result<Option<String>> {
    var.as_ref()
        .map(|name| {
            std::env::var(name).with_context(|| format!("environment variable {name} is not set"))
        })
        .transpose()
}

/// Builds the request from the arguments, runs it, prints the answer.
/// Exits 0 on success, 1 when the call failed.
pub async fn run(args: Args, options: HostOptions, json: bool) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::from_file(&args.manifest)?;
    let host = Host::from_manifest(&manifest, options)?;
    // Only the module called: another module's missing variable or
    // component is none of this call's business. A name the manifest does
    // not have is left to the call, which answers `unknown-module`.
    match host.load_from_manifest(&manifest, &args.module).await {
        Ok(_) => {}
        Err(failure) if failure.kind == LoadErrorKind::UnknownModule => {}
        Err(failure) => return Err(failure.into()),
    }

    let password = env_secret(&args.password_env)?;
    let new_password = env_secret(&args.new_password_env)?;
    let request = build_request(&args, password.clone(), new_password.clone())?;
    let settings: Vec<Setting> = args
        .settings
        .iter()
        .map(|(name, value)| Setting {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();

    let options = CallOptions {
        settings,
        idempotency_key: args.idempotency_key.clone(),
    };
    let answer = host.execute(&args.module, &request, &options).await;
    if args.halt_before_answer {
        errln!(
            "halting before the answer (journal entry {})",
            answer
                .journal_entry
                .map_or_else(|| "none".to_string(), |id| id.to_string())
        );
        std::future::pending::<()>().await;
    }
    let result = answer.result;
    let redactor = Redactor::new().with(
        password
            .iter()
            .chain(new_password.iter())
            .map(String::as_str),
    );
    if json {
        outln!("{}", crate::output::result_json(&result, &redactor))?;
    } else {
        let (outcome, detail) = crate::output::result_cells(&result, &redactor);
        outln!("{outcome}: {detail}")?;
        // The caller of `call` is the one who must keep what the provider
        // issued (it may show it only once).
        if let Ok(response) = &result {
            for credential in response.credentials() {
                outln!("{}: {}", credential.name, credential.value)?;
            }
        }
    }
    // The answer is out: the journal need not keep it any longer, unless
    // nobody knows how the call ended (an operator resolves that one), or
    // the reader went away before it was written: then the journal is the
    // only place left that holds it (`journal pending` shows it).
    if let (Some(journal), Some(entry)) = (host.journal(), answer.journal_entry) {
        if !crate::output::stdout_delivered() {
            // An outcome the journal did not take when the call ended gets
            // one more try: this process holds it, and is about to go.
            journal.write_held().await;
            tracing::warn!(
                entry,
                "stdout was closed before the answer was written: the journal keeps it"
            );
        } else {
            match journal.acknowledge(entry).await {
                Ok(()) | Err(AckError::NotPending(_) | AckError::InFlight(_)) => {}
                Err(AckError::FindingRequired(_)) => errln!(
                    "journal entry {entry} is left pending: its outcome is unknown; check the \
                     service at the provider, then `provisioning journal ack --found-done` or \
                     `--found-not-done` {entry}"
                ),
                Err(AckError::NotJournaled(_)) => errln!(
                    "journal entry {entry} is left unknown: the journal did not take its outcome \
                     (the answer above is its only record); once the journal is back, resolve it \
                     with `provisioning journal ack --found-done` or `--found-not-done` {entry}"
                ),
                Err(error) => return Err(error.into()),
            }
        }
    }
    Ok(if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn build_request(
    args: &Args,
    password: Option<String>,
    new_password: Option<String>,
) -> anyhow::Result<Request> {
    let mut service = match &args.service {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            match serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", path.display()))?
            {
                Value::Object(map) => map,
                _ => anyhow::bail!("{} must hold a JSON object", path.display()),
            }
        }
        None => Map::new(),
    };
    for (field, value) in [
        ("service_id", &args.service_id),
        ("remote_id", &args.remote_id),
        ("domain", &args.domain),
        ("username", &args.username),
        ("password", &password),
        ("package", &args.package),
        ("billing_cycle", &args.billing_cycle),
    ] {
        if let Some(value) = value {
            service.insert(field.into(), json!(value));
        }
    }
    service.entry("service_id").or_insert(json!(""));

    let mut request = Map::new();
    request.insert("function".into(), json!(args.function));
    request.insert("service".into(), Value::Object(service));
    for (field, value) in [
        ("reason", &args.reason),
        ("new_password", &new_password),
        ("new_package", &args.new_package),
        ("new_domain", &args.new_domain),
        ("app", &args.app),
    ] {
        if let Some(value) = value {
            request.insert(field.into(), json!(value));
        }
    }
    serde_json::from_value(Value::Object(request)).with_context(|| {
        let functions: Vec<&str> = provisioning_host::FUNCTIONS
            .iter()
            .map(|(_, name, _)| *name)
            .collect();
        format!(
            "cannot build a `{}` request from these arguments (functions: {})",
            args.function,
            functions.join(", ")
        )
    })
}
