//! The journal's key: which key a journal is sealed under, checked when a
//! host opens it, and its rotation (`provisioning journal rekey`).
//!
//! A journal stores the check value of its key ([`Sealer::check_value`]:
//! an HMAC of a fixed label under a subkey of the key, never the key) and,
//! after a rotation, the check value of the key it replaced and when. A
//! host opened with another key refuses to start, saying whether it was
//! given the journal's previous key or an unrelated one. A journal with no
//! check value yet (made before they were kept) adopts the first key it is
//! opened with, unless that key cannot open the credentials it holds.
//!
//! Request digests (which tell a replayed idempotency key's request from
//! another one) are made with a digest key derived from the journal's
//! first key, and the journal keeps that digest key for good: a rotation
//! stores it sealed under the new key, and a host opened with the new key
//! unseals it. Digests are never recomputed (the journal does not have the
//! requests in the clear), so every digest on record stays valid and a key
//! replayed after a rotation is still recognised as the same request.

use anyhow::{Context, anyhow};

use super::record::EntryId;
use super::seal::Sealer;
use super::store::JournalStore;

/// What the journal's digest key is bound to when sealed.
pub(super) const DIGEST_KEY_CONTEXT: &[u8] = b"provisioning journal digest key";

/// Why a journal refused the key it was opened with. The messages name no
/// key and no check value.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key the journal had before its last rotation.
    #[error(
        "this is the journal's previous key, replaced on {}: use the new one (the key `provisioning journal rekey` was given)",
        replaced_on_ref(.replaced_at_ms)
    )]
    PreviousKey {
        /// When it was replaced (Unix milliseconds), if known.
        replaced_at_ms: Option<i64>,
    },
    /// Neither the journal's key nor the one it replaced.
    #[error(
        "wrong journal key: this journal is sealed under another key (neither its current key nor the one it replaced); give the key it is sealed under (a new key is brought in only by `provisioning journal rekey`)"
    )]
    OtherKey,
    /// A journal with no key on record yet holds credentials this key
    /// cannot open: it was sealed under another key.
    #[error(
        "wrong journal key: it cannot open the credentials sealed in journal entry {0}; give the key this journal was used with"
    )]
    CannotOpen(EntryId),
}

/// Why [`super::Journal::rekey`] did nothing.
#[derive(Debug, thiserror::Error)]
pub enum RekeyError {
    /// Calls are running on live hosts: their outcomes would be sealed
    /// under the old key.
    #[error(
        "journal entries {} are still running on a live host: wait until they have ended (`provisioning journal pending`), then rekey",
        ids(.0)
    )]
    InFlight(Vec<EntryId>),
    /// The journal's key is no longer the one this journal was opened with
    /// (another rotation came first).
    #[error(
        "the journal's key is not the key given for it (rotated meanwhile?): nothing was changed"
    )]
    KeyMismatch,
    /// The new key is the journal's key already.
    #[error("the new key is the journal's key already: nothing to do")]
    SameKey,
    /// The new key is not a key, or the store failed: nothing was changed.
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

/// What a rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RekeyReport {
    /// Sealed credentials re-sealed under the new key.
    pub resealed: usize,
    /// When the old key was replaced (Unix milliseconds).
    pub replaced_at_ms: i64,
}

impl RekeyReport {
    /// When the old key was replaced, as `YYYY-MM-DD HH:MM UTC`.
    pub fn replaced_on(&self) -> String {
        replaced_on(Some(self.replaced_at_ms))
    }
}

fn ids(ids: &[EntryId]) -> String {
    ids.iter()
        .map(EntryId::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks `sealer`'s key against the journal's (adopting it for a journal
/// with no key on record) and returns the sealer making the journal's
/// request digests.
pub(super) fn admit(store: &dyn JournalStore, sealer: Sealer) -> anyhow::Result<Sealer> {
    let record = match store.key_record()? {
        Some(record) => record,
        None => {
            check_opens_sealed(store, &sealer)?;
            store.adopt_key(sealer.check_value())?
        }
    };
    if record.check != sealer.check_value() {
        if record.previous_check.as_deref() == Some(sealer.check_value()) {
            return Err(KeyError::PreviousKey {
                replaced_at_ms: record.replaced_at_ms,
            }
            .into());
        }
        return Err(KeyError::OtherKey.into());
    }
    let Some(sealed) = record.sealed_digest_key else {
        return Ok(sealer);
    };
    let digest_key: [u8; 32] = sealer
        .open(&sealed, DIGEST_KEY_CONTEXT)
        .context("opening the journal's digest key")?
        .try_into()
        .map_err(|_| anyhow!("the journal's digest key is damaged"))?;
    Ok(sealer.with_digest_key(digest_key))
}

/// Fails when the journal holds sealed credentials `sealer` cannot open.
fn check_opens_sealed(store: &dyn JournalStore, sealer: &Sealer) -> anyhow::Result<()> {
    let sealed = store.pending()?.into_iter().find_map(|entry| {
        let sealed = entry.outcome?.sealed_credentials?;
        Some((entry.id, sealed))
    });
    match sealed {
        Some((id, sealed)) if sealer.open(&sealed, &super::seal_context(id)).is_err() => {
            Err(KeyError::CannotOpen(id).into())
        }
        _ => Ok(()),
    }
}

fn replaced_on_ref(ms: &Option<i64>) -> String {
    replaced_on(*ms)
}

/// A moment as `YYYY-MM-DD HH:MM UTC`.
fn replaced_on(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "an unrecorded date".to_string();
    };
    let seconds = ms.div_euclid(1000);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(replaced_on(Some(0)), "1970-01-01 00:00 UTC");
        // 2024-02-29 13:05:59 UTC, a leap day.
        assert_eq!(replaced_on(Some(1_709_211_959_000)), "2024-02-29 13:05 UTC");
        assert_eq!(replaced_on(Some(1_735_689_600_000)), "2025-01-01 00:00 UTC");
        assert_eq!(replaced_on(None), "an unrecorded date");
    }
}
