//! What the module is: `info()` and the settings it declares.

use provisioning_guest::types::{Function, ModuleInfo, SettingSpec};

/// Setting: URL of the hosting API.
pub const ENDPOINT: &str = "endpoint";
/// Setting: the reseller's API key, sent as `X-API-KEY`.
pub const API_KEY: &str = "api-key";
/// Setting (per product): the package id, when the service has none.
pub const PACKAGE_ID: &str = "package-id";
/// Setting (per product): how long create-account waits for `active`.
pub const ACTIVATION_WAIT: &str = "activation-wait-seconds";

/// The documented endpoint.
const DEFAULT_ENDPOINT: &str = "https://reseller.co.tz/api/hosting-public.php";

/// Default wait for `active`: well under the host's default 30 s deadline,
/// which bounds the whole call anyway.
pub const DEFAULT_WAIT_SECONDS: &str = "10";

/// The settings every call takes.
pub fn settings() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text(ENDPOINT, "API endpoint")
            .required()
            .with_default(DEFAULT_ENDPOINT)
            .with_help("URL of the Webline hosting API (hosting-public.php)"),
        SettingSpec::secret(API_KEY, "API key")
            .required()
            .with_help("API key from the Webline Africa reseller dashboard"),
        SettingSpec::number(PACKAGE_ID, "Hosting package id")
            .per_product()
            .with_help("Package id from list-packages; the service's own package wins"),
        SettingSpec::number(ACTIVATION_WAIT, "Wait for activation (seconds)")
            .per_product()
            .with_default(DEFAULT_WAIT_SECONDS)
            .with_help(
                "How long create-account polls for the new account to become active \
                 before reporting it pending (0 = check once; at most 20). Keep it a few \
                 seconds under the host's call deadline: a call the host stops loses the \
                 one-time credentials",
            ),
    ]
}

/// Describes the module.
pub fn module_info() -> ModuleInfo {
    ModuleInfo {
        id: "webline".to_owned(),
        name: "Webline Africa Hosting".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        // The documented API has no suspend, unsuspend, terminate, password
        // or package change, no usage figures and no single sign-on.
        functions: vec![
            Function::TestConnection,
            Function::CreateAccount,
            Function::ListPackages,
            Function::ServiceStatus,
            Function::ListAccounts,
        ],
        settings: settings(),
        outbound_hosts: vec!["https://reseller.co.tz".to_owned()],
    }
}
