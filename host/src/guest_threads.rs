//! The threads guest code runs on: a tokio runtime of the host's own,
//! apart from the caller's.
//!
//! A guest computes without awaiting anything; while it does, it holds the
//! thread it runs on. Guests computing on every thread of the caller's
//! runtime would leave nothing to accept connections, answer health checks,
//! talk to the journal or run other modules' calls (a looping guest per CPU
//! once froze `provisioning serve` until their deadlines). So every call's
//! guest work runs here, and it yields at each epoch tick
//! ([`crate::store::call_store`]): looping guests share these threads with
//! each other and with other calls, and the caller's threads stay free.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::Context as _;
use tokio::runtime::{Builder, Runtime};
use tokio::task::{JoinError, JoinHandle};

/// The runtime guest work runs on.
pub(crate) struct GuestThreads {
    /// Always `Some` until dropped; taken in `drop` to shut it down
    /// without waiting (a host may be dropped inside another runtime).
    runtime: Option<Runtime>,
}

impl GuestThreads {
    /// Starts `threads` threads (at least one) for guest work.
    pub(crate) fn start(threads: usize) -> anyhow::Result<GuestThreads> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("provisioning-guest")
            .on_thread_start(guest_thread_started)
            .enable_all()
            .build()
            .context("starting the threads that run guest code")?;
        Ok(GuestThreads {
            runtime: Some(runtime),
        })
    }

    /// Runs `work` on the guest threads and waits for it; dropping the
    /// returned future stops the work at its next await (a guest's next
    /// epoch tick at the latest).
    pub(crate) fn run<F>(&self, work: F) -> GuestWork<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let runtime = self.runtime.as_ref().expect("running until dropped");
        GuestWork(runtime.spawn(work))
    }
}

impl Drop for GuestThreads {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Guest work running on the [`GuestThreads`]; aborted when dropped.
pub(crate) struct GuestWork<T>(JoinHandle<T>);

impl<T> Future for GuestWork<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(context)
    }
}

impl<T> Drop for GuestWork<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs first on every guest thread. Its name marks the thread's work in
/// an instruction count (`benches/host/callgrind.rs` counts the calling
/// thread and the threads that ran this).
#[inline(never)]
pub(crate) fn guest_thread_started() {
    std::hint::black_box(());
}
