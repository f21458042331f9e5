//! One call of a module: built once ([`Call::new`]: the caller's settings
//! checked, its redactor, deadline, pacing and reuse fixed) and run on the
//! guest threads ([`Call::run`]), each attempt after its turn under the
//! module's rate limit, in a fresh store (or an instance a bulk run
//! reuses) within the module's bounds. Whatever happens becomes a
//! [`Response`] or a typed [`CallError`]; a safe read is tried again after
//! a transient failure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;
use tokio::time::error::Elapsed;
use tracing::Instrument;
use wasmtime::component::Instance;
use wasmtime::{Store, Trap};

use crate::bindings::types::{Error as ModuleError, RateLimit, Setting, SettingKind, SettingScope};
use crate::error::{CallError, map_error_message};
use crate::guest_threads::GuestThreads;
use crate::logging::LiveSecrets;
use crate::module::LoadedModule;
use crate::rate::{NoTurn, Pacing, RateLimiter, Turn};
use crate::redact::Redactor;
use crate::request::{Request, Response};
use crate::reuse::{InstancePool, Warm};
use crate::store::{CallState, begin_next_call};

/// Shortest wait between two attempts of a safe read; it doubles with each
/// further attempt, and a provider's Retry-After overrides it when longer.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// A retry is only worth starting with at least this much of the deadline
/// left after waiting.
const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(500);

/// One call as the host runs it: everything its steps need, built once by
/// [`Call::new`] and owned by the call from there on (so that it can run on
/// the guest threads).
pub(crate) struct Call {
    /// The module version that runs the call.
    pub(crate) module: Arc<LoadedModule>,
    pub(crate) request: Request,
    /// The caller's own settings, checked ([`check_call_settings`]): what
    /// the journal digests.
    pub(crate) own_settings: Vec<Setting>,
    /// Masks the module's secret settings, the call's secret settings and
    /// the passwords the request carries.
    pub(crate) redactor: Redactor,
    /// When the whole call ends: its wait for the journal, its turns under
    /// the rate limit and every attempt.
    pub(crate) deadline: Instant,
    /// The module's settings with the caller's over them by name: what the
    /// guest is given.
    settings: Vec<Setting>,
    pacing: Pacing,
    /// The instances of a bulk run this call may use: only when the
    /// request is [eligible](crate::reuse::eligible).
    reuse: Option<Arc<InstancePool>>,
}

/// What a bulk usage run ([`crate::usage_sync`]) gives one of its calls:
/// the turn under the module's rate limit it waited for before the call's
/// deadline started, and the instances the run may reuse. A call of its
/// own gets neither (`FromRun::default()`).
#[derive(Default)]
pub(crate) struct FromRun {
    /// Taken by the first attempt instead of waiting for a turn.
    pub(crate) first_turn: Option<Turn>,
    /// Lends an instance to a call that is [eligible](crate::reuse::eligible)
    /// (a plain read with no secret of its own); any other call gets a
    /// fresh instance still.
    pub(crate) reuse: Option<Arc<InstancePool>>,
}

/// A call's result and what it cost.
pub(crate) struct Completed {
    pub(crate) result: Result<Response, CallError>,
    /// The sha256 of the module version that ran it.
    pub(crate) module_digest: String,
    /// The largest linear memory of any attempt (`None`: no guest ran).
    pub(crate) memory_peak_bytes: Option<u64>,
}

/// One attempt's result, whether it must not be tried again (the guest
/// asked for an origin it was not granted, or the rate limit had no turn
/// for it), and its largest linear memory (`None`: no instance was made).
struct Attempt {
    result: Result<Response, CallError>,
    final_answer: bool,
    memory_peak: Option<u64>,
}

/// What the guest's export came to: the module's answer or typed error,
/// a trap or host failure, or the deadline.
type GuestOutcome = Result<wasmtime::Result<Result<Response, ModuleError>>, Elapsed>;

/// A fresh instance in its store, and the call slot it holds.
struct Fresh {
    store: Store<CallState>,
    instance: Instance,
    slot: OwnedSemaphorePermit,
}

impl Call {
    /// The call of `request` on `module` with the caller's `own_settings`,
    /// paced by the module's `limiter` (`None`: not paced), its deadline
    /// starting now. Refuses (`invalid-input`) settings a call may not give
    /// ([`check_call_settings`]), before anything is journaled or sent,
    /// whichever door the call came through.
    pub(crate) fn new(
        module: Arc<LoadedModule>,
        request: Request,
        own_settings: &[Setting],
        limiter: Option<Arc<RateLimiter>>,
        from_run: FromRun,
    ) -> Result<Call, CallError> {
        check_call_settings(&module, own_settings)?;
        // Journaled calls are mutating ones, never eligible: they keep a
        // fresh instance each.
        let reuse = from_run
            .reuse
            .filter(|_| crate::reuse::eligible(&module, &request, own_settings));
        let secret_settings = own_settings.iter().filter(|setting| {
            module
                .info()
                .settings
                .iter()
                .any(|spec| spec.name == setting.name && spec.kind == SettingKind::Secret)
        });
        let redactor = module.redactor().with(
            request
                .secrets()
                .into_iter()
                .chain(secret_settings.map(|s| s.value.as_str())),
        );
        Ok(Call {
            settings: merge_settings(module.settings(), own_settings),
            deadline: Instant::now() + module.limits().deadline,
            pacing: Pacing {
                limiter,
                first_turn: from_run.first_turn,
            },
            own_settings: own_settings.to_vec(),
            module,
            request,
            redactor,
            reuse,
        })
    }

    /// Runs the call on the guest threads, so that a guest computing
    /// cannot hold the caller's ([`crate::guest_threads`]), in the
    /// caller's span. Unjournaled here: the journal is the host's.
    pub(crate) async fn run(self, guests: &GuestThreads) -> Completed {
        let module = self.module.clone();
        match guests.run(self.attempts().in_current_span()).await {
            Ok(completed) => completed,
            // Never expected: the call's task panicked (its message went to
            // the log) or the host is being dropped.
            Err(error) => Completed {
                result: Err(CallError::Host {
                    module: module.name().to_string(),
                    message: format!("the call's task ended abnormally: {error}"),
                }),
                module_digest: module.digest().to_string(),
                memory_peak_bytes: None,
            },
        }
    }

    /// The call's attempts, each in a new store (or an instance of the
    /// run's pool) after its turn: a safe read is tried again after a
    /// transient failure, until the deadline (of which the journal may
    /// have used a part).
    async fn attempts(mut self) -> Completed {
        let _live = LiveSecrets::register(&self.redactor);
        let module_digest = self.module.digest().to_string();
        if let Err(error) = check_required(&self.module, &self.settings) {
            return Completed {
                result: Err(error),
                module_digest,
                memory_peak_bytes: None,
            };
        }

        let started = Instant::now();
        let module = self.module.clone();
        let module = module.name();
        let function = crate::request::function_name(self.request.function());
        let mut attempt = 1;
        let mut memory_peak_bytes = None;
        let result = loop {
            let Attempt {
                result,
                final_answer,
                memory_peak,
            } = self.attempt().await;
            memory_peak_bytes = memory_peak_bytes.max(memory_peak);
            let retry = if final_answer {
                None
            } else {
                retry_delay(&self.module, &self.request, &result, attempt, self.deadline)
            };
            let Some(delay) = retry else { break result };
            if let Err(error) = &result {
                tracing::info!(
                    module,
                    function,
                    attempt,
                    kind = error.kind(),
                    delay_ms = delay.as_millis() as u64,
                    "safe read failed; trying again"
                );
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => {
                tracing::info!(module, function, attempt, elapsed_ms, "call succeeded")
            }
            // A provider's typed answer is business as usual; a call the host
            // had to stop or refuse is worth an operator's attention.
            Err(error @ CallError::Module { .. }) => {
                tracing::info!(
                    module,
                    function,
                    attempt,
                    kind = error.kind(),
                    elapsed_ms,
                    "call failed: {error}"
                )
            }
            Err(error) => {
                tracing::warn!(
                    module,
                    function,
                    attempt,
                    kind = error.kind(),
                    elapsed_ms,
                    "call stopped: {error}"
                )
            }
        }
        Completed {
            result,
            module_digest,
            memory_peak_bytes,
        }
    }

    /// One attempt: its turn under the rate limit, then the export in a
    /// fresh instance (or one of the run's pool); a provider's Retry-After
    /// holds every caller of the module.
    async fn attempt(&mut self) -> Attempt {
        // The turn first, so that a call slot is not held while waiting for
        // it; the call counts as running until the turn is dropped at the
        // end of the attempt.
        let _turn = match self.pacing.turn(self.deadline).await {
            Ok(turn) => turn,
            Err(no_turn) => {
                return Attempt {
                    result: Err(no_turn_error(&self.module, &no_turn)),
                    final_answer: true,
                    memory_peak: None,
                };
            }
        };
        let attempt = match &self.reuse {
            Some(pool) => self.in_pooled_instance(pool).await,
            None => self.in_fresh_instance().await,
        };
        hold_for_retry_after(attempt, &self.pacing).await
    }

    /// An attempt in a fresh instance, dropped after it.
    async fn in_fresh_instance(&self) -> Attempt {
        let Fresh {
            mut store,
            instance,
            slot,
        } = match self.fresh_instance().await {
            Ok(fresh) => fresh,
            Err(attempt) => return attempt,
        };
        let outcome = self.invoke(&instance, &mut store).await;
        let attempt = self.conclude(&store, outcome);
        // The instance's room in the pool is free before its slot is.
        drop(store);
        drop(slot);
        attempt
    }

    /// An attempt in an instance lent by `pool`: a warm one made for this
    /// module version and these settings, readied for this call's
    /// deadline and output, or a fresh one (with its own call slot, which
    /// it keeps while it lives). The instance goes back to the pool only
    /// after a call that ended normally; after a trap, the deadline, a
    /// cap, a denied request or a host error it is dropped.
    async fn in_pooled_instance(&self, pool: &InstancePool) -> Attempt {
        let mut lease = pool.lease(&self.module, &self.settings);
        crate::telemetry::record_reuse_attempt(self.module.name(), lease.warm.is_some());
        let mut warm = match lease.warm.take() {
            Some(mut warm) => {
                begin_next_call(&mut warm.store, self.deadline);
                warm
            }
            None => match self.fresh_instance().await {
                Ok(Fresh {
                    store,
                    instance,
                    slot,
                }) => Warm::new(
                    self.module.clone(),
                    self.settings.clone(),
                    store,
                    instance,
                    slot,
                ),
                Err(attempt) => return attempt,
            },
        };
        let Warm {
            store, instance, ..
        } = &mut warm;
        let outcome = self.invoke(instance, store).await;
        let attempt = self.conclude(&warm.store, outcome);
        if matches!(attempt.result, Ok(_) | Err(CallError::Module { .. })) {
            lease.give_back(warm);
        } else {
            drop(warm);
            drop(lease);
        }
        attempt
    }

    /// A fresh instance of the pre-linked component with its call slot (the
    /// host's bound on calls at once), both had within the deadline; else
    /// the attempt it came to.
    async fn fresh_instance(&self) -> Result<Fresh, Attempt> {
        let Some(slot) = call_slot_within(&self.module, self.deadline).await else {
            return Err(busy(&self.module));
        };
        let mut store = self.module.new_store(self.deadline);
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let outcome =
            match tokio::time::timeout(remaining, self.module.instantiate(&mut store)).await {
                Ok(Ok((instance, _))) => {
                    return Ok(Fresh {
                        store,
                        instance,
                        slot,
                    });
                }
                Ok(Err(error)) => Ok(Err(error)),
                Err(elapsed) => Err(elapsed),
            };
        let attempt = self.conclude(&store, outcome);
        drop(store);
        drop(slot);
        Err(attempt)
    }

    /// Calls the request's export on `instance` with the call's settings,
    /// within what is left of the deadline.
    async fn invoke(&self, instance: &Instance, store: &mut Store<CallState>) -> GuestOutcome {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let export = crate::request::call_export(
            instance,
            self.module.exports(),
            store,
            &self.settings,
            &self.request,
        );
        tokio::time::timeout(remaining, export).await
    }

    /// What an attempt came to, from the guest's `outcome` in `store`: its
    /// output logged (masked), a trap classified. Not async: a store is not
    /// `Sync`, so no reference to one may be held across a wait.
    fn conclude(&self, store: &Store<CallState>, outcome: GuestOutcome) -> Attempt {
        let module = &self.module;
        // What the guest printed may show the credentials it just generated.
        let output_redactor = match &outcome {
            Ok(Ok(Ok(response))) => self
                .redactor
                .with(response.credentials().iter().map(|c| c.value.as_str())),
            _ => self.redactor.clone(),
        };
        log_guest_output(module.shared_name(), store, &output_redactor);
        let result = match outcome {
            Err(_elapsed) => Err(CallError::DeadlineExceeded {
                module: module.name().to_string(),
                deadline: module.limits().deadline,
            }),
            Ok(Err(trap)) => Err(classify_trap(module, store, trap, &self.redactor)),
            Ok(Ok(Err(error))) => Err(CallError::Module {
                module: module.name().to_string(),
                error: map_error_message(error, |m| self.redactor.redact(m)),
            }),
            Ok(Ok(Ok(response))) => check_result_size(module, response),
        };
        let peak = store.data().memory.peak_bytes();
        Attempt {
            result,
            final_answer: store.data().denied_requests(),
            memory_peak: (peak > 0).then_some(peak as u64),
        }
    }
}

/// Waits for a free call slot (the host's bound on calls at once) no
/// longer than the deadline allows, recording the wait; `None` when none
/// came free in time.
async fn call_slot_within(
    module: &LoadedModule,
    deadline: Instant,
) -> Option<OwnedSemaphorePermit> {
    let waiting = Instant::now();
    let remaining = deadline.saturating_duration_since(waiting);
    let slot = tokio::time::timeout(remaining, module.call_slot()).await;
    crate::telemetry::record_slot_wait(module.name(), waiting.elapsed());
    slot.ok()?.ok()
}

/// The attempt of a call that could not have a call slot in time.
fn busy(module: &LoadedModule) -> Attempt {
    Attempt {
        result: Err(CallError::Busy {
            module: module.name().to_string(),
            deadline: module.limits().deadline,
        }),
        final_answer: false,
        memory_peak: None,
    }
}

/// Holds every caller of the module for a provider's Retry-After: it
/// speaks for all of them.
async fn hold_for_retry_after(attempt: Attempt, pacing: &Pacing) -> Attempt {
    if let Some(ModuleError::RateLimited(RateLimit {
        retry_after_seconds: Some(seconds),
        ..
    })) = attempt
        .result
        .as_ref()
        .err()
        .and_then(CallError::module_error)
    {
        pacing
            .hold_until(Instant::now() + Duration::from_secs((*seconds).into()))
            .await;
    }
    attempt
}

/// The answer to a call whose turn under the rate limit would come after
/// its deadline: `rate-limited`, with the wait as its Retry-After. Nothing
/// was sent, so the provider's state is known (as for any rate limit).
fn no_turn_error(module: &LoadedModule, no_turn: &NoTurn) -> CallError {
    CallError::Module {
        module: module.name().to_string(),
        error: ModuleError::RateLimited(RateLimit {
            retry_after_seconds: Some(no_turn.retry_after_seconds()),
            message: format!(
                "not sent: under the module's rate limit of {} calls per {} s, its next turn is at least {:.1} s away, past the call's deadline",
                no_turn.rate.requests,
                no_turn.rate.per.as_secs_f64(),
                no_turn.wait.as_secs_f64()
            ),
        }),
    }
}

/// How long to wait before trying `request` again, or `None` when it must
/// not be tried again: it mutates, the failure is not transient, the
/// retries are used up, or the wait would not leave time for an attempt.
fn retry_delay(
    module: &LoadedModule,
    request: &Request,
    result: &Result<Response, CallError>,
    attempt: u32,
    deadline: Instant,
) -> Option<Duration> {
    if !request.is_safe_to_repeat() || attempt > module.limits().read_retries {
        return None;
    }
    let Err(CallError::Module { error, .. }) = result else {
        return None;
    };
    let backoff = FIRST_BACKOFF * 2u32.saturating_pow(attempt - 1);
    let delay = match error {
        ModuleError::RateLimited(limit) => {
            let asked = Duration::from_secs(limit.retry_after_seconds.unwrap_or(0).into());
            backoff.max(asked)
        }
        ModuleError::Provider(_)
        | ModuleError::BadResponse(_)
        | ModuleError::Transport(_)
        | ModuleError::Timeout(_) => backoff,
        _ => return None,
    };
    let remaining = deadline.saturating_duration_since(Instant::now());
    (delay + MIN_ATTEMPT_TIME <= remaining).then_some(delay)
}

/// Refuses an answer larger (as JSON) than the module's result cap.
fn check_result_size(module: &LoadedModule, response: Response) -> Result<Response, CallError> {
    let bytes = json_size(&response);
    let cap_bytes = module.limits().result_bytes;
    if bytes > cap_bytes {
        return Err(CallError::ResultTooLarge {
            module: module.name().to_string(),
            bytes,
            cap_bytes,
        });
    }
    Ok(response)
}

/// Bytes `value` takes as JSON, counted without building the text.
fn json_size(value: &impl serde::Serialize) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Serialising plain records into a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// Refuses a call whose own settings are not each a product-scope setting
/// the module declares, given once. Server-scope settings (the endpoint,
/// the credentials) are the operator's, from the manifest: a call that
/// could replace them could send the module to another origin or act as
/// another reseller. Checked before anything is journaled or sent; the
/// refusal (`invalid-input`) names the setting.
fn check_call_settings(module: &LoadedModule, call: &[Setting]) -> Result<(), CallError> {
    let specs = &module.info().settings;
    let refuse = |message: String| CallError::InvalidRequest {
        module: module.name().to_string(),
        message,
    };
    for (index, setting) in call.iter().enumerate() {
        // Quoted with escapes and cut short: the name is the caller's text.
        let name = shown_name(&setting.name);
        match specs.iter().find(|spec| spec.name == setting.name) {
            None => {
                return Err(refuse(format!(
                    "setting {name} is not one of the module's; a call may give only its product settings ({})",
                    product_settings(module)
                )));
            }
            Some(spec) if spec.scope != SettingScope::Product => {
                return Err(refuse(format!(
                    "setting {name} is a server setting, the operator's (set in the manifest); a call may give only the module's product settings ({})",
                    product_settings(module)
                )));
            }
            Some(_) => {}
        }
        if call[..index]
            .iter()
            .any(|earlier| earlier.name == setting.name)
        {
            return Err(refuse(format!("setting {name} is given twice")));
        }
    }
    Ok(())
}

/// A caller's setting name as a refusal quotes it.
fn shown_name(name: &str) -> String {
    const MAX_SHOWN: usize = 64;
    match name.char_indices().nth(MAX_SHOWN) {
        Some((cut, _)) => format!("{:?}…", &name[..cut]),
        None => format!("{name:?}"),
    }
}

/// The names of the module's product settings, for a refusal: `none` when
/// it has none.
fn product_settings(module: &LoadedModule) -> String {
    let names: Vec<&str> = module
        .info()
        .settings
        .iter()
        .filter(|spec| spec.scope == SettingScope::Product)
        .map(|spec| spec.name.as_str())
        .collect();
    if names.is_empty() {
        "it has none".to_string()
    } else {
        names.join(", ")
    }
}

/// Module settings first, then the call's (product settings only, see
/// [`check_call_settings`]), which override by name: a product's value
/// over the manifest's default for it.
fn merge_settings(module: &[Setting], call: &[Setting]) -> Vec<Setting> {
    let mut merged: Vec<Setting> = module
        .iter()
        .filter(|s| !call.iter().any(|c| c.name == s.name))
        .cloned()
        .collect();
    merged.extend(call.iter().cloned());
    merged
}

/// Refuses a call before it reaches the guest when a required setting
/// without default is absent or blank.
fn check_required(module: &LoadedModule, settings: &[Setting]) -> Result<(), CallError> {
    let missing: Vec<String> = module
        .info()
        .settings
        .iter()
        .filter(|spec| spec.required && spec.default.is_none())
        .filter(|spec| {
            !settings
                .iter()
                .any(|s| s.name == spec.name && !s.value.trim().is_empty())
        })
        .map(|spec| format!("`{}` ({})", spec.name, spec.label))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(CallError::InvalidSettings {
        module: module.name().to_string(),
        message: format!("missing required setting {}", missing.join(", ")),
    })
}

/// Tells a deadline, a memory cap and a plain trap apart.
fn classify_trap(
    module: &LoadedModule,
    store: &Store<CallState>,
    error: wasmtime::Error,
    redactor: &Redactor,
) -> CallError {
    let name = module.name().to_string();
    if store.data().memory.memory_exhausted() {
        return CallError::MemoryExhausted {
            module: name,
            cap_bytes: module.limits().memory_bytes,
        };
    }
    if store.data().output_exhausted() {
        return CallError::OutputExceeded {
            module: name,
            cap_bytes: module.limits().output_bytes,
        };
    }
    // The pool had no instance for it: nothing ran, a definite refusal
    // like a call slot not had in time (load refuses a component that needs
    // more than a call's share of the pool, so this is not expected).
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return CallError::Busy {
            module: name,
            deadline: module.limits().deadline,
        };
    }
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return CallError::DeadlineExceeded {
            module: name,
            deadline: module.limits().deadline,
        };
    }
    let message = redactor.redact(&format!("{error:#}"));
    if error.downcast_ref::<Trap>().is_some() {
        CallError::Trap {
            module: name,
            message,
        }
    } else {
        CallError::Host {
            module: name,
            message,
        }
    }
}

/// Sends what the guest printed to the host's log, masked, line by line.
fn log_guest_output(module: &Arc<str>, store: &Store<CallState>, redactor: &Redactor) {
    for (stream, pipe) in [
        ("stdout", &store.data().stdout),
        ("stderr", &store.data().stderr),
    ] {
        let bytes = pipe.contents();
        if bytes.is_empty() {
            continue;
        }
        for line in String::from_utf8_lossy(&bytes).lines() {
            tracing::info!(module = %module, stream, "guest: {}", redactor.redact(line));
        }
    }
}
