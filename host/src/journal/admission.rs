//! How a mutating call passes the journal: admitted to run (its intent on
//! record), answered from the record (a repeated idempotency key), joined
//! to the same call already running, or refused; and, once it ran, its
//! outcome recorded and handed to every caller that waited for it.
//!
//! Callers of one key in this process meet in one place (a slot per
//! module and key): the first runs the call, the others wait for its
//! answer within their own deadline. A call running on another host (a
//! shared journal file) is waited for by reading its entry until it ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde_json::json;
use tokio::sync::watch;

use super::record::{
    Begun, CallOutcome, Entry, EntryId, EntryState, Failure, Intent, MAX_KEY_BYTES,
};
use super::seal::Sealer;
use super::store::{Finished, JournalStore};
use super::worker::Worker;
use crate::bindings::types::{Credential, Setting};
use crate::error::CallError;
use crate::redact::{MASK, Redactor};
use crate::request::{Request, Response};

/// How often an entry running on another host is read again while a
/// caller waits for it.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// How often outcomes the store did not take are offered to it again.
const HELD_RETRY_EVERY: Duration = Duration::from_secs(1);

/// The answer every caller of one key gets: the first caller's.
#[derive(Debug, Clone)]
pub(crate) struct Settled {
    /// The call's result.
    pub result: Result<Response, CallError>,
    /// The entry that records it.
    pub entry: Option<EntryId>,
    /// The module version that answered, when a guest ran.
    pub module_digest: Option<String>,
    /// Whether the outcome this answer gives is on record in the journal
    /// (false while the store has not taken it: see [`Shared::held`]).
    pub journaled: bool,
}

/// What [`Shared::admit`] decided.
pub(crate) enum Admission {
    /// Run the call and report its result through the ticket.
    Run(Ticket),
    /// Do not run it: this is the answer (recorded, or the one the same
    /// call running now gave).
    Answered(Settled),
}

/// One module's key, where its callers in this process meet.
type SlotKey = (String, String);

struct Slot {
    digest: String,
    answer: watch::Receiver<Option<Arc<Settled>>>,
}

/// The journal's state behind every [`super::Journal`] clone.
pub(crate) struct Shared {
    pub(super) worker: Worker,
    pub(super) sealer: Sealer,
    /// This host, as the entries it owns name it.
    owner: String,
    slots: Mutex<HashMap<SlotKey, Slot>>,
    /// Outcomes the store did not take when their calls ended (down, full,
    /// locked), by entry: kept here, credentials sealed, and offered to
    /// the store again until it takes them. A repeat of such a key on this
    /// host is answered from here.
    held: Mutex<HashMap<EntryId, Held>>,
    /// Whether the task offering held outcomes again is running.
    retrying: std::sync::atomic::AtomicBool,
}

/// An outcome waiting for the store.
struct Held {
    key: SlotKey,
    digest: String,
    outcome: CallOutcome,
}

/// The first caller of a key: it settles the slot for the others.
struct Leader {
    shared: Arc<Shared>,
    key: SlotKey,
    answer: watch::Sender<Option<Arc<Settled>>>,
}

impl Leader {
    /// Hands the answer to every caller waiting and frees the slot.
    fn settle(self, settled: Settled) -> Settled {
        let _ = self.answer.send(Some(Arc::new(settled.clone())));
        settled
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        // Settled or abandoned, the slot is free; callers still waiting on
        // an abandoned one see the sender gone and start over.
        self.shared.slots().remove(&self.key);
    }
}

/// An admitted call: its entry is in flight, owned by this host. Report
/// the result with [`Ticket::finish`]; a ticket dropped unfinished (the
/// caller's future was cancelled) records the outcome as unknown.
pub(crate) struct Ticket {
    shared: Arc<Shared>,
    leader: Option<Leader>,
    entry: EntryId,
    module: String,
    /// The module and idempotency key.
    key: SlotKey,
    /// The request's keyed digest.
    digest: String,
    finished: bool,
}

/// What [`Shared::write_held`] did.
#[derive(Debug, Default)]
pub(super) struct Written {
    /// Entries whose outcome is on record now.
    pub recorded: Vec<EntryId>,
    /// Entries decided meanwhile: their outcome was dropped.
    pub fenced: Vec<EntryId>,
}

impl Ticket {
    /// The entry that records the call.
    pub fn entry(&self) -> EntryId {
        self.entry
    }

    /// Records the outcome (credentials sealed, everything else with
    /// secrets removed), waiting for the store until `deadline` at most,
    /// and hands the answer to every caller of the same key.
    ///
    /// An outcome the store does not take in time is kept in memory and
    /// offered again until it does (the answer says it is not journaled
    /// yet); one the store refuses because the entry is no longer this
    /// host's to finish (decided while this host was stalled) is logged and
    /// answered as an uncertain failure, the entry left as decided.
    pub async fn finish(
        mut self,
        result: Result<Response, CallError>,
        module_digest: Option<String>,
        redactor: &Redactor,
        deadline: Instant,
    ) -> Settled {
        self.finished = true;
        let entry = self.entry;
        let mut result = result;
        let outcome = self
            .shared
            .outcome_of(entry, &result, module_digest.clone(), redactor);
        let journaled = match outcome {
            Ok(outcome) => {
                self.shared.hold(
                    entry,
                    Held {
                        key: self.key.clone(),
                        digest: self.digest.clone(),
                        outcome,
                    },
                );
                let written = self.shared.write_held(vec![entry]);
                match tokio::time::timeout_at(deadline.into(), written).await {
                    Ok(Ok(written)) if written.fenced.contains(&entry) => {
                        result = Err(fenced(&self.module, entry));
                        false
                    }
                    Ok(Ok(written)) if written.recorded.contains(&entry) => true,
                    Ok(Ok(_)) | Err(_) => {
                        tracing::warn!(
                            module = %self.module,
                            entry,
                            "the journal did not take the call's outcome in time: kept in memory, it is written once the journal takes it"
                        );
                        self.shared.clone().keep_retrying();
                        false
                    }
                    Ok(Err(error)) => {
                        tracing::error!(
                            module = %self.module,
                            entry,
                            "recording a call's outcome failed: kept in memory, it is written once the journal takes it: {}",
                            redactor.redact(&format!("{error:#}"))
                        );
                        self.shared.clone().keep_retrying();
                        false
                    }
                }
            }
            Err(error) => {
                tracing::error!(
                    module = %self.module,
                    entry,
                    "preparing a call's outcome for the journal failed; its entry will show as unknown: {}",
                    redactor.redact(&format!("{error:#}"))
                );
                false
            }
        };
        let settled = Settled {
            result,
            entry: Some(entry),
            module_digest,
            journaled,
        };
        match self.leader.take() {
            Some(leader) => leader.settle(settled),
            None => settled,
        }
    }
}

/// The answer of a call whose outcome the journal no longer takes: its
/// entry was decided (reconciled, resolved) while this host was stalled
/// past the attempt's deadline. Uncertain: whatever the module answered,
/// the entry's record is what stands.
fn fenced(module: &str, entry: EntryId) -> CallError {
    CallError::Host {
        module: module.to_string(),
        message: format!(
            "the call ended after its journal entry {entry} had been decided without it (this host was stalled past the call's deadline): its outcome was not recorded; the entry's record stands, check the service at the provider"
        ),
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let entry = self.entry;
        tracing::warn!(module = %self.module, entry, "a journaled call was cancelled before its outcome was known");
        let outcome = CallOutcome {
            answer: Err(Failure {
                kind: "host".to_string(),
                message: "the call was cancelled before its outcome was known".to_string(),
            }),
            uncertain: true,
            module_digest: None,
            sealed_credentials: None,
        };
        let owner = self.shared.owner.clone();
        self.shared.worker.submit(move |context| {
            if let Some(context) = context {
                context.running.remove(&entry);
                match context.store.finish(entry, &owner, &outcome) {
                    Ok(Finished::Recorded) => {}
                    Ok(Finished::Fenced) => tracing::warn!(
                        entry,
                        "a cancelled call's entry was decided meanwhile: left as it is"
                    ),
                    Err(error) => {
                        tracing::error!(entry, "recording a cancelled call failed: {error:#}")
                    }
                }
            }
        });
    }
}

impl Shared {
    pub(super) fn new(worker: Worker, sealer: Sealer) -> Shared {
        Shared {
            worker,
            sealer,
            owner: host_identity(),
            slots: Mutex::new(HashMap::new()),
            held: Mutex::new(HashMap::new()),
            retrying: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<EntryId, Held>> {
        // Consistent after every statement, as the slots are.
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn hold(&self, entry: EntryId, held: Held) {
        self.held().insert(entry, held);
    }

    /// Whether this entry's outcome is held in memory, not yet on record.
    pub(super) fn is_held(&self, entry: EntryId) -> bool {
        self.held().contains_key(&entry)
    }

    /// How many outcomes are held in memory, waiting for the store.
    pub(super) fn held_count(&self) -> usize {
        self.held().len()
    }

    /// Offers the held outcomes of `entries` (every one held, when empty)
    /// to the store, in one job on the journal's thread; those it takes, or
    /// fences out, are held no longer. Stops at the first store error.
    pub(super) async fn write_held(&self, entries: Vec<EntryId>) -> anyhow::Result<Written> {
        let wanted: Vec<(EntryId, CallOutcome)> = {
            let held = self.held();
            held.iter()
                .filter(|(id, _)| entries.is_empty() || entries.contains(id))
                .map(|(id, held)| (*id, held.outcome.clone()))
                .collect()
        };
        if wanted.is_empty() {
            return Ok(Written::default());
        }
        let owner = self.owner.clone();
        let written = self
            .worker
            .run(None, move |context| {
                let mut written = Written::default();
                for (entry, outcome) in wanted {
                    match context.store.finish(entry, &owner, &outcome) {
                        Ok(Finished::Recorded) => written.recorded.push(entry),
                        Ok(Finished::Fenced) => written.fenced.push(entry),
                        Err(error) => {
                            // Its lease is kept while it waits: it is still
                            // this host's to finish.
                            context.running.insert(entry);
                            if written.recorded.is_empty() && written.fenced.is_empty() {
                                return Err(error);
                            }
                            break;
                        }
                    }
                    context.running.remove(&entry);
                }
                Ok(written)
            })
            .await?;
        let mut held = self.held();
        for entry in written.recorded.iter().chain(&written.fenced) {
            held.remove(entry);
        }
        for entry in &written.fenced {
            tracing::error!(
                entry,
                "a call's outcome was not recorded: its journal entry was decided while this host was stalled past the call's deadline; the entry's record stands"
            );
        }
        Ok(written)
    }

    /// Offers the held outcomes to the store every [`HELD_RETRY_EVERY`]
    /// until none is left, on a task of its own (one at a time).
    fn keep_retrying(self: Arc<Self>) {
        if self.retrying.swap(true, Ordering::AcqRel) {
            return;
        }
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HELD_RETRY_EVERY).await;
                match self.write_held(Vec::new()).await {
                    Ok(written) if !written.recorded.is_empty() => tracing::info!(
                        entries = ?written.recorded,
                        "held call outcomes recorded: the journal took them"
                    ),
                    Ok(_) => {}
                    Err(error) => tracing::debug!("the journal still takes no outcomes: {error:#}"),
                }
                let done = {
                    // Under the lock a new outcome is held by: either it is
                    // seen here, or it starts a task of its own.
                    let held = self.held();
                    let done = held.is_empty();
                    if done {
                        self.retrying.store(false, Ordering::Release);
                    }
                    done
                };
                if done {
                    return;
                }
            }
        });
    }

    /// The answer a repeat of a key gets while its outcome is held here:
    /// a success as the call answered it (credentials unsealed), anything
    /// else `in-progress` (retry once the journal has the outcome; its key
    /// then follows the usual rules); `None` when nothing is held for it.
    fn held_answer(&self, intent: &Intent) -> Option<Result<Settled, Decision>> {
        let held = self.held();
        let (entry, held) = held.iter().find(|(_, held)| {
            held.key.0 == intent.module && held.key.1 == intent.idempotency_key
        })?;
        let entry = *entry;
        let module = intent.module.as_str();
        if intent.request_digest.as_deref() != Some(held.digest.as_str()) {
            return Some(Err(Decision::Refuse(
                conflict(
                    module,
                    &intent.idempotency_key,
                    &format!(
                        "{} with other inputs (a key names one request)",
                        described(intent)
                    ),
                ),
                Some(entry),
            )));
        }
        if !held.outcome.succeeded() {
            return Some(Err(Decision::Refuse(
                CallError::InProgress {
                    module: module.to_string(),
                    key: intent.idempotency_key.clone(),
                    entry: Some(entry),
                },
                Some(entry),
            )));
        }
        Some(match self.response_of(entry, &held.outcome, true) {
            Ok(response) => Ok(Settled {
                result: Ok(response),
                entry: Some(entry),
                module_digest: held.outcome.module_digest.clone(),
                journaled: false,
            }),
            Err(error) => Err(Decision::Refuse(
                CallError::Journal {
                    module: module.to_string(),
                    message: format!("{error:#}"),
                },
                Some(entry),
            )),
        })
    }

    /// This host, as the entries and usage claims it owns name it.
    pub(super) fn owner(&self) -> &str {
        &self.owner
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<SlotKey, Slot>> {
        // The map is consistent after every statement; a panic elsewhere
        // does not make it unusable.
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Decides what to do with a mutating call: run it (its intent is on
    /// record once this returns), answer it from the journal, answer it
    /// with the same call's answer (a caller of the same key running now),
    /// or refuse it. Waits until `deadline` at most.
    pub async fn admit(
        self: &Arc<Self>,
        module: &str,
        request: &Request,
        settings: &[Setting],
        key: Option<&str>,
        redactor: &Redactor,
        deadline: Instant,
    ) -> Result<Admission, (CallError, Option<EntryId>)> {
        let refuse = |error: CallError| (error, None);
        if let Some(key) = key {
            check_key(module, key).map_err(refuse)?;
        }
        if let Some(service) = request.service() {
            check_field(module, "service id", &service.service_id).map_err(refuse)?;
        }
        let key = key.map_or_else(generated_key, str::to_string);
        let journal_error = |error: anyhow::Error| {
            refuse(CallError::Journal {
                module: module.to_string(),
                message: format!("{error:#}"),
            })
        };
        let input = redacted_input(request, redactor).map_err(journal_error)?;
        let request_digest = self
            .request_digest(module, request, settings)
            .map_err(journal_error)?;
        let intent = Intent {
            module: module.to_string(),
            idempotency_key: key.clone(),
            input,
            request_digest: Some(request_digest),
        };
        let digest = intent.request_digest.clone().unwrap_or_default();
        let slot_key = (module.to_string(), key.clone());
        let leader = loop {
            let waiting = {
                let mut slots = self.slots();
                match slots.get(&slot_key) {
                    Some(slot) if slot.digest != digest => {
                        return Err(refuse(conflict(
                            module,
                            &key,
                            &format!(
                                "another {} running now (a key names one request)",
                                intent.function()
                            ),
                        )));
                    }
                    Some(slot) => slot.answer.clone(),
                    None => {
                        let (answer, receiver) = watch::channel(None);
                        slots.insert(
                            slot_key.clone(),
                            Slot {
                                digest: digest.clone(),
                                answer: receiver,
                            },
                        );
                        break Leader {
                            shared: self.clone(),
                            key: slot_key.clone(),
                            answer,
                        };
                    }
                }
            };
            match wait_for_answer(waiting, deadline).await {
                Waited::Answer(settled) => return Ok(Admission::Answered((*settled).clone())),
                // The first caller was cancelled: start over.
                Waited::Abandoned => continue,
                Waited::TimedOut => {
                    return Err(refuse(CallError::InProgress {
                        module: module.to_string(),
                        key,
                        entry: None,
                    }));
                }
            }
        };
        match self.admit_as_leader(&intent, redactor, deadline).await {
            Ok(entry) => Ok(Admission::Run(Ticket {
                shared: self.clone(),
                leader: Some(leader),
                entry,
                module: module.to_string(),
                key: slot_key,
                digest,
                finished: false,
            })),
            Err(Decision::Answer(settled)) => Ok(Admission::Answered(leader.settle(settled))),
            Err(Decision::Refuse(error, entry)) => {
                leader.settle(Settled {
                    result: Err(error.clone()),
                    entry,
                    module_digest: None,
                    journaled: entry.is_some(),
                });
                Err((error, entry))
            }
        }
    }

    /// The first caller of a key in this process: records the intent, or
    /// decides from the entry already under the key.
    async fn admit_as_leader(
        &self,
        intent: &Intent,
        redactor: &Redactor,
        deadline: Instant,
    ) -> Result<EntryId, Decision> {
        let module = intent.module.as_str();
        let journal_error = |error: anyhow::Error| {
            Decision::Refuse(
                CallError::Journal {
                    module: module.to_string(),
                    message: redactor.redact(&format!("{error:#}")),
                },
                None,
            )
        };
        if let Some(answer) = self.held_answer(intent) {
            return Err(match answer {
                Ok(settled) => Decision::Answer(settled),
                Err(decision) => decision,
            });
        }
        loop {
            let begun = self
                .begin(intent.clone(), deadline)
                .await
                .map_err(journal_error)?;
            let mut existing = match begun {
                Begun::Started(id) => return Ok(id),
                Begun::Existing(existing) => existing,
            };
            if let Some(used_for) = other_call(&existing.intent, intent) {
                return Err(Decision::Refuse(
                    conflict(module, &intent.idempotency_key, &used_for),
                    Some(existing.id),
                ));
            }
            // Running on another host (a shared journal): wait for it.
            while existing.state == EntryState::InFlight {
                if Instant::now() + POLL_EVERY >= deadline {
                    return Err(Decision::Refuse(
                        CallError::InProgress {
                            module: module.to_string(),
                            key: intent.idempotency_key.clone(),
                            entry: Some(existing.id),
                        },
                        Some(existing.id),
                    ));
                }
                tokio::time::sleep(POLL_EVERY).await;
                let id = existing.id;
                existing = self
                    .worker
                    .run(Some(deadline), move |context| context.store.get(id))
                    .await
                    .map_err(journal_error)?
                    .context("the entry under this key disappeared")
                    .map_err(journal_error)?;
            }
            let refused_outright = matches!(
                (&existing.outcome, existing.state),
                (Some(outcome), EntryState::Answered | EntryState::Acknowledged) if !outcome.succeeded()
            );
            // A call refused outright left nothing behind, so its key is
            // free for any request (the caller fixed the input, say);
            // otherwise the key stands for the request it was used with.
            if !refused_outright && let Some(used_for) = other_inputs(&existing.intent, intent) {
                return Err(Decision::Refuse(
                    conflict(module, &intent.idempotency_key, &used_for),
                    Some(existing.id),
                ));
            }
            match (&existing.outcome, existing.state) {
                (Some(outcome), _) if outcome.succeeded() => {
                    let response = self.recorded_response(&existing).map_err(journal_error)?;
                    return Err(Decision::Answer(Settled {
                        result: Ok(response),
                        entry: Some(existing.id),
                        module_digest: outcome.module_digest.clone(),
                        journaled: true,
                    }));
                }
                (Some(_), EntryState::Answered | EntryState::Acknowledged) => {
                    // The earlier call was refused outright; nothing
                    // happened, so this one may run under the same key.
                    let id = existing.id;
                    self.worker
                        .run(Some(deadline), move |context| context.store.release_key(id))
                        .await
                        .map_err(journal_error)?;
                }
                _ => {
                    return Err(Decision::Refuse(
                        CallError::OutcomeUnknown {
                            module: module.to_string(),
                            key: intent.idempotency_key.clone(),
                            entry: existing.id,
                        },
                        Some(existing.id),
                    ));
                }
            }
        }
    }

    /// Records an intent on the journal's thread. If the caller has given
    /// up by the time it is recorded, the entry is closed at once as not
    /// sent (a definite outcome: nothing reached the module), so that its
    /// key stays usable and nothing shows as running that is not.
    async fn begin(&self, intent: Intent, deadline: Instant) -> anyhow::Result<Begun> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let owner = self.owner.clone();
        let check = self.sealer.check_value().to_string();
        let job = Box::new(move |context: Option<&mut super::worker::Context<'_>>| {
            let Some(context) = context else {
                let _ = reply.send(Err(super::worker::late()));
                return;
            };
            // The attempt may reach the provider until the call's deadline:
            // what is left of it now, from the store's now.
            let attempt = deadline.saturating_duration_since(Instant::now());
            let begun = context.store.begin(&intent, &owner, context.lease, attempt);
            // Read after the intent is on record: a rotation committed
            // before it is seen here, and one not yet committed found the
            // entry in flight and was refused (see `JournalStore::rekey`),
            // so nothing is ever sealed under a key the journal has left.
            let begun = match (begun, still_our_key(context.store, &check)) {
                (Ok(begun), Ok(())) => Ok(begun),
                (Ok(Begun::Started(id)), Err(error)) => {
                    close_unsent(
                        context.store,
                        id,
                        &owner,
                        "not sent: the journal's key could not be confirmed (rotated, or unreadable)",
                    );
                    Err(error)
                }
                (Ok(Begun::Existing(_)), Err(error)) | (Err(error), _) => Err(error),
            };
            if let Ok(Begun::Started(id)) = &begun {
                context.running.insert(*id);
            }
            if let Err(unsent) = reply.send(begun)
                && let Ok(Begun::Started(id)) = unsent
            {
                context.running.remove(&id);
                close_unsent(
                    context.store,
                    id,
                    &owner,
                    "not sent: the journal recorded the intent after the caller's deadline",
                );
            }
        });
        self.worker.wait(Some(deadline), job, answer).await
    }

    /// The keyed digest of everything a request says, secrets included:
    /// of the request in the journal's format (its keys sorted), so that
    /// the digests on record keep matching whatever the request's wire
    /// form becomes.
    fn request_digest(
        &self,
        module: &str,
        request: &Request,
        settings: &[Setting],
    ) -> anyhow::Result<String> {
        let mut settings: Vec<(&str, &str)> = settings
            .iter()
            .map(|s| (s.name.as_str(), s.value.as_str()))
            .collect();
        settings.sort_unstable();
        let request = super::format::request_value(request)?;
        let canonical = json!({ "module": module, "request": request, "settings": settings });
        Ok(self.sealer.digest(canonical.to_string().as_bytes()))
    }

    /// A call's outcome as the journal keeps it, `module_digest` the
    /// version that answered.
    fn outcome_of(
        &self,
        id: EntryId,
        result: &Result<Response, CallError>,
        module_digest: Option<String>,
        redactor: &Redactor,
    ) -> anyhow::Result<CallOutcome> {
        Ok(match result {
            Ok(response) => {
                // A module may repeat what it issued in a message, too. A
                // credential that is the account's remote id (a license key)
                // and not secret stays readable there: later calls, and a
                // platform that keeps no id of its own, name the account by
                // it.
                let remote_id = match response {
                    Response::Created(created) => Some(created.remote_id.as_str()),
                    _ => None,
                };
                let redactor = redactor.with(
                    response
                        .credentials()
                        .iter()
                        .filter(|c| c.secret || Some(c.value.as_str()) != remote_id)
                        .map(|c| c.value.as_str()),
                );
                let credentials = response.credentials();
                let sealed_credentials = if credentials.is_empty() {
                    None
                } else {
                    Some(self.sealer.seal(
                        &super::format::credentials_bytes(credentials)?,
                        &seal_context(id),
                    ))
                };
                let mut masked = response.clone();
                if let Some(credentials) = masked.credentials_mut() {
                    for credential in credentials {
                        credential.value = MASK.to_string();
                    }
                }
                CallOutcome {
                    answer: Ok(redacted(&masked, &redactor)?),
                    uncertain: false,
                    module_digest,
                    sealed_credentials,
                }
            }
            Err(error) => CallOutcome {
                answer: Err(Failure {
                    kind: error.kind().to_string(),
                    message: redactor.redact(&error.to_string()),
                }),
                uncertain: error.leaves_provider_state_unknown(),
                module_digest,
                sealed_credentials: None,
            },
        })
    }

    /// The credentials sealed in an entry.
    pub(super) fn unseal(&self, entry: &Entry) -> anyhow::Result<Vec<Credential>> {
        let sealed = entry
            .outcome
            .as_ref()
            .and_then(|o| o.sealed_credentials.as_deref());
        self.open_credentials(entry.id, sealed)
    }

    /// The credentials sealed for entry `id`, if any.
    fn open_credentials(
        &self,
        id: EntryId,
        sealed: Option<&[u8]>,
    ) -> anyhow::Result<Vec<Credential>> {
        let Some(sealed) = sealed else {
            return Ok(Vec::new());
        };
        let bytes = self
            .sealer
            .open(sealed, &seal_context(id))
            .with_context(|| format!("unsealing the credentials of journal entry {id}"))?;
        super::format::read_credentials(&bytes)
            .with_context(|| format!("reading the credentials of journal entry {id}"))
    }

    /// The answer an earlier call got, credentials unsealed (or masked once
    /// they were acknowledged and destroyed).
    fn recorded_response(&self, entry: &Entry) -> anyhow::Result<Response> {
        let outcome = entry.outcome.as_ref().context("the entry has no outcome")?;
        self.response_of(entry.id, outcome, entry.state != EntryState::Acknowledged)
    }

    /// The answer an outcome of entry `id` records, its credentials
    /// unsealed when `unseal` (else masked).
    fn response_of(
        &self,
        id: EntryId,
        outcome: &CallOutcome,
        unseal: bool,
    ) -> anyhow::Result<Response> {
        let mut response = match &outcome.answer {
            Ok(response) => response.clone(),
            Err(failure) => anyhow::bail!("the recorded outcome is a failure ({})", failure.kind),
        };
        if unseal && let Some(credentials) = response.credentials_mut() {
            *credentials = self.open_credentials(id, outcome.sealed_credentials.as_deref())?;
        }
        Ok(response)
    }
}

/// Fails unless the journal is still sealed under the key this host was
/// opened with (`check` is its check value).
fn still_our_key(store: &dyn JournalStore, check: &str) -> anyhow::Result<()> {
    match store.key_record()? {
        Some(record) if record.check == check => Ok(()),
        _ => anyhow::bail!(
            "the journal's key has changed since this host opened it (`provisioning journal rekey`): restart this host with the journal's new key"
        ),
    }
}

/// Closes an entry whose call was never sent, with a definite outcome
/// saying why: its key stays usable, and nothing shows as running that
/// is not.
fn close_unsent(store: &dyn JournalStore, id: EntryId, owner: &str, message: &str) {
    let outcome = CallOutcome {
        answer: Err(Failure {
            kind: "journal".to_string(),
            message: message.to_string(),
        }),
        uncertain: false,
        module_digest: None,
        sealed_credentials: None,
    };
    if let Err(error) = store.finish(id, owner, &outcome) {
        tracing::error!(
            entry = id,
            "closing an unsent call's entry failed: {error:#}"
        );
    }
}

/// What the leader decided instead of running the call.
enum Decision {
    Answer(Settled),
    Refuse(CallError, Option<EntryId>),
}

enum Waited {
    Answer(Arc<Settled>),
    Abandoned,
    TimedOut,
}

/// Waits for the first caller's answer.
async fn wait_for_answer(
    mut answer: watch::Receiver<Option<Arc<Settled>>>,
    deadline: Instant,
) -> Waited {
    let settled = tokio::time::timeout_at(deadline.into(), answer.wait_for(Option::is_some)).await;
    match settled {
        Ok(Ok(value)) => match value.as_ref() {
            Some(settled) => Waited::Answer(settled.clone()),
            None => Waited::Abandoned,
        },
        Ok(Err(_)) => Waited::Abandoned,
        Err(_) => Waited::TimedOut,
    }
}

/// What a stored intent was used for, when the new one under its key is
/// another call altogether (another function or service).
fn other_call(stored: &Intent, new: &Intent) -> Option<String> {
    (stored.function() != new.function() || stored.service_id() != new.service_id())
        .then(|| described(stored))
}

/// What a stored intent was used for, when the new one under its key is
/// the same call with other inputs (by their digests; entries from before
/// digests match any).
fn other_inputs(stored: &Intent, new: &Intent) -> Option<String> {
    match (&stored.request_digest, &new.request_digest) {
        (Some(stored_digest), Some(new_digest)) if stored_digest != new_digest => Some(format!(
            "{} with other inputs (a key names one request)",
            described(stored)
        )),
        _ => None,
    }
}

fn described(intent: &Intent) -> String {
    format!(
        "{} of service {}",
        intent.function(),
        intent.service_id().unwrap_or("-")
    )
}

fn conflict(module: &str, key: &str, used_for: &str) -> CallError {
    CallError::IdempotencyConflict {
        module: module.to_string(),
        key: key.to_string(),
        used_for: used_for.to_string(),
    }
}

/// An idempotency key names a request: short, printable, non-empty.
fn check_key(module: &str, key: &str) -> Result<(), CallError> {
    if key.is_empty() {
        return Err(CallError::InvalidRequest {
            module: module.to_string(),
            message: "the idempotency key is empty".to_string(),
        });
    }
    check_field(module, "idempotency key", key)
}

/// A value the journal records in its own column: bounded and printable.
fn check_field(module: &str, what: &str, value: &str) -> Result<(), CallError> {
    let refuse = |message: String| CallError::InvalidRequest {
        module: module.to_string(),
        message,
    };
    if value.len() > MAX_KEY_BYTES {
        return Err(refuse(format!(
            "the {what} is {} bytes long; at most {MAX_KEY_BYTES} are accepted",
            value.len()
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(refuse(format!("the {what} holds control characters")));
    }
    Ok(())
}

/// What a sealed record is bound to: its entry.
pub(super) fn seal_context(id: EntryId) -> Vec<u8> {
    format!("provisioning journal entry {id}").into_bytes()
}

/// The request with every secret masked: passwords by field, and anything
/// the redactor knows wherever it appears.
fn redacted_input(request: &Request, redactor: &Redactor) -> anyhow::Result<Request> {
    let mut request = request.clone();
    if let Some(service) = request.service_mut()
        && service.password.is_some()
    {
        service.password = Some(MASK.to_string());
    }
    if let Request::ChangePassword { new_password, .. } = &mut request {
        *new_password = MASK.to_string();
    }
    redacted(&request, redactor)
}

/// `value` with whatever the redactor knows masked wherever it appears
/// (any field, the module's messages included): through its JSON, where
/// every text of it is.
fn redacted<T>(value: &T, redactor: &Redactor) -> anyhow::Result<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let text = redactor.redact(&serde_json::to_string(value)?);
    serde_json::from_str(&text).context("a value with its secrets masked")
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

/// This host as its entries name it: `hostname:pid`.
fn host_identity() -> String {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".to_string());
    format!("{hostname}:{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_and_printable() {
        assert!(check_key("m", "create-42").is_ok());
        assert!(check_key("m", &"k".repeat(MAX_KEY_BYTES)).is_ok());
        for bad in [String::new(), "k".repeat(MAX_KEY_BYTES + 1), "a\nb".into()] {
            let error = check_key("m", &bad).unwrap_err();
            assert_eq!(error.kind(), "invalid-input");
            assert!(error.to_string().len() < 200, "the key is not quoted back");
        }
    }
}
