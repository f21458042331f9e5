//! What the module is: `info()` and the settings it declares.

use provisioning_guest::types::{Function, ModuleInfo, SettingSpec};

/// Setting: URL of the v1 reseller API (`.../ams/reseller.php`).
pub const ENDPOINT: &str = "endpoint";
/// Setting: the reseller user ID, sent as `uid`.
pub const UID: &str = "uid";
/// Setting: the reseller password, sent as `password`.
pub const PASSWORD: &str = "password";
/// Setting: whether licenses are added and changed in test mode.
pub const TEST_MODE: &str = "test-mode";
/// Setting: the license term used when the service names none.
pub const TERM: &str = "term";

/// The terms the API knows (`owned`, `monthly`, `yearly`).
pub const TERMS: [&str; 3] = ["owned", "monthly", "yearly"];

/// The documented endpoint.
const DEFAULT_ENDPOINT: &str = "https://www.phillipsdata.com/ams/reseller.php";

/// The settings every call takes.
pub fn settings() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text(ENDPOINT, "API endpoint")
            .required()
            .with_default(DEFAULT_ENDPOINT)
            .with_help("URL of the Blesta reseller API v1 (reseller.php)"),
        SettingSpec::text(UID, "Reseller user ID")
            .required()
            .with_help("Your Blesta reseller user ID"),
        SettingSpec::secret(PASSWORD, "Reseller password")
            .required()
            .with_help("Your Blesta reseller user password"),
        SettingSpec::boolean(TEST_MODE, "Test mode")
            .with_default("false")
            .with_help("Add and change licenses in the provider's test mode"),
        SettingSpec::choice(TERM, "License term", &TERMS)
            .per_product()
            .with_default("monthly")
            .with_help("Term of new licenses when the service's package names none"),
    ]
}

/// Describes the module.
pub fn module_info() -> ModuleInfo {
    ModuleInfo {
        id: "blesta".to_owned(),
        name: "Blesta License Reseller".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        // A license has no password, no usage figures and no control panel,
        // and its term cannot be changed through the API.
        functions: vec![
            Function::TestConnection,
            Function::CreateAccount,
            Function::Suspend,
            Function::Unsuspend,
            Function::Terminate,
            Function::ChangeDomain,
            Function::ListPackages,
            Function::ListAccounts,
        ],
        settings: settings(),
        outbound_hosts: vec!["https://www.phillipsdata.com".to_owned()],
    }
}
