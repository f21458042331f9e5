//! Talking to the API: `<host>/api/<path>.json` with `auth-userid` and
//! `api-key` in the query, and what its two answer shapes mean.

use provisioning_guest::http::Request;
use provisioning_guest::json;
use provisioning_guest::response::JsonReply;
use provisioning_guest::settings::Settings;
use provisioning_guest::types::Error;
use provisioning_guest::url::Endpoint;
use serde_json::Value;

use crate::info::{API_KEY, AUTH_USERID, ENDPOINT};

/// The API paths used, without `/api/` and `.json`.
pub mod path {
    /// Reseller pricing: needs only the credentials.
    pub const RESELLER_PRICE: &str = "mock/products/reseller-price";
    /// Adds a mailbox.
    pub const ADD: &str = "mail/user/add";
    /// Adds a forward-only address.
    pub const ADD_FORWARD_ONLY: &str = "mail/user/add-forward-only-account";
    /// Suspends a mailbox.
    pub const SUSPEND: &str = "mail/user/suspend";
    /// Lifts a suspension.
    pub const UNSUSPEND: &str = "mail/user/unsuspend";
    /// Deletes a mailbox.
    pub const DELETE: &str = "mail/user/delete";
    /// Sets a password, given the old one.
    pub const CHANGE_PASSWORD: &str = "mail/user/change-password";
    /// Generates a new password.
    pub const RESET_PASSWORD: &str = "mail/user/reset-password";
}

/// Parameters of one call, in order; a key may repeat (array parameters).
pub type Params = Vec<(&'static str, String)>;

/// A client for one reseller account.
pub struct Api {
    endpoint: Endpoint,
    auth_userid: String,
    api_key: String,
}

impl Api {
    /// The client the settings describe.
    pub fn new(settings: &Settings) -> Result<Self, Error> {
        Ok(Self {
            endpoint: settings.endpoint(ENDPOINT)?,
            auth_userid: settings.require(AUTH_USERID)?.to_owned(),
            // A key pasted with a stray newline is still the key.
            api_key: settings.require(API_KEY)?.trim().to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        self.endpoint.join(&format!("api/{path}.json"))
    }

    fn auth(&self) -> [(&'static str, &str); 2] {
        [
            ("auth-userid", self.auth_userid.as_str()),
            ("api-key", self.api_key.as_str()),
        ]
    }

    /// GETs `path` with only the credentials and returns the body, unless it
    /// is the `{"status": "ERROR"}` shape.
    pub fn get(&self, path: &str) -> Result<Value, Error> {
        Request::get(&self.url(path))
            .query(self.auth())
            .send()?
            .into_json()?
            .interpret(|reply| classify_plain(reply, path))
    }

    /// POSTs a mail call: credentials in the query, `params` as form fields
    /// (so passwords stay out of URLs), and returns the inner `response`
    /// object of a `SUCCESS` answer.
    pub fn mail(&self, path: &str, params: &Params) -> Result<Value, Error> {
        Request::post(&self.url(path))
            .query(self.auth())
            .form(params.iter().map(|(k, v)| (*k, v.as_str())))
            .send()?
            .into_json()?
            .interpret(|reply| classify_mail(reply, path))
    }
}

/// A non-mail answer: anything but `status: "ERROR"` on a 2xx is success.
pub fn classify_plain(reply: &JsonReply, path: &str) -> Option<Result<Value, Error>> {
    if status_of(reply.body()).is_some_and(|s| s.eq_ignore_ascii_case("error")) {
        return Some(Err(error_for(reply, path)));
    }
    if reply.is_success() && reply.body().is_object() {
        return Some(Ok(reply.body().clone()));
    }
    None
}

/// A mail answer: `{"response": {"status": "SUCCESS" | "FAILURE", ...}}`,
/// or the plain `{"status": "ERROR"}` shape (bad credentials, missing
/// parameter), which the service also uses on mail paths.
pub fn classify_mail(reply: &JsonReply, path: &str) -> Option<Result<Value, Error>> {
    let body = reply.body();
    if let Some(inner) = json::get(body, "response") {
        match status_of(inner) {
            Some(s) if s.eq_ignore_ascii_case("success") && reply.is_success() => {
                return Some(Ok(inner.clone()));
            }
            Some(s) if s.eq_ignore_ascii_case("failure") || s.eq_ignore_ascii_case("error") => {
                return Some(Err(error_for(reply, path)));
            }
            _ => {}
        }
    }
    if status_of(body).is_some_and(|s| s.eq_ignore_ascii_case("error")) {
        return Some(Err(error_for(reply, path)));
    }
    None
}

fn status_of(value: &Value) -> Option<&str> {
    value.get("status").and_then(Value::as_str).map(str::trim)
}

/// The error an answer stands for, by its error code when it has one and
/// by its message otherwise (matched loosely: the wording varies between
/// the API's families).
pub fn error_for(reply: &JsonReply, path: &str) -> Error {
    let body = reply.body();
    let code = json::find(body, "errorcode", &["response"])
        .and_then(json::text)
        .unwrap_or_default()
        .to_ascii_uppercase();
    let Some(message) = reply.message() else {
        return match reply.status() {
            401 | 403 => Error::AuthFailed(format!("{path} was refused (HTTP {})", reply.status())),
            _ => Error::Provider(format!("{path} failed and the provider gave no message")),
        };
    };
    let lower = message.to_lowercase();
    let has = |needle: &str| lower.contains(needle);
    if code.contains("AUTH")
        || has("authentication")
        || has("not authorized")
        || has("unauthorized")
        || has("invalid api-key")
        || has("invalid auth-userid")
        || reply.status() == 401
        || reply.status() == 403
    {
        Error::AuthFailed(message)
    } else if code.contains("ORDER") || (has("order") && (has("not found") || has("invalid"))) {
        Error::InvalidConfig(format!("{message}: check the product's order-id setting"))
    } else if code.contains("NOT_FOUND") || has("does not exist") || has("not found") {
        Error::NotFound(message)
    } else if code.contains("EXISTS") || has("already exists") {
        Error::AlreadyExists(message)
    } else if code.contains("PASSWORD")
        || code.contains("INVALID_PARAMETER")
        || has("required parameter")
        || has("invalid parameter")
        || has("does not belong to the domain")
    {
        Error::InvalidInput(message)
    } else if has("insufficient") {
        Error::InsufficientFunds(message)
    } else {
        Error::Provider(message)
    }
}

/// The answer's message, or `fallback`.
pub fn message_or(body: &Value, fallback: &str) -> String {
    json::message(body).unwrap_or_else(|| fallback.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ORIGIN: &str = "https://test.httpapi.com";

    fn mail(status: u16, body: Value) -> Result<Value, Error> {
        JsonReply::new(status, body, ORIGIN).interpret(|r| classify_mail(r, path::ADD))
    }

    fn failure(code: &str, message: &str) -> Error {
        mail(
            200,
            json!({"response": {"status": "FAILURE", "errorcode": code, "message": message}}),
        )
        .unwrap_err()
    }

    #[test]
    fn mail_success_returns_the_inner_response() {
        let ok = mail(
            200,
            json!({"response": {"status": "SUCCESS", "message": "added"}}),
        );
        assert_eq!(ok.unwrap()["message"], "added");
        assert!(matches!(
            mail(200, json!({"status": "SUCCESS"})),
            Err(Error::BadResponse(_))
        ));
        assert!(matches!(
            mail(500, json!({"response": {"status": "SUCCESS"}})),
            Err(Error::Provider(_))
        ));
    }

    #[test]
    fn failures_map_by_code_or_message() {
        assert!(matches!(
            failure("MAILUSER_NOT_FOUND", "x@example.com does not exist"),
            Error::NotFound(_)
        ));
        assert!(matches!(
            failure("", "The mailbox does not exist"),
            Error::NotFound(_)
        ));
        assert!(matches!(
            failure("MAILUSER_EXISTS", "already exists"),
            Error::AlreadyExists(_)
        ));
        assert!(matches!(
            failure("ORDER_NOT_FOUND", "Order 9 not found"),
            Error::InvalidConfig(_)
        ));
        assert!(matches!(
            failure("INVALID_PASSWORD", "The old password is wrong"),
            Error::InvalidInput(_)
        ));
        assert!(matches!(
            failure(
                "INVALID_PARAMETER",
                "x@a.org does not belong to the domain b.org"
            ),
            Error::InvalidInput(_)
        ));
        assert!(matches!(
            failure("", "Mail server busy"),
            Error::Provider(_)
        ));
    }

    #[test]
    fn plain_errors_map_too() {
        let auth = JsonReply::new(
            500,
            json!({"status": "ERROR", "message": "Authentication failed for auth-userid"}),
            ORIGIN,
        );
        assert!(matches!(
            auth.clone().interpret(|r| classify_mail(r, path::ADD)),
            Err(Error::AuthFailed(_))
        ));
        assert!(matches!(
            auth.interpret(|r| classify_plain(r, path::RESELLER_PRICE)),
            Err(Error::AuthFailed(_))
        ));
        let missing = JsonReply::new(
            500,
            json!({"status": "ERROR", "message": "Required parameter missing: email"}),
            ORIGIN,
        );
        assert!(matches!(
            missing.interpret(|r| classify_mail(r, path::ADD)),
            Err(Error::InvalidInput(_))
        ));
        let prices = JsonReply::new(200, json!({"hosting": {}}), ORIGIN);
        assert!(
            prices
                .interpret(|r| classify_plain(r, path::RESELLER_PRICE))
                .is_ok()
        );
    }
}
