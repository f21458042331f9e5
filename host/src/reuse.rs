//! Opt-in reuse of an instance for several safe bulk reads
//! ([`ReusePolicy`]): an [`InstancePool`] lives for one bulk run
//! ([`crate::sync_usage`]) and lends each eligible call an instance of the
//! same module version with the same effective settings, one call at a
//! time, at most [`ReusePolicy::max_calls`] calls, and throws it away after
//! anything unusual.
//!
//! A fresh instance per call is the host's isolation: nothing a guest
//! keeps (a static, a cache, a leaked buffer) outlives the call. Reuse
//! gives that up only where it cannot leak anything worth having: between
//! reads that carry no secret of their own, of one version of one module,
//! given identical settings (so one tenant's state never reaches another
//! tenant's call), and never for a call that changes anything, may mint
//! something (`OneTimeRead`) or is journaled.

use std::sync::{Arc, Mutex};

use tokio::sync::OwnedSemaphorePermit;
use wasmtime::Store;
use wasmtime::component::Instance;

use crate::bindings::types::{Setting, SettingKind};
use crate::module::LoadedModule;
use crate::request::{Effect, Request, function_effect};
use crate::store::CallState;

/// How many calls an instance may serve when bulk reads reuse instances
/// (see [`crate::SyncOptions::reuse`]). Off unless asked for.
///
/// ```
/// use provisioning_host::{ReusePolicy, SyncOptions};
///
/// let options = SyncOptions {
///     reuse: Some(ReusePolicy::default()),
///     ..SyncOptions::default()
/// };
/// assert_eq!(options.reuse.unwrap().max_calls, ReusePolicy::DEFAULT_MAX_CALLS);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReusePolicy {
    /// Calls one instance serves at most, the first included (at least 1;
    /// 1 is a fresh instance per call).
    pub max_calls: u32,
}

impl ReusePolicy {
    /// The default: small, so that whatever a guest keeps (or leaks) from
    /// one call to the next stays bounded, while the instantiation cost is
    /// already spread over enough calls to vanish.
    pub const DEFAULT_MAX_CALLS: u32 = 16;

    /// A policy of at most `max_calls` calls per instance (at least 1).
    pub fn new(max_calls: u32) -> ReusePolicy {
        ReusePolicy {
            max_calls: max_calls.max(1),
        }
    }
}

impl Default for ReusePolicy {
    fn default() -> ReusePolicy {
        ReusePolicy::new(ReusePolicy::DEFAULT_MAX_CALLS)
    }
}

/// Whether `request` with the caller's `call_settings` may run in a reused
/// instance: [`request_may_reuse`], and no setting of the call's own that
/// the module declares secret.
pub(crate) fn eligible(
    module: &LoadedModule,
    request: &Request,
    call_settings: &[Setting],
) -> bool {
    request_may_reuse(request)
        && !call_settings.iter().any(|setting| {
            module
                .info()
                .settings
                .iter()
                .any(|spec| spec.name == setting.name && spec.kind == SettingKind::Secret)
        })
}

/// Whether `request` itself allows a reused instance: a plain read
/// (effect [`Effect::Read`]: no change, nothing minted, never journaled)
/// that carries no password.
fn request_may_reuse(request: &Request) -> bool {
    function_effect(request.function()) == Effect::Read
        && !request.is_mutating()
        && request.secrets().is_empty()
}

/// The memory an instance may have after a reused call, given the peak
/// its first call (in a fresh instance) reached: half as much again, at
/// least one 64 KiB page more. A provider module's allocator reuses what a
/// call freed, so a steady guest stops growing after its first call and a
/// somewhat larger answer fits within the margin; growth beyond it means
/// something piles up from call to call (a leak, a cache, kept state),
/// which a fresh instance ends. A retirement too many costs one
/// instantiation, tens of microseconds; one too few lets a guest hoard.
pub(crate) fn memory_allowance(first_call_peak: usize) -> usize {
    first_call_peak + (first_call_peak / 2).max(64 << 10)
}

/// An instance that has served calls and may serve more, with its store,
/// what it was made for and the host call slot it holds.
pub(crate) struct Warm {
    module: Arc<LoadedModule>,
    settings: Vec<Setting>,
    pub(crate) store: Store<CallState>,
    pub(crate) instance: Instance,
    /// Calls served so far.
    calls: u32,
    /// The memory its first call reached (see [`memory_allowance`]).
    first_call_peak: usize,
    /// An idle instance keeps its slot: instances alive never exceed the
    /// host's call slots, and so its pool of instances.
    _slot: OwnedSemaphorePermit,
}

impl Warm {
    /// A fresh instance that has not served a call yet.
    pub(crate) fn new(
        module: Arc<LoadedModule>,
        settings: Vec<Setting>,
        store: Store<CallState>,
        instance: Instance,
        slot: OwnedSemaphorePermit,
    ) -> Warm {
        Warm {
            module,
            settings,
            store,
            instance,
            calls: 0,
            first_call_peak: 0,
            _slot: slot,
        }
    }

    /// Counts a call that ended normally (an answer, or the module's typed
    /// error) and tells whether the instance may serve another: not when it
    /// reached the policy's calls, asked for an origin it was not granted,
    /// filled its output or grew its memory unusually.
    fn may_serve_again(&mut self, policy: ReusePolicy) -> bool {
        self.calls += 1;
        let state = self.store.data();
        let memory = state.memory.peak_bytes();
        if self.calls == 1 {
            self.first_call_peak = memory;
        }
        self.calls < policy.max_calls
            && !state.denied_requests()
            && !state.output_exhausted()
            && !state.memory.memory_exhausted()
            && memory <= memory_allowance(self.first_call_peak)
    }
}

/// The instances one bulk run may reuse.
pub(crate) struct InstancePool {
    policy: ReusePolicy,
    /// Instances alive at most, lent and idle: the run's concurrency, so
    /// that idle instances (each holding a call slot) never keep a call of
    /// the run, or anyone's, from a slot beyond what the run would hold
    /// with fresh instances.
    capacity: usize,
    state: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    /// Longest idle first.
    idle: Vec<Warm>,
    /// Instances lent or idle, and leases about to make one.
    alive: usize,
}

/// One call's use of the pool: a warm instance, or room for a fresh one.
/// Dropped without [`Lease::give_back`], the instance is gone and its room
/// with it.
pub(crate) struct Lease<'p> {
    pool: &'p InstancePool,
    /// The instance when one matched.
    pub(crate) warm: Option<Warm>,
    /// Whether its instance went back to the pool, still alive.
    kept: bool,
}

impl InstancePool {
    /// An empty pool for a run of at most `capacity` calls at once.
    pub(crate) fn new(policy: ReusePolicy, capacity: usize) -> InstancePool {
        InstancePool {
            policy,
            capacity: capacity.max(1),
            state: Mutex::new(PoolState::default()),
        }
    }

    /// An idle instance of exactly this version of `module` made for
    /// exactly these `settings`, or room for a fresh one. Idle instances
    /// of another version of the module (a swap) are retired here, and
    /// the longest idle one when the pool is full.
    pub(crate) fn lease(&self, module: &Arc<LoadedModule>, settings: &[Setting]) -> Lease<'_> {
        let mut state = self.lock();
        let before = state.idle.len();
        state.idle.retain(|warm| {
            warm.module.name() != module.name() || Arc::ptr_eq(&warm.module, module)
        });
        let retired = before - state.idle.len();
        state.alive -= retired;
        if retired > 0 {
            tracing::debug!(module = %module.name(), retired, "reuse: instances of a replaced version retired");
        }
        let found = state
            .idle
            .iter()
            .rposition(|warm| Arc::ptr_eq(&warm.module, module) && warm.settings == settings);
        if let Some(index) = found {
            let warm = state.idle.remove(index);
            return Lease {
                pool: self,
                warm: Some(warm),
                kept: false,
            };
        }
        if state.alive >= self.capacity && !state.idle.is_empty() {
            // Another tenant's or module's instance makes room.
            state.idle.remove(0);
            state.alive -= 1;
        }
        state.alive += 1;
        Lease {
            pool: self,
            warm: None,
            kept: false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        // Only counting and moving instances happens under the lock.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Lease<'_> {
    /// Returns the instance after a call that ended normally, for the next
    /// call, unless it may not serve again (then it is dropped).
    pub(crate) fn give_back(mut self, mut warm: Warm) {
        if !warm.may_serve_again(self.pool.policy) {
            tracing::debug!(module = %warm.module.name(), calls = warm.calls, "reuse: instance retired");
            return;
        }
        self.pool.lock().idle.push(warm);
        // Its room stays counted: the instance is idle, not gone.
        self.kept = true;
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.pool.lock().alive -= 1;
        }
    }
}

/// The settings a pooled instance is keyed by, never shown: they may hold
/// the module's secrets.
impl std::fmt::Debug for Warm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warm")
            .field("module", &self.module.name())
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::Service;

    fn service(password: Option<&str>) -> Service {
        Service {
            service_id: "s-1".into(),
            remote_id: None,
            domain: None,
            username: None,
            password: password.map(str::to_owned),
            package: None,
            billing_cycle: None,
            client: None,
            custom_fields: Vec::new(),
        }
    }

    #[test]
    fn only_plain_reads_without_a_password_may_reuse_an_instance() {
        assert!(request_may_reuse(&Request::UsageData {
            service: service(None)
        }));
        assert!(request_may_reuse(&Request::ListAccounts));
        assert!(
            !request_may_reuse(&Request::UsageData {
                service: service(Some("Pw-1"))
            }),
            "a password"
        );
        assert!(
            !request_may_reuse(&Request::SingleSignOn {
                service: service(None),
                app: None
            }),
            "a one-time read"
        );
        for change in [
            Request::CreateAccount {
                service: service(None),
            },
            Request::Terminate {
                service: service(None),
            },
            Request::ChangePassword {
                service: service(None),
                new_password: "Pw-2".into(),
            },
        ] {
            assert!(!request_may_reuse(&change), "{change:?}");
        }
    }

    #[test]
    fn the_memory_allowance_is_half_again_and_at_least_a_page() {
        assert_eq!(memory_allowance(2 << 20), 3 << 20);
        assert_eq!(memory_allowance(64 << 10), 128 << 10);
        assert_eq!(memory_allowance(0), 64 << 10);
    }

    #[test]
    fn a_policy_serves_at_least_one_call() {
        assert_eq!(ReusePolicy::new(0).max_calls, 1);
        assert_eq!(ReusePolicy::default().max_calls, 16);
    }
}
