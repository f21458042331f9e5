//! What the module is: `info()` and the settings it declares.

use provisioning_guest::types::{Function, ModuleInfo, SettingSpec};

/// Setting: base URL of the HTTP API (test or live host).
pub const ENDPOINT: &str = "endpoint";
/// Setting: the reseller id sent as `auth-userid`.
pub const AUTH_USERID: &str = "auth-userid";
/// Setting: the reseller's API key sent as `api-key`.
pub const API_KEY: &str = "api-key";
/// Setting (per product): the email order the mailboxes live in.
pub const ORDER_ID: &str = "order-id";
/// Setting (per product): what kind of mailbox create-account makes.
pub const ACCOUNT_TYPE: &str = "account-type";
/// Setting (per product): language code sent when the client has none.
pub const LANGUAGE: &str = "language-code";

/// [`ACCOUNT_TYPE`]: a full mailbox (`mail/user/add`).
pub const TYPE_MAILBOX: &str = "mailbox";
/// [`ACCOUNT_TYPE`]: a forward-only address
/// (`mail/user/add-forward-only-account`).
pub const TYPE_FORWARD_ONLY: &str = "forward-only";

/// The test host; the live host differs only by this setting.
const DEFAULT_ENDPOINT: &str = "https://test.httpapi.com";

/// The settings every call takes.
pub fn settings() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text(ENDPOINT, "API host")
            .required()
            .with_default(DEFAULT_ENDPOINT)
            .with_help(
                "https://test.httpapi.com for the test environment, https://httpapi.com live",
            ),
        SettingSpec::text(AUTH_USERID, "Reseller ID")
            .required()
            .with_help("Your reseller id, sent as auth-userid"),
        SettingSpec::secret(API_KEY, "API key")
            .required()
            .with_help("API key from the reseller control panel (Settings > API)"),
        // Not required: test-connection works without it; mail calls
        // ask for it by name.
        SettingSpec::text(ORDER_ID, "Email order ID")
            .per_product()
            .with_help("Order id of the email hosting order the mailboxes are created in"),
        SettingSpec::choice(
            ACCOUNT_TYPE,
            "Account type",
            &[TYPE_MAILBOX, TYPE_FORWARD_ONLY],
        )
        .per_product()
        .with_default(TYPE_MAILBOX)
        .with_help("mailbox, or forward-only (forwards to the service's `forwards` custom field)"),
        SettingSpec::text(LANGUAGE, "Default language code")
            .per_product()
            .with_default("en")
            .with_help("Sent as language-code when the client record has no language"),
    ]
}

/// The functions the module supports: the mail user API has no package,
/// usage, status or single sign-on call for a mailbox.
pub fn functions() -> Vec<Function> {
    vec![
        Function::TestConnection,
        Function::CreateAccount,
        Function::Suspend,
        Function::Unsuspend,
        Function::Terminate,
        Function::ChangePassword,
    ]
}

/// Describes the module.
pub fn module_info() -> ModuleInfo {
    ModuleInfo {
        id: "logicboxes".to_owned(),
        name: "LogicBoxes / ResellerClub Mail".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        functions: functions(),
        settings: settings(),
        outbound_hosts: vec![
            "https://test.httpapi.com".to_owned(),
            "https://httpapi.com".to_owned(),
        ],
    }
}
