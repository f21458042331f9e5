//! The Blesta License Reseller module: maps world `provider` onto the v1
//! reseller API (`.../ams/reseller.php`, form fields `action`, `uid`,
//! `password`, answers `{response_code, response_text, data}`).
//!
//! Everything generic (settings, HTTP, error mapping by status and body
//! shape) lives in `provisioning-guest`; this crate only maps.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod info;
mod license;
mod listing;
mod packages;

use provisioning_guest::settings::Settings;
use provisioning_guest::types::{
    ConnectionStatus, CreatedAccount, Credential, Error, ListedAccount, ModuleInfo, Outcome,
    Package, Service, ServiceState, Setting, StatusReport, Usage,
};
use provisioning_guest::{Guest, input, json};

use crate::api::{ALREADY_EXISTS, Api, action};

/// The module.
struct Blesta;

/// The call's settings, checked, and a client built from them.
fn open(settings: &[Setting]) -> Result<(Settings, Api), Error> {
    let settings = Settings::parse(settings, &info::settings())?;
    let api = Api::new(&settings)?;
    Ok((settings, api))
}

/// Runs a license action (`suspendlicense`, ...) on the service's license.
fn license_action(settings: &[Setting], service: &Service, action: &str) -> Result<Outcome, Error> {
    let (_, api) = open(settings)?;
    let key = license::key_of(&api, service)?;
    api.call(action, &[("license", &key), ("test_mode", api.test_mode())])?;
    Ok(Outcome {
        message: format!("{action} succeeded"),
        credentials: Vec::new(),
    })
}

/// The term of a new license: the service's package when it is a term,
/// else the product's `term` setting.
fn term_for(service: &Service, settings: &Settings) -> Result<String, Error> {
    match input::optional(service.package.as_deref()) {
        Some(package) => info::TERMS
            .iter()
            .find(|t| t.eq_ignore_ascii_case(package))
            .map(|t| (*t).to_owned())
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "the service's package must be a license term: one of {}",
                    info::TERMS.join(", ")
                ))
            }),
        None => Ok(settings.require(info::TERM)?.to_owned()),
    }
}

/// The answer handed back for a license, new or found.
fn created(key: String, already_existed: bool, message: &str) -> CreatedAccount {
    CreatedAccount {
        credentials: vec![Credential {
            name: "license".to_owned(),
            value: key.clone(),
            secret: false,
        }],
        remote_id: key,
        already_existed,
        status: ServiceState::Active,
        message: message.to_owned(),
    }
}

/// What the API cannot do, said once.
fn unsupported(what: &str) -> Error {
    Error::Unsupported(format!("the Blesta reseller API {what}"))
}

impl Guest for Blesta {
    fn info() -> ModuleInfo {
        info::module_info()
    }

    fn test_connection(settings: Vec<Setting>) -> Result<ConnectionStatus, Error> {
        let (_, api) = open(&settings)?;
        let data = api.call(action::GET_CREDIT, &[])?;
        let credit = json::text(&data).ok_or_else(|| {
            Error::BadResponse("getcredit succeeded but gave no amount".to_owned())
        })?;
        Ok(ConnectionStatus {
            message: format!("Connected; the reseller account has {credit} USD of credit"),
            details: vec![
                ("credit".to_owned(), credit),
                ("currency".to_owned(), "USD".to_owned()),
            ],
        })
    }

    fn create_account(settings: Vec<Setting>, service: Service) -> Result<CreatedAccount, Error> {
        let (settings, api) = open(&settings)?;
        let domain = input::required(service.domain.as_deref(), "domain")?;
        let term = term_for(&service, &settings)?;
        let added = api.call(
            action::ADD,
            &[
                ("term", &term),
                ("domain", domain),
                ("test_mode", api.test_mode()),
            ],
        );
        match added {
            Ok(data) => Ok(created(
                license::key_from_add(&data)?,
                false,
                "License added",
            )),
            // A retry after a lost answer: hand back the license already
            // there rather than failing or adding a second one.
            Err(failure) if failure.code == Some(ALREADY_EXISTS) => {
                match license::find_by_domain(&api, domain)? {
                    Some(key) => Ok(created(
                        key,
                        true,
                        "A license already existed for the domain",
                    )),
                    None => Err(failure.error),
                }
            }
            Err(failure) => Err(failure.error),
        }
    }

    fn suspend(
        settings: Vec<Setting>,
        service: Service,
        _reason: Option<String>,
    ) -> Result<Outcome, Error> {
        // suspendlicense takes no reason.
        license_action(&settings, &service, action::SUSPEND)
    }

    fn unsuspend(settings: Vec<Setting>, service: Service) -> Result<Outcome, Error> {
        license_action(&settings, &service, action::UNSUSPEND)
    }

    fn terminate(settings: Vec<Setting>, service: Service) -> Result<Outcome, Error> {
        license_action(&settings, &service, action::CANCEL)
    }

    fn change_password(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        Err(unsupported("has no passwords: a license has none"))
    }

    fn change_package(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        Err(unsupported("cannot change a license's term"))
    }

    fn change_domain(
        settings: Vec<Setting>,
        service: Service,
        new_domain: String,
    ) -> Result<Outcome, Error> {
        let new_domain = input::argument(&new_domain, "new-domain")?.to_owned();
        let (_, api) = open(&settings)?;
        let key = license::key_of(&api, &service)?;
        api.call(
            action::UPDATE_DOMAIN,
            &[
                ("license", &key),
                ("domain", &new_domain),
                ("test_mode", api.test_mode()),
            ],
        )?;
        Ok(Outcome {
            message: format!("License {key} moved to {new_domain}"),
            credentials: Vec::new(),
        })
    }

    fn usage_data(_: Vec<Setting>, _: Service) -> Result<Usage, Error> {
        Err(unsupported("reports no usage figures for a license"))
    }

    fn list_packages(settings: Vec<Setting>) -> Result<Vec<Package>, Error> {
        let (_, api) = open(&settings)?;
        packages::packages(&api.call(action::GET_PACKAGES, &[])?)
    }

    fn single_sign_on(_: Vec<Setting>, _: Service, _: Option<String>) -> Result<String, Error> {
        Err(unsupported("offers no single sign-on"))
    }

    fn service_status(_: Vec<Setting>, _: Service) -> Result<StatusReport, Error> {
        Err(unsupported("has no call that reports one license's status"))
    }

    fn list_accounts(settings: Vec<Setting>) -> Result<Vec<ListedAccount>, Error> {
        let (_, api) = open(&settings)?;
        listing::accounts(&api.call(action::GET_LICENSES, &[])?)
    }
}

provisioning_guest::export!(Blesta);
