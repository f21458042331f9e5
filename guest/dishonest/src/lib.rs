//! A module that lies about itself on purpose, for the conformance kit's
//! tests (`provisioning conformance`): each lie below is what one of the
//! kit's checks must catch. It talks to the HostMeNow API (the sandbox's
//! simulator in the tests), so its honest parts behave like a real module.
//!
//! - `info` declares `usage-data`, which answers `unsupported` (check
//!   `info-functions-answer`);
//! - `list-packages` is not declared, yet answers a success (check
//!   `info-undeclared-unsupported`);
//! - setting `account-password` is named a password but declared `text`,
//!   not `secret` (check `info-settings`), so the host does not mask it
//!   where `usage-data` quotes it (check `secrets`; the kit masks it in
//!   its own report);
//! - `test-connection` puts the secret `api-key` in its message and
//!   prints it (check `secrets`);
//! - `service-status`, a read, asks the provider to create the service
//!   (check `reads-change-nothing`);
//! - a `create-account` the provider refuses as already existing answers a
//!   second, new account (check `create-retry`).
//!
//! Every other function answers `unsupported`, as it should.

#![deny(unsafe_code)]
#![warn(missing_docs)]

use provisioning_guest::Guest;
use provisioning_guest::http::Request;
use provisioning_guest::settings::Settings;
use provisioning_guest::types::{
    ConnectionStatus, CreatedAccount, Error, Function, ListedAccount, ModuleInfo, Outcome, Package,
    Service, ServiceState, Setting, SettingSpec, StatusReport, Usage,
};
use serde_json::{Value, json};

const ENDPOINT: &str = "endpoint";
const API_KEY: &str = "api-key";
const ACCOUNT_PASSWORD: &str = "account-password";

fn settings() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text(ENDPOINT, "API endpoint")
            .required()
            .with_help("URL of the HostMeNow Products Reseller API (api.php)"),
        SettingSpec::secret(API_KEY, "API key")
            .required()
            .with_help("API key from the HostMeNow reseller dashboard"),
        // The lie: a password declared as plain text.
        SettingSpec::text(ACCOUNT_PASSWORD, "Account password")
            .per_product()
            .with_help("A password the module never uses"),
    ]
}

/// The module.
struct Dishonest;

fn unsupported<T>() -> Result<T, Error> {
    Err(Error::Unsupported(
        "the dishonest test module does not do this".to_owned(),
    ))
}

/// Sends one HostMeNow action and returns its answer's body when the
/// provider says `success`; its message as `provider` otherwise.
fn call(settings: &Settings, action: &str, params: Value) -> Result<Value, Error> {
    let endpoint = settings.endpoint(ENDPOINT)?;
    let body = json!({
        "action": action,
        "api_key": settings.require(API_KEY)?,
        "params": params,
    });
    Request::post(endpoint.as_str())
        .json(&body)
        .send()?
        .into_json()?
        .accept_body(|reply| {
            let status = reply.body().get("status").and_then(Value::as_str);
            match status {
                Some("success") if reply.is_success() => Some(Ok(())),
                Some("error") => Some(Err(Error::Provider(
                    reply
                        .message()
                        .unwrap_or_else(|| format!("{action} failed")),
                ))),
                _ => None,
            }
        })
}

/// The params of HostMeNow's `CreateAccount` for `service`.
fn create_params(service: &Service) -> Result<Value, Error> {
    Ok(json!({
        "serviceid": service.service_id,
        "billingcycle": text(service.billing_cycle.as_deref(), "billing-cycle")?.to_lowercase(),
        "qty": "1",
        "domain": text(service.domain.as_deref(), "domain")?,
        "username": text(service.username.as_deref(), "username")?,
        "password": text(service.password.as_deref(), "password")?,
        "selected_product": text(service.package.as_deref(), "package")?,
    }))
}

fn text(value: Option<&str>, name: &str) -> Result<String, Error> {
    value
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::InvalidInput(format!("the service has no `{name}`")))
}

impl Guest for Dishonest {
    fn info() -> ModuleInfo {
        ModuleInfo {
            id: "dishonest".to_owned(),
            name: "Dishonest test module".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            functions: vec![
                Function::TestConnection,
                Function::CreateAccount,
                // The lie: declared, yet answered `unsupported`.
                Function::UsageData,
                Function::ServiceStatus,
            ],
            settings: settings(),
            outbound_hosts: vec!["https://hostmenow.org".to_owned()],
        }
    }

    fn test_connection(settings: Vec<Setting>) -> Result<ConnectionStatus, Error> {
        let settings = Settings::parse(&settings, &self::settings())?;
        call(&settings, "Get_Products", json!({}))?;
        // The lie: the secret in the module's output and in the answer.
        eprintln!("connected with key {}", settings.require(API_KEY)?);
        Ok(ConnectionStatus {
            message: format!("Connected with key {}", settings.require(API_KEY)?),
            details: Vec::new(),
        })
    }

    fn create_account(settings: Vec<Setting>, service: Service) -> Result<CreatedAccount, Error> {
        let settings = Settings::parse(&settings, &self::settings())?;
        let remote_id = match call(&settings, "CreateAccount", create_params(&service)?) {
            Ok(_) => service.service_id.clone(),
            // The lie: the provider said the service exists, and the
            // module answers a second, new account.
            Err(Error::Provider(message)) if message.to_lowercase().contains("already exists") => {
                format!("{}-again", service.service_id)
            }
            Err(error) => return Err(error),
        };
        Ok(CreatedAccount {
            remote_id,
            already_existed: false,
            status: ServiceState::Active,
            message: "Account created".to_owned(),
            credentials: Vec::new(),
        })
    }

    fn suspend(_: Vec<Setting>, _: Service, _: Option<String>) -> Result<Outcome, Error> {
        unsupported()
    }

    fn unsuspend(_: Vec<Setting>, _: Service) -> Result<Outcome, Error> {
        unsupported()
    }

    fn terminate(_: Vec<Setting>, _: Service) -> Result<Outcome, Error> {
        unsupported()
    }

    fn change_password(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported()
    }

    fn change_package(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported()
    }

    fn change_domain(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported()
    }

    fn usage_data(settings: Vec<Setting>, _: Service) -> Result<Usage, Error> {
        let settings = Settings::parse(&settings, &self::settings())?;
        // The lie: a password in a message.
        Err(Error::Unsupported(format!(
            "no usage is kept for the account with password {}",
            settings.get(ACCOUNT_PASSWORD).unwrap_or_default()
        )))
    }

    fn list_packages(_: Vec<Setting>) -> Result<Vec<Package>, Error> {
        // The lie: not declared, yet a success.
        Ok(Vec::new())
    }

    fn single_sign_on(_: Vec<Setting>, _: Service, _: Option<String>) -> Result<String, Error> {
        unsupported()
    }

    fn service_status(settings: Vec<Setting>, service: Service) -> Result<StatusReport, Error> {
        let settings = Settings::parse(&settings, &self::settings())?;
        // The lie: a read that asks the provider to create the service
        // ("to be sure it is there").
        let state = match call(&settings, "CreateAccount", create_params(&service)?) {
            Ok(_) => ServiceState::Active,
            Err(_) => ServiceState::Unknown,
        };
        Ok(StatusReport {
            state,
            details: Vec::new(),
        })
    }

    fn list_accounts(_: Vec<Setting>) -> Result<Vec<ListedAccount>, Error> {
        unsupported()
    }
}

provisioning_guest::export!(Dishonest);
