//! An entry as a row of the `calls` table, for every store: the one list
//! of its columns, the one mapper from a row to an [`Entry`], and the
//! values an intent and an outcome are written as. A store only moves the
//! values between its database and these.

use anyhow::Context;

use super::format;
use super::record::Acknowledgement;
use super::record::{
    CallOutcome, Entry, EntryId, EntryState, Finding, Intent, Resolution, attempt_over,
};
use super::rules::{Checked, Fence};

/// An entry's columns, as every store's `SELECT` names them.
pub(super) const ENTRY_COLUMNS: &str = "id, module, function, service_id, idempotency_key, \
     input, started_at_ms, succeeded, kind, summary, sealed_credentials, finished_at_ms, \
     acknowledged_at_ms, request_digest, uncertain, owner, lease_until_ms, finding, note, \
     attempt_deadline_ms, module_digest";

/// The SQL condition of an entry in flight on a live host, its lease
/// judged by `now` (the store's clock: a parameter or an expression): not
/// acknowledged, no outcome, its lease current. [`super::record::running`]
/// in SQL.
pub(super) fn in_flight_where(now: &str) -> String {
    format!("acknowledged_at_ms IS NULL AND succeeded IS NULL AND lease_until_ms > {now}")
}

/// The SQL condition of an entry whose lease may be renewed: no outcome
/// is recorded (recording one ends the lease).
pub(super) const RENEWABLE_WHERE: &str = "finished_at_ms IS NULL";

/// The SQL condition of an entry a purge may delete: acknowledged before
/// `before` (a parameter), never one not acknowledged.
pub(super) fn purgeable_where(before: &str) -> String {
    format!("acknowledged_at_ms IS NOT NULL AND acknowledged_at_ms < {before}")
}

/// A row's values by column name, as a store's driver gives them.
pub(super) trait RowValues {
    /// An integer column (`NULL` as `None`).
    fn integer(&self, column: &str) -> anyhow::Result<Option<i64>>;
    /// A text column.
    fn text(&self, column: &str) -> anyhow::Result<Option<String>>;
    /// A boolean column (SQLite keeps 0 and 1).
    fn flag(&self, column: &str) -> anyhow::Result<Option<bool>>;
    /// A binary column.
    fn bytes(&self, column: &str) -> anyhow::Result<Option<Vec<u8>>>;
}

/// The entry a row of [`ENTRY_COLUMNS`] holds, its state judged at
/// `now_ms` by the store's clock.
pub(super) fn entry_of(row: &impl RowValues, now_ms: i64) -> anyhow::Result<Entry> {
    let id: EntryId = required(row.integer("id"), "id")?;
    let read = || -> anyhow::Result<Entry> {
        let acknowledged_at_ms = row.integer("acknowledged_at_ms")?;
        let lease_until_ms = row.integer("lease_until_ms")?;
        let attempt_deadline_ms = row.integer("attempt_deadline_ms")?;
        let outcome = match row.flag("succeeded")? {
            Some(succeeded) => Some(outcome_of(row, succeeded)?),
            None => None,
        };
        let resolution = match row.text("finding")? {
            Some(finding) => Some(Resolution {
                finding: if finding == Finding::Done.as_str() {
                    Finding::Done
                } else {
                    Finding::NotDone
                },
                note: row.text("note")?,
            }),
            None => None,
        };
        let input = required(row.text("input"), "input")?;
        Ok(Entry {
            id,
            intent: Intent {
                module: required(row.text("module"), "module")?,
                idempotency_key: required(row.text("idempotency_key"), "idempotency_key")?,
                input: format::read_input(&input).context("its input is unreadable")?,
                request_digest: row.text("request_digest")?,
            },
            state: EntryState::of(
                outcome.as_ref(),
                acknowledged_at_ms.is_some(),
                lease_until_ms,
                now_ms,
            ),
            outcome,
            owner: row.text("owner")?,
            lease_until_ms,
            resolution,
            started_at_ms: required(row.integer("started_at_ms"), "started_at_ms")?,
            attempt_deadline_ms,
            attempt_over: attempt_over(attempt_deadline_ms, now_ms),
            finished_at_ms: row.integer("finished_at_ms")?,
            acknowledged_at_ms,
        })
    };
    read().with_context(|| format!("reading journal entry {id}"))
}

/// The outcome of a row whose `succeeded` is set.
fn outcome_of(row: &impl RowValues, succeeded: bool) -> anyhow::Result<CallOutcome> {
    let kind = row.text("kind")?.unwrap_or_default();
    let summary = row.text("summary")?.unwrap_or_default();
    Ok(CallOutcome {
        answer: format::read_outcome(&summary, succeeded, &kind)
            .context("its outcome is unreadable")?,
        uncertain: row.flag("uncertain")?.unwrap_or(false),
        module_digest: row.text("module_digest")?,
        sealed_credentials: row.bytes("sealed_credentials")?,
    })
}

fn required<T>(value: anyhow::Result<Option<T>>, column: &str) -> anyhow::Result<T> {
    value?.with_context(|| format!("its {column} is missing"))
}

/// The columns an outcome is written to, as their values.
pub(super) struct OutcomeColumns {
    /// `succeeded`.
    pub succeeded: bool,
    /// `kind`: `ok` or the error's kind.
    pub kind: String,
    /// `uncertain`.
    pub uncertain: bool,
    /// `summary`: the answer or failure in the journal's format.
    pub summary: String,
    /// `module_digest`.
    pub module_digest: Option<String>,
}

impl OutcomeColumns {
    /// The values of `outcome` (its sealed credentials aside).
    pub fn of(outcome: &CallOutcome) -> anyhow::Result<OutcomeColumns> {
        Ok(OutcomeColumns {
            succeeded: outcome.succeeded(),
            kind: outcome.kind().to_string(),
            uncertain: outcome.uncertain,
            summary: format::outcome_text(&outcome.answer)?,
            module_digest: outcome.module_digest.clone(),
        })
    }
}

/// The columns an acknowledgement reads of its entry, in its transaction.
pub(super) const CHECKED_COLUMNS: &str =
    "succeeded, lease_until_ms, acknowledged_at_ms, uncertain, attempt_deadline_ms";

/// What an acknowledgement needs of a row of [`CHECKED_COLUMNS`], read at
/// `now_ms` by the store's clock.
pub(super) fn checked_of(row: &impl RowValues, now_ms: i64) -> anyhow::Result<Checked> {
    Ok(Checked {
        succeeded: row.flag("succeeded")?,
        uncertain: row.flag("uncertain")?.unwrap_or(false),
        lease_until_ms: row.integer("lease_until_ms")?,
        acknowledged: row.integer("acknowledged_at_ms")?.is_some(),
        attempt_deadline_ms: row.integer("attempt_deadline_ms")?,
        now_ms,
    })
}

/// The columns `finish` reads of its entry, in its transaction.
pub(super) const FENCE_COLUMNS: &str = "owner, finished_at_ms, acknowledged_at_ms, finding";

/// What `finish` needs of a row of [`FENCE_COLUMNS`], for
/// [`super::rules::decide_finish`].
pub(super) fn fence_of(row: &impl RowValues) -> anyhow::Result<Fence> {
    Ok(Fence {
        owner: row.text("owner")?,
        finished: row.integer("finished_at_ms")?.is_some(),
        acknowledged: row.integer("acknowledged_at_ms")?.is_some(),
        resolved: row.text("finding")?.is_some(),
    })
}

/// The values an acknowledgement writes: `finding` and `note` (with
/// `acknowledged_at_ms`, the sealed credentials destroyed), the outcome
/// that replaces the one on record, and whether the key is released.
pub(super) struct AcknowledgementColumns {
    /// `finding`: `done`, `not-done`, or none.
    pub finding: Option<&'static str>,
    /// `note`.
    pub note: Option<String>,
    /// The outcome's columns, when one replaces the recorded one.
    pub outcome: Option<OutcomeColumns>,
    /// Whether the idempotency key is released.
    pub release_key: bool,
}

impl AcknowledgementColumns {
    /// The values of `ack`.
    pub fn of(ack: &Acknowledgement) -> anyhow::Result<AcknowledgementColumns> {
        Ok(AcknowledgementColumns {
            finding: ack
                .resolution
                .as_ref()
                .map(|resolution| resolution.finding.as_str()),
            note: ack
                .resolution
                .as_ref()
                .and_then(|resolution| resolution.note.clone()),
            outcome: ack.outcome.as_ref().map(OutcomeColumns::of).transpose()?,
            release_key: ack.release_key,
        })
    }
}

/// The `input` column of an intent: its request in the journal's format.
/// (Its `function` and `service_id` columns are the request's, for the
/// indexes: [`Intent::function`], [`Intent::service_id`].)
pub(super) fn input_column(intent: &Intent) -> anyhow::Result<String> {
    format::input_text(&intent.input)
}
