//! What the end-to-end tests share: a running sandbox and a host with the
//! real components loaded, granted only the sandbox's origin.

pub mod journal_store;
pub mod log_capture;
pub mod manifest;
pub mod openapi;
pub mod reuse;
pub mod webline;

use std::path::PathBuf;
use std::time::Duration;

use provisioning_host::types::{Contact, Service, Setting};
use provisioning_host::{CallError, Host, HostOptions, Limits, ModuleConfig, Response};
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
        Harness::hostmenow_in(provisioning_components::HOSTMENOW).await
    }

    /// Starts the sandbox and loads `component`, a HostMeNow module (in
    /// whatever language), as `hostmenow` (with [`load_in_turn`]).
    pub async fn hostmenow_in(component: &str) -> Harness {
        let sandbox = Sandbox::start().await.expect("sandbox starts");
        let host = host();
        load_in_turn(&host, hostmenow_config_of(&sandbox, "hostmenow", component))
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

/// The options of the tests' hosts: the defaults, with compiled components
/// kept in one directory beside the test binaries, as the CLI keeps them in
/// the user's cache. Every test loads the same few components; compiling
/// each once per build instead of once per host took the library's suite
/// from 123 s to 63 s. A test of compiling itself builds its own options.
pub fn host_options() -> HostOptions {
    HostOptions {
        compile_cache: Some(compiled_components()),
        ..HostOptions::default()
    }
}

/// A host with no module loaded and [`host_options`].
pub fn host() -> Host {
    Host::with_options(host_options()).expect("host starts")
}

/// `target/<profile>/compiled-components`, the compile cache of
/// [`host_options`]: the test binary runs from `target/<profile>/deps`, so
/// the directory goes with the build and with `cargo clean`. The
/// benchmarks' hosts share it, so that `cargo test`'s pass over them
/// compiles no component the tests already compiled.
pub fn compiled_components() -> PathBuf {
    let binary = std::env::current_exe().expect("the test binary's path");
    let profile_dir = binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary runs from target/<profile>/deps");
    profile_dir.join("compiled-components")
}

/// Loads `config` into `host`, taking turns with the process's other
/// loads of the same component file until the first has filled the
/// compile cache: a suite's tests then compile a large component (13 to
/// 19 MB, seconds each) once, not once each.
pub async fn load_in_turn(
    host: &Host,
    config: ModuleConfig,
) -> anyhow::Result<std::sync::Arc<provisioning_host::LoadedModule>> {
    let turn = compile_turn(&config.component);
    let _first_compiles = turn.lock().await;
    host.load(config).await
}

/// The lock a load of `component` holds (see [`load_in_turn`]).
fn compile_turn(component: &std::path::Path) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    static TURNS: std::sync::Mutex<
        std::collections::BTreeMap<PathBuf, std::sync::Arc<tokio::sync::Mutex<()>>>,
    > = std::sync::Mutex::new(std::collections::BTreeMap::new());
    TURNS
        .lock()
        .expect("no test panicked holding the map")
        .entry(component.to_path_buf())
        .or_default()
        .clone()
}

/// The HostMeNow module's configuration for this sandbox.
pub fn hostmenow_config(sandbox: &Sandbox, name: &str) -> ModuleConfig {
    hostmenow_config_of(sandbox, name, provisioning_components::HOSTMENOW)
}

/// [`hostmenow_config`] for `component`, a HostMeNow module in any
/// language.
pub fn hostmenow_config_of(sandbox: &Sandbox, name: &str, component: &str) -> ModuleConfig {
    ModuleConfig::new(name, component)
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

/// The service fixture: a complete record for HostMeNow's product 101.
/// A test that needs another changes it with struct update syntax
/// (`Service { package: Some("1".into()), ..service(id) }`), or starts
/// from [`bare_service`].
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

/// A service record with only its id (what a read of a module that ignores
/// the rest needs).
pub fn bare_service(id: &str) -> Service {
    Service {
        service_id: id.into(),
        remote_id: None,
        domain: None,
        username: None,
        password: None,
        package: None,
        billing_cycle: None,
        client: None,
        custom_fields: Vec::new(),
    }
}

/// `service` in serve's JSON as a platform sends it: the fields it has,
/// none of them `null`.
pub fn service_json(service: &Service) -> serde_json::Value {
    use provisioning_host::wire::Contract;
    let mut json = serde_json::to_value(service.clone().into_json()).expect("a service serializes");
    strip_nulls(&mut json);
    json
}

fn strip_nulls(value: &mut serde_json::Value) {
    if let serde_json::Value::Object(fields) = value {
        fields.retain(|_, field| !field.is_null());
        fields.values_mut().for_each(strip_nulls);
    }
}

/// A client in Tanzania, as Webline (a Tanzanian registrar) requires.
pub fn tanzanian_client() -> Contact {
    Contact {
        first_name: "Asha".into(),
        last_name: "Mushi".into(),
        company: None,
        email: "asha@example.co.tz".into(),
        phone: Some("+255712345678".into()),
        address: None,
        city: Some("Dar es Salaam".into()),
        state: None,
        postcode: None,
        country: Some("TZ".into()),
        language: Some("sw".into()),
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

/// A minimal component importing `interface` (an empty instance), with a
/// core module appended that does not validate: compiling it would fail,
/// so a refusal that names the import shows the imports were read first.
pub fn component_importing_uncompilable(interface: &str) -> Vec<u8> {
    use wasm_encoder::{
        CodeSection, Component, ComponentImportSection, ComponentTypeRef, ComponentTypeSection,
        Function, FunctionSection, InstanceType, Instruction, Module, ModuleSection, TypeSection,
    };
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], []);
    module.section(&types);
    let mut functions = FunctionSection::new();
    functions.function(0);
    module.section(&functions);
    let mut body = Function::new([]);
    // An add with nothing on the stack: the module does not validate.
    body.instruction(&Instruction::I32Add);
    body.instruction(&Instruction::End);
    let mut code = CodeSection::new();
    code.function(&body);
    module.section(&code);

    let mut component = Component::new();
    let mut instance_types = ComponentTypeSection::new();
    instance_types.instance(&InstanceType::new());
    component.section(&instance_types);
    let mut imports = ComponentImportSection::new();
    imports.import(interface, ComponentTypeRef::Instance(0));
    component.section(&imports);
    component.section(&ModuleSection(&module));
    component.finish()
}
