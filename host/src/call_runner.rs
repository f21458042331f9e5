//! Runs one request in a fresh store, within the module's bounds, and turns
//! whatever happens into a [`Response`] or a typed [`CallError`]; tries a
//! safe read again after a transient failure. Every attempt waits for its
//! turn under the module's rate limit first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};

use crate::bindings::types::{Error as ModuleError, RateLimit, Setting, SettingKind, SettingScope};
use crate::error::{CallError, map_error_message};
use crate::logging::LiveSecrets;
use crate::module::LoadedModule;
use crate::rate::{NoTurn, Pacing};
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

/// Runs `request` on `module` with `settings` (the module's own plus the
/// caller's), each attempt in a new store after its turn under `pacing`.
/// Safe reads are tried again after a transient failure, until `deadline`
/// (the call's, of which the journal may have used a part). `redactor` is
/// the call's, from [`call_redactor`]. With `reuse`, each attempt runs in
/// an instance of that pool ([`crate::reuse`]): the caller has checked
/// that the request is [eligible](crate::reuse::eligible).
pub(crate) async fn run(
    module: &Arc<LoadedModule>,
    request: &Request,
    call_settings: &[Setting],
    redactor: &Redactor,
    deadline: Instant,
    mut pacing: Pacing,
    reuse: Option<&InstancePool>,
) -> Completed {
    let settings = merge_settings(module.settings(), call_settings);
    let _live = LiveSecrets::register(redactor);
    if let Err(error) = check_required(module, &settings) {
        return Completed {
            result: Err(error),
            memory_peak_bytes: None,
        };
    }

    let started = Instant::now();
    let function = crate::request::function_name(request.function());
    let mut attempt = 1;
    let mut memory_peak_bytes = None;
    let result = loop {
        let Attempt {
            result,
            final_answer,
            memory_peak,
        } = run_once(
            module,
            request,
            &settings,
            deadline,
            redactor,
            &mut pacing,
            reuse,
        )
        .await;
        memory_peak_bytes = memory_peak_bytes.max(memory_peak);
        let retry = if final_answer {
            None
        } else {
            retry_delay(module, request, &result, attempt, deadline)
        };
        let Some(delay) = retry else { break result };
        if let Err(error) = &result {
            tracing::info!(module = %module.name(), function, attempt, kind = error.kind(), delay_ms = delay.as_millis() as u64, "safe read failed; trying again");
        }
        tokio::time::sleep(delay).await;
        attempt += 1;
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(_) => {
            tracing::info!(module = %module.name(), function, attempt, elapsed_ms, "call succeeded")
        }
        // A provider's typed answer is business as usual; a call the host
        // had to stop or refuse is worth an operator's attention.
        Err(error @ CallError::Module { .. }) => {
            tracing::info!(module = %module.name(), function, attempt, kind = error.kind(), elapsed_ms, "call failed: {error}")
        }
        Err(error) => {
            tracing::warn!(module = %module.name(), function, attempt, kind = error.kind(), elapsed_ms, "call stopped: {error}")
        }
    }
    Completed {
        result,
        memory_peak_bytes,
    }
}

/// A call's result and what it cost.
pub(crate) struct Completed {
    pub(crate) result: Result<Response, CallError>,
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

/// Masks the module's secret settings, the call's secret settings and the
/// passwords the request carries.
pub(crate) fn call_redactor(
    module: &LoadedModule,
    request: &Request,
    call_settings: &[Setting],
) -> Redactor {
    let secret_settings = call_settings.iter().filter(|setting| {
        module
            .info()
            .settings
            .iter()
            .any(|spec| spec.name == setting.name && spec.kind == SettingKind::Secret)
    });
    module.redactor().with(
        request
            .secrets()
            .into_iter()
            .chain(secret_settings.map(|s| s.value.as_str())),
    )
}

/// One attempt in a fresh store (or, with `reuse`, an instance of the
/// pool), bounded by what is left of the deadline.
async fn run_once(
    module: &Arc<LoadedModule>,
    request: &Request,
    settings: &[Setting],
    deadline: Instant,
    redactor: &Redactor,
    pacing: &mut Pacing,
    reuse: Option<&InstancePool>,
) -> Attempt {
    // The turn under the module's rate limit first, so that a call slot is
    // not held while waiting for it; the call counts as running until the
    // turn is dropped at the end of the attempt.
    let _turn = match pacing.turn(deadline).await {
        Ok(turn) => turn,
        Err(no_turn) => {
            return Attempt {
                result: Err(no_turn_error(module, &no_turn)),
                final_answer: true,
                memory_peak: None,
            };
        }
    };
    if let Some(pool) = reuse {
        return run_reusing(module, pool, request, settings, deadline, redactor, pacing).await;
    }
    let Some(_slot) = call_slot_within(module, deadline).await else {
        return busy(module);
    };
    let remaining = deadline.saturating_duration_since(Instant::now());
    let mut store = module.new_store(deadline);

    let outcome =
        tokio::time::timeout(remaining, invoke(module, &mut store, request, settings)).await;
    let attempt = conclude(module, &store, outcome, redactor);
    drop(store);
    hold_for_retry_after(attempt, pacing).await
}

/// Waits for a free call slot (the host's bound on calls at once) no
/// longer than the deadline allows, recording the wait; `None` when none
/// came free in time.
async fn call_slot_within(
    module: &LoadedModule,
    deadline: Instant,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
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

/// One attempt in an instance lent by `pool`: a warm one made for this
/// module version and these settings, readied for this call's deadline and
/// output, or a fresh one (with its own call slot, which it keeps while it
/// lives). The instance goes back to the pool only after a call that ended
/// normally; after a trap, the deadline, a cap, a denied request or a host
/// error it is dropped.
async fn run_reusing(
    module: &Arc<LoadedModule>,
    pool: &InstancePool,
    request: &Request,
    settings: &[Setting],
    deadline: Instant,
    redactor: &Redactor,
    pacing: &mut Pacing,
) -> Attempt {
    let mut lease = pool.lease(module, settings);
    crate::telemetry::record_reuse_attempt(module.name(), lease.warm.is_some());
    let mut warm = match lease.warm.take() {
        Some(mut warm) => {
            begin_next_call(&mut warm.store, deadline);
            warm
        }
        None => {
            let Some(slot) = call_slot_within(module, deadline).await else {
                return busy(module);
            };
            let mut store = module.new_store(deadline);
            let remaining = deadline.saturating_duration_since(Instant::now());
            let instance =
                match tokio::time::timeout(remaining, module.instantiate(&mut store)).await {
                    Ok(Ok((instance, _))) => instance,
                    Ok(Err(error)) => {
                        let attempt = conclude(module, &store, Ok(Err(error)), redactor);
                        drop(store);
                        return hold_for_retry_after(attempt, pacing).await;
                    }
                    Err(elapsed) => {
                        let attempt = conclude(module, &store, Err(elapsed), redactor);
                        drop(store);
                        return hold_for_retry_after(attempt, pacing).await;
                    }
                };
            Warm::new(module.clone(), settings.to_vec(), store, instance, slot)
        }
    };
    let remaining = deadline.saturating_duration_since(Instant::now());
    let Warm {
        store, instance, ..
    } = &mut warm;
    let outcome = tokio::time::timeout(
        remaining,
        crate::request::call_export(instance, module.exports(), &mut *store, settings, request),
    )
    .await;
    let attempt = conclude(module, &warm.store, outcome, redactor);
    if matches!(attempt.result, Ok(_) | Err(CallError::Module { .. })) {
        lease.give_back(warm);
    } else {
        drop(warm);
        drop(lease);
    }
    hold_for_retry_after(attempt, pacing).await
}

/// Holds every caller of the module for a provider's Retry-After: it
/// speaks for all of them.
async fn hold_for_retry_after(attempt: Attempt, pacing: &mut Pacing) -> Attempt {
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

/// What an attempt came to, from the guest's `outcome` in `store`: its
/// output logged (masked), a trap classified. Not async: a store is not
/// `Sync`, so no reference to one may be held across a wait.
fn conclude(
    module: &LoadedModule,
    store: &Store<CallState>,
    outcome: Result<wasmtime::Result<Result<Response, ModuleError>>, tokio::time::error::Elapsed>,
    redactor: &Redactor,
) -> Attempt {
    // What the guest printed may show the credentials it just generated.
    let output_redactor = match &outcome {
        Ok(Ok(Ok(response))) => {
            redactor.with(response.credentials().iter().map(|c| c.value.as_str()))
        }
        _ => redactor.clone(),
    };
    log_guest_output(module.shared_name(), store, &output_redactor);
    let result = match outcome {
        Err(_elapsed) => Err(CallError::DeadlineExceeded {
            module: module.name().to_string(),
            deadline: module.limits().deadline,
        }),
        Ok(Err(trap)) => Err(classify_trap(module, store, trap, redactor)),
        Ok(Ok(Err(error))) => Err(CallError::Module {
            module: module.name().to_string(),
            error: map_error_message(error, |m| redactor.redact(m)),
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
pub(crate) fn check_call_settings(
    module: &LoadedModule,
    call: &[Setting],
) -> Result<(), CallError> {
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

/// Instantiates the pre-linked component and calls the request's export.
/// The outer error is a trap or host failure; the inner one the module's.
async fn invoke(
    module: &LoadedModule,
    store: &mut Store<CallState>,
    request: &Request,
    settings: &[Setting],
) -> wasmtime::Result<Result<Response, crate::bindings::types::Error>> {
    let (instance, exports) = module.instantiate(&mut *store).await?;
    crate::request::call_export(&instance, exports, store, settings, request).await
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
