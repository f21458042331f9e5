//! What the journal was last seen to do, for observability: its counts of
//! pending and unknown entries and whether it takes writes, each kept with
//! when it was seen ([`Journal::status`]). The scrape and readiness read
//! these instead of asking the store, so that they never queue behind the
//! journal's writers for long: a locked SQLite file or a slow database
//! makes the values old (and says how old), not the answer slow.
//!
//! They are refreshed by a job on the journal's thread, sent when someone
//! asks and the values are older than [`REFRESH_AFTER`], with a deadline of
//! [`PROBE_WAIT`]: it counts the pending entries and writes one value (a
//! real write, so that a full disk or a read-only file fails it as a
//! call's intent would fail). Writable means that this write was taken the
//! last time, and that no refresh has gone unanswered for longer than
//! [`PROBE_WAIT`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::record::EntryState;
use super::worker::Unavailable;
use super::{Journal, JournalCounts};

/// How old the values may be before someone asking sends a refresh.
const REFRESH_AFTER: Duration = Duration::from_secs(1);

/// How long a refresh may take on the journal's thread (its waits for a
/// lock included) before the journal counts as not taking writes.
const PROBE_WAIT: Duration = Duration::from_secs(1);

/// How long [`Journal::status`] waits for a refresh it sent before it
/// answers with the values it has.
const STATUS_WAIT: Duration = Duration::from_millis(300);

/// The values last seen, shared by the journal's handle and its thread.
#[derive(Debug, Default)]
pub(crate) struct Health {
    seen: Mutex<Seen>,
    /// Woken when a refresh ends, answered or late.
    refreshed: Notify,
}

#[derive(Debug, Default)]
struct Seen {
    /// The latest counts and when they were read.
    counts: Option<(JournalCounts, Instant)>,
    /// The latest write probe: when it ended, and whether it was taken.
    write: Option<(Instant, bool)>,
    /// When the refresh still out was sent, if one is.
    asked: Option<Instant>,
}

/// What the journal was last seen to do ([`Journal::status`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JournalStatus {
    /// The latest counts of pending and unknown entries, if any were read.
    pub counts: Option<JournalCounts>,
    /// How long ago they were read.
    pub counts_age: Option<Duration>,
    /// Whether the journal takes writes: its latest write probe was taken
    /// and no refresh has waited longer than a second since.
    pub writable: bool,
    /// How long ago the latest write probe ended (or a refresh went
    /// unanswered, when that says more).
    pub checked_age: Option<Duration>,
}

impl Health {
    /// Marks a refresh as sent at `now`, unless one is out already or the
    /// values are younger than [`REFRESH_AFTER`]; whether it should be sent.
    fn ask(&self, now: Instant) -> bool {
        let mut seen = self.lock();
        if seen.asked.is_some() {
            return false;
        }
        let fresh = seen
            .write
            .is_some_and(|(at, _)| now.saturating_duration_since(at) < REFRESH_AFTER);
        if fresh {
            return false;
        }
        seen.asked = Some(now);
        true
    }

    /// Whether a refresh is out.
    fn asking(&self) -> bool {
        self.lock().asked.is_some()
    }

    /// Records what a refresh found (`None`: the journal's thread came to
    /// it after its deadline) and wakes those waiting for it.
    fn refreshed(&self, counts: Option<anyhow::Result<JournalCounts>>, written: bool) {
        let now = Instant::now();
        {
            let mut seen = self.lock();
            if let Some(Ok(counts)) = counts {
                seen.counts = Some((counts, now));
            }
            seen.write = Some((now, written));
            seen.asked = None;
        }
        self.refreshed.notify_waiters();
    }

    /// The values as of `now`.
    fn status(&self, now: Instant) -> JournalStatus {
        let seen = self.lock();
        let age = |at: Instant| now.saturating_duration_since(at);
        let unanswered = seen.asked.filter(|asked| age(*asked) > PROBE_WAIT);
        let (writable, checked_age) = match (unanswered, seen.write) {
            (Some(asked), _) => (false, Some(age(asked))),
            (None, Some((at, taken))) => (taken, Some(age(at))),
            (None, None) => (false, None),
        };
        JournalStatus {
            counts: seen.counts.map(|(counts, _)| counts),
            counts_age: seen.counts.map(|(_, at)| age(at)),
            writable,
            checked_age,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        // Every statement leaves the values whole.
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Journal {
    /// What the journal was last seen to do: its counts and whether it
    /// takes writes, with their age. Never waits for the store longer than
    /// a few hundred milliseconds: when the values are older than a second
    /// a refresh is sent to the journal's thread, and waited for that long
    /// at most; the values it finds later serve the
    /// next caller. For the scrape and readiness, which must answer while
    /// the journal is locked or slow.
    pub async fn status(&self) -> JournalStatus {
        let health = self.inner.worker.health().clone();
        let refreshed = health.refreshed.notified();
        let mut refreshed = std::pin::pin!(refreshed);
        // Listening before sending, so that a refresh ending at once is
        // not missed.
        refreshed.as_mut().enable();
        if health.ask(Instant::now()) {
            let done = health.clone();
            self.inner
                .worker
                .submit_by(Instant::now() + PROBE_WAIT, move |context| {
                    let Some(context) = context else {
                        tracing::warn!(
                            "the journal's thread came to the readiness probe after {PROBE_WAIT:?}"
                        );
                        done.refreshed(None, false);
                        return;
                    };
                    let counts = context.store.pending().map(|entries| JournalCounts {
                        pending: entries.len(),
                        unknown: entries
                            .iter()
                            .filter(|entry| entry.state == EntryState::Unknown)
                            .count(),
                    });
                    let written = context.store.check_writable();
                    if let Err(error) = &written {
                        tracing::warn!("the journal does not take writes: {error:#}");
                    }
                    done.refreshed(Some(counts), written.is_ok());
                });
        }
        if health.asking() {
            let _ = tokio::time::timeout(STATUS_WAIT, refreshed).await;
        }
        health.status(Instant::now())
    }
}

/// Whether `error` says the journal could not be reached in time (its
/// file locked, its database slow or down), rather than that it refused
/// or failed the operation: asking again later may succeed.
pub fn is_unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.is::<Unavailable>()
            // PostgreSQL: no connection to be had, or no answer in time.
            || cause.is::<deadpool_postgres::PoolError>()
            || cause.is::<tokio::time::error::Elapsed>()
            || cause
                .downcast_ref::<rusqlite::Error>()
                .is_some_and(|error| {
                    matches!(
                        error.sqlite_error_code(),
                        Some(
                            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                        )
                    )
                })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_unanswered_past_its_wait_makes_the_journal_unwritable() {
        let health = Health::default();
        let t0 = Instant::now();
        assert!(!health.status(t0).writable, "nothing seen yet");
        assert!(health.ask(t0));
        assert!(!health.ask(t0), "one refresh out at a time");
        health.refreshed(
            Some(Ok(JournalCounts {
                pending: 3,
                unknown: 1,
            })),
            true,
        );
        let now = Instant::now();
        let status = health.status(now);
        assert!(status.writable);
        assert_eq!(status.counts.unwrap().unknown, 1);
        assert!(!health.ask(now), "fresh values are not asked again");
        let later = now + REFRESH_AFTER;
        assert!(health.ask(later));
        assert!(
            health.status(later + PROBE_WAIT / 2).writable,
            "still waiting"
        );
        let late = health.status(later + PROBE_WAIT * 2);
        assert!(!late.writable, "unanswered for too long");
        assert_eq!(late.checked_age, Some(PROBE_WAIT * 2));
        assert_eq!(late.counts.unwrap().pending, 3, "the counts are kept");
        // A probe the store refused.
        health.refreshed(None, false);
        assert!(!health.status(Instant::now()).writable);
    }

    #[test]
    fn a_lock_or_a_late_answer_is_unavailable_and_other_failures_are_not() {
        assert!(is_unavailable(&super::super::worker::late()));
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(is_unavailable(
            &anyhow::Error::new(busy).context("recording an intent")
        ));
        let elapsed = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(async {
                tokio::time::timeout(Duration::ZERO, std::future::pending::<()>()).await
            })
            .unwrap_err();
        assert!(is_unavailable(
            &anyhow::Error::new(elapsed).context("the database did not answer")
        ));
        assert!(!is_unavailable(&anyhow::anyhow!("an unreadable entry")));
    }
}
