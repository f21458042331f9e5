//! The wire pieces of the HostMeNow API: answers and request parameters.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Message for a missing or wrong `api_key` (HTTP 403).
pub const INVALID_API_KEY: &str = "Invalid API Key";
/// Message when the caller's IP is not on the key's whitelist (HTTP 403).
pub const IP_NOT_WHITELISTED: &str = "Your IP address is not whitelisted";
/// Message when the reseller group lacks the action's permission (HTTP 403).
pub const FORBIDDEN: &str = "Forbidden: Your account does not have permission";
/// Message for an unknown, unassigned or absent product (HTTP 200).
pub const NO_PRODUCT_SELECTED: &str = "No Product Selected";
/// Message when the credit does not cover an order (HTTP 200).
pub const INSUFFICIENT_BALANCE: &str = "Insufficient balance";
/// Message for an unknown or terminated `serviceid` (HTTP 200).
pub const SERVICE_NOT_FOUND: &str = "Service not found";

/// One answer of the API: an HTTP status and a JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// JSON body.
    pub body: Value,
}

impl Reply {
    /// HTTP 200 with this body.
    pub fn ok(body: Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            body,
        }
    }

    /// HTTP 200 `{"status":"success","message":...}`.
    pub fn success(message: &str) -> Reply {
        Reply::ok(json!({"status": "success", "message": message}))
    }

    /// A business error: HTTP 200 with `status: "error"`, as the provider
    /// answers a well-formed request it cannot carry out.
    pub fn error(message: &str) -> Reply {
        Reply::with_status(StatusCode::OK, message)
    }

    /// HTTP 400: malformed request or missing required field.
    pub fn bad_request(message: &str) -> Reply {
        Reply::with_status(StatusCode::BAD_REQUEST, message)
    }

    /// HTTP 403: authentication failed or permission denied.
    pub fn forbidden(message: &str) -> Reply {
        Reply::with_status(StatusCode::FORBIDDEN, message)
    }

    /// `{"status":"error","message":...}` with any HTTP status.
    pub fn with_status(status: StatusCode, message: &str) -> Reply {
        Reply {
            status,
            body: json!({"status": "error", "message": message}),
        }
    }

    /// The `status` field of the body ("success" or "error"), for logs.
    pub fn outcome(&self) -> &str {
        self.body
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// The `params` object of a request.
#[derive(Clone, Debug, Default)]
pub struct Params(Map<String, Value>);

impl Params {
    /// Reads `params` as sent: an object, or an empty array (which PHP's
    /// `json_encode([])` produces and the provider accepts).
    pub fn from_value(params: Option<&Value>) -> Result<Params, Reply> {
        match params {
            None => Err(Reply::bad_request("Missing required field: params")),
            Some(Value::Object(map)) => Ok(Params(map.clone())),
            Some(Value::Array(items)) if items.is_empty() => Ok(Params::default()),
            Some(_) => Err(Reply::bad_request("Invalid params: expected a JSON object")),
        }
    }

    /// A field the action cannot do without: HTTP 400 when absent.
    pub fn required(&self, name: &str) -> Result<String, Reply> {
        self.optional(name)?
            .ok_or_else(|| Reply::bad_request(&format!("Missing required field: {name}")))
    }

    /// A field that may be absent. Like the provider's PHP, a number is
    /// taken as its decimal text, and `null` or `""` count as absent.
    pub fn optional(&self, name: &str) -> Result<Option<String>, Reply> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(_) => Err(Reply::bad_request(&format!(
                "Invalid value for field: {name}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_accept_an_object_or_an_empty_array() {
        assert!(Params::from_value(Some(&json!({}))).is_ok());
        assert!(Params::from_value(Some(&json!([]))).is_ok());
        let err = Params::from_value(Some(&json!(["x"]))).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let err = Params::from_value(None).unwrap_err();
        assert_eq!(err.body["message"], "Missing required field: params");
    }

    #[test]
    fn fields_read_like_php() {
        let params = Params::from_value(Some(
            &json!({"a": "x", "n": 456, "e": "", "z": null, "b": true}),
        ))
        .unwrap();
        assert_eq!(params.optional("a").unwrap().as_deref(), Some("x"));
        assert_eq!(params.optional("n").unwrap().as_deref(), Some("456"));
        assert_eq!(params.optional("e").unwrap(), None);
        assert_eq!(params.optional("z").unwrap(), None);
        assert_eq!(params.optional("missing").unwrap(), None);
        assert_eq!(
            params.optional("b").unwrap_err().body["message"],
            "Invalid value for field: b"
        );
        assert_eq!(
            params.required("e").unwrap_err().body["message"],
            "Missing required field: e"
        );
    }
}
