//! Talking to the API: one form POST per call carrying `action`, `uid` and
//! `password`, and what the `response_code` of its answers means.

use provisioning_guest::http::Request;
use provisioning_guest::response::JsonReply;
use provisioning_guest::settings::Settings;
use provisioning_guest::types::Error;
use provisioning_guest::url::Endpoint;
use provisioning_guest::{json, text};
use serde_json::Value;

use crate::info::{ENDPOINT, PASSWORD, TEST_MODE, UID};

/// The API's actions, spelt exactly as in the document's list (its example
/// URLs' `suspend`/`unsuspend` are answered 101 by the real service).
pub mod action {
    /// Reads the account's credit in USD.
    pub const GET_CREDIT: &str = "getcredit";
    /// Lists every license of the account (not paged).
    pub const GET_LICENSES: &str = "getlicenses";
    /// Lists the packages (terms) the account may add.
    pub const GET_PACKAGES: &str = "getpackages";
    /// Adds a license for a domain.
    pub const ADD: &str = "addlicense";
    /// Cancels a license for good.
    pub const CANCEL: &str = "cancellicense";
    /// Suspends a license.
    pub const SUSPEND: &str = "suspendlicense";
    /// Lifts a suspension.
    pub const UNSUSPEND: &str = "unsuspendlicense";
    /// Searches licenses by domain or key, 25 a page.
    pub const SEARCH: &str = "searchlicenses";
    /// Rebinds a license to another domain.
    pub const UPDATE_DOMAIN: &str = "updatedomain";
}

/// The answer code of success.
const OK: i64 = 200;
/// The answer code "License already exists for that domain".
pub const ALREADY_EXISTS: i64 = 103;
/// The answer code "License does not exist".
pub const NOT_FOUND: i64 = 102;

/// A client for one reseller account.
pub struct Api {
    endpoint: Endpoint,
    uid: String,
    password: String,
    test_mode: bool,
}

/// A failed call: the typed error plus the provider's code, so that a
/// caller can act on one code (103 on create) without parsing messages.
#[derive(Debug)]
pub struct Failure {
    /// The provider's `response_code`, when it answered with one.
    pub code: Option<i64>,
    /// The error to report.
    pub error: Error,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure { code: None, error }
    }
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Self {
        failure.error
    }
}

impl Api {
    /// The client the settings describe.
    pub fn new(settings: &Settings) -> Result<Self, Error> {
        Ok(Self {
            endpoint: settings.endpoint(ENDPOINT)?,
            uid: settings.require(UID)?.to_owned(),
            password: settings.require(PASSWORD)?.to_owned(),
            test_mode: settings.boolean(TEST_MODE).unwrap_or(false),
        })
    }

    /// `test_mode` as the API spells it.
    pub fn test_mode(&self) -> &'static str {
        if self.test_mode { "true" } else { "false" }
    }

    /// Runs `action` with `params` and returns the answer's `data` when
    /// `response_code` is 200.
    ///
    /// POST rather than GET (both are accepted) so that the password
    /// travels in the body, not in a URL that proxies log.
    pub fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<Value, Failure> {
        let mut form: Vec<(&str, &str)> = vec![
            ("action", action),
            ("uid", &self.uid),
            ("password", &self.password),
        ];
        form.extend_from_slice(params);
        let mut code = None;
        let result = Request::post(self.endpoint.as_str())
            .form(form)
            .send()?
            .into_json()?
            .interpret(|reply| {
                let classified = classify(reply, action);
                code = response_code(reply.body());
                classified
            });
        result.map_err(|error| Failure { code, error })
    }
}

/// The answer's `response_code`, as a number or a numeric string.
fn response_code(body: &Value) -> Option<i64> {
    match json::get(body, "response_code")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// What a decoded answer means: success only on code 200 with a 2xx; a
/// documented code by its meaning; anything else is left to the shared
/// status mapping.
pub fn classify(reply: &JsonReply, action: &str) -> Option<Result<Value, Error>> {
    let code = response_code(reply.body())?;
    if code == OK {
        if !reply.is_success() {
            return None;
        }
        return Some(Ok(reply.body().get("data").cloned().unwrap_or(Value::Null)));
    }
    Some(Err(error_for(code, reply.message(), action)))
}

/// The error a `response_code` stands for, with the provider's text (or
/// the document's words when it gives none).
pub fn error_for(code: i64, said: Option<String>, action: &str) -> Error {
    let documented = documented_text(code);
    let words = said
        .map(|s| text::clean(&s))
        .filter(|s| !s.is_empty())
        .or_else(|| documented.map(str::to_owned))
        .unwrap_or_else(|| "no message".to_owned());
    let message = format!("{action}: {words} (code {code})");
    match code {
        100 => Error::AuthFailed(format!(
            "{message}; check the reseller user ID and password"
        )),
        101 => Error::Unsupported(message),
        102 => Error::NotFound(message),
        103 => Error::AlreadyExists(message),
        104 | 105 => Error::InsufficientFunds(message),
        106..=108 => Error::InvalidInput(message),
        _ => Error::Provider(message),
    }
}

/// The document's words for each error code.
fn documented_text(code: i64) -> Option<&'static str> {
    Some(match code {
        100 => "Authentication failed",
        101 => "Action not supported",
        102 => "License does not exist",
        103 => "License already exists for that domain",
        104 => "Account is past due, action can not be performed",
        105 => "Insufficient funds available",
        106 => "Term is required",
        107 => "Domain is required",
        108 => "Unknown package type/term given",
        109 => "Error adding service",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ORIGIN: &str = "https://www.phillipsdata.com";

    fn outcome(status: u16, body: Value) -> Result<Value, Error> {
        JsonReply::new(status, body, ORIGIN).interpret(|r| classify(r, "addlicense"))
    }

    fn code(code: Value, text: &str) -> Error {
        outcome(
            200,
            json!({"response_code": code, "response_text": text, "data": null}),
        )
        .unwrap_err()
    }

    #[test]
    fn success_is_code_200_and_gives_data() {
        assert_eq!(
            outcome(
                200,
                json!({"response_code": 200, "response_text": "OK", "data": "10.00"})
            ),
            Ok(json!("10.00"))
        );
        assert_eq!(
            outcome(200, json!({"response_code": "200", "data": null})),
            Ok(Value::Null)
        );
        assert!(matches!(
            outcome(200, json!({"data": "10.00"})),
            Err(Error::BadResponse(_))
        ));
        assert!(matches!(
            outcome(500, json!({"response_code": 200})),
            Err(Error::Provider(_))
        ));
    }

    #[test]
    fn documented_codes_map_to_kinds() {
        assert!(matches!(
            code(json!(100), "Authentication failed"),
            Error::AuthFailed(_)
        ));
        assert!(matches!(
            code(json!(101), "Action not supported"),
            Error::Unsupported(_)
        ));
        assert!(
            matches!(code(json!(102), ""), Error::NotFound(m) if m.contains("License does not exist"))
        );
        assert!(matches!(code(json!("103"), "x"), Error::AlreadyExists(_)));
        assert_eq!(
            code(json!(104), "Account is past due"),
            Error::InsufficientFunds("addlicense: Account is past due (code 104)".into())
        );
        assert!(matches!(
            code(json!(105), "Insufficient funds"),
            Error::InsufficientFunds(_)
        ));
        for c in [106, 107, 108] {
            assert!(matches!(code(json!(c), "x"), Error::InvalidInput(_)));
        }
        assert!(
            matches!(code(json!(109), "Disk full"), Error::Provider(m) if m.contains("Disk full"))
        );
        assert!(matches!(code(json!(999), "odd"), Error::Provider(_)));
    }
}
