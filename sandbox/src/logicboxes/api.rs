//! The HTTP API: `/api/<path>.json`, credentials in the query, POST
//! parameters in the query or a form body, and the provider's two answer
//! shapes (`{"response": {...}}` for mail calls, `{"status": "ERROR"}` for
//! everything else).

use axum::Json;
use axum::body::{Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::state::{Mailbox, MailboxStatus, RecordedRequest, State as Account};
use super::{API_KEY, AUTH_USERID, LogicBoxes, params};

/// Largest body read: anything bigger is not a form of a few fields.
const BODY_LIMIT: usize = 64 * 1024;

/// Error message when the credentials are missing or wrong (HTTP 500, as
/// the service answers its `ERROR` shape).
pub const AUTH_FAILED: &str = "Authentication failed: invalid auth-userid or api-key";

/// Error code of a mail call on an address the order does not have.
pub const MAILUSER_NOT_FOUND: &str = "MAILUSER_NOT_FOUND";
/// Error code of adding an address that exists.
pub const MAILUSER_EXISTS: &str = "MAILUSER_EXISTS";
/// Error code of an order id the reseller does not have.
pub const ORDER_NOT_FOUND: &str = "ORDER_NOT_FOUND";
/// Error code of a wrong old password.
pub const INVALID_PASSWORD: &str = "INVALID_PASSWORD";
/// Error code of an address outside the order's domain, or a bad value.
pub const INVALID_PARAMETER: &str = "INVALID_PARAMETER";
/// Error code of suspending a suspended mailbox (or the reverse).
pub const INVALID_STATE: &str = "INVALID_STATE";

/// The calls served: path after `/api/`, method, required parameters.
const CALLS: &[(&str, Method, &[&str])] = &[
    ("mock/products/reseller-price.json", Method::GET, &[]),
    (
        "mail/user/add.json",
        Method::POST,
        &[
            "order-id",
            "email",
            "passwd",
            "notification-email",
            "first-name",
            "last-name",
            "country-code",
            "language-code",
        ],
    ),
    (
        "mail/user/add-forward-only-account.json",
        Method::POST,
        &["order-id", "email", "forwards"],
    ),
    (
        "mail/user/suspend.json",
        Method::POST,
        &["order-id", "email"],
    ),
    (
        "mail/user/unsuspend.json",
        Method::POST,
        &["order-id", "email"],
    ),
    (
        "mail/user/delete.json",
        Method::POST,
        &["order-id", "email"],
    ),
    (
        "mail/user/change-password.json",
        Method::POST,
        &["order-id", "email", "old-passwd", "new-passwd"],
    ),
    (
        "mail/user/reset-password.json",
        Method::POST,
        &["order-id", "email"],
    ),
];

/// `{"status": "ERROR", "message": ...}` with `status`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"status": "ERROR", "message": message.into()})),
    )
        .into_response()
}

/// A mail call's failure: HTTP 200, wrapped.
fn failure(code: &str, message: impl Into<String>) -> Response {
    Json(json!({"response": {"status": "FAILURE", "errorcode": code, "message": message.into()}}))
        .into_response()
}

/// A mail call's success: HTTP 200, wrapped, with `extra` fields.
fn success(message: impl Into<String>, extra: Value) -> Response {
    let mut inner = json!({"status": "SUCCESS", "message": message.into()});
    if let (Some(inner), Value::Object(extra)) = (inner.as_object_mut(), extra) {
        inner.extend(extra);
    }
    Json(json!({ "response": inner })).into_response()
}

/// Serves one request under `/api/`.
pub(crate) async fn handle(State(sim): State<LogicBoxes>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path()
        .strip_prefix("/api/")
        .unwrap_or_default()
        .to_owned();
    let Some((_, method, required)) = CALLS.iter().find(|(p, _, _)| *p == path) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("Invalid API path: /api/{path}"),
        );
    };
    if parts.method != *method {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "HTTP method {} is not supported for this API; use {method}",
                parts.method
            ),
        );
    }
    let query = params::parse(parts.uri.query().unwrap_or_default());
    let body: Bytes = match to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large"),
    };
    let form = if body.is_empty() {
        Vec::new()
    } else {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if *method != Method::POST
            || !content_type
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Parameters must be sent in the query string or as application/x-www-form-urlencoded",
            );
        }
        params::parse(&String::from_utf8_lossy(&body))
    };

    let mut account = sim.lock();
    account.requests.push(RecordedRequest {
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        form: form.clone(),
    });
    // Credentials travel in the query; parameters in either.
    if params::first(&query, "auth-userid") != Some(AUTH_USERID)
        || params::first(&query, "api-key") != Some(API_KEY)
    {
        return error(StatusCode::INTERNAL_SERVER_ERROR, AUTH_FAILED);
    }
    let all: Vec<(String, String)> = query.into_iter().chain(form).collect();
    let get = |key: &str| value(&all, key);
    if let Some(missing) = required.iter().find(|k| get(k).is_empty()) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Required parameter missing: {missing}"),
        );
    }
    if path.starts_with("mock/") {
        return Json(reseller_price()).into_response();
    }

    let order_id = get("order-id");
    if !order_id.chars().all(|c| c.is_ascii_digit()) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Invalid value for order-id: {order_id} is not an integer"),
        );
    }
    let Some(domain) = account.orders.get(order_id).cloned() else {
        return failure(ORDER_NOT_FOUND, format!("Order {order_id} not found"));
    };
    let email = get("email").to_ascii_lowercase();
    let call = path
        .trim_start_matches("mail/user/")
        .trim_end_matches(".json");
    match call {
        "add" | "add-forward-only-account" => {
            add(&mut account, call, order_id, &domain, &email, &all)
        }
        _ => on_existing(&mut account, call, order_id, &email, &all),
    }
}

/// The first value of `key`, trimmed; empty when absent.
fn value<'a>(all: &'a [(String, String)], key: &str) -> &'a str {
    params::first(all, key).map(str::trim).unwrap_or_default()
}

fn add(
    account: &mut Account,
    call: &str,
    order_id: &str,
    domain: &str,
    email: &str,
    all: &[(String, String)],
) -> Response {
    if email.rsplit_once('@').map(|(_, d)| d) != Some(domain) {
        return failure(
            INVALID_PARAMETER,
            format!(
                "Email address {email} does not belong to the domain {domain} of order {order_id}"
            ),
        );
    }
    if account.mailboxes.contains_key(email) {
        return failure(
            MAILUSER_EXISTS,
            format!("Email account {email} already exists"),
        );
    }
    let forward_only = call == "add-forward-only-account";
    let mailbox = if forward_only {
        let forwards: Vec<String> = value(all, "forwards")
            .split(',')
            .map(|a| a.trim().to_ascii_lowercase())
            .filter(|a| !a.is_empty())
            .collect();
        if forwards.iter().any(|a| !a.contains('@')) {
            return failure(INVALID_PARAMETER, "Invalid email address in forwards");
        }
        Mailbox {
            email: email.to_owned(),
            order_id: order_id.to_owned(),
            password: None,
            notification_email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            country_code: String::new(),
            language_code: String::new(),
            forward_only,
            forwards,
            status: MailboxStatus::Active,
        }
    } else {
        let country = value(all, "country-code");
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            return failure(
                INVALID_PARAMETER,
                format!("Invalid country-code: {country}"),
            );
        }
        Mailbox {
            email: email.to_owned(),
            order_id: order_id.to_owned(),
            password: Some(value(all, "passwd").to_owned()),
            notification_email: value(all, "notification-email").to_owned(),
            first_name: value(all, "first-name").to_owned(),
            last_name: value(all, "last-name").to_owned(),
            country_code: country.to_owned(),
            language_code: value(all, "language-code").to_owned(),
            forward_only,
            forwards: Vec::new(),
            status: MailboxStatus::Active,
        }
    };
    account.mailboxes.insert(email.to_owned(), mailbox);
    success(
        format!("Email account {email} added successfully"),
        json!({"email": email, "order-id": order_id}),
    )
}

fn on_existing(
    account: &mut Account,
    call: &str,
    order_id: &str,
    email: &str,
    all: &[(String, String)],
) -> Response {
    let resets = account.resets;
    let Some(mailbox) = account
        .mailboxes
        .get_mut(email)
        .filter(|m| m.order_id == order_id)
    else {
        return failure(
            MAILUSER_NOT_FOUND,
            format!("Email account {email} does not exist"),
        );
    };
    match call {
        "suspend" if mailbox.status == MailboxStatus::Suspended => failure(
            INVALID_STATE,
            format!("Email account {email} is already suspended"),
        ),
        "suspend" => {
            mailbox.status = MailboxStatus::Suspended;
            success(format!("Email account {email} suspended"), json!({}))
        }
        "unsuspend" if mailbox.status == MailboxStatus::Active => failure(
            INVALID_STATE,
            format!("Email account {email} is not suspended"),
        ),
        "unsuspend" => {
            mailbox.status = MailboxStatus::Active;
            success(format!("Email account {email} unsuspended"), json!({}))
        }
        "change-password" | "reset-password" if mailbox.forward_only => failure(
            INVALID_PARAMETER,
            format!("Email account {email} is forward-only and has no password"),
        ),
        "change-password" => {
            if mailbox.password.as_deref() != Some(value(all, "old-passwd")) {
                return failure(INVALID_PASSWORD, "The old password is incorrect");
            }
            mailbox.password = Some(value(all, "new-passwd").to_owned());
            success(format!("Password of {email} changed"), json!({}))
        }
        "reset-password" => {
            let password = generated_password(resets, email);
            mailbox.password = Some(password.clone());
            account.resets += 1;
            success(
                format!("Password of {email} reset"),
                json!({ "password": password }),
            )
        }
        _ => {
            // "delete": the only call left in CALLS.
            account.mailboxes.remove(email);
            success(format!("Email account {email} deleted"), json!({}))
        }
    }
}

/// A password no caller could guess from the request: different for each
/// reset and each address.
fn generated_password(resets: u32, email: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(resets);
    for b in email.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("Lb{:012x}!", hash & 0xffff_ffff_ffff)
}

/// The document's example of the reseller pricing answer.
fn reseller_price() -> Value {
    json!({"hosting": {
        "email_plan": {
            "0": {"pricing": {"renew": 0.0, "add": 0.0}, "description": {"no_of_mail_accounts": -1, "default": true}},
            "1": {"description": {"no_of_mail_accounts": 1, "default": false}}
        },
        "linux_hosting_plan": {
            "0": {"pricing": {"renew": 0.0, "ssl": 0.0, "add": 0.0}, "description": {"no_of_mail_accounts": -1, "default": true, "bandwidth": -1, "webspace": -1}}
        }
    }})
}
