//! What the host writes to the journal for a mutating call, and what it
//! reads back: the intent before the call reaches the guest, the outcome
//! after, generated credentials sealed until the caller acknowledges them,
//! and the recorded outcome for a caller that repeats an idempotency key.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::Serialize;
use serde_json::json;

use crate::bindings::types::Credential;
use crate::call::{CallError, Request, Response};
use crate::journal::{
    Begun, Entry, EntryId, EntryState, Intent, JournalStore, Outcome, Sealer, SqliteJournal,
};
use crate::redact::{MASK, Redactor};

/// Failures after which nobody knows whether the provider acted: the call
/// was cut off or its answer was lost. Repeating such a call blindly could
/// act twice, so its idempotency key stays taken.
const UNCERTAIN_KINDS: &[&str] = &[
    "timeout",
    "transport",
    "bad-response",
    "provider",
    "deadline-exceeded",
    "trap",
    "memory-exhausted",
    "output-exceeded",
    "result-too-large",
    "host",
];

/// The journal of mutating calls: a store plus the key that seals the
/// credentials it holds.
///
/// ```no_run
/// # fn example() -> anyhow::Result<()> {
/// use provisioning_host::{Host, Journal};
///
/// let journal = Journal::open("journal.sqlite3".as_ref(), &std::env::var("JOURNAL_KEY")?)?;
/// let host = Host::new()?.with_journal(journal);
/// for call in host.journal().unwrap().pending()? {
///     println!("{} {} {}: {:?}", call.entry.id, call.entry.intent.function, call.status(), call.credentials);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Journal {
    store: Arc<dyn JournalStore>,
    sealer: Arc<Sealer>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish_non_exhaustive()
    }
}

/// A journal entry the caller has not acknowledged, with its credentials
/// unsealed.
#[derive(Debug, Clone, Serialize)]
pub struct PendingCall {
    /// The entry as stored (input and outcome with secrets removed).
    pub entry: Entry,
    /// What the provider issued (generated passwords, license keys).
    pub credentials: Vec<Credential>,
}

impl PendingCall {
    /// `unknown` when nobody knows whether the provider acted (no outcome
    /// on record, or a failure that cut the call off), `answered` otherwise.
    pub fn status(&self) -> &'static str {
        match &self.entry.outcome {
            None => "unknown",
            Some(outcome)
                if !outcome.succeeded && UNCERTAIN_KINDS.contains(&outcome.kind.as_str()) =>
            {
                "unknown"
            }
            Some(_) => "answered",
        }
    }
}

/// What [`Journal::begin`] decided.
pub(crate) enum Admission {
    /// Run the call; its entry is this one.
    Run(EntryId),
    /// Do not run it: here is the recorded answer of the earlier call with
    /// the same key.
    Replay(EntryId, Response),
}

impl Journal {
    /// A journal over any store.
    pub fn new(store: Arc<dyn JournalStore>, sealer: Sealer) -> Journal {
        Journal {
            store,
            sealer: Arc::new(sealer),
        }
    }

    /// The SQLite journal at `path` (created when missing), sealing with the
    /// key given as 64 hex characters.
    ///
    /// ```
    /// # fn main() -> anyhow::Result<()> {
    /// use provisioning_host::Journal;
    /// use provisioning_host::journal::Sealer;
    ///
    /// // Production keeps one key for good (`Manifest::journal_config` reads
    /// // it from a variable or a file): under another, the credentials
    /// // sealed in the journal cannot be read.
    /// let key = Sealer::generate_key_hex();
    /// let dir = std::env::temp_dir().join(format!("journal-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let journal = Journal::open(&dir.join("journal.sqlite3"), &key)?;
    /// // At start-up: what a previous run left unacknowledged.
    /// assert!(journal.pending()?.is_empty());
    /// assert!(Journal::open(&dir.join("journal.sqlite3"), "not a key").is_err());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(()) }
    /// ```
    pub fn open(path: &std::path::Path, key_hex: &str) -> anyhow::Result<Journal> {
        let sealer = Sealer::from_hex(key_hex).context("the journal key")?;
        let store = SqliteJournal::open(path)
            .with_context(|| format!("opening the journal {}", path.display()))?;
        Ok(Journal::new(Arc::new(store), sealer))
    }

    /// Entries not acknowledged yet, oldest first, credentials unsealed.
    pub fn pending(&self) -> anyhow::Result<Vec<PendingCall>> {
        self.store
            .pending()?
            .into_iter()
            .map(|entry| {
                let credentials = self.unseal(&entry)?;
                Ok(PendingCall { entry, credentials })
            })
            .collect()
    }

    /// Every entry, acknowledged ones included, oldest first, as stored
    /// (secrets removed, credentials left sealed): the history
    /// [`crate::live_services`] rebuilds the platform's services from.
    pub fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        self.store.entries()
    }

    /// Marks an entry acknowledged and destroys its sealed credentials.
    /// Returns false when there is no such unacknowledged entry.
    pub fn acknowledge(&self, id: EntryId) -> anyhow::Result<bool> {
        self.store.acknowledge(id)
    }

    fn unseal(&self, entry: &Entry) -> anyhow::Result<Vec<Credential>> {
        let Some(sealed) = entry
            .outcome
            .as_ref()
            .and_then(|o| o.sealed_credentials.as_ref())
        else {
            return Ok(Vec::new());
        };
        let bytes = self
            .sealer
            .open(sealed, &seal_context(entry.id))
            .with_context(|| format!("unsealing the credentials of journal entry {}", entry.id))?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("reading the credentials of journal entry {}", entry.id))
    }

    /// Records the intent of a mutating call, or finds the earlier call
    /// with the same key and tells what to do instead.
    pub(crate) fn begin(
        &self,
        module: &str,
        request: &Request,
        key: Option<&str>,
        redactor: &Redactor,
    ) -> Result<Admission, CallError> {
        let journal_error = |error: anyhow::Error| CallError::Journal {
            module: module.to_string(),
            message: redactor.redact(&format!("{error:#}")),
        };
        let key = key.map_or_else(generated_key, str::to_string);
        let intent = Intent {
            module: module.to_string(),
            function: crate::call::function_name(request.function()).to_string(),
            service_id: request.service().map(|s| s.service_id.clone()),
            idempotency_key: key.clone(),
            input: redacted_input(request, redactor),
        };
        loop {
            let existing = match self.store.begin(&intent).map_err(journal_error)? {
                Begun::Started(id) => return Ok(Admission::Run(id)),
                Begun::Existing(existing) => existing,
            };
            if existing.intent.function != intent.function
                || existing.intent.service_id != intent.service_id
            {
                return Err(CallError::IdempotencyConflict {
                    module: module.to_string(),
                    key,
                    used_for: format!(
                        "{} of service {}",
                        existing.intent.function,
                        existing.intent.service_id.as_deref().unwrap_or("-")
                    ),
                });
            }
            match &existing.outcome {
                Some(outcome) if outcome.succeeded => {
                    let response = self.recorded_response(&existing).map_err(journal_error)?;
                    return Ok(Admission::Replay(existing.id, response));
                }
                Some(outcome) if !UNCERTAIN_KINDS.contains(&outcome.kind.as_str()) => {
                    // The earlier call was refused outright; nothing
                    // happened, so this one may run under the same key.
                    self.store.release_key(existing.id).map_err(journal_error)?;
                }
                _ => {
                    return Err(CallError::OutcomeUnknown {
                        module: module.to_string(),
                        key,
                        entry: existing.id,
                    });
                }
            }
        }
    }

    /// Records a call's outcome; credentials are sealed, everything else is
    /// stored with secrets removed.
    pub(crate) fn finish(
        &self,
        id: EntryId,
        result: &Result<Response, CallError>,
        redactor: &Redactor,
    ) -> anyhow::Result<()> {
        let outcome = match result {
            Ok(response) => {
                // A module may repeat what it issued in a message, too.
                let redactor =
                    redactor.with(response.credentials().iter().map(|c| c.value.as_str()));
                let credentials = response.credentials();
                let sealed_credentials = if credentials.is_empty() {
                    None
                } else {
                    Some(
                        self.sealer
                            .seal(&serde_json::to_vec(credentials)?, &seal_context(id)),
                    )
                };
                let mut masked = response.clone();
                if let Some(credentials) = masked.credentials_mut() {
                    for credential in credentials {
                        credential.value = MASK.to_string();
                    }
                }
                Outcome {
                    succeeded: true,
                    kind: "ok".to_string(),
                    summary: redactor.redact(&serde_json::to_string(&masked)?),
                    sealed_credentials,
                }
            }
            Err(error) => Outcome {
                succeeded: false,
                kind: error.kind().to_string(),
                summary: redactor.redact(
                    &json!({ "kind": error.kind(), "message": error.to_string() }).to_string(),
                ),
                sealed_credentials: None,
            },
        };
        self.store.finish(id, &outcome)
    }

    /// The answer an earlier call got, credentials unsealed (or masked once
    /// they were acknowledged and destroyed).
    fn recorded_response(&self, entry: &Entry) -> anyhow::Result<Response> {
        let outcome = entry.outcome.as_ref().context("the entry has no outcome")?;
        let mut response: Response =
            serde_json::from_str(&outcome.summary).context("reading the recorded answer")?;
        if entry.state != EntryState::Acknowledged
            && let Some(credentials) = response.credentials_mut()
        {
            *credentials = self.unseal(entry)?;
        }
        Ok(response)
    }
}

/// What a sealed record is bound to: its entry.
fn seal_context(id: EntryId) -> Vec<u8> {
    format!("provisioning journal entry {id}").into_bytes()
}

/// The request as JSON with every secret masked: passwords by field, and
/// anything the redactor knows wherever it appears.
fn redacted_input(request: &Request, redactor: &Redactor) -> String {
    let mut request = request.clone();
    if let Some(service) = request.service_mut()
        && service.password.is_some()
    {
        service.password = Some(MASK.to_string());
    }
    if let Request::ChangePassword { new_password, .. } = &mut request {
        *new_password = MASK.to_string();
    }
    redactor.redact(&serde_json::to_string(&request).unwrap_or_default())
}

/// A key for a call whose caller gave none: unique, so it never replays.
fn generated_key() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "auto-{now:x}-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
