//! What the module is: `info()` and the settings it declares.

use provisioning_guest::types::{Function, ModuleInfo, SettingSpec};

/// Setting: URL of the Products Reseller API.
pub const ENDPOINT: &str = "endpoint";
/// Setting: the reseller's API key.
pub const API_KEY: &str = "api-key";
/// Setting: dedicated IP address sent as `ip_address`.
pub const IP_ADDRESS: &str = "ip-address";
/// Setting (the next release only): how many of the product one order
/// buys, sent as `qty`.
#[cfg(feature = "next-version")]
pub const QUANTITY: &str = "quantity";

/// The documented endpoint.
const DEFAULT_ENDPOINT: &str =
    "https://hostmenow.org/backstage/modules/addons/products_reseller/api.php";

/// The settings every call takes.
pub fn settings() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text(ENDPOINT, "API endpoint")
            .required()
            .with_default(DEFAULT_ENDPOINT)
            .with_help("URL of the Products Reseller API (api.php)"),
        SettingSpec::secret(API_KEY, "API key")
            .required()
            .with_help("API key from the HostMeNow reseller dashboard"),
        #[cfg(feature = "next-version")]
        SettingSpec::number(QUANTITY, "Quantity")
            .per_product()
            .with_default("1")
            .with_help("How many of the product one order buys, sent as qty"),
        SettingSpec::text(IP_ADDRESS, "Dedicated IP address")
            .per_product()
            .with_help(
                "Sent as ip_address when the product comes with a dedicated IP; \
                 a service custom field `ip_address` overrides it",
            ),
    ]
}

/// Describes the module.
pub fn module_info() -> ModuleInfo {
    ModuleInfo {
        id: "hostmenow".to_owned(),
        name: "HostMeNow Products Reseller".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        // No service-status: the API has no call that reports one.
        functions: vec![
            Function::TestConnection,
            Function::CreateAccount,
            Function::Suspend,
            Function::Unsuspend,
            Function::Terminate,
            Function::ChangePassword,
            Function::ChangePackage,
            Function::UsageData,
            Function::ListPackages,
            Function::SingleSignOn,
        ],
        settings: settings(),
        outbound_hosts: vec!["https://hostmenow.org".to_owned()],
    }
}
