//! Every [`JournalStore`] method once, for every store: open a
//! transaction of rows (`super::rows`), read, ask `super::rules`, write,
//! commit. A store implements [`RowStore`] only; how it differs (its SQL,
//! its locks, its clock) is in its row operations.

use std::time::Duration;

use anyhow::bail;

use super::record::{Acknowledged, Acknowledgement, Begun, CallOutcome, Entry, EntryId, Intent};
use super::row::{AcknowledgementColumns, OutcomeColumns};
use super::rows::{RowStore, Rows, Selection, Unit};
use super::rules::{decide_finish, refused_acknowledgement, refused_rekey, usage_claim};
use super::store::{
    Finished, JournalStore, KeyRecord, Rekey, Rekeyed, key_record_from, key_record_rows, meta,
};
use super::usage_claims::{RunService, UsageClaim, UsageServiceKey};

/// How many times `begin` tries when the key changes hands between its
/// insert and its read (released meanwhile).
const BEGIN_TRIES: usize = 3;

impl<S: RowStore> JournalStore for S {
    fn begin(
        &self,
        intent: &Intent,
        owner: &str,
        lease: Duration,
        attempt: Duration,
    ) -> anyhow::Result<Begun> {
        self.run("recording a call's intent", async {
            let mut rows = self.rows(Unit::Writes).await?;
            for _ in 0..BEGIN_TRIES {
                // The unique index decides between this insert and another
                // host's; the loser reads the winner's entry.
                if let Some(id) = rows.insert_intent(intent, owner, lease, attempt).await? {
                    rows.commit().await?;
                    return Ok(Begun::Started(id));
                }
                let selection = Selection::Key {
                    module: &intent.module,
                    key: &intent.idempotency_key,
                };
                if let Some(existing) = rows.entries(selection).await?.pop() {
                    return Ok(Begun::Existing(existing));
                }
                // The key was released between the two: again.
            }
            bail!("the idempotency key kept changing hands")
        })
    }

    fn finish(&self, id: EntryId, owner: &str, outcome: &CallOutcome) -> anyhow::Result<Finished> {
        let columns = OutcomeColumns::of(outcome)?;
        self.run("recording a call's outcome", async {
            let mut rows = self.rows(Unit::Decision).await?;
            let decided = decide_finish(rows.fence(id).await?.as_ref(), owner);
            if decided == Finished::Recorded {
                let sealed = outcome.sealed_credentials.as_deref();
                rows.write_outcome(id, &columns, sealed).await?;
                rows.commit().await?;
            }
            Ok(decided)
        })
    }

    fn renew(&self, ids: &[EntryId], lease: Duration) -> anyhow::Result<()> {
        self.run("renewing leases", async {
            let mut rows = self.rows(Unit::Writes).await?;
            rows.renew_leases(ids, lease).await?;
            rows.commit().await
        })
    }

    fn get(&self, id: EntryId) -> anyhow::Result<Option<Entry>> {
        Ok(read(self, "reading a journal entry", Selection::Id(id))?.pop())
    }

    fn pending(&self) -> anyhow::Result<Vec<Entry>> {
        read(self, "reading the pending entries", Selection::Pending)
    }

    fn pending_of(&self, module: &str, service_id: &str) -> anyhow::Result<Vec<Entry>> {
        let selection = Selection::PendingOf { module, service_id };
        read(self, "reading a service's pending entries", selection)
    }

    fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        read(self, "reading the journal's entries", Selection::All)
    }

    fn last_succeeded(
        &self,
        module: &str,
        service_id: &str,
        function: &str,
    ) -> anyhow::Result<Option<Entry>> {
        let selection = Selection::LastSucceeded {
            module,
            service_id,
            function,
        };
        Ok(read(self, "reading a service's last success", selection)?.pop())
    }

    fn acknowledge(&self, id: EntryId, ack: &Acknowledgement) -> anyhow::Result<Acknowledged> {
        let written = AcknowledgementColumns::of(ack)?;
        self.run("acknowledging a journal entry", async {
            let mut rows = self.rows(Unit::Decision).await?;
            let Some(found) = rows.checked(id).await? else {
                return Ok(Acknowledged::NotPending);
            };
            let now_ms = found.now_ms;
            if let Some(refused) = refused_acknowledgement(ack, found) {
                return Ok(refused);
            }
            rows.write_acknowledgement(id, &written, now_ms).await?;
            rows.commit().await?;
            Ok(Acknowledged::Yes)
        })
    }

    fn release_key(&self, id: EntryId) -> anyhow::Result<()> {
        self.run("releasing an idempotency key", async {
            let mut rows = self.rows(Unit::Writes).await?;
            rows.release_key(id).await?;
            rows.commit().await
        })
    }

    fn check_writable(&self) -> anyhow::Result<()> {
        self.run("checking that the journal takes writes", async {
            let mut rows = self.rows(Unit::Writes).await?;
            rows.probe_write().await?;
            rows.commit().await
        })
    }

    fn register_usage_run(
        &self,
        run: &str,
        services: &[RunService],
        forget_after: Duration,
    ) -> anyhow::Result<usize> {
        self.run("registering a usage run", async {
            let mut rows = self.rows(Unit::UsageRuns).await?;
            rows.forget_usage_runs(forget_after).await?;
            rows.add_usage_services(run, services).await?;
            let count = rows.usage_services(run).await?;
            rows.commit().await?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
    }

    fn claim_usage(
        &self,
        run: &str,
        owner: &str,
        limit: usize,
        lease: Duration,
    ) -> anyhow::Result<UsageClaim> {
        self.run("claiming usage services", async {
            let mut rows = self.rows(Unit::Writes).await?;
            let claimed = rows.claim_usage_services(run, owner, limit, lease).await?;
            // Counted after the claim: this host's new claims are live now.
            let held = rows.held_usage_services(run).await?;
            rows.commit().await?;
            let held_by_others = held.saturating_sub(i64::try_from(claimed.len())?);
            Ok(usage_claim(claimed, held_by_others))
        })
    }

    fn renew_usage_claims(
        &self,
        run: &str,
        owner: &str,
        services: &[UsageServiceKey],
        lease: Duration,
    ) -> anyhow::Result<()> {
        self.run("renewing usage claims", async {
            let mut rows = self.rows(Unit::Writes).await?;
            rows.renew_usage_claims(run, owner, services, lease).await?;
            rows.commit().await
        })
    }

    fn finish_usage(&self, run: &str, services: &[UsageServiceKey]) -> anyhow::Result<()> {
        self.run("marking usage services done", async {
            let mut rows = self.rows(Unit::Writes).await?;
            rows.finish_usage_services(run, services).await?;
            rows.commit().await
        })
    }

    fn purge_acknowledged(
        &self,
        acknowledged_before_ms: i64,
        at_most: usize,
    ) -> anyhow::Result<usize> {
        self.run("purging acknowledged entries", async {
            let mut rows = self.rows(Unit::Writes).await?;
            let deleted = rows.purge(acknowledged_before_ms, at_most).await?;
            rows.commit().await?;
            Ok(deleted)
        })
    }

    fn key_record(&self) -> anyhow::Result<Option<KeyRecord>> {
        self.run("reading the journal's key record", async {
            let mut rows = self.rows(Unit::Reads).await?;
            key_record_from(rows.meta().await?)
        })
    }

    fn adopt_key(&self, check: &str) -> anyhow::Result<KeyRecord> {
        self.run("recording the journal's key", async {
            let mut rows = self.rows(Unit::Writes).await?;
            // Another host may have been first: its key stays.
            rows.add_meta(meta::KEY_CHECK, check).await?;
            let record = key_record_from(rows.meta().await?)?;
            rows.commit().await?;
            record.ok_or_else(|| anyhow::anyhow!("the journal's key record disappeared"))
        })
    }

    fn rekey(&self, rekey: &Rekey) -> anyhow::Result<Rekeyed> {
        self.run("rotating the journal's key", async {
            let mut rows = self.rows(Unit::Journal).await?;
            let record = key_record_from(rows.meta().await?)?;
            let in_flight = rows.in_flight().await?;
            if let Some(refused) = refused_rekey(record.as_ref(), &rekey.current_check, in_flight) {
                return Ok(refused);
            }
            // A record that fails to re-seal returns early: the transaction
            // is rolled back and nothing changes.
            let sealed = rows.sealed_records().await?;
            for (id, record) in &sealed {
                let resealed = (rekey.reseal)(*id, record)?;
                rows.write_sealed(*id, &resealed).await?;
            }
            for (name, value) in key_record_rows(&rekey.new) {
                rows.set_meta(name, value.as_deref()).await?;
            }
            rows.commit().await?;
            Ok(Rekeyed::Done {
                resealed: sealed.len(),
            })
        })
    }
}

/// The entries `selection` names, read on their own.
fn read<S: RowStore>(
    store: &S,
    what: &'static str,
    selection: Selection<'_>,
) -> anyhow::Result<Vec<Entry>> {
    store.run(what, async {
        store.rows(Unit::Reads).await?.entries(selection).await
    })
}
