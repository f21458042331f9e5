//! What the end-to-end tests share: a running sandbox and a host with the
//! real components loaded, granted only the sandbox's origin.

pub mod journal_store;
pub mod log_capture;
pub mod manifest;
pub mod reuse;
pub mod webline;

use std::time::Duration;

use provisioning_host::types::{Contact, Service, Setting};
use provisioning_host::{CallError, Host, Limits, ModuleConfig, Response};
use provisioning_sandbox::{Sandbox, hostmenow};

/// A sandbox and a host that talk to each other over loopback.
pub struct Harness {
    pub sandbox: Sandbox,
    pub host: Host,
}

/// Deadline for the tests' modules: long enough for a debug build, short
/// enough that a test of a slow provider finishes quickly.
pub const TEST_DEADLINE: Duration = Duration::from_secs(3);

impl Harness {
    /// Starts the sandbox and loads the HostMeNow component as `hostmenow`.
    pub async fn hostmenow() -> Harness {
        let sandbox = Sandbox::start().await.expect("sandbox starts");
        let host = Host::new().expect("host starts");
        host.load(hostmenow_config(&sandbox, "hostmenow"))
            .await
            .expect("the HostMeNow component loads");
        Harness { sandbox, host }
    }

    /// The simulator's handle.
    pub fn simulator(&self) -> &hostmenow::HostMeNow {
        self.sandbox.hostmenow()
    }

    /// Calls `hostmenow` with the module's own settings.
    pub async fn call(&self, request: &provisioning_host::Request) -> Result<Response, CallError> {
        self.host.call("hostmenow", request).await
    }
}

/// The HostMeNow module's configuration for this sandbox.
pub fn hostmenow_config(sandbox: &Sandbox, name: &str) -> ModuleConfig {
    ModuleConfig::new(name, provisioning_components::HOSTMENOW)
        .allow_hosts(&[sandbox.origin()])
        .expect("origin parses")
        .setting("endpoint", sandbox.hostmenow().endpoint())
        .setting("api-key", hostmenow::API_KEY)
        .limits(Limits {
            deadline: TEST_DEADLINE,
            ..Limits::default()
        })
}

/// A per-call setting.
pub fn setting(name: &str, value: &str) -> Setting {
    Setting {
        name: name.into(),
        value: value.into(),
    }
}

/// A complete service record for HostMeNow's product 101.
pub fn service(id: &str) -> Service {
    Service {
        service_id: id.into(),
        remote_id: None,
        domain: Some(format!("{id}.example.com")),
        username: Some(format!("u{}", id.replace('-', ""))),
        password: Some(format!("Pw-{id}-s3cret!")),
        package: Some("101".into()),
        billing_cycle: Some("monthly".into()),
        client: Some(Contact {
            first_name: "Test".into(),
            last_name: "Client".into(),
            company: None,
            email: "client@example.com".into(),
            phone: None,
            address: None,
            city: None,
            state: None,
            postcode: None,
            country: Some("KE".into()),
            language: Some("en".into()),
        }),
        custom_fields: Vec::new(),
    }
}

/// The error kind of a failed call; panics with the answer if it succeeded.
pub fn error_kind(result: &Result<Response, CallError>) -> &'static str {
    match result {
        Ok(response) => panic!("expected an error, got {response:?}"),
        Err(error) => error.kind(),
    }
}

/// A loopback port held bound but never listened on, so that every
/// connection to it is refused for as long as the socket is kept (a port
/// merely released could be taken by a simulator another test starts).
pub fn refused_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind("127.0.0.1:0".parse().unwrap())
        .expect("a free port");
    let port = socket.local_addr().expect("its address").port();
    (socket, port)
}
