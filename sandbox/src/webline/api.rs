//! The provider's single endpoint: method, content type, key, rate limit,
//! then the action.
//!
//! HTTP statuses are not documented; the simulator answers 401 for a bad
//! key, 400 for validation, 402 for credit, 404 for an unknown account,
//! 409 for a domain already hosted, 429 for the limits, each with the
//! provider's `{"status":"error","message":...}` body.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Webline;
use super::state::{self, AccountRecord, NewAccount, PACKAGES, RecordedRequest};

/// Bad or missing key (HTTP 401); the document's wording.
pub const INVALID_API_KEY: &str = "Invalid API key";
/// Past 10 failed authentications per 15 minutes per IP (HTTP 429).
pub const TOO_MANY_AUTH_FAILURES: &str =
    "Too many failed authentication attempts. Please try again later.";
/// Past 100 requests per 5 minutes per key (HTTP 429).
pub const RATE_LIMITED: &str = "Rate limit exceeded: maximum 100 requests per 5 minutes";
/// Not a POST (HTTP 405).
pub const METHOD_NOT_ALLOWED: &str = "Method not allowed. Use POST.";
/// No `Content-Type: application/json` (HTTP 400).
pub const NOT_JSON_CONTENT_TYPE: &str = "Content-Type must be application/json";
/// A body that is not a JSON object (HTTP 400).
pub const INVALID_JSON: &str = "Invalid JSON request body";
/// An unknown `action` (HTTP 400).
pub const INVALID_ACTION: &str = "Invalid action";
/// Unknown package (HTTP 400); the document's wording.
pub const INVALID_PACKAGE: &str = "Invalid hosting package";
/// Credit below the price (HTTP 402); amounts follow.
pub const INSUFFICIENT_CREDIT: &str = "Insufficient credit balance";
/// A malformed domain (HTTP 400); the document's wording.
pub const INVALID_DOMAIN: &str = "Invalid domain name format";
/// A malformed email (HTTP 400).
pub const INVALID_EMAIL: &str = "Invalid email address";
/// A domain already hosted here (HTTP 409).
pub const DOMAIN_EXISTS: &str = "Domain already exists";
/// Unknown `account_id` (HTTP 404); the document's wording.
pub const ACCOUNT_NOT_FOUND: &str = "Account not found";

type Reply = (StatusCode, Value);

fn error(status: StatusCode, message: &str) -> Reply {
    (status, json!({"status": "error", "message": message}))
}

fn success(data: Value) -> Reply {
    (StatusCode::OK, json!({"status": "success", "data": data}))
}

fn bad_request(message: &str) -> Reply {
    error(StatusCode::BAD_REQUEST, message)
}

fn too_many(message: &str, retry_after: u64) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"status": "error", "message": message})),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// Answers one request to [`super::PATH`].
pub(crate) async fn handle(
    State(webline): State<Webline>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        let mut response = (
            StatusCode::METHOD_NOT_ALLOWED,
            Json(json!({"status": "error", "message": METHOD_NOT_ALLOWED})),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if !is_json(&headers) {
        return into(bad_request(NOT_JSON_CONTENT_TYPE));
    }
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(&body) else {
        return into(bad_request(INVALID_JSON));
    };
    let header_key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body_key = match fields.remove("api_key") {
        Some(Value::String(key)) => Some(key),
        _ => None,
    };
    let key_in_header = header_key.is_some();
    let key = header_key.or(body_key).unwrap_or_default();

    let mut state = webline.lock();
    if key != super::API_KEY {
        if state.auth_blocked() {
            return too_many(TOO_MANY_AUTH_FAILURES, 900);
        }
        state.auth_failures.push_back(std::time::Instant::now());
        return into(error(StatusCode::UNAUTHORIZED, INVALID_API_KEY));
    }
    if let Err(wait) = state.hit(&key) {
        return too_many(RATE_LIMITED, wait);
    }
    state.settle();
    let action = match fields.remove("action") {
        Some(Value::String(action)) if !action.is_empty() => action,
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return into(bad_request("Missing required field: action"));
        }
        Some(_) => return into(bad_request(INVALID_ACTION)),
    };
    let reply = run(&action, &fields, &mut state);
    state.requests.push(RecordedRequest {
        action: action.clone(),
        fields: Value::Object(fields),
        key_in_header,
        http_status: reply.0.as_u16(),
    });
    drop(state);
    // Only the action and outcome: bodies carry generated passwords.
    tracing::debug!(action, http_status = reply.0.as_u16(), "webline request");
    into(reply)
}

fn into(reply: Reply) -> Response {
    (reply.0, Json(reply.1)).into_response()
}

/// `Content-Type: application/json`, with or without parameters.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

fn run(action: &str, fields: &Map<String, Value>, state: &mut state::State) -> Reply {
    match action {
        "getPackages" => success(json!(PACKAGES)),
        "createAccount" => create(fields, state).unwrap_or_else(|reply| reply),
        "getAccount" => with_account(fields, state, account_details),
        "getAccountStatus" => with_account(fields, state, |a| {
            json!({
                "account_id": a.id,
                "status": a.status.as_str(),
                "created_at": a.created_at,
                "updated_at": a.updated_at,
            })
        }),
        "listAccounts" => success(Value::Array(
            state.accounts.iter().map(account_summary).collect(),
        )),
        _ => bad_request(INVALID_ACTION),
    }
}

/// A required text field: 400 "Missing required field: X" when absent or
/// blank, like the provider's validation.
fn text(fields: &Map<String, Value>, name: &str) -> Result<String, Reply> {
    match fields.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(bad_request(&format!("Missing required field: {name}"))),
    }
}

/// A required integer id: a JSON number or numeric string (PHP casts).
fn id(fields: &Map<String, Value>, name: &str, invalid: &str) -> Result<u64, Reply> {
    let raw = text(fields, name)?;
    raw.parse::<u64>().map_err(|_| bad_request(invalid))
}

fn create(fields: &Map<String, Value>, state: &mut state::State) -> Result<Reply, Reply> {
    // Checked in the document's order so the first missing one is named.
    let package_id = id(fields, "package_id", INVALID_PACKAGE)?;
    let domain = text(fields, "domain")?.to_ascii_lowercase();
    let first_name = text(fields, "first_name")?;
    let last_name = text(fields, "last_name")?;
    let email = text(fields, "email")?;
    let phone = text(fields, "phone")?;
    let package = PACKAGES
        .iter()
        .find(|p| p.id == package_id)
        .ok_or_else(|| bad_request(INVALID_PACKAGE))?;
    if !valid_domain(&domain) {
        return Err(bad_request(INVALID_DOMAIN));
    }
    if !valid_email(&email) {
        return Err(bad_request(INVALID_EMAIL));
    }
    if state.accounts.iter().any(|a| a.domain == domain) {
        return Err(error(StatusCode::CONFLICT, DOMAIN_EXISTS));
    }
    if state.credit < package.price_monthly {
        return Err(error(
            StatusCode::PAYMENT_REQUIRED,
            &format!(
                "{INSUFFICIENT_CREDIT}. Required: {} TZS, Available: {} TZS",
                package.price_monthly, state.credit
            ),
        ));
    }
    let account = state.create(
        package,
        NewAccount {
            domain,
            first_name,
            last_name,
            email,
            phone,
        },
    );
    let mut answer = json!({
            "status": "success",
            "message": "Hosting account created successfully",
            "data": {
                "account_id": account.id,
                "username": account.username,
                "password": account.password,
                "domain": account.domain,
                "control_panel_url": control_panel_url(&account),
                "package_name": package.name,
                "price_charged": account.price_charged,
            }
    });
    if std::mem::take(&mut state.omit_account_id)
        && let Some(data) = answer["data"].as_object_mut()
    {
        data.remove("account_id");
    }
    Ok((StatusCode::OK, answer))
}

fn with_account(
    fields: &Map<String, Value>,
    state: &state::State,
    view: impl FnOnce(&AccountRecord) -> Value,
) -> Reply {
    let id = match id(fields, "account_id", ACCOUNT_NOT_FOUND) {
        Ok(id) => id,
        Err((StatusCode::BAD_REQUEST, body)) if body["message"] == ACCOUNT_NOT_FOUND => {
            return error(StatusCode::NOT_FOUND, ACCOUNT_NOT_FOUND);
        }
        Err(reply) => return reply,
    };
    match state.accounts.iter().find(|a| a.id == id) {
        Some(account) => success(view(account)),
        None => error(StatusCode::NOT_FOUND, ACCOUNT_NOT_FOUND),
    }
}

fn package_of(account: &AccountRecord) -> &'static state::Package {
    PACKAGES
        .iter()
        .find(|p| p.id == account.package_id)
        .unwrap_or(&PACKAGES[0])
}

fn control_panel_url(account: &AccountRecord) -> String {
    format!(
        "https://{}.reseller.co.tz:2222/CMD_LOGIN",
        account.server_name.to_ascii_lowercase()
    )
}

fn account_details(a: &AccountRecord) -> Value {
    let package = package_of(a);
    json!({
        "id": a.id,
        "domain": a.domain,
        "username": a.username,
        "status": a.status.as_str(),
        "package_name": package.name,
        "server_name": a.server_name,
        "client_name": format!("{} {}", a.first_name, a.last_name),
        "client_email": a.email,
        "client_phone": a.phone,
        "control_panel_url": control_panel_url(a),
        "created_at": a.created_at,
        "disk_space_mb": package.disk_space_mb,
        "bandwidth_mb": package.bandwidth_mb,
    })
}

fn account_summary(a: &AccountRecord) -> Value {
    json!({
        "id": a.id,
        "domain": a.domain,
        "username": a.username,
        "status": a.status.as_str(),
        "package_name": package_of(a).name,
        "server_name": a.server_name,
        "created_at": a.created_at,
    })
}

/// Dot-separated labels of letters, digits and inner hyphens, ending in an
/// alphabetic TLD of two letters or more.
fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

fn valid_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, host)) => !local.is_empty() && host.contains('.') && !host.contains('@'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_checked() {
        assert!(valid_domain("example.co.tz"));
        assert!(!valid_domain("example"));
        assert!(!valid_domain("bad_domain.com"));
        assert!(!valid_domain("-x.com"));
        assert!(!valid_domain("x.c0m"));
    }

    #[test]
    fn emails_are_checked() {
        assert!(valid_email("a@b.tz"));
        assert!(!valid_email("ab.tz"));
        assert!(!valid_email("a@b"));
    }
}
