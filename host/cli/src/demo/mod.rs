//! `provisioning demo`: the life of one service per provider through the
//! providers' WebAssembly components, against the in-process sandbox.
//!
//! Each component is granted exactly the sandbox's origin, as a production
//! manifest grants the provider's; the last step of each provider shows a
//! request to any other origin being refused by the host.

mod blesta;
mod hostmenow;
mod logicboxes;
mod webline;

use std::process::ExitCode;
use std::time::Instant;

use provisioning_host::types::{Contact, Service, Setting};
use provisioning_host::{CallError, Host, HostOptions, ModuleConfig, Redactor, Request, Response};
use provisioning_sandbox::Sandbox;

use crate::output::{self, outln};

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// One provider's part of the demo.
struct ProviderDemo {
    /// Module name, shown in the table.
    module: &'static str,
    /// The component file.
    component: &'static str,
    /// The module's settings for the sandbox (secrets included: they are
    /// also given to the redactor).
    settings: Vec<(&'static str, String)>,
    /// Values that must never be printed.
    secrets: Vec<String>,
    /// The steps, in order.
    steps: Vec<Step>,
    /// What the simulator holds for the demo service after a step.
    state: Box<dyn Fn(&Sandbox) -> String>,
}

/// One call of the lifecycle and what counts as its expected outcome.
struct Step {
    label: &'static str,
    request: Request,
    /// Per-call settings (a product option, or an endpoint the host
    /// refuses).
    settings: Vec<Setting>,
    /// `None`: must succeed; `Some(kind)`: must fail with this error kind.
    expect_error: Option<&'static str>,
}

impl Step {
    fn ok(label: &'static str, request: Request) -> Step {
        Step {
            label,
            request,
            settings: Vec::new(),
            expect_error: None,
        }
    }

    fn fails(label: &'static str, request: Request, kind: &'static str) -> Step {
        Step {
            expect_error: Some(kind),
            ..Step::ok(label, request)
        }
    }

    fn with_setting(mut self, name: &str, value: impl Into<String>) -> Step {
        self.settings.push(Setting {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    fn met(&self, result: &Result<Response, CallError>) -> bool {
        match (self.expect_error, result) {
            (None, result) => result.is_ok(),
            (Some(kind), Err(error)) => error.kind() == kind,
            (Some(_), Ok(_)) => false,
        }
    }
}

/// Runs every provider's lifecycle and prints one table.
pub async fn run(_args: Args, options: HostOptions, json: bool) -> anyhow::Result<ExitCode> {
    let sandbox = Sandbox::start().await?;
    let host = Host::with_options(options)?;
    let providers = vec![
        hostmenow::demo(&sandbox),
        blesta::demo(&sandbox),
        webline::demo(&sandbox),
        logicboxes::demo(&sandbox),
    ];

    let mut rows = Vec::new();
    let mut failures = 0;
    for provider in &providers {
        let mut config = ModuleConfig::new(provider.module, provider.component)
            .allow_hosts(&[sandbox.origin()])?;
        for (name, value) in &provider.settings {
            config = config.setting(*name, value.clone());
        }
        host.load(config).await?;
        let mut redactor = Redactor::new().with(provider.secrets.iter().map(String::as_str));

        // Like a billing platform, remember the provider's id of the service
        // once create-account has told it, and send it with later calls.
        let mut remote_id = None;
        for step in &provider.steps {
            let mut request = step.request.clone();
            if let Some(service) = request.service_mut() {
                service.remote_id = service.remote_id.take().or(remote_id.clone());
            }
            let started = Instant::now();
            let result = host
                .call_with(provider.module, &request, &step.settings)
                .await;
            if let Ok(Response::Created(created)) = &result {
                remote_id = Some(created.remote_id.clone());
            }
            // A generated password is the caller's to keep, not the screen's.
            let credentials = match &result {
                Ok(Response::Created(created)) => created.credentials.as_slice(),
                Ok(Response::Done(outcome)) => outcome.credentials.as_slice(),
                _ => &[],
            };
            for credential in credentials.iter().filter(|c| c.secret) {
                redactor.add(&credential.value);
            }
            let millis = started.elapsed().as_secs_f64() * 1000.0;
            if !step.met(&result) {
                failures += 1;
            }
            let state = (provider.state)(&sandbox);
            if json {
                let mut line = output::result_json(&result, &redactor);
                line["provider"] = provider.module.into();
                line["step"] = step.label.into();
                line["millis"] = millis.into();
                line["sandbox_state"] = state.into();
                outln!("{line}")?;
            } else {
                let (outcome, detail) = output::result_cells(&result, &redactor);
                rows.push(vec![
                    provider.module.to_string(),
                    step.label.to_string(),
                    outcome,
                    format!("{millis:.1}"),
                    state,
                    detail,
                ]);
            }
        }
    }
    if !json {
        outln!(
            "Each provider's component is granted {} and nothing else.\n",
            sandbox.origin()
        )?;
        output::print_table(
            &[
                "provider",
                "function",
                "outcome",
                "ms",
                "sandbox state",
                "detail",
            ],
            &rows,
        )?;
        if failures > 0 {
            outln!("\n{failures} step(s) did not behave as expected")?;
        }
    }
    sandbox.shutdown().await;
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The step every provider ends with: a call that brings its own endpoint
/// (another origin), which the host refuses unsent: the endpoint is a
/// server setting, the operator's, and a call may give only product
/// settings.
fn ungranted_step(endpoint_setting: &str, ungranted_endpoint: &str) -> Step {
    Step::fails(
        "test-connection (the call's own endpoint)",
        Request::TestConnection,
        "invalid-input",
    )
    .with_setting(endpoint_setting, ungranted_endpoint)
}

/// A service record as a billing platform would send it.
fn demo_service(service_id: &str, password: Option<&str>) -> Service {
    Service {
        service_id: service_id.into(),
        remote_id: None,
        domain: Some("customer-example.com".into()),
        username: Some("custexam".into()),
        password: password.map(Into::into),
        package: None,
        billing_cycle: Some("monthly".into()),
        client: Some(Contact {
            first_name: "Amina".into(),
            last_name: "Mwangi".into(),
            company: Some("Example Traders Ltd".into()),
            email: "amina@customer-example.com".into(),
            phone: Some("+255700000001".into()),
            address: None,
            city: Some("Dar es Salaam".into()),
            state: None,
            postcode: None,
            country: Some("TZ".into()),
            language: Some("en".into()),
        }),
        custom_fields: Vec::new(),
    }
}

/// A password that differs per run, so nothing can match it by accident.
fn demo_password(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}-{nanos:08x}-Pw!")
}
