//! A home-grown billing platform embedding the provisioning host: the parts
//! a platform engineer copies. `cargo run --example embed` runs it on a
//! fresh checkout against the in-process sandbox, which stands in for
//! Webline Africa's API; lines marked `OPERATOR:` are what changes for the
//! real provider.
//!
//! The rule it teaches: store the provider's answer (and the credentials it
//! issued, which it shows only once) in your own database, *then*
//! acknowledge the journal entry. If the platform dies in between, the
//! journal still holds the answer, and the start-up recovery stores it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use provisioning_host::journal::{AckError, EntryId, EntryState, Sealer};
use provisioning_host::types::{Credential, Error as ModuleError, Service, Setting};
use provisioning_host::wire::{self, Contract};
use provisioning_host::{
    CallError, CallOptions, Host, HostOptions, MASK, Manifest, Request, Response,
};
use provisioning_sandbox::{Sandbox, webline};
use serde_json::{Map, Value, json};

/// The operator's manifest, written once by hand; the example fills in the
/// `$` words.
const MANIFEST: &str = r#"
[journal]
path = "journal.sqlite3"
key = $KEY

[modules.webline]
component = $COMPONENT       # OPERATOR: your deployed webline_module.wasm; pin it with sha256 = "..."
allowed_hosts = [$ORIGIN]    # OPERATOR: the provider's https origin, nothing else
deadline_ms = 15000

[modules.webline.settings]
endpoint = $ENDPOINT                  # OPERATOR: the provider's API URL
api-key = { file = "webline.key" }    # OPERATOR: or { env = "WEBLINE_API_KEY" }; never inline
activation-wait-seconds = "0"         # answer at once, do not poll until the account is active
"#;

/// The journal key's variable (64 hex characters).
const KEY_VAR: &str = "PROVISIONING_JOURNAL_KEY";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sandbox = Sandbox::start().await?; // OPERATOR: delete; the provider is on the Internet
    let dir = std::env::temp_dir().join(format!("provisioning-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?; // OPERATOR: your journal and database are not scratch files
    let manifest = Manifest::from_file(&write_manifest(&dir, &sandbox)?)?;
    let mut db = Database::open(dir.join("billing-db.json"))?;

    // First life of the platform: one order goes through; the provider
    // answers a second one, but the platform "crashes" before storing it.
    let host = start(&manifest, &mut db).await?;
    create_account(&host, &mut db, order("svc-1001", "duka.co.tz")).await?;
    let lost = Request::CreateAccount {
        service: order("svc-1002", "shamba.co.tz"),
    };
    let answer = host
        .execute("webline", &lost, &keyed("create-svc-1002"))
        .await;
    let entry = answer
        .journal_entry
        .context("a mutating call is journaled")?;
    println!("crash: create-account svc-1002 answered (journal entry {entry}), never stored");
    drop(host);

    // Second life: start-up recovery stores what the crash lost. Then a job
    // queue retries svc-1001's order (it never saw our commit): the same
    // key gets the recorded answer, not a second account and invoice.
    let host = start(&manifest, &mut db).await?;
    create_account(&host, &mut db, order("svc-1001", "duka.co.tz")).await?;

    println!("errors, and what the platform does about each:");
    let mut known = order("svc-1001", "duka.co.tz");
    known.remote_id = db.remote_id("svc-1001");
    fail(
        &host,
        Request::Suspend {
            service: known,
            reason: None,
        },
        &[],
    )
    .await?;
    let mut gone = order("svc-1404", "gone.co.tz");
    gone.remote_id = Some("999999".into());
    fail(&host, Request::ServiceStatus { service: gone }, &[]).await?;
    // A call may bring the module's product settings (a package id), never
    // a server one: a reseller key typed on a product's page is refused
    // unsent, the manifest's key stands.
    let other_key = Setting {
        name: "api-key".into(),
        value: "wla_other".into(),
    };
    fail(&host, Request::TestConnection, &[other_key]).await?;
    sandbox.webline().set_rate_limit(0, Duration::from_secs(60)); // the sandbox's fault switch
    fail(&host, Request::ListPackages, &[]).await?;
    sandbox
        .webline()
        .set_rate_limit(webline::RATE_LIMIT, webline::RATE_WINDOW);

    let pending = host.journal().context("journal")?.pending().await?;
    anyhow::ensure!(pending.is_empty(), "left pending: {pending:?}");
    println!(
        "end: nothing pending in the journal; {} services stored",
        db.services.len()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Writes the manifest (and the secrets it points at) into `dir`.
fn write_manifest(dir: &Path, sandbox: &Sandbox) -> anyhow::Result<PathBuf> {
    // The journal key seals issued credentials until we have stored them.
    // Production keeps it fixed (set by the service manager or a secret
    // store): under another key, sealed credentials cannot be read. For a
    // fresh checkout, one is generated into a file when the variable is unset.
    let key = if std::env::var_os(KEY_VAR).is_some() {
        format!("{{ env = \"{KEY_VAR}\" }}")
    } else {
        std::fs::write(dir.join("journal.key"), Sealer::generate_key_hex())?;
        r#"{ file = "journal.key" }"#.to_string()
    };
    std::fs::write(dir.join("webline.key"), webline::API_KEY)?; // OPERATOR: your reseller key
    let text = MANIFEST
        .replace("$KEY", &key)
        .replace(
            "$COMPONENT",
            &format!("{:?}", provisioning_components::WEBLINE),
        )
        .replace("$ORIGIN", &format!("{:?}", sandbox.origin()))
        .replace("$ENDPOINT", &format!("{:?}", sandbox.webline().endpoint()));
    let path = dir.join("provisioning.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Start-up: open the journal, load the modules, and recover what a
/// previous run left pending, before taking any new work.
async fn start(manifest: &Manifest, db: &mut Database) -> anyhow::Result<Host> {
    // OPERATOR: `HostOptions { compile_cache: Some(dir), .. }` keeps compiled
    // components between restarts.
    let host = Host::from_manifest(manifest, HostOptions::default())?;
    let journal = host.journal().context("the manifest needs a [journal]")?;
    host.load_manifest(manifest).await?;
    let pending = journal.pending().await?;
    if pending.is_empty() {
        println!("start-up: nothing pending in the journal");
    }
    for call in pending {
        let entry = &call.entry;
        let service_id = entry.intent.service_id().unwrap_or("-");
        let what = format!(
            "entry {} {} {service_id}",
            entry.id,
            entry.intent.function()
        );
        let Some(outcome) = entry
            .outcome
            .as_ref()
            .filter(|_| entry.state == EntryState::Answered)
        else {
            // Cut off midway (unknown), or still running on another host
            // (in flight): the provider may or may not have acted. An
            // operator checks its panel and resolves the entry as done or
            // not done (`provisioning journal ack --found-done ...`).
            println!("start-up: {what}: {}, left for an operator", entry.state);
            continue;
        };
        // The answer is kept with its credentials masked; the journal hands
        // them over unsealed beside it.
        if let Ok(Response::Created(created)) = &outcome.answer {
            db.store(service_id, &created.remote_id, &call.credentials)?;
            println!("start-up: recovered {what}: stored");
        } // A refused call (an `Err` answer) changed nothing: the order stays open.
        journal.acknowledge(entry.id).await?;
        println!("start-up: acknowledged journal entry {}", entry.id);
    }
    Ok(host)
}

/// Provisions one order: call, store, then acknowledge.
async fn create_account(host: &Host, db: &mut Database, service: Service) -> anyhow::Result<()> {
    let id = service.service_id.clone();
    let key = keyed(&format!("create-{id}"));
    let answer = host
        .execute("webline", &Request::CreateAccount { service }, &key)
        .await;
    let created = match answer.result {
        Ok(Response::Created(created)) => created,
        Ok(other) => bail!("create-account answered {other:?}"),
        Err(error) => return settle(host, &error, answer.journal_entry).await,
    };
    let entry = answer
        .journal_entry
        .context("a mutating call is journaled")?;
    if answer.replayed && created.credentials.iter().any(|c| c.value == MASK) {
        // Acknowledged before: the journal destroyed the credentials, and
        // our database, which has them, stays as it is.
        println!("create-account {id}: replayed from journal entry {entry}, no second account");
        return Ok(());
    }
    let names: Vec<&str> = created
        .credentials
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let (remote_id, status) = (&created.remote_id, created.status);
    println!("create-account {id}: created remote id {remote_id} ({status:?}), issued {names:?}");
    db.store(&id, remote_id, &created.credentials)?;
    println!("stored {id} in the billing database");
    host.journal()
        .context("journal")?
        .acknowledge(entry)
        .await?;
    println!("acknowledged journal entry {entry}");
    Ok(())
}

/// Runs a call that fails, and says what the platform does about it.
async fn fail(host: &Host, request: Request, settings: &[Setting]) -> anyhow::Result<()> {
    let options = CallOptions {
        settings: settings.to_vec(),
        ..CallOptions::default()
    };
    let answer = host.execute("webline", &request, &options).await;
    match answer.result {
        Ok(response) => bail!("expected a failure, got {response:?}"),
        Err(error) => settle(host, &error, answer.journal_entry).await,
    }
}

/// After a failure: say what to do, and acknowledge a journaled call when
/// the journal knows the provider did nothing ("answered" with a refusal).
async fn settle(host: &Host, error: &CallError, entry: Option<EntryId>) -> anyhow::Result<()> {
    println!("  {} -> {}", error.kind(), next_step(error));
    let (Some(journal), Some(entry)) = (host.journal(), entry) else {
        return Ok(());
    };
    match journal.acknowledge(entry).await {
        // A refusal: the provider did nothing, and the journal knows it.
        Ok(()) => Ok(()),
        // Unknown, still running, or not ours to acknowledge (the entry of
        // an earlier call): it stays pending until an operator has checked.
        Err(AckError::FindingRequired(_) | AckError::InFlight(_) | AckError::NotPending(_)) => {
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}

/// What a platform does about each kind of failure.
fn next_step(error: &CallError) -> String {
    match error {
        CallError::Module {
            error: ModuleError::RateLimited(limit),
            ..
        } => {
            let seconds = limit.retry_after_seconds.unwrap_or(60);
            format!("requeue the job in {seconds} s, as the provider asked (Retry-After)")
        }
        // The key's earlier call was cut off: the provider may have acted,
        // so repeating it blindly could create a second account.
        CallError::OutcomeUnknown { entry, .. } => {
            format!(
                "an operator checks the provider, then resolves entry {entry} as done or not done"
            )
        }
        // The same call is running (on this host or another): its answer
        // comes to whoever asks again with the key.
        CallError::InProgress { .. } => "retry later with the same key".into(),
        // The host stopped the module: a read may be retried later; a
        // change's outcome is unknown (see above).
        CallError::DeadlineExceeded { deadline, .. } => {
            format!("stopped after {deadline:?}: retry a read later, a change goes to an operator")
        }
        CallError::IdempotencyConflict { used_for, .. } => {
            format!("a platform bug: that key was used for {used_for}")
        }
        CallError::Journal { .. } => "nothing was sent: fix the journal's disk, retry".into(),
        other => match other.kind() {
            "auth-failed" | "invalid-config" => "pause this provider's queue, alert the operator",
            "not-found" => "flag the service for staff: the provider does not know it",
            "unsupported" => "hide the action for this provider (its info() lists what it can)",
            "invalid-input" | "already-exists" => "show the message on the order for staff",
            "insufficient-funds" => "top up the reseller account, then retry",
            "trap" | "memory-exhausted" | "output-exceeded" => "the module is broken: roll it back",
            // timeout, transport, provider, bad-response: the journal keeps
            // a change's entry "unknown"; a read is safe to retry.
            _ => "retry a read later; a change goes to an operator",
        }
        .into(),
    }
}

/// An idempotency key: one per action on a service, derived from what the
/// platform already keeps (`create-<service id>`), so that a retried job
/// never creates (or charges) twice.
fn keyed(key: &str) -> CallOptions {
    CallOptions {
        idempotency_key: Some(key.into()),
        ..CallOptions::default()
    }
}

/// A hosting order as the platform knows it; Webline generates the
/// username and password.
fn order(service_id: &str, domain: &str) -> Service {
    let client = json!({ "first_name": "Asha", "last_name": "Mushi", "email": "asha@example.co.tz",
                         "phone": "+255712345678", "country": "TZ" });
    // Read as the contract's JSON form (`wire`), as serve reads it.
    let order: wire::Service = serde_json::from_value(
        json!({ "service_id": service_id, "domain": domain, "package": "1",
        "billing_cycle": "monthly", "client": client, "custom_fields": [] }),
    )
    .expect("a valid service record");
    Service::from_json(order)
}

/// The platform's own database: services by id in a JSON file. A real one
/// is an SQL table (credentials encrypted); what matters is that a write is
/// durable before the journal entry is acknowledged.
struct Database {
    path: PathBuf,
    services: Map<String, Value>,
}

impl Database {
    fn open(path: PathBuf) -> anyhow::Result<Database> {
        let services = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)?,
            Err(_) => Map::new(),
        };
        Ok(Database { path, services })
    }

    fn store(
        &mut self,
        service_id: &str,
        remote_id: &str,
        credentials: &[Credential],
    ) -> anyhow::Result<()> {
        let credentials = credentials.to_vec().into_json();
        let row = json!({ "remote_id": remote_id, "credentials": credentials });
        self.services.insert(service_id.to_string(), row);
        // Write a new file, sync it, rename it over the old one: a crash
        // leaves the old database or the new one, never half of one.
        let temporary = self.path.with_extension("tmp");
        let file = std::fs::File::create(&temporary)?;
        serde_json::to_writer_pretty(&file, &self.services)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &self.path)?;
        Ok(())
    }

    fn remote_id(&self, service_id: &str) -> Option<String> {
        self.services.get(service_id)?["remote_id"]
            .as_str()
            .map(str::to_string)
    }
}
