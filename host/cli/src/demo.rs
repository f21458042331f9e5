//! `provisioning demo`: the whole lifecycle of one HostMeNow service through
//! the WebAssembly component, against the in-process sandbox.
//!
//! The component is granted exactly the sandbox's origin, like a production
//! manifest grants the provider's; the last step shows a request to any
//! other origin being refused by the host.

use std::process::ExitCode;
use std::time::Instant;

use provisioning_host::types::{Contact, Service};
use provisioning_host::{CallError, Host, ModuleConfig, Redactor, Request, Response};
use provisioning_sandbox::{Sandbox, hostmenow};

use crate::output;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The HostMeNow component to run (the one built with the workspace by
    /// default).
    #[arg(long, default_value = provisioning_components::HOSTMENOW)]
    component: std::path::PathBuf,
}

/// One step of the lifecycle: what to call, and with which setting override.
struct Step {
    label: &'static str,
    request: Request,
    endpoint_override: Option<String>,
}

/// Runs the lifecycle and prints one row per step.
pub async fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let sandbox = Sandbox::start().await?;
    let simulator = sandbox.hostmenow();
    let host = Host::new()?;
    let config = ModuleConfig::new("hostmenow", &args.component)
        .allow_hosts(&[sandbox.origin()])?
        .setting("endpoint", simulator.endpoint())
        .setting("api-key", hostmenow::API_KEY);
    host.load(config).await?;

    let password = demo_password("Initial");
    let new_password = demo_password("Rotated");
    let redactor =
        Redactor::new().with([hostmenow::API_KEY, password.as_str(), new_password.as_str()]);
    let service = demo_service(&password);
    let service_id = service.service_id.clone();

    let mut rows = Vec::new();
    let mut failures = 0;
    for step in lifecycle(service, &new_password) {
        let settings: Vec<_> = step
            .endpoint_override
            .iter()
            .map(|endpoint| provisioning_host::types::Setting {
                name: "endpoint".into(),
                value: endpoint.clone(),
            })
            .collect();
        let started = Instant::now();
        let result = host.call_with("hostmenow", &step.request, &settings).await;
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        let expected = expected_outcome(&step, &result);
        if !expected {
            failures += 1;
        }
        let state = simulator
            .service(&service_id)
            .map(|s| format!("{:?}, product {}", s.status, s.product_id))
            .unwrap_or_else(|| "-".into());
        let (outcome, detail) = output::outcome(&result, &redactor);
        if json {
            let mut line = output::result_json(&result, &redactor);
            line["step"] = step.label.into();
            line["millis"] = millis.into();
            line["sandbox_state"] = state.into();
            println!("{line}");
        } else {
            rows.push(vec![
                step.label.to_string(),
                outcome,
                format!("{millis:.1}"),
                state,
                detail,
            ]);
        }
    }
    if !json {
        println!("HostMeNow lifecycle through {}", args.component.display());
        println!("granted origin: {} (nothing else)\n", sandbox.origin());
        output::print_table(
            &["function", "outcome", "ms", "sandbox state", "detail"],
            &rows,
        );
        if failures > 0 {
            println!("\n{failures} step(s) did not behave as expected");
        }
    }
    sandbox.shutdown().await;
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn lifecycle(service: Service, new_password: &str) -> Vec<Step> {
    let step = |label, request| Step {
        label,
        request,
        endpoint_override: None,
    };
    vec![
        step("test-connection", Request::TestConnection),
        step("list-packages", Request::ListPackages),
        step(
            "create-account",
            Request::CreateAccount {
                service: service.clone(),
            },
        ),
        step(
            "suspend",
            Request::Suspend {
                service: service.clone(),
                reason: Some("Overdue invoice".into()),
            },
        ),
        step(
            "unsuspend",
            Request::Unsuspend {
                service: service.clone(),
            },
        ),
        step(
            "change-password",
            Request::ChangePassword {
                service: service.clone(),
                new_password: new_password.into(),
            },
        ),
        step(
            "change-package",
            Request::ChangePackage {
                service: service.clone(),
                new_package: "102".into(),
            },
        ),
        step(
            "usage-data",
            Request::UsageData {
                service: service.clone(),
            },
        ),
        step(
            "single-sign-on",
            Request::SingleSignOn {
                service: service.clone(),
                app: Some("Email_Accounts".into()),
            },
        ),
        step(
            "service-status",
            Request::ServiceStatus {
                service: service.clone(),
            },
        ),
        step(
            "terminate",
            Request::Terminate {
                service: service.clone(),
            },
        ),
        Step {
            label: "test-connection (ungranted host)",
            request: Request::TestConnection,
            endpoint_override: Some(
                "https://example.com/backstage/modules/addons/products_reseller/api.php".into(),
            ),
        },
    ]
}

/// Every step succeeds except service-status, which HostMeNow's API cannot
/// do, and the request to an origin that was not granted.
fn expected_outcome(step: &Step, result: &Result<Response, CallError>) -> bool {
    match (step.label, result) {
        ("service-status", Err(error)) => error.kind() == "unsupported",
        (_, Err(error)) if step.endpoint_override.is_some() => error.kind() == "transport",
        (_, result) => result.is_ok(),
    }
}

fn demo_service(password: &str) -> Service {
    Service {
        service_id: format!("demo-{}", std::process::id()),
        remote_id: None,
        domain: Some("customer-example.com".into()),
        username: Some("custexam".into()),
        password: Some(password.into()),
        package: Some("101".into()),
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
