//! The Blesta part of the demo: a software license's life. Licenses have no
//! password, package change or usage, so those answer unsupported.

use provisioning_host::Request;
use provisioning_sandbox::{Sandbox, blesta};

use super::{ProviderDemo, Step, demo_password, demo_service, ungranted_step};

pub(super) fn demo(sandbox: &Sandbox) -> ProviderDemo {
    let mut service = demo_service(&format!("lic-{}", std::process::id()), None);
    service.domain = Some("licensed-example.com".into());
    service.package = Some("monthly".into());
    let domain = service.domain.clone().unwrap_or_default();
    let s = || service.clone();
    // After change-domain the platform knows the service by its new domain.
    let moved = {
        let mut moved = service.clone();
        moved.domain = Some("relicensed-example.com".into());
        moved
    };
    ProviderDemo {
        module: "blesta",
        component: provisioning_components::BLESTA,
        settings: vec![
            ("endpoint", sandbox.blesta().endpoint()),
            ("uid", blesta::UID.to_string()),
            ("password", blesta::PASSWORD.to_string()),
        ],
        secrets: vec![blesta::PASSWORD.to_string()],
        steps: vec![
            Step::ok("test-connection", Request::TestConnection),
            Step::ok("list-packages", Request::ListPackages),
            Step::ok("create-account", Request::CreateAccount { service: s() }),
            // Safe to retry: the existing license comes back, no second one.
            Step::ok(
                "create-account (retried)",
                Request::CreateAccount { service: s() },
            ),
            Step::ok(
                "suspend",
                Request::Suspend {
                    service: s(),
                    reason: None,
                },
            ),
            Step::ok("unsuspend", Request::Unsuspend { service: s() }),
            Step::ok(
                "change-domain",
                Request::ChangeDomain {
                    service: s(),
                    new_domain: "relicensed-example.com".into(),
                },
            ),
            Step::fails(
                "change-password",
                Request::ChangePassword {
                    service: s(),
                    new_password: demo_password("Unused"),
                },
                "unsupported",
            ),
            Step::fails(
                "change-package",
                Request::ChangePackage {
                    service: s(),
                    new_package: "yearly".into(),
                },
                "unsupported",
            ),
            Step::fails(
                "usage-data",
                Request::UsageData { service: s() },
                "unsupported",
            ),
            Step::ok("terminate", Request::Terminate { service: moved }),
            ungranted_step("endpoint", "https://example.com/ams/reseller.php"),
        ],
        state: Box::new(move |sandbox| {
            let licenses: Vec<_> = sandbox
                .blesta()
                .licenses()
                .into_iter()
                .filter(|l| l.domain == domain || l.domain == "relicensed-example.com")
                .collect();
            match licenses.as_slice() {
                [] => "-".into(),
                [license] => format!("{:?}, term {}", license.status, license.term),
                many => format!("{} licenses!", many.len()),
            }
        }),
    }
}
