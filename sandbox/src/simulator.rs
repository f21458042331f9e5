//! What every provider simulator is made of: its origin, its state behind a
//! lock, its fault queue, and its API route behind the fault layer.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::handler::Handler;
use axum::middleware::from_fn_with_state;
use axum::routing::any;

use crate::fault::{self, FaultInjector};

/// The parts a simulator's handle shares between its clones.
#[derive(Debug)]
pub(crate) struct Core<S> {
    origin: String,
    state: Mutex<S>,
    faults: FaultInjector,
}

impl<S: Default> Core<S> {
    /// Fresh state, no pending fault; `origin` is where the sandbox serves.
    pub(crate) fn new(origin: impl Into<String>) -> Arc<Core<S>> {
        Arc::new(Core {
            origin: origin.into(),
            state: Mutex::new(S::default()),
            faults: FaultInjector::new(),
        })
    }
}

impl<S> Core<S> {
    /// `http://IP:PORT` of the sandbox.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// The simulator's state (a handler panicking mid-update is a bug in
    /// the simulator, so a poisoned lock may panic too).
    pub(crate) fn lock(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap()
    }

    /// The fault queue in front of the API.
    pub(crate) fn faults(&self) -> &FaultInjector {
        &self.faults
    }
}

/// The provider's API at `path`, answered by `handler` for every method (so
/// a wrong method gets the provider's own error, not axum's) and faulted on
/// demand like any other request.
pub(crate) fn api_route<H, T, St>(
    path: &str,
    handler: H,
    state: St,
    faults: &FaultInjector,
) -> Router
where
    H: Handler<T, St>,
    T: 'static,
    St: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(path, any(handler))
        .with_state(state)
        .route_layer(from_fn_with_state(faults.clone(), fault::middleware))
}
