//! The fields of account calls, built from the service record, and the
//! reading of `createAccount`'s answer.

use provisioning_guest::input::{optional, required};
use provisioning_guest::json;
use provisioning_guest::settings::Settings;
use provisioning_guest::types::{Credential, Error, Service, ServiceState};
use serde_json::Value;

use crate::api::Fields;
use crate::info::PACKAGE_ID;

fn put(fields: &mut Fields, key: &str, value: impl Into<Value>) {
    fields.insert(key.to_owned(), value.into());
}

/// A positive integer id, or `None`.
fn integer(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().filter(|n| *n > 0)
}

/// `account_id` of the service: its `remote-id`, the provider's number.
pub fn account_id(service: &Service) -> Result<Fields, Error> {
    let remote = required(service.remote_id.as_deref(), "remote-id")?;
    let id = integer(remote).ok_or_else(|| {
        Error::InvalidInput("the service's remote-id is not a Webline account id (a number)".into())
    })?;
    let mut fields = Fields::new();
    put(&mut fields, "account_id", id);
    Ok(fields)
}

/// `createAccount`'s fields: package, domain and the client's names,
/// email and phone, all required by the provider; `invalid-input` names
/// the first one missing before anything is sent.
pub fn create(service: &Service, settings: &Settings) -> Result<Fields, Error> {
    let package = optional(service.package.as_deref())
        .or_else(|| settings.get(PACKAGE_ID))
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "the service has no `package` and the `{PACKAGE_ID}` setting is empty"
            ))
        })?;
    let package_id = integer(package).ok_or_else(|| {
        Error::InvalidInput("the package id must be a Webline package number".into())
    })?;
    let client = service
        .client
        .as_ref()
        .ok_or_else(|| Error::InvalidInput("the service has no `client`".into()))?;
    let mut fields = Fields::new();
    put(&mut fields, "package_id", package_id);
    put(
        &mut fields,
        "domain",
        required(service.domain.as_deref(), "domain")?,
    );
    put(
        &mut fields,
        "first_name",
        required(Some(&client.first_name), "client.first-name")?,
    );
    put(
        &mut fields,
        "last_name",
        required(Some(&client.last_name), "client.last-name")?,
    );
    put(
        &mut fields,
        "email",
        required(Some(&client.email), "client.email")?,
    );
    put(
        &mut fields,
        "phone",
        required(client.phone.as_deref(), "client.phone")?,
    );
    Ok(fields)
}

/// The username and password a successful `createAccount` generated.
///
/// Never fails: whatever can be read is returned, so that a surprise in
/// the rest of the answer cannot lose what the provider shows only once.
/// Values are kept exactly as sent (a password may have edge spaces).
pub fn credentials(body: &Value) -> Vec<Credential> {
    [("username", false), ("password", true)]
        .into_iter()
        .filter_map(|(name, secret)| {
            let value = match json::find(body, name, &["data"])? {
                Value::String(s) if !s.is_empty() => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some(Credential {
                name: name.to_owned(),
                value,
                secret,
            })
        })
        .collect()
}

/// The new account's id, when the answer gives one.
pub fn created_id(body: &Value) -> Option<String> {
    json::find(body, "account_id", &["data"])
        .or_else(|| json::get(body, "data").and_then(|d| json::get(d, "id")))
        .and_then(json::text)
}

/// The id of the account hosting `domain` in a `listAccounts` answer.
pub fn id_for_domain(body: &Value, domain: &str) -> Option<String> {
    json::items(json::get(body, "data")?)?
        .into_iter()
        .find(|a| {
            json::get(a, "domain")
                .and_then(Value::as_str)
                .is_some_and(|d| d.trim().eq_ignore_ascii_case(domain.trim()))
        })
        .and_then(|a| json::get(a, "id").or_else(|| json::get(a, "account_id")))
        .and_then(json::text)
}

/// The service state a `status` word stands for.
pub fn state(word: Option<&str>) -> ServiceState {
    match word.map(|w| w.trim().to_ascii_lowercase()).as_deref() {
        Some("pending") => ServiceState::Pending,
        Some("active") => ServiceState::Active,
        Some("suspended") => ServiceState::Suspended,
        Some("failed") => ServiceState::Failed,
        Some("terminated" | "deleted" | "cancelled") => ServiceState::Terminated,
        _ => ServiceState::Unknown,
    }
}

/// The `status` of a `getAccountStatus` (or `getAccount`) answer.
pub fn status_word(body: &Value) -> Option<&str> {
    json::get(body, "data")
        .and_then(|d| json::get(d, "status"))
        .and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credentials_survive_odd_answers() {
        let body = json!({"status": "success", "data": {
            "account_id": "not-a-number", "username": "shop123", "password": " p@ss "
        }});
        let creds = credentials(&body);
        assert_eq!(creds.len(), 2);
        assert_eq!(creds[0].value, "shop123");
        assert!(!creds[0].secret);
        assert_eq!(creds[1].value, " p@ss ");
        assert!(creds[1].secret);
        // At the top level, and with a numeric password.
        let flat = json!({"status": "success", "username": "u1", "password": 12345678});
        assert_eq!(credentials(&flat)[1].value, "12345678");
        assert!(credentials(&json!({"data": "weird"})).is_empty());
    }

    #[test]
    fn ids_and_states() {
        assert_eq!(
            created_id(&json!({"data": {"account_id": 123}})).as_deref(),
            Some("123")
        );
        assert_eq!(created_id(&json!({"data": {}})), None);
        let list = json!({"data": [{"id": 7, "domain": "a.tz"}, {"id": 8, "domain": "B.tz"}]});
        assert_eq!(id_for_domain(&list, "b.tz").as_deref(), Some("8"));
        assert_eq!(state(Some(" Active ")), ServiceState::Active);
        assert_eq!(state(Some("weird")), ServiceState::Unknown);
        assert_eq!(state(None), ServiceState::Unknown);
    }
}
