//! The Webline Africa hosting module: maps world `provider` onto the
//! reseller's hosting API (one JSON endpoint, `X-API-KEY`, an `action`
//! field).
//!
//! The API can list packages, create an account, list the accounts and
//! read an account's status and limits; nothing else. Everything generic (settings, HTTP,
//! error mapping by status and body shape) lives in `provisioning-guest`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod account;
mod activation;
mod api;
mod info;
mod listing;
mod packages;

use provisioning_guest::settings::Settings;
use provisioning_guest::types::{
    ConnectionStatus, CreatedAccount, Error, ListedAccount, ModuleInfo, Outcome, Package, Service,
    ServiceState, Setting, StatusReport, Usage,
};
use provisioning_guest::{Guest, json};
use serde_json::{Map, Value};

use crate::api::{Api, action};

/// The module.
struct Webline;

/// The call's settings, checked, and a client built from them.
fn open(settings: &[Setting]) -> Result<(Settings, Api), Error> {
    let settings = Settings::parse(settings, &info::settings())?;
    let api = Api::new(&settings)?;
    Ok((settings, api))
}

/// `unsupported`, saying what the provider's API lacks.
fn unsupported<T>(what: &str) -> Result<T, Error> {
    Err(Error::Unsupported(format!(
        "the Webline hosting API has no call to {what}"
    )))
}

impl Guest for Webline {
    fn info() -> ModuleInfo {
        info::module_info()
    }

    fn test_connection(settings: Vec<Setting>) -> Result<ConnectionStatus, Error> {
        let (_, api) = open(&settings)?;
        let body = api.call(action::GET_PACKAGES, Map::new())?;
        let count = packages::count(&body)?;
        Ok(ConnectionStatus {
            message: format!("Connected; {count} hosting package(s) available"),
            details: vec![("packages".to_owned(), count.to_string())],
        })
    }

    fn create_account(settings: Vec<Setting>, service: Service) -> Result<CreatedAccount, Error> {
        let (settings, api) = open(&settings)?;
        // Everything that can be wrong with the call is checked before the
        // provider creates (and charges for) anything.
        let fields = account::create(&service, &settings)?;
        let bound = activation::bound(&settings)?;
        let body = api.call(action::CREATE, fields)?;

        // From here on the account exists and its credentials exist only in
        // this answer: no path below may return an error.
        let credentials = account::credentials(&body);
        let said = json::message(&body).unwrap_or_else(|| "Hosting account created".to_owned());
        let mut notes = Vec::new();
        if !credentials.iter().any(|c| c.name == "password") {
            notes.push("the provider's answer carried no password".to_owned());
        }
        let remote_id = account::created_id(&body).or_else(|| {
            // Best effort: find it by domain rather than lose track of it.
            let domain = service.domain.as_deref().unwrap_or_default();
            let list = api.call(action::LIST_ACCOUNTS, Map::new()).ok()?;
            account::id_for_domain(&list, domain)
        });
        let (status, remote_id) = match remote_id.as_deref().map(str::parse::<u64>) {
            Some(Ok(id)) => {
                let (state, note) = activation::wait(&api, id, bound);
                notes.extend(note);
                (state, id.to_string())
            }
            Some(Err(_)) => {
                notes.push("its account id is not a number, so its status was not read".into());
                (ServiceState::Unknown, remote_id.unwrap_or_default())
            }
            None => {
                notes.push(
                    "the answer carried no account id and none was found by domain; \
                     look the account up in the reseller panel"
                        .into(),
                );
                (ServiceState::Unknown, String::new())
            }
        };
        let message = if notes.is_empty() {
            said
        } else {
            format!("{said}; {}", notes.join("; "))
        };
        Ok(CreatedAccount {
            remote_id,
            already_existed: false,
            status,
            message,
            credentials,
        })
    }

    fn suspend(_: Vec<Setting>, _: Service, _: Option<String>) -> Result<Outcome, Error> {
        unsupported("suspend an account")
    }

    fn unsuspend(_: Vec<Setting>, _: Service) -> Result<Outcome, Error> {
        unsupported("unsuspend an account")
    }

    fn terminate(_: Vec<Setting>, _: Service) -> Result<Outcome, Error> {
        unsupported("terminate an account")
    }

    fn change_password(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported("change an account's password (it is generated once, at creation)")
    }

    fn change_package(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported("move an account to another package")
    }

    fn change_domain(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported("move an account to another domain")
    }

    fn usage_data(_: Vec<Setting>, _: Service) -> Result<Usage, Error> {
        unsupported(
            "read usage (getAccount gives only the package's limits, shown by service-status)",
        )
    }

    fn list_packages(settings: Vec<Setting>) -> Result<Vec<Package>, Error> {
        let (_, api) = open(&settings)?;
        packages::packages(&api.call(action::GET_PACKAGES, Map::new())?)
    }

    fn single_sign_on(_: Vec<Setting>, _: Service, _: Option<String>) -> Result<String, Error> {
        unsupported("open a control panel session")
    }

    fn service_status(settings: Vec<Setting>, service: Service) -> Result<StatusReport, Error> {
        let (_, api) = open(&settings)?;
        let fields = account::account_id(&service)?;
        let status = api.call(action::GET_STATUS, fields.clone())?;
        let details_body = api.call(action::GET_ACCOUNT, fields)?;
        let mut details: Vec<(String, String)> = Vec::new();
        // The account's facts and limits (disk_space_mb, bandwidth_mb...).
        if let Some(Value::Object(data)) = json::get(&details_body, "data") {
            details.extend(
                data.iter()
                    .filter(|(key, _)| key.as_str() != "status")
                    .filter_map(|(key, value)| Some((key.clone(), json::text(value)?))),
            );
        }
        if let Some(updated) = json::get(&status, "data")
            .and_then(|d| json::get(d, "updated_at"))
            .and_then(json::text)
        {
            details.push(("updated_at".to_owned(), updated));
        }
        Ok(StatusReport {
            state: account::state(account::status_word(&status)),
            details,
        })
    }

    fn list_accounts(settings: Vec<Setting>) -> Result<Vec<ListedAccount>, Error> {
        let (_, api) = open(&settings)?;
        // The list is not paged: one answer holds every account.
        let list = api.call(action::LIST_ACCOUNTS, Map::new())?;
        let packages = packages::packages(&api.call(action::GET_PACKAGES, Map::new())?)?;
        listing::accounts(&list, &packages)
    }
}

provisioning_guest::export!(Webline);
