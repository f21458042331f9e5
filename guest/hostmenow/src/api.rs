//! Talking to the API: one JSON POST `{api_key, action, params}` per call,
//! and what its answers mean.

use provisioning_guest::http::Request;
use provisioning_guest::response::{JsonReply, StatusWord};
use provisioning_guest::settings::Settings;
use provisioning_guest::types::Error;
use provisioning_guest::url::Endpoint;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::info::{API_KEY, ENDPOINT};

/// The API's actions, spelt as the provider spells them.
pub mod action {
    /// Lists the products of the reseller group.
    pub const GET_PRODUCTS: &str = "Get_Products";
    /// Orders a service (charges the reseller's balance).
    pub const CREATE: &str = "CreateAccount";
    /// Suspends a service.
    pub const SUSPEND: &str = "SuspendAccount";
    /// Lifts a suspension.
    pub const UNSUSPEND: &str = "UnsuspendAccount";
    /// Removes a service for good.
    pub const TERMINATE: &str = "TerminateAccount";
    /// Sets a service's password.
    pub const CHANGE_PASSWORD: &str = "ChangePassword";
    /// Moves a service to another product.
    pub const CHANGE_PACKAGE: &str = "ChangePackage";
    /// Reads disk and bandwidth usage.
    pub const USAGE: &str = "get_Bandwidth_Disk_Usage";
    /// Tells which control panel a service runs on.
    pub const SERVER_NAME: &str = "GetServerName";
    /// Opens a control panel session.
    pub const SSO: &str = "CreateSSOSession";
}

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
    pub fn call(&self, action: &str, params: Map<String, Value>) -> Result<Value, Error> {
        let body = Envelope {
            action,
            api_key: &self.api_key,
            params: &params,
        };
        Request::post(self.endpoint.as_str())
            .json(&body)
            .send()?
            .into_json()?
            .accept_body(|reply| classify(reply, action))
    }
}

/// The body of every request. Serialised straight from borrowed fields
/// (no `json!` map built first), in the order the keys have always gone
/// out: sorted by name, as a JSON object map sorts them.
#[derive(Serialize)]
struct Envelope<'a> {
    action: &'a str,
    api_key: &'a str,
    params: &'a Map<String, Value>,
}

/// What a decoded answer means: success only on `status: "success"` with a
/// 2xx; `status: "error"` (or any HTTP 403) by its message; anything else is
/// left to the shared status mapping.
pub fn classify(reply: &JsonReply, action: &str) -> Option<Result<(), Error>> {
    match reply.status_word() {
        StatusWord::Success => Some(Ok(())),
        StatusWord::Error => Some(Err(error_for(reply.message(), action))),
        StatusWord::Other if reply.status() == 403 => {
            Some(Err(match error_for(reply.message(), action) {
                // A 403 is a refusal even when its words are new to us.
                Error::Provider(m) => Error::AuthFailed(m),
                known => known,
            }))
        }
        StatusWord::Other => None,
    }
}

/// The error an answer's `message` stands for. The API has no error codes,
/// so the documented messages are matched loosely (ignoring case, anywhere
/// in the text).
pub fn error_for(message: Option<String>, action: &str) -> Error {
    let Some(message) = message else {
        return Error::Provider(format!("{action} failed and the provider gave no message"));
    };
    let lower = message.to_lowercase();
    let has = |needle: &str| lower.contains(needle);
    if has("invalid api key") {
        Error::AuthFailed(format!("the API key was refused: {message}"))
    } else if has("whitelist") {
        Error::AuthFailed(format!(
            "the API key's IP whitelist rejected this host's address; \
             add the host's public IP in the reseller account: {message}"
        ))
    } else if has("does not have permission") || lower.starts_with("forbidden") {
        Error::AuthFailed(format!(
            "the reseller account has no permission for {action}: {message}"
        ))
    } else if has("no product selected") {
        Error::InvalidInput(format!(
            "{message}: the product is not assigned to the reseller group; check the package"
        ))
    } else if has("insufficient balance") {
        Error::InsufficientFunds(message)
    } else if has("service not found") {
        Error::NotFound(message)
    } else {
        Error::Provider(message)
    }
}

/// The answer's `message`, or `fallback`: for outcomes, which report the
/// provider's own words.
pub fn message_or(body: &Value, fallback: &str) -> String {
    provisioning_guest::json::message(body).unwrap_or_else(|| fallback.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ORIGIN: &str = "https://hostmenow.org";

    fn outcome(status: u16, body: Value) -> Result<Value, Error> {
        JsonReply::new(status, body, ORIGIN).accept_body(|r| classify(r, "CreateAccount"))
    }

    fn error(status: u16, message: &str) -> Error {
        match outcome(status, json!({"status": "error", "message": message})) {
            Err(e) => e,
            Ok(v) => panic!("accepted {v}"),
        }
    }

    #[test]
    fn success_needs_status_success() {
        assert!(outcome(200, json!({"status": "success", "message": "ok"})).is_ok());
        assert!(outcome(200, json!({"status": " Success "})).is_ok());
        for body in [
            json!({"message": "ok"}),
            json!({"status": "ok"}),
            json!([]),
            json!("success"),
        ] {
            assert!(
                matches!(outcome(200, body.clone()), Err(Error::BadResponse(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn documented_messages_map_to_kinds() {
        assert!(matches!(
            error(200, "Invalid API Key"),
            Error::AuthFailed(_)
        ));
        match error(200, "Your IP address is not whitelisted") {
            Error::AuthFailed(m) => {
                assert!(m.contains("IP whitelist rejected this host's address"))
            }
            e => panic!("{e:?}"),
        }
        match error(403, "Forbidden: Your account does not have permission") {
            Error::AuthFailed(m) => assert!(m.contains("permission for CreateAccount")),
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            error(200, "No Product Selected"),
            Error::InvalidInput(_)
        ));
        assert_eq!(
            error(200, "Insufficient balance"),
            Error::InsufficientFunds("Insufficient balance".into())
        );
        assert_eq!(
            error(200, "Error: service NOT found."),
            Error::NotFound("Error: service NOT found.".into())
        );
        assert_eq!(error(200, "Disk full"), Error::Provider("Disk full".into()));
        assert!(matches!(error(500, "Disk full"), Error::Provider(_)));
    }

    #[test]
    fn forbidden_is_auth_even_without_status() {
        assert!(matches!(
            outcome(403, json!({"message": "go away"})),
            Err(Error::AuthFailed(m)) if m == "go away"
        ));
        assert!(matches!(outcome(403, json!({})), Err(Error::AuthFailed(_))));
    }

    #[test]
    fn server_errors_fall_back_to_status() {
        assert_eq!(
            outcome(500, json!({"message": "db down"})),
            Err(Error::Provider("HTTP 500: db down".into()))
        );
        assert!(matches!(
            outcome(500, json!({"status": "success"})),
            Err(Error::Provider(_))
        ));
    }
}
