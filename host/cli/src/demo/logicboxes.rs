//! The LogicBoxes part of the demo: a mailbox inside an email order, its
//! password changed, then reset (the generated password is handed back
//! once). Plans belong to the order, not the mailbox, so change-package and
//! usage-data answer unsupported.

use provisioning_host::Request;
use provisioning_sandbox::{Sandbox, logicboxes};

use super::{ProviderDemo, Step, demo_password, demo_service, ungranted_step};

pub(super) fn demo(sandbox: &Sandbox) -> ProviderDemo {
    let password = demo_password("Mailbox");
    let new_password = demo_password("Changed");
    let mut service = demo_service(&format!("mail-{}", std::process::id()), Some(&password));
    service.domain = Some(logicboxes::ORDER_DOMAIN.into());
    service.username = Some("amina".into());
    let email = format!("amina@{}", logicboxes::ORDER_DOMAIN);
    let changed = {
        let mut changed = service.clone();
        changed.password = Some(new_password.clone());
        changed
    };
    let forgotten = {
        let mut forgotten = service.clone();
        forgotten.password = None;
        forgotten
    };
    let s = || service.clone();
    ProviderDemo {
        module: "logicboxes",
        component: provisioning_components::LOGICBOXES,
        settings: vec![
            ("endpoint", sandbox.origin()),
            ("auth-userid", logicboxes::AUTH_USERID.to_string()),
            ("api-key", logicboxes::API_KEY.to_string()),
            ("order-id", logicboxes::ORDER_ID.to_string()),
        ],
        secrets: vec![
            logicboxes::API_KEY.to_string(),
            password,
            new_password.clone(),
        ],
        steps: vec![
            Step::ok("test-connection", Request::TestConnection),
            Step::ok("create-account", Request::CreateAccount { service: s() }),
            Step::ok(
                "suspend",
                Request::Suspend {
                    service: s(),
                    reason: None,
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
            // The platform lost the old password: the provider resets it and
            // the generated one comes back (masked here).
            Step::ok(
                "change-password (reset)",
                Request::ChangePassword {
                    service: forgotten,
                    new_password: demo_password("Wanted"),
                },
            ),
            Step::fails(
                "change-package",
                Request::ChangePackage {
                    service: changed.clone(),
                    new_package: "pro".into(),
                },
                "unsupported",
            ),
            Step::fails(
                "usage-data",
                Request::UsageData {
                    service: changed.clone(),
                },
                "unsupported",
            ),
            Step::ok("terminate", Request::Terminate { service: changed }),
            ungranted_step("endpoint", "https://test.httpapi.com"),
        ],
        state: Box::new(move |sandbox| {
            sandbox
                .logicboxes()
                .mailbox(&email)
                .map(|m| format!("{:?}", m.status))
                .unwrap_or_else(|| "-".into())
        }),
    }
}
