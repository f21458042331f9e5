//! What the Webline end-to-end tests share: a running sandbox and a host
//! with the real Webline component loaded, granted only the sandbox's
//! origin.

use std::time::Duration;

use provisioning_host::types::{CreatedAccount, Service};
use provisioning_host::{CallError, Host, Limits, ModuleConfig, Request, Response};
use provisioning_sandbox::{Sandbox, webline};

use crate::{bare_service, tanzanian_client};
pub use crate::{error_kind, setting};

/// Deadline for the module: room for create-account's wait for `active`
/// in the tests that use one, far below the host's default 30 s.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A sandbox and a host that talk to each other over loopback.
pub struct Harness {
    pub sandbox: Sandbox,
    pub host: Host,
}

impl Harness {
    /// Starts the sandbox and loads the Webline component as `webline`,
    /// with no wait for activation unless a call sets one.
    pub async fn start() -> Harness {
        let sandbox = Sandbox::start().await.expect("sandbox starts");
        let host = crate::host();
        host.load(config(&sandbox))
            .await
            .expect("the Webline component loads");
        Harness { sandbox, host }
    }

    /// The simulator's handle.
    pub fn simulator(&self) -> &webline::Webline {
        self.sandbox.webline()
    }

    /// Calls `webline` with the module's own settings.
    pub async fn call(&self, request: &Request) -> Result<Response, CallError> {
        self.host.call("webline", request).await
    }
}

/// The Webline module's configuration for this sandbox.
pub fn config(sandbox: &Sandbox) -> ModuleConfig {
    ModuleConfig::new("webline", provisioning_components::WEBLINE)
        .allow_hosts(&[sandbox.origin()])
        .expect("origin parses")
        .setting("endpoint", sandbox.webline().endpoint())
        .setting("api-key", webline::API_KEY)
        .setting("activation-wait-seconds", "0")
        .limits(Limits {
            deadline: DEADLINE,
            ..Limits::default()
        })
}

/// Another host with the Webline module of [`config`], its configured
/// `name` set to `value` (a wrong key, say: a server setting is the
/// operator's, and a call cannot bring its own).
pub async fn host_configured_with(sandbox: &Sandbox, name: &str, value: &str) -> Host {
    let host = crate::host();
    host.load(config(sandbox).setting(name, value))
        .await
        .expect("the Webline component loads");
    host
}

/// A service record for `domain` on Webline package `package`.
pub fn service(domain: &str, package: &str) -> Service {
    Service {
        domain: Some(domain.into()),
        package: Some(package.into()),
        billing_cycle: Some("monthly".into()),
        client: Some(tanzanian_client()),
        ..bare_service(&format!("svc-{domain}"))
    }
}

/// The created account of a create-account call that succeeded.
pub fn created(result: Result<Response, CallError>) -> CreatedAccount {
    match result {
        Ok(Response::Created(account)) => account,
        other => panic!("expected a created account, got {other:?}"),
    }
}
