//! The HostMeNow part of the demo: a cPanel hosting account's whole life.

use provisioning_host::Request;
use provisioning_sandbox::{Sandbox, hostmenow};

use super::{ProviderDemo, Step, demo_password, demo_service, ungranted_step};

pub(super) fn demo(sandbox: &Sandbox) -> ProviderDemo {
    let password = demo_password("Initial");
    let new_password = demo_password("Rotated");
    let mut service = demo_service(&format!("demo-{}", std::process::id()), Some(&password));
    service.package = Some("101".into());
    let service_id = service.service_id.clone();
    let s = || service.clone();
    ProviderDemo {
        module: "hostmenow",
        component: provisioning_components::HOSTMENOW,
        settings: vec![
            ("endpoint", sandbox.hostmenow().endpoint()),
            ("api-key", hostmenow::API_KEY.to_string()),
        ],
        secrets: vec![
            hostmenow::API_KEY.to_string(),
            password,
            new_password.clone(),
        ],
        steps: vec![
            Step::ok("test-connection", Request::TestConnection),
            Step::ok("list-packages", Request::ListPackages),
            Step::ok("create-account", Request::CreateAccount { service: s() }),
            Step::ok(
                "suspend",
                Request::Suspend {
                    service: s(),
                    reason: Some("Overdue invoice".into()),
                },
            ),
            Step::ok("unsuspend", Request::Unsuspend { service: s() }),
            Step::ok(
                "change-password",
                Request::ChangePassword {
                    service: s(),
                    new_password,
                },
            ),
            Step::ok(
                "change-package",
                Request::ChangePackage {
                    service: s(),
                    new_package: "102".into(),
                },
            ),
            Step::ok("usage-data", Request::UsageData { service: s() }),
            Step::ok(
                "single-sign-on",
                Request::SingleSignOn {
                    service: s(),
                    app: Some("Email_Accounts".into()),
                },
            ),
            // HostMeNow's API has no status call.
            Step::fails(
                "service-status",
                Request::ServiceStatus { service: s() },
                "unsupported",
            ),
            Step::ok("terminate", Request::Terminate { service: s() }),
            ungranted_step(
                "endpoint",
                "https://example.com/backstage/modules/addons/products_reseller/api.php",
            ),
        ],
        state: Box::new(move |sandbox| {
            sandbox
                .hostmenow()
                .service(&service_id)
                .map(|s| format!("{:?}, product {}", s.status, s.product_id))
                .unwrap_or_else(|| "-".into())
        }),
    }
}
