//! The parameters of each mail call, read from the settings and the
//! service record.

use provisioning_guest::input::{self, custom_field, required};
use provisioning_guest::settings::Settings;
use provisioning_guest::types::{Error, Service};

use crate::api::Params;
use crate::info::{LANGUAGE, ORDER_ID};

/// The mailbox address: the provider's id once known (`remote-id`), else a
/// custom field `email`, else a username that is already an address, else
/// `username@domain`.
pub fn mailbox(service: &Service) -> Result<String, Error> {
    let address = if let Some(id) = input::optional(service.remote_id.as_deref()) {
        id.to_owned()
    } else if let Some(email) = custom_field(service, &["email", "mailbox"]) {
        email.to_owned()
    } else {
        let user = required(service.username.as_deref(), "username")?;
        if user.contains('@') {
            user.to_owned()
        } else {
            format!("{user}@{}", required(service.domain.as_deref(), "domain")?)
        }
    };
    check_address(&address)?;
    Ok(address.to_ascii_lowercase())
}

/// One `@` with text on both sides and no spaces: enough to not send the
/// provider something that can never be a mailbox.
fn check_address(address: &str) -> Result<(), Error> {
    let mut parts = address.split('@');
    let ok = matches!((parts.next(), parts.next(), parts.next()),
        (Some(local), Some(domain), None) if !local.is_empty() && domain.contains('.'))
        && !address.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(
            "the service's mailbox address is not a valid email address".to_owned(),
        ))
    }
}

/// The email order id setting, checked to be a number as the API wants.
pub fn order_id(settings: &Settings) -> Result<String, Error> {
    let value = settings.require(ORDER_ID)?;
    if value.chars().all(|c| c.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err(Error::InvalidConfig(
            "setting `order-id` (Email order ID) must be a number".to_owned(),
        ))
    }
}

/// `order-id` and `email`: what every call on an existing mailbox takes.
pub fn target(service: &Service, settings: &Settings) -> Result<Params, Error> {
    Ok(vec![
        ("order-id", order_id(settings)?),
        ("email", mailbox(service)?),
    ])
}

/// The parameters of `mail/user/add`.
pub fn add(service: &Service, settings: &Settings) -> Result<Params, Error> {
    let client = service
        .client
        .as_ref()
        .ok_or_else(|| Error::InvalidInput("the service has no `client`".to_owned()))?;
    let password = service
        .password
        .as_deref()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::InvalidInput("the service has no `password`".to_owned()))?;
    let country = required(client.country.as_deref(), "client.country")?;
    let language = input::optional(client.language.as_deref())
        .or(settings.get(LANGUAGE))
        .unwrap_or("en");
    let mut params = target(service, settings)?;
    params.extend([
        ("passwd", password.to_owned()),
        (
            "notification-email",
            required(Some(client.email.as_str()), "client.email")?.to_owned(),
        ),
        (
            "first-name",
            required(Some(client.first_name.as_str()), "client.first-name")?.to_owned(),
        ),
        (
            "last-name",
            required(Some(client.last_name.as_str()), "client.last-name")?.to_owned(),
        ),
        ("country-code", country.to_ascii_uppercase()),
        ("language-code", language.to_ascii_lowercase()),
    ]);
    Ok(params)
}

/// The parameters of `mail/user/add-forward-only-account`: the addresses
/// come from the service's custom field `forwards` (comma-separated).
pub fn add_forward_only(service: &Service, settings: &Settings) -> Result<Params, Error> {
    let forwards: Vec<&str> = custom_field(service, &["forwards", "forward-to"])
        .ok_or_else(|| {
            Error::InvalidInput(
                "a forward-only account needs the custom field `forwards` \
                 (comma-separated addresses)"
                    .to_owned(),
            )
        })?
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    if forwards.is_empty() {
        return Err(Error::InvalidInput(
            "the custom field `forwards` lists no address".to_owned(),
        ));
    }
    for address in &forwards {
        check_address(address)?;
    }
    let mut params = target(service, settings)?;
    params.push(("forwards", forwards.join(",")));
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Service {
        Service {
            service_id: "1".into(),
            remote_id: None,
            domain: Some("example.com".into()),
            username: Some("Jane".into()),
            password: None,
            package: None,
            billing_cycle: None,
            client: None,
            custom_fields: Vec::new(),
        }
    }

    #[test]
    fn mailbox_address_is_found_in_order() {
        let mut s = service();
        assert_eq!(mailbox(&s).unwrap(), "jane@example.com");
        s.custom_fields
            .push(("Email".into(), "box@example.org".into()));
        assert_eq!(mailbox(&s).unwrap(), "box@example.org");
        s.remote_id = Some("id@example.net".into());
        assert_eq!(mailbox(&s).unwrap(), "id@example.net");
        s.remote_id = Some("not an address".into());
        assert!(matches!(mailbox(&s), Err(Error::InvalidInput(_))));
        let mut s = service();
        s.domain = None;
        assert!(matches!(mailbox(&s), Err(Error::InvalidInput(_))));
    }
}
