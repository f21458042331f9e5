//! The Webline part of the demo: a hosting account whose username and
//! password the provider generates and shows once, and which is pending for
//! a moment before it becomes active. The documented API offers no
//! suspension, termination or changes, so those answer unsupported.

use std::time::Duration;

use provisioning_host::Request;
use provisioning_sandbox::Sandbox;
use provisioning_sandbox::webline::{self, Provisioning};

use super::{ProviderDemo, Step, demo_service, ungranted_step};

pub(super) fn demo(sandbox: &Sandbox) -> ProviderDemo {
    // Realistic: the account is pending for a moment; create-account waits
    // for it (up to its `activation-wait-seconds`).
    sandbox
        .webline()
        .set_provisioning(Provisioning::After(Duration::from_millis(1500)));
    let mut service = demo_service(&format!("web-{}", std::process::id()), None);
    service.domain = Some("hosted-example.co.tz".into());
    service.package = Some("1".into());
    let domain = service.domain.clone().unwrap_or_default();
    let s = || service.clone();
    ProviderDemo {
        module: "webline",
        component: provisioning_components::WEBLINE,
        settings: vec![
            ("endpoint", sandbox.webline().endpoint()),
            ("api-key", webline::API_KEY.to_string()),
        ],
        secrets: vec![webline::API_KEY.to_string()],
        steps: vec![
            Step::ok("test-connection", Request::TestConnection),
            Step::ok("list-packages", Request::ListPackages),
            Step::ok("create-account", Request::CreateAccount { service: s() }),
            Step::ok("service-status", Request::ServiceStatus { service: s() }),
            Step::fails(
                "suspend",
                Request::Suspend {
                    service: s(),
                    reason: None,
                },
                "unsupported",
            ),
            Step::fails(
                "terminate",
                Request::Terminate { service: s() },
                "unsupported",
            ),
            Step::fails(
                "usage-data",
                Request::UsageData { service: s() },
                "unsupported",
            ),
            ungranted_step("endpoint", "https://example.com/api/hosting-public.php"),
        ],
        state: Box::new(move |sandbox| {
            sandbox
                .webline()
                .accounts()
                .into_iter()
                .find(|a| a.domain == domain)
                .map(|a| format!("{:?}, package {}", a.status, a.package_id))
                .unwrap_or_else(|| "-".into())
        }),
    }
}
