//! Talking to the API: one JSON POST `{action, ...fields}` per call with
//! the key in `X-API-KEY`, and what its answers mean.

use provisioning_guest::http::Request;
use provisioning_guest::response::{JsonReply, StatusWord};
use provisioning_guest::settings::Settings;
use provisioning_guest::types::Error;
use provisioning_guest::url::Endpoint;
use serde_json::{Map, Value};

use crate::info::{API_KEY, ENDPOINT};

/// The API's actions, spelt as the provider spells them.
pub mod action {
    /// Lists the hosting packages.
    pub const GET_PACKAGES: &str = "getPackages";
    /// Creates a hosting account (charges the reseller's credit).
    pub const CREATE: &str = "createAccount";
    /// Reads an account's details and limits.
    pub const GET_ACCOUNT: &str = "getAccount";
    /// Lists the reseller's accounts.
    pub const LIST_ACCOUNTS: &str = "listAccounts";
    /// Reads an account's provisioning status.
    pub const GET_STATUS: &str = "getAccountStatus";
}

/// Fields of one call besides `action`.
pub type Fields = Map<String, Value>;

/// A client for one reseller account.
pub struct Api {
    endpoint: Endpoint,
    api_key: String,
}

impl Api {
    /// The client the settings describe.
    pub fn new(settings: &Settings) -> Result<Self, Error> {
        Ok(Self {
            endpoint: settings.endpoint(ENDPOINT)?,
            // A key pasted with a stray newline is still the key.
            api_key: settings.require(API_KEY)?.trim().to_owned(),
        })
    }

    /// Runs `action` and returns the whole answer when it says
    /// `status: "success"`.
    pub fn call(&self, action: &str, fields: Fields) -> Result<Value, Error> {
        let mut body = fields;
        body.insert("action".to_owned(), Value::from(action));
        // The header, not the body: the body is easier to end up in a log.
        Request::post(self.endpoint.as_str())
            .header("X-API-KEY", &self.api_key)
            .json(&body)
            .send()?
            .into_json()?
            .accept_body(|reply| classify(reply, action))
    }
}

/// What a decoded answer means: success only on `status: "success"` with a
/// 2xx; `status: "error"` by its message; anything else is left to the
/// shared status mapping (429 never gets here: it is rate-limited first).
pub fn classify(reply: &JsonReply, action: &str) -> Option<Result<(), Error>> {
    match reply.status_word() {
        StatusWord::Success => Some(Ok(())),
        StatusWord::Error => Some(Err(error_for(reply.message(), reply.status(), action))),
        StatusWord::Other => None,
    }
}

/// The error an answer's `message` stands for. The API has no error codes
/// and its HTTP statuses are undocumented, so the documented messages are
/// matched loosely (ignoring case, anywhere in the text) and the status is
/// the fallback.
pub fn error_for(message: Option<String>, http_status: u16, action: &str) -> Error {
    let Some(message) = message else {
        return Error::Provider(format!(
            "{action} failed (HTTP {http_status}) and the provider gave no message"
        ));
    };
    let lower = message.to_lowercase();
    let has = |needle: &str| lower.contains(needle);
    if has("invalid api key") || has("authentication failed") {
        Error::AuthFailed(format!("the API key was refused: {message}"))
    } else if has("insufficient credit") || has("insufficient balance") {
        Error::InsufficientFunds(message)
    } else if has("account not found") {
        Error::NotFound(message)
    } else if has("already exists") {
        Error::AlreadyExists(message)
    } else if has("missing required field") {
        Error::InvalidInput(message)
    } else if has("invalid hosting package") {
        Error::InvalidInput(format!(
            "{message}: the package is unknown or inactive; check the package id"
        ))
    } else if has("invalid domain") || has("invalid email") || has("invalid phone") {
        Error::InvalidInput(message)
    } else {
        match http_status {
            401 | 403 => Error::AuthFailed(message),
            404 => Error::NotFound(message),
            _ => Error::Provider(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ORIGIN: &str = "https://reseller.co.tz";

    fn outcome(status: u16, body: Value) -> Result<Value, Error> {
        JsonReply::new(status, body, ORIGIN).accept_body(|r| classify(r, action::CREATE))
    }

    fn error(status: u16, message: &str) -> Error {
        match outcome(status, json!({"status": "error", "message": message})) {
            Err(e) => e,
            Ok(v) => panic!("accepted {v}"),
        }
    }

    #[test]
    fn success_needs_status_success_and_2xx() {
        assert!(outcome(200, json!({"status": "success", "data": []})).is_ok());
        assert!(matches!(
            outcome(200, json!({"data": []})),
            Err(Error::BadResponse(_))
        ));
        assert!(matches!(
            outcome(500, json!({"status": "success"})),
            Err(Error::Provider(_))
        ));
    }

    #[test]
    fn documented_messages_map_to_kinds() {
        assert!(matches!(
            error(401, "Invalid API key"),
            Error::AuthFailed(_)
        ));
        assert!(matches!(
            error(200, "Invalid API key"),
            Error::AuthFailed(_)
        ));
        assert!(matches!(
            error(400, "Missing required field: package_id"),
            Error::InvalidInput(m) if m.contains("package_id")
        ));
        assert!(matches!(
            error(400, "Invalid hosting package"),
            Error::InvalidInput(_)
        ));
        assert!(matches!(
            error(402, "Insufficient credit balance. Required: 25000 TZS, Available: 0 TZS"),
            Error::InsufficientFunds(m) if m.contains("Required: 25000")
        ));
        assert!(matches!(
            error(400, "Invalid domain name format"),
            Error::InvalidInput(_)
        ));
        assert!(matches!(
            error(404, "Account not found"),
            Error::NotFound(_)
        ));
        assert!(matches!(
            error(409, "Domain already exists"),
            Error::AlreadyExists(_)
        ));
        assert_eq!(error(500, "Disk full"), Error::Provider("Disk full".into()));
        assert!(matches!(error(401, "Who are you"), Error::AuthFailed(_)));
    }
}
