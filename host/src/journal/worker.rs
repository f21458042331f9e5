//! The journal's own thread: every store operation runs here, one after
//! another, never on an async runtime's threads. A store that blocks (a
//! SQLite file locked by another process, a database that is slow) then
//! delays journal operations only: health checks and calls that need no
//! journal go on. Callers wait for an answer no longer than their own
//! deadline; an operation whose caller has given up before it started is
//! not run at all.
//!
//! The thread also keeps the leases of this host's running calls: it
//! renews them while the calls run, so that another process reading the
//! journal can tell a call still running from one whose host is gone.
//!
//! A job's deadline also bounds the waits inside it: a store that waits
//! for a lock asks [`job_deadline`] how long it may (SQLite's busy
//! handler), so that waits for a locked file do not add up past it.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use tokio::sync::oneshot;

use super::health::Health;
use super::record::EntryId;
use super::store::JournalStore;

thread_local! {
    /// The deadline of the job running on this thread, if it has one.
    static JOB_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The deadline of the job the journal's thread is running, when called
/// from it during a job that has one: a store's waits for a lock end
/// there.
pub(crate) fn job_deadline() -> Option<Instant> {
    JOB_DEADLINE.with(Cell::get)
}

/// Runs `work` with `deadline` as this thread's [`job_deadline`].
fn within<T>(deadline: Option<Instant>, work: impl FnOnce() -> T) -> T {
    let outer = JOB_DEADLINE.with(|cell| cell.replace(deadline));
    let done = work();
    JOB_DEADLINE.with(|cell| cell.set(outer));
    done
}

/// What a job runs with.
pub(crate) struct Context<'a> {
    /// The store.
    pub store: &'a dyn JournalStore,
    /// Entries of this host still running, whose leases the thread renews.
    pub running: &'a mut BTreeSet<EntryId>,
    /// The lease a new or renewed entry gets, from now.
    pub lease: Duration,
}

/// A job: called with the context, or with `None` when its deadline
/// passed before the thread came to it (it must then only report that).
type Job = Box<dyn FnOnce(Option<&mut Context<'_>>) + Send>;

/// The handle to the journal's thread; the thread ends when the last
/// handle is dropped, after the jobs already sent.
#[derive(Clone)]
pub(crate) struct Worker {
    jobs: Sender<(Option<Instant>, Job)>,
    /// What the journal was last seen to do, for observability.
    health: Arc<Health>,
}

impl Worker {
    /// Starts the thread over `store`, giving running entries leases of
    /// `lease`.
    pub fn spawn(store: Arc<dyn JournalStore>, lease: Duration) -> anyhow::Result<Worker> {
        let (jobs, queue) = channel();
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || serve(store.as_ref(), lease, queue))
            .map_err(|error| anyhow!("starting the journal's thread: {error}"))?;
        Ok(Worker {
            jobs,
            health: Arc::default(),
        })
    }

    /// What the journal was last seen to do.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// Sends a job to run before `deadline` without waiting for it (it is
    /// called with `None` when the thread comes to it later).
    pub fn submit_by(
        &self,
        deadline: Instant,
        job: impl FnOnce(Option<&mut Context<'_>>) + Send + 'static,
    ) {
        // A send fails only once the thread is gone, with the process.
        let _ = self.jobs.send((Some(deadline), Box::new(job)));
    }

    /// Sends a job without waiting for it (from `Drop`, say).
    pub fn submit(&self, job: impl FnOnce(Option<&mut Context<'_>>) + Send + 'static) {
        // A send fails only once the thread is gone, with the process.
        let _ = self.jobs.send((None, Box::new(job)));
    }

    /// Runs `operation` on the thread and waits for its result, until
    /// `deadline` at most (`None`: as long as it takes). Past the deadline,
    /// or when the thread has gone, an error says so; an operation that
    /// had not started by then is not run.
    pub async fn run<T: Send + 'static>(
        &self,
        deadline: Option<Instant>,
        operation: impl FnOnce(&mut Context<'_>) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |context| {
            let result = match context {
                // Failed at its deadline: for want of time (a lock waited
                // for until then), whatever the store said.
                Some(context) => operation(context).map_err(|error| {
                    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                        error.context(Unavailable)
                    } else {
                        error
                    }
                }),
                None => Err(late()),
            };
            let _ = reply.send(result);
        });
        self.wait(deadline, job, answer).await
    }

    /// Sends `job` (which answers through `answer`'s sender) and waits.
    pub async fn wait<T>(
        &self,
        deadline: Option<Instant>,
        job: Job,
        answer: oneshot::Receiver<anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        self.jobs
            .send((deadline, job))
            .map_err(|_| anyhow!("the journal's thread has stopped"))?;
        let answered = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), answer)
                .await
                .map_err(|_| late())?,
            None => answer.await,
        };
        answered.map_err(|_| anyhow!("the journal's thread stopped before answering"))?
    }
}

/// The journal did not answer within its caller's deadline: its file
/// locked, its database slow or unreachable, or its thread busy with
/// operations that are. Nothing was done, or nothing is known to have
/// been; asking again later may succeed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "the journal did not answer within the call's deadline (is its file locked, or its database slow?)"
)]
pub struct Unavailable;

/// The error of an operation that did not finish within its caller's
/// deadline ([`Unavailable`]).
pub(crate) fn late() -> anyhow::Error {
    anyhow::Error::new(Unavailable)
}

/// The thread's loop: jobs in order, leases renewed in between.
fn serve(store: &dyn JournalStore, lease: Duration, queue: Receiver<(Option<Instant>, Job)>) {
    let mut running = BTreeSet::new();
    // Renewing at a third of the lease leaves two chances to renew before
    // anyone may take the host for gone.
    let renew_every = (lease / 3).max(Duration::from_millis(10));
    let mut next_renewal = Instant::now() + renew_every;
    loop {
        let wait = next_renewal.saturating_duration_since(Instant::now());
        match queue.recv_timeout(wait) {
            Ok((deadline, job)) => {
                let mut context = Context {
                    store,
                    running: &mut running,
                    lease,
                };
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    job(None);
                } else {
                    within(deadline, || job(Some(&mut context)));
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if Instant::now() >= next_renewal {
            if !running.is_empty() {
                let ids: Vec<EntryId> = running.iter().copied().collect();
                // Not waiting for a locked file longer than until the next
                // renewal: the jobs behind wait meanwhile.
                let renewed = within(Some(Instant::now() + renew_every), || {
                    store.renew(&ids, lease)
                });
                if let Err(error) = renewed {
                    tracing::warn!(
                        entries = ids.len(),
                        "renewing the leases of running calls failed: {error:#}"
                    );
                }
            }
            next_renewal = Instant::now() + renew_every;
        }
    }
}
