//! A provider module: the contract of `wit/provisioning.wit` (world
//! `provider`) mapped onto one provider's API.
//!
//! It starts with one function, `test-connection`, which asks the API at
//! the `endpoint` setting whether the `api-key` setting is accepted; every
//! other function answers `unsupported`. Map the provider's calls one
//! function at a time: implement it below, add it to `info().functions`,
//! and declare any setting it needs in `settings()`.
//!
//! `provisioning_guest` does what is not the provider's own: checking
//! settings, HTTP with bounded bodies, and mapping HTTP statuses, bodies that
//! are not JSON and transport failures to the contract's typed errors.
//!
//! (This file is `provisioning-guest`'s example, `examples/module.rs`, and
//! the `src/lib.rs` that `provisioning new-module --lang rust` writes.)

#![deny(unsafe_code)]
#![warn(missing_docs)]

use provisioning_guest::Guest;
use provisioning_guest::http::Request;
use provisioning_guest::settings::Settings;
use provisioning_guest::types::{
    ConnectionStatus, CreatedAccount, Error, Function, ListedAccount, ModuleInfo, Outcome, Package,
    Service, Setting, SettingSpec, StatusReport, Usage,
};

/// The module: one unit struct, exported once at the end of this file.
struct Module;

/// The setting holding the base URL of the provider's API.
const ENDPOINT: &str = "endpoint";
/// The setting holding the API key: a secret, which the host masks in
/// every log, error and answer.
const API_KEY: &str = "api-key";

/// The settings every call takes, as a billing platform asks the operator
/// for them.
fn settings() -> Vec<SettingSpec> {
    vec![
        SettingSpec::text(ENDPOINT, "API endpoint")
            .required()
            .with_help("Base URL of the provider's API, e.g. https://api.example.com/v1"),
        SettingSpec::secret(API_KEY, "API key")
            .required()
            .with_help("The reseller's API key"),
    ]
}

/// What every function the module does not support answers.
fn unsupported<T>(function: &str) -> Result<T, Error> {
    Err(Error::Unsupported(format!(
        "{function} is not supported by this module"
    )))
}

impl Guest for Module {
    fn info() -> ModuleInfo {
        ModuleInfo {
            // The id the host checks a new version against, and the
            // component's file name: both come from the package name.
            id: env!("CARGO_PKG_NAME").to_owned(),
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            functions: vec![Function::TestConnection],
            settings: settings(),
            // The endpoint is a setting, so the module names no origin of
            // its own: the operator's allow-list grants the endpoint's.
            outbound_hosts: Vec::new(),
        }
    }

    fn test_connection(settings: Vec<Setting>) -> Result<ConnectionStatus, Error> {
        let settings = Settings::parse(&settings, &self::settings())?;
        let endpoint = settings.endpoint(ENDPOINT)?;
        let reply = Request::get(&endpoint.join("status"))
            .header(
                "authorization",
                &format!("Bearer {}", settings.require(API_KEY)?),
            )
            .send()?
            // A 429, or a body that is not JSON (an HTML error page, an
            // empty or cut-off body), becomes its typed error here.
            .into_json()?;
        // What a successful answer looks like is the provider's to say;
        // anything else fails by its HTTP status (401 `auth-failed`, 5xx
        // `provider`, an unexpected 2xx shape `bad-response`).
        reply.interpret(|reply| {
            reply.is_success().then(|| {
                Ok(ConnectionStatus {
                    message: reply
                        .message()
                        .unwrap_or_else(|| format!("connected to {}", reply.origin())),
                    details: Vec::new(),
                })
            })
        })
    }

    fn create_account(_: Vec<Setting>, _: Service) -> Result<CreatedAccount, Error> {
        unsupported("create-account")
    }

    fn suspend(_: Vec<Setting>, _: Service, _: Option<String>) -> Result<Outcome, Error> {
        unsupported("suspend")
    }

    fn unsuspend(_: Vec<Setting>, _: Service) -> Result<Outcome, Error> {
        unsupported("unsuspend")
    }

    fn terminate(_: Vec<Setting>, _: Service) -> Result<Outcome, Error> {
        unsupported("terminate")
    }

    fn change_password(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported("change-password")
    }

    fn change_package(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported("change-package")
    }

    fn change_domain(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported("change-domain")
    }

    fn usage_data(_: Vec<Setting>, _: Service) -> Result<Usage, Error> {
        unsupported("usage-data")
    }

    fn list_packages(_: Vec<Setting>) -> Result<Vec<Package>, Error> {
        unsupported("list-packages")
    }

    fn single_sign_on(_: Vec<Setting>, _: Service, _: Option<String>) -> Result<String, Error> {
        unsupported("single-sign-on")
    }

    fn service_status(_: Vec<Setting>, _: Service) -> Result<StatusReport, Error> {
        unsupported("service-status")
    }

    fn list_accounts(_: Vec<Setting>) -> Result<Vec<ListedAccount>, Error> {
        unsupported("list-accounts")
    }
}

provisioning_guest::export!(Module);
