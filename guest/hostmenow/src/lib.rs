//! The HostMeNow Products Reseller module: maps world `provider` onto the
//! reseller API (one JSON endpoint taking `{api_key, action, params}`).
//!
//! Everything generic (settings, HTTP, error mapping by status and body
//! shape) lives in `provisioning-guest`; this crate only maps.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod info;
mod params;
mod products;
mod sso;
mod usage;

use provisioning_guest::settings::Settings;
use provisioning_guest::types::{
    ConnectionStatus, CreatedAccount, Error, ListedAccount, ModuleInfo, Outcome, Package, Service,
    ServiceState, Setting, StatusReport, Usage,
};
use provisioning_guest::{Guest, json};
use serde_json::{Map, Value};

use crate::api::{Api, action, message_or};

/// The module.
struct HostMeNow;

/// The call's settings, checked, and a client built from them.
fn open(settings: &[Setting]) -> Result<(Settings, Api), Error> {
    let settings = Settings::parse(settings, &info::settings())?;
    let api = Api::new(&settings)?;
    Ok((settings, api))
}

/// Runs an account action and reports the provider's own words.
fn account_action(
    settings: &[Setting],
    service: &Service,
    action: &str,
    extra: impl FnOnce(&mut params::Params),
) -> Result<Outcome, Error> {
    let (settings, api) = open(settings)?;
    let mut params = params::account(service, &settings)?;
    extra(&mut params);
    run(&api, action, params)
}

/// Runs `action` and turns its answer into an outcome.
fn run(api: &Api, action: &str, params: params::Params) -> Result<Outcome, Error> {
    let body = api.call(action, params)?;
    Ok(Outcome {
        message: message_or(&body, &format!("{action} succeeded")),
        credentials: Vec::new(),
    })
}

impl Guest for HostMeNow {
    fn info() -> ModuleInfo {
        info::module_info()
    }

    fn test_connection(settings: Vec<Setting>) -> Result<ConnectionStatus, Error> {
        let (_, api) = open(&settings)?;
        // `{}`, not the reference module's `[]`: the service takes both.
        let body = api.call(action::GET_PRODUCTS, Map::new())?;
        let count = products::count(&body)?;
        Ok(ConnectionStatus {
            message: format!("Connected; {count} product(s) available to this reseller account"),
            details: vec![("products".to_owned(), count.to_string())],
        })
    }

    fn create_account(settings: Vec<Setting>, service: Service) -> Result<CreatedAccount, Error> {
        let (settings, api) = open(&settings)?;
        let body = api.call(action::CREATE, params::create(&service, &settings)?)?;
        let remote_id = json::find(&body, "order_id", &["data"])
            .and_then(json::text)
            .unwrap_or_else(|| service.service_id.trim().to_owned());
        Ok(CreatedAccount {
            remote_id,
            already_existed: false,
            status: ServiceState::Active,
            message: message_or(&body, "Account created"),
            // The password came from the platform; nothing new to hand over.
            credentials: Vec::new(),
        })
    }

    fn suspend(
        settings: Vec<Setting>,
        service: Service,
        reason: Option<String>,
    ) -> Result<Outcome, Error> {
        account_action(&settings, &service, action::SUSPEND, |params| {
            if let Some(reason) = provisioning_guest::input::optional(reason.as_deref()) {
                params.insert("suspendreason".to_owned(), Value::from(reason));
            }
        })
    }

    fn unsuspend(settings: Vec<Setting>, service: Service) -> Result<Outcome, Error> {
        account_action(&settings, &service, action::UNSUSPEND, |_| {})
    }

    fn terminate(settings: Vec<Setting>, service: Service) -> Result<Outcome, Error> {
        account_action(&settings, &service, action::TERMINATE, |_| {})
    }

    fn change_password(
        settings: Vec<Setting>,
        service: Service,
        new_password: String,
    ) -> Result<Outcome, Error> {
        let (settings, api) = open(&settings)?;
        let params = params::change_password(&service, &settings, &new_password)?;
        run(&api, action::CHANGE_PASSWORD, params)
    }

    fn change_package(
        settings: Vec<Setting>,
        service: Service,
        new_package: String,
    ) -> Result<Outcome, Error> {
        let (settings, api) = open(&settings)?;
        let params = params::change_package(&service, &settings, &new_package)?;
        // The provider may resolve the package on its side and ignore ours:
        // report only what it says, never "moved to <new-package>".
        run(&api, action::CHANGE_PACKAGE, params)
    }

    fn change_domain(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        Err(Error::Unsupported(
            "the HostMeNow API has no call that moves a service to another domain".to_owned(),
        ))
    }

    fn usage_data(settings: Vec<Setting>, service: Service) -> Result<Usage, Error> {
        let (_, api) = open(&settings)?;
        let body = api.call(action::USAGE, params::service_id(&service)?)?;
        usage::usage(&body)
    }

    fn list_packages(settings: Vec<Setting>) -> Result<Vec<Package>, Error> {
        let (_, api) = open(&settings)?;
        let body = api.call(action::GET_PRODUCTS, Map::new())?;
        products::packages(&body)
    }

    fn single_sign_on(
        settings: Vec<Setting>,
        service: Service,
        app: Option<String>,
    ) -> Result<String, Error> {
        let (_, api) = open(&settings)?;
        let body = api.call(action::SERVER_NAME, params::service_id(&service)?)?;
        sso::require_cpanel(&sso::server_name(&body)?)?;
        let mut params = params::service_id(&service)?;
        if let Some(app) = provisioning_guest::input::optional(app.as_deref()) {
            params.insert("app".to_owned(), Value::from(app));
        }
        sso::login_url(&api.call(action::SSO, params)?)
    }

    fn service_status(_: Vec<Setting>, _: Service) -> Result<StatusReport, Error> {
        Err(Error::Unsupported(
            "the HostMeNow API has no call that reports a service's status".to_owned(),
        ))
    }

    fn list_accounts(_: Vec<Setting>) -> Result<Vec<ListedAccount>, Error> {
        Err(Error::Unsupported(
            "the HostMeNow API has no call that lists the reseller's accounts \
             (every account call takes one service id)"
                .to_owned(),
        ))
    }
}

provisioning_guest::export!(HostMeNow);
