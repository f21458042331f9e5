//! Runs one request in a fresh store, within the module's bounds, and turns
//! whatever happens into a [`Response`] or a typed [`CallError`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};

use crate::bindings::Provider;
use crate::bindings::types::Setting;
use crate::call::{CallError, Request, Response, map_error_message};
use crate::engine::EPOCH_TICK;
use crate::module::LoadedModule;
use crate::redact::Redactor;
use crate::store::CallState;

/// Epoch ticks that make up `deadline` (at least one).
pub(crate) fn deadline_ticks(deadline: Duration) -> u64 {
    (deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64 + 1
}

/// Runs `request` on `module` with `settings` (the module's own plus the
/// caller's), in a new store.
pub(crate) async fn run(
    module: &LoadedModule,
    request: &Request,
    call_settings: &[Setting],
) -> Result<Response, CallError> {
    let settings = merge_settings(&module.settings, call_settings);
    let redactor = module.redactor.with(request.secrets());
    check_required(module, &settings)?;

    let limits = module.limits;
    let deadline = Instant::now() + limits.deadline;
    let state = CallState::new(
        module.name.clone(),
        module.policy.clone(),
        &limits,
        deadline,
    );
    let mut store = Store::new(module.pre.engine(), state);
    store.limiter(|state| &mut state.limits);
    store.set_epoch_deadline(deadline_ticks(limits.deadline));
    store.epoch_deadline_trap();

    let started = Instant::now();
    let outcome = tokio::time::timeout(
        limits.deadline,
        invoke(&module.pre, &mut store, request, &settings),
    )
    .await;
    log_guest_output(&module.name, &store, &redactor);
    let result = match outcome {
        Err(_elapsed) => Err(CallError::DeadlineExceeded {
            module: module.name.to_string(),
            deadline: limits.deadline,
        }),
        Ok(Err(trap)) => Err(classify_trap(module, &store, trap, &redactor)),
        Ok(Ok(Err(error))) => Err(CallError::Module {
            module: module.name.to_string(),
            error: map_error_message(error, |m| redactor.redact(m)),
        }),
        Ok(Ok(Ok(response))) => Ok(response),
    };
    let function = crate::call::function_name(request.function());
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(_) => tracing::info!(module = %module.name, function, elapsed_ms, "call succeeded"),
        // A provider's typed answer is business as usual; a call the host
        // had to stop or refuse is worth an operator's attention.
        Err(error @ CallError::Module { .. }) => {
            tracing::info!(module = %module.name, function, kind = error.kind(), elapsed_ms, "call failed: {error}")
        }
        Err(error) => {
            tracing::warn!(module = %module.name, function, kind = error.kind(), elapsed_ms, "call stopped: {error}")
        }
    }
    result
}

/// Module settings first, then the caller's, which override by name.
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
        .info
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
        module: module.name.to_string(),
        message: format!("missing required setting {}", missing.join(", ")),
    })
}

/// Instantiates the pre-linked component and calls the request's export.
/// The outer error is a trap or host failure; the inner one the module's.
async fn invoke(
    pre: &crate::bindings::ProviderPre<CallState>,
    store: &mut Store<CallState>,
    request: &Request,
    settings: &[Setting],
) -> wasmtime::Result<Result<Response, crate::bindings::types::Error>> {
    let instance: Provider = pre.instantiate_async(&mut *store).await?;
    let guest = instance.billing_provisioning_module();
    let store = &mut *store;
    Ok(match request {
        Request::TestConnection => guest
            .call_test_connection(store, settings)
            .await?
            .map(Response::Connection),
        Request::CreateAccount { service } => guest
            .call_create_account(store, settings, service)
            .await?
            .map(Response::Created),
        Request::Suspend { service, reason } => guest
            .call_suspend(store, settings, service, reason.as_deref())
            .await?
            .map(Response::Done),
        Request::Unsuspend { service } => guest
            .call_unsuspend(store, settings, service)
            .await?
            .map(Response::Done),
        Request::Terminate { service } => guest
            .call_terminate(store, settings, service)
            .await?
            .map(Response::Done),
        Request::ChangePassword {
            service,
            new_password,
        } => guest
            .call_change_password(store, settings, service, new_password)
            .await?
            .map(Response::Done),
        Request::ChangePackage {
            service,
            new_package,
        } => guest
            .call_change_package(store, settings, service, new_package)
            .await?
            .map(Response::Done),
        Request::ChangeDomain {
            service,
            new_domain,
        } => guest
            .call_change_domain(store, settings, service, new_domain)
            .await?
            .map(Response::Done),
        Request::UsageData { service } => guest
            .call_usage_data(store, settings, service)
            .await?
            .map(Response::Usage),
        Request::ListPackages => guest
            .call_list_packages(store, settings)
            .await?
            .map(Response::Packages),
        Request::SingleSignOn { service, app } => guest
            .call_single_sign_on(store, settings, service, app.as_deref())
            .await?
            .map(Response::SignOn),
        Request::ServiceStatus { service } => guest
            .call_service_status(store, settings, service)
            .await?
            .map(Response::Status),
    })
}

/// Tells a deadline, a memory cap and a plain trap apart.
fn classify_trap(
    module: &LoadedModule,
    store: &Store<CallState>,
    error: wasmtime::Error,
    redactor: &Redactor,
) -> CallError {
    let name = module.name.to_string();
    if store.data().limits.memory_exhausted() {
        return CallError::MemoryExhausted {
            module: name,
            cap_bytes: module.limits.memory_bytes,
        };
    }
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return CallError::DeadlineExceeded {
            module: name,
            deadline: module.limits.deadline,
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
