//! The `params` of each action, built from the service record.

use std::net::IpAddr;

use provisioning_guest::input::{self, custom_field, optional, required};
use provisioning_guest::settings::Settings;
use provisioning_guest::types::{Error, Service};
use serde_json::{Map, Value};

use crate::info::IP_ADDRESS;

/// Custom field names that carry a service's dedicated IP.
const IP_FIELDS: [&str; 3] = ["ip_address", "ip-address", "dedicated-ip"];

/// Params of one call.
pub type Params = Map<String, Value>;

fn put(params: &mut Params, key: &str, value: &str) {
    params.insert(key.to_owned(), Value::String(value.to_owned()));
}

/// `serviceid` alone. The provider knows services by the platform's own
/// id, so the service record's `service-id` is the key of every call.
pub fn service_id(service: &Service) -> Result<Params, Error> {
    let mut params = Params::new();
    put(
        &mut params,
        "serviceid",
        required(Some(service.service_id.as_str()), "service-id")?,
    );
    Ok(params)
}

/// `serviceid` plus the optional `domain`, `username` and `ip_address`
/// the provider accepts on account actions, when known. The password is
/// left out: no action but the two that set it needs it.
pub fn account(service: &Service, settings: &Settings) -> Result<Params, Error> {
    let mut params = service_id(service)?;
    if let Some(domain) = optional(service.domain.as_deref()) {
        put(&mut params, "domain", domain);
    }
    if let Some(username) = optional(service.username.as_deref()) {
        put(&mut params, "username", username);
    }
    if let Some(ip) = ip_address(service, settings)? {
        put(&mut params, "ip_address", &ip.to_string());
    }
    Ok(params)
}

/// `CreateAccount`: every field the provider requires, or `invalid-input`
/// naming the first one missing.
pub fn create(service: &Service, settings: &Settings) -> Result<Params, Error> {
    let mut params = account(service, settings)?;
    put(
        &mut params,
        "billingcycle",
        &billing_cycle(required(service.billing_cycle.as_deref(), "billing-cycle")?),
    );
    put(&mut params, "qty", quantity(settings));
    put(
        &mut params,
        "domain",
        required(service.domain.as_deref(), "domain")?,
    );
    put(
        &mut params,
        "username",
        required(service.username.as_deref(), "username")?,
    );
    // Passwords are kept exactly as given; only a blank one is missing.
    let password = service
        .password
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| Error::InvalidInput("the service has no `password`".to_owned()))?;
    put(&mut params, "password", password);
    put(
        &mut params,
        "selected_product",
        required(service.package.as_deref(), "package")?,
    );
    Ok(params)
}

/// `ChangePassword`: the account params with the new password.
pub fn change_password(
    service: &Service,
    settings: &Settings,
    new_password: &str,
) -> Result<Params, Error> {
    if new_password.trim().is_empty() {
        return Err(Error::InvalidInput("`new-password` is empty".to_owned()));
    }
    let mut params = account(service, settings)?;
    put(&mut params, "password", new_password);
    Ok(params)
}

/// `ChangePackage`: the account params plus the new product as
/// `selected_product`. The documented call carries no product (the
/// provider resolves it on its side), but a service that reads it gets it.
pub fn change_package(
    service: &Service,
    settings: &Settings,
    new_package: &str,
) -> Result<Params, Error> {
    let mut params = account(service, settings)?;
    put(
        &mut params,
        "selected_product",
        input::argument(new_package, "new-package")?,
    );
    Ok(params)
}

/// The billing cycle as the provider spells it: lower case, without the
/// separators platforms put in ("Semi-Annually" -> "semiannually").
pub fn billing_cycle(cycle: &str) -> String {
    cycle
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// `qty`: the product setting where the module declares one, else 1.
fn quantity(settings: &Settings) -> &str {
    #[cfg(feature = "next-version")]
    if let Some(quantity) = settings.get(crate::info::QUANTITY) {
        return quantity;
    }
    let _ = settings;
    "1"
}

/// The dedicated IP: the service's custom field, else the product's
/// setting. Either must be an IP address.
fn ip_address(service: &Service, settings: &Settings) -> Result<Option<IpAddr>, Error> {
    if let Some(value) = custom_field(service, &IP_FIELDS) {
        return value.parse().map(Some).map_err(|_| {
            Error::InvalidInput(
                "the service's custom field `ip_address` is not an IP address".to_owned(),
            )
        });
    }
    match settings.get(IP_ADDRESS) {
        Some(value) => value.parse().map(Some).map_err(|_| {
            Error::InvalidConfig(format!(
                "setting `{IP_ADDRESS}` (Dedicated IP address) must be an IPv4 or IPv6 address"
            ))
        }),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provisioning_guest::types::Setting;
    use serde_json::json;

    fn settings(ip: Option<&str>) -> Settings {
        let mut given = vec![Setting {
            name: "api-key".into(),
            value: "k".into(),
        }];
        if let Some(ip) = ip {
            given.push(Setting {
                name: IP_ADDRESS.into(),
                value: ip.into(),
            });
        }
        Settings::parse(&given, &crate::info::settings()).unwrap()
    }

    fn service() -> Service {
        Service {
            service_id: "456".into(),
            remote_id: Some("789".into()),
            domain: Some("example.com".into()),
            username: Some("exampleuser".into()),
            password: Some("Secure Password!".into()),
            package: Some("123".into()),
            billing_cycle: Some("Semi-Annually".into()),
            client: None,
            custom_fields: vec![],
        }
    }

    #[test]
    fn create_sends_what_the_provider_documents() {
        let params = create(&service(), &settings(Some("192.168.1.100"))).unwrap();
        assert_eq!(
            Value::Object(params),
            json!({
                "serviceid": "456",
                "billingcycle": "semiannually",
                "qty": "1",
                "domain": "example.com",
                "username": "exampleuser",
                "password": "Secure Password!",
                "ip_address": "192.168.1.100",
                "selected_product": "123",
            })
        );
    }

    #[test]
    fn create_names_the_missing_field() {
        for (field, strip) in [
            (
                "billing-cycle",
                (|s: &mut Service| s.billing_cycle = None) as fn(&mut Service),
            ),
            ("domain", |s| s.domain = Some(" ".into())),
            ("username", |s| s.username = None),
            ("password", |s| s.password = Some("".into())),
            ("package", |s| s.package = None),
            ("service-id", |s| s.service_id = String::new()),
        ] {
            let mut s = service();
            strip(&mut s);
            match create(&s, &settings(None)) {
                Err(Error::InvalidInput(m)) => assert!(m.contains(&format!("`{field}`")), "{m}"),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn account_params_leave_the_password_out() {
        let mut s = service();
        s.custom_fields = vec![("IP_Address".into(), "10.1.2.3".into())];
        let params = account(&s, &settings(Some("192.168.1.100"))).unwrap();
        assert_eq!(
            Value::Object(params),
            json!({"serviceid": "456", "domain": "example.com", "username": "exampleuser", "ip_address": "10.1.2.3"})
        );
    }

    #[test]
    fn package_change_carries_the_new_product() {
        let params = change_package(&service(), &settings(None), " 124 ").unwrap();
        assert_eq!(params.get("selected_product"), Some(&json!("124")));
        assert!(change_package(&service(), &settings(None), "").is_err());
    }

    #[test]
    fn bad_ip_addresses_are_refused() {
        assert!(matches!(
            account(&service(), &settings(Some("not-an-ip"))),
            Err(Error::InvalidConfig(_))
        ));
    }
}
