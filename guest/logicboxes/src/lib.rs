//! The LogicBoxes / ResellerClub mail module: maps world `provider` onto
//! the mail user API (`<host>/api/mail/user/*.json`), one mailbox per
//! service, inside the email order named by the product's `order-id`.
//!
//! Everything generic (settings, HTTP, error mapping by status and body
//! shape) lives in `provisioning-guest`; this crate only maps.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod info;
mod params;

use provisioning_guest::settings::Settings;
use provisioning_guest::types::{
    ConnectionStatus, CreatedAccount, Credential, Error, ListedAccount, ModuleInfo, Outcome,
    Package, Service, ServiceState, Setting, StatusReport, Usage,
};
use provisioning_guest::{Guest, input, json};
use serde_json::Value;

use crate::api::{Api, message_or, path};

/// The module.
struct LogicBoxes;

/// The call's settings, checked, and a client built from them.
fn open(settings: &[Setting]) -> Result<(Settings, Api), Error> {
    let settings = Settings::parse(settings, &info::settings())?;
    let api = Api::new(&settings)?;
    Ok((settings, api))
}

/// Runs a mail call on an existing mailbox and reports the provider's
/// words.
fn mailbox_action(settings: &[Setting], service: &Service, path: &str) -> Result<Outcome, Error> {
    let (settings, api) = open(settings)?;
    let inner = api.mail(path, &params::target(service, &settings)?)?;
    Ok(Outcome {
        message: message_or(&inner, &format!("{path} succeeded")),
        credentials: Vec::new(),
    })
}

/// Keys under which a reset password may come back: the document does not
/// show the answer, so any of the API's spellings is accepted.
const PASSWORD_KEYS: [&str; 4] = ["password", "passwd", "new-passwd", "newpassword"];

/// The generated password of a `reset-password` answer.
fn generated_password(inner: &Value) -> Result<String, Error> {
    PASSWORD_KEYS
        .iter()
        .find_map(|k| json::get(inner, k).and_then(Value::as_str))
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::BadResponse(
                "the password reset succeeded but the answer has no new password".to_owned(),
            )
        })
}

fn unsupported(function: &str, why: &str) -> Error {
    Error::Unsupported(format!("{function}: {why}"))
}

impl Guest for LogicBoxes {
    fn info() -> ModuleInfo {
        info::module_info()
    }

    fn test_connection(settings: Vec<Setting>) -> Result<ConnectionStatus, Error> {
        let (_, api) = open(&settings)?;
        let body = api.get(path::RESELLER_PRICE)?;
        let products = body.as_object().map_or(0, |o| o.len());
        Ok(ConnectionStatus {
            message: format!("Connected; reseller pricing lists {products} product(s)"),
            details: vec![("products".to_owned(), products.to_string())],
        })
    }

    fn create_account(settings: Vec<Setting>, service: Service) -> Result<CreatedAccount, Error> {
        let (settings, api) = open(&settings)?;
        let forward_only = settings.get(info::ACCOUNT_TYPE) == Some(info::TYPE_FORWARD_ONLY);
        let (path, params) = if forward_only {
            (
                path::ADD_FORWARD_ONLY,
                params::add_forward_only(&service, &settings)?,
            )
        } else {
            (path::ADD, params::add(&service, &settings)?)
        };
        let inner = api.mail(path, &params)?;
        Ok(CreatedAccount {
            // The mailbox is addressed by its email in every later call.
            remote_id: params::mailbox(&service)?,
            already_existed: false,
            status: ServiceState::Active,
            message: message_or(&inner, "Mailbox created"),
            // The password came from the platform; nothing new to hand over.
            credentials: Vec::new(),
        })
    }

    fn suspend(
        settings: Vec<Setting>,
        service: Service,
        _reason: Option<String>,
    ) -> Result<Outcome, Error> {
        // mail/user/suspend takes no reason.
        mailbox_action(&settings, &service, path::SUSPEND)
    }

    fn unsuspend(settings: Vec<Setting>, service: Service) -> Result<Outcome, Error> {
        mailbox_action(&settings, &service, path::UNSUSPEND)
    }

    fn terminate(settings: Vec<Setting>, service: Service) -> Result<Outcome, Error> {
        mailbox_action(&settings, &service, path::DELETE)
    }

    fn change_password(
        settings: Vec<Setting>,
        service: Service,
        new_password: String,
    ) -> Result<Outcome, Error> {
        let (settings, api) = open(&settings)?;
        let mut params = params::target(&service, &settings)?;
        match service.password.as_deref().filter(|p| !p.is_empty()) {
            Some(old) => {
                input::argument(&new_password, "new-password")?;
                params.push(("old-passwd", old.to_owned()));
                params.push(("new-passwd", new_password));
                let inner = api.mail(path::CHANGE_PASSWORD, &params)?;
                Ok(Outcome {
                    message: message_or(&inner, "Password changed"),
                    credentials: Vec::new(),
                })
            }
            None => {
                // Without the old password the API can only generate one:
                // the requested password is NOT set, the generated one is
                // handed back once.
                let inner = api.mail(path::RESET_PASSWORD, &params)?;
                let password = generated_password(&inner)?;
                Ok(Outcome {
                    message: format!(
                        "The old password is unknown, so the provider reset it; \
                         the requested password was not set: {}",
                        message_or(&inner, "password reset")
                    ),
                    credentials: vec![Credential {
                        name: "password".to_owned(),
                        value: password,
                        secret: true,
                    }],
                })
            }
        }
    }

    fn change_package(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        Err(unsupported(
            "change-package",
            "plans belong to the LogicBoxes email order, not to a mailbox",
        ))
    }

    fn change_domain(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        Err(unsupported(
            "change-domain",
            "a mailbox's domain is its email order's; the mail user API cannot move it",
        ))
    }

    fn usage_data(_: Vec<Setting>, _: Service) -> Result<Usage, Error> {
        Err(unsupported(
            "usage-data",
            "the LogicBoxes mail user API reports no usage for a mailbox \
             (plans and quotas belong to the email order)",
        ))
    }

    fn list_packages(_: Vec<Setting>) -> Result<Vec<Package>, Error> {
        Err(unsupported(
            "list-packages",
            "a mailbox has no package of its own; plans belong to the email order",
        ))
    }

    fn single_sign_on(_: Vec<Setting>, _: Service, _: Option<String>) -> Result<String, Error> {
        Err(unsupported(
            "single-sign-on",
            "the LogicBoxes mail user API has no sign-on call",
        ))
    }

    fn service_status(_: Vec<Setting>, _: Service) -> Result<StatusReport, Error> {
        Err(unsupported(
            "service-status",
            "the documented LogicBoxes mail user API has no call that reports a mailbox's status",
        ))
    }

    fn list_accounts(_: Vec<Setting>) -> Result<Vec<ListedAccount>, Error> {
        Err(unsupported(
            "list-accounts",
            "the documented LogicBoxes mail user API has no call that lists mailboxes \
             (it adds, changes and deletes one mailbox of an order at a time)",
        ))
    }
}

provisioning_guest::export!(LogicBoxes);
