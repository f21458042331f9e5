//! The journal's decisions, once for every store: pure functions over
//! what a store read of an entry (or of its key record) inside the
//! transaction that writes it. A store reads the rows, asks here, and
//! writes what the answer says; it decides nothing itself.
//!
//! What `begin` does with an entry already under the key (a replay, a
//! conflict, a wait) is decided above the store, once, in
//! `super::admission`; the store only says which entry holds the key.

use super::record::{Acknowledged, Acknowledgement, EntryId, attempt_over, running};
use super::store::{Finished, KeyRecord, Rekeyed};
use super::usage_claims::{RunService, UsageClaim};

/// What a store read of an entry in the transaction that records its
/// outcome, for [`decide_finish`] (`row::FENCE_COLUMNS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fence {
    /// The host that began the call.
    pub owner: Option<String>,
    /// Whether an outcome is recorded already.
    pub finished: bool,
    /// Whether the entry is acknowledged.
    pub acknowledged: bool,
    /// Whether a finding (reconcile's or an operator's) decided it.
    pub resolved: bool,
}

/// Whether `owner` may record the outcome of the entry found as `found`
/// (`None`: there is no such entry): only its own entry, only once, and
/// never one decided meanwhile. The one rule of
/// [`super::JournalStore::finish`], for every store.
pub(crate) fn decide_finish(found: Option<&Fence>, owner: &str) -> Finished {
    match found {
        Some(entry)
            if entry.owner.as_deref() == Some(owner)
                && !entry.finished
                && !entry.acknowledged
                && !entry.resolved =>
        {
            Finished::Recorded
        }
        _ => Finished::Fenced,
    }
}

/// Why a key rotation from `current_check` may not start, if it may not:
/// the journal's key (`record`, as read in the rotation's transaction) is
/// another, or these entries are running on a live host (`in_flight`, as
/// read there). The one rule of [`super::JournalStore::rekey`], for every
/// store.
pub(crate) fn refused_rekey(
    record: Option<&KeyRecord>,
    current_check: &str,
    in_flight: Vec<EntryId>,
) -> Option<Rekeyed> {
    if record.is_none_or(|record| record.check != current_check) {
        return Some(Rekeyed::KeyMismatch);
    }
    if !in_flight.is_empty() {
        return Some(Rekeyed::InFlight(in_flight));
    }
    None
}

/// What a store read of an entry in the transaction that acknowledges
/// it, for [`refused_acknowledgement`].
pub(crate) struct Checked {
    /// Whether an outcome is recorded, and if so whether it succeeded.
    pub succeeded: Option<bool>,
    /// Whether the recorded outcome leaves the provider's state unknown.
    pub uncertain: bool,
    /// The owning host's lease.
    pub lease_until_ms: Option<i64>,
    /// Whether the entry is acknowledged already.
    pub acknowledged: bool,
    /// The attempt's deadline.
    pub attempt_deadline_ms: Option<i64>,
    /// The store's clock.
    pub now_ms: i64,
}

/// Why `ack` may not be applied to an entry found as `found`, if it may
/// not: the one rule of [`JournalStore::acknowledge`], for every store.
pub(crate) fn refused_acknowledgement(
    ack: &Acknowledgement,
    found: Checked,
) -> Option<Acknowledged> {
    if found.acknowledged {
        return Some(Acknowledged::NotPending);
    }
    if running(
        found.succeeded.is_some(),
        found.lease_until_ms,
        found.now_ms,
    ) {
        return Some(Acknowledged::InFlight);
    }
    // A plain acknowledgement is no decision: the outcome is on record.
    ack.resolution.as_ref()?;
    // A finding decides an unknown outcome: never one known meanwhile, and
    // never while the attempt may still reach the provider.
    if found.succeeded.is_some() && !found.uncertain {
        return Some(Acknowledged::OutcomeKnown);
    }
    match found.attempt_deadline_ms {
        Some(until_ms) if !attempt_over(Some(until_ms), found.now_ms) => {
            Some(Acknowledged::AttemptRunning { until_ms })
        }
        _ => None,
    }
}

/// What a claim took: the services it claimed (each with how many times
/// it had been claimed before: once claimed, a service is claimed again
/// only after its claim's lease ran out, so it was taken over from a host
/// that died or stalled), and how many other services of the run are
/// under a live claim. For [`super::JournalStore::claim_usage`], every
/// store.
pub(crate) fn usage_claim(claimed: Vec<(RunService, i64)>, held_by_others: i64) -> UsageClaim {
    UsageClaim {
        taken_over: claimed.iter().filter(|(_, times)| *times > 0).count(),
        services: claimed.into_iter().map(|(service, _)| service).collect(),
        in_progress: usize::try_from(held_by_others).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::{Finding, Resolution};
    use super::*;

    const NOW: i64 = 10_000;

    fn fence(owner: &str) -> Fence {
        Fence {
            owner: Some(owner.into()),
            finished: false,
            acknowledged: false,
            resolved: false,
        }
    }

    #[test]
    fn only_the_owner_finishes_an_undecided_entry_once() {
        assert_eq!(
            decide_finish(Some(&fence("a:1")), "a:1"),
            Finished::Recorded
        );
        assert_eq!(decide_finish(Some(&fence("b:2")), "a:1"), Finished::Fenced);
        assert_eq!(decide_finish(None, "a:1"), Finished::Fenced);
        let ownerless = Fence {
            owner: None,
            ..fence("a:1")
        };
        assert_eq!(decide_finish(Some(&ownerless), "a:1"), Finished::Fenced);
        for decided in [
            Fence {
                finished: true,
                ..fence("a:1")
            },
            Fence {
                acknowledged: true,
                ..fence("a:1")
            },
            Fence {
                resolved: true,
                ..fence("a:1")
            },
        ] {
            assert_eq!(
                decide_finish(Some(&decided), "a:1"),
                Finished::Fenced,
                "a decided entry stays decided: {decided:?}"
            );
        }
    }

    fn record(check: &str) -> KeyRecord {
        KeyRecord {
            check: check.into(),
            previous_check: None,
            replaced_at_ms: None,
            sealed_digest_key: None,
        }
    }

    #[test]
    fn a_rotation_starts_from_the_journals_key_with_nothing_in_flight() {
        assert_eq!(refused_rekey(Some(&record("k1")), "k1", vec![]), None);
        assert_eq!(
            refused_rekey(Some(&record("k2")), "k1", vec![]),
            Some(Rekeyed::KeyMismatch)
        );
        assert_eq!(
            refused_rekey(None, "k1", vec![]),
            Some(Rekeyed::KeyMismatch),
            "a journal with no key on record is no journal of this key"
        );
        assert_eq!(
            refused_rekey(Some(&record("k2")), "k1", vec![3]),
            Some(Rekeyed::KeyMismatch),
            "the key is checked first"
        );
        assert_eq!(
            refused_rekey(Some(&record("k1")), "k1", vec![3, 5]),
            Some(Rekeyed::InFlight(vec![3, 5]))
        );
    }

    #[test]
    fn a_service_claimed_before_was_taken_over() {
        let service = |id: &str| RunService {
            key: super::super::usage_claims::UsageServiceKey {
                module: "m".into(),
                service_id: id.into(),
            },
            job: "{}".into(),
        };
        let claim = usage_claim(vec![(service("a"), 0), (service("b"), 2)], 3);
        assert_eq!(claim.services, vec![service("a"), service("b")]);
        assert_eq!(claim.taken_over, 1);
        assert_eq!(claim.in_progress, 3);
        assert_eq!(usage_claim(vec![], -1).in_progress, 0);
    }

    fn checked() -> Checked {
        Checked {
            succeeded: None,
            uncertain: false,
            lease_until_ms: None,
            acknowledged: false,
            attempt_deadline_ms: Some(NOW - 1),
            now_ms: NOW,
        }
    }

    fn plain() -> Acknowledgement {
        Acknowledgement {
            resolution: None,
            outcome: None,
            release_key: false,
        }
    }

    fn finding() -> Acknowledgement {
        Acknowledgement {
            resolution: Some(Resolution {
                finding: Finding::NotDone,
                note: None,
            }),
            outcome: None,
            release_key: true,
        }
    }

    #[test]
    fn an_acknowledgement_waits_for_the_call_and_a_finding_for_its_attempt() {
        let answered = Checked {
            succeeded: Some(true),
            ..checked()
        };
        assert_eq!(refused_acknowledgement(&plain(), answered), None);
        let acknowledged = Checked {
            acknowledged: true,
            ..checked()
        };
        assert_eq!(
            refused_acknowledgement(&plain(), acknowledged),
            Some(Acknowledged::NotPending)
        );
        let running = Checked {
            lease_until_ms: Some(NOW + 1),
            ..checked()
        };
        assert_eq!(
            refused_acknowledgement(&plain(), running),
            Some(Acknowledged::InFlight)
        );
        let known = Checked {
            succeeded: Some(false),
            ..checked()
        };
        assert_eq!(
            refused_acknowledgement(&finding(), known),
            Some(Acknowledged::OutcomeKnown)
        );
        let uncertain = Checked {
            succeeded: Some(false),
            uncertain: true,
            ..checked()
        };
        assert_eq!(refused_acknowledgement(&finding(), uncertain), None);
        let attempt_running = Checked {
            attempt_deadline_ms: Some(NOW + 5),
            ..checked()
        };
        assert_eq!(
            refused_acknowledgement(&finding(), attempt_running),
            Some(Acknowledged::AttemptRunning { until_ms: NOW + 5 })
        );
        assert_eq!(
            refused_acknowledgement(&plain(), checked()),
            None,
            "a host that stopped: its lease ran out"
        );
    }
}
