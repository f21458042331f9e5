//! The API's one route: fields from the query (GET) or the query and a
//! form body (POST, as PHP's `$_REQUEST`), checked, then dispatched.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::state::{LicenseStatus, RecordedRequest, State as Account};
use super::{Blesta, PASSWORD, UID};
use crate::clock;

/// Results per `searchlicenses` page, as the document says.
pub const PAGE_SIZE: usize = 25;

/// The answer codes and their texts (the document's list).
pub mod code {
    /// Success.
    pub const OK: (u16, &str) = (200, "OK");
    /// Wrong or missing `uid`/`password`.
    pub const AUTH_FAILED: (u16, &str) = (100, "Authentication failed");
    /// An `action` the API does not have (including `suspend`).
    pub const NOT_SUPPORTED: (u16, &str) = (101, "Action not supported");
    /// No license with that key.
    pub const NO_LICENSE: (u16, &str) = (102, "License does not exist");
    /// A live license is already bound to that domain.
    pub const EXISTS: (u16, &str) = (103, "License already exists for that domain");
    /// The account is past due.
    pub const PAST_DUE: (u16, &str) = (104, "Account is past due, action can not be performed");
    /// Not enough credit for the package.
    pub const NO_FUNDS: (u16, &str) = (105, "Insufficient funds available");
    /// `term` missing.
    pub const TERM_REQUIRED: (u16, &str) = (106, "Term is required");
    /// `domain` missing.
    pub const DOMAIN_REQUIRED: (u16, &str) = (107, "Domain is required");
    /// `term` not one the account may add.
    pub const UNKNOWN_TERM: (u16, &str) = (108, "Unknown package type/term given");
    /// `searchlicenses` without a `search[domain]` or `search[license]`
    /// field: undocumented, answered as the generic 109.
    pub const SEARCH_REQUIRED: (u16, &str) =
        (109, "A search[domain] or search[license] value is required");
}

/// The request's fields, last value of a name winning as in PHP.
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field that is present and not blank.
    fn filled(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }
}

/// Answers every method on the API path.
pub(crate) async fn handle(
    State(blesta): State<Blesta>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::GET && method != Method::POST {
        // The web server, not the script, refuses other methods.
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, POST")],
            "Method Not Allowed",
        )
            .into_response();
    }
    let mut fields = parse_pairs(uri.query().unwrap_or_default());
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    // PHP fills $_POST only from a form body; a JSON body is not read.
    if method == Method::POST && is_form {
        fields.extend(parse_pairs(&String::from_utf8_lossy(&body)));
    }
    let fields = Fields(fields);
    let mut account = blesta.lock();
    account.requests.push(RecordedRequest {
        method: method.to_string(),
        fields: fields
            .0
            .iter()
            .filter(|(n, _)| n != "password")
            .cloned()
            .collect(),
    });
    let (code, text, data) = dispatch(&mut account, &fields);
    answer(code, &text, data)
}

/// `a=1&b=2` decoded (`+` as space, percent escapes); malformed input
/// gives no fields, as PHP would mostly ignore it.
fn parse_pairs(text: &str) -> Vec<(String, String)> {
    if text.is_empty() {
        return Vec::new();
    }
    let Ok(uri) = format!("/?{text}").parse::<Uri>() else {
        return Vec::new();
    };
    Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

/// The JSON envelope, always HTTP 200.
fn answer(code: u16, text: &str, data: Value) -> Response {
    let body = json!({"response_code": code, "response_text": text, "data": data});
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A response code, its text and the data.
type Answer = (u16, String, Value);

fn fail((code, text): (u16, &str)) -> Answer {
    (code, text.to_owned(), Value::Null)
}

fn ok(data: Value) -> Answer {
    (code::OK.0, code::OK.1.to_owned(), data)
}

fn dispatch(account: &mut Account, fields: &Fields) -> Answer {
    if fields.get("uid") != Some(UID) || fields.get("password") != Some(PASSWORD) {
        return fail(code::AUTH_FAILED);
    }
    let action = fields.get("action").unwrap_or_default();
    let mutating = matches!(
        action,
        "addlicense" | "cancellicense" | "suspendlicense" | "unsuspendlicense" | "updatedomain"
    );
    if mutating && account.past_due {
        return fail(code::PAST_DUE);
    }
    match action {
        "getcredit" => ok(json!(cents(account.credit_cents))),
        "getpackages" => ok(Value::Array(
                account
                    .packages
                    .iter()
                    .map(|p| json!({"name": p.name, "type": "license", "term": p.term, "price": cents(p.price_cents)}))
                    .collect(),
        )),
        "getlicenses" => ok(licenses(account)),
        "addlicense" => add(account, fields),
        "cancellicense" => change(account, fields, |l| {
            l.status = LicenseStatus::Cancelled;
        }),
        "suspendlicense" => change(account, fields, |l| {
            if l.status != LicenseStatus::Suspended {
                l.status = LicenseStatus::Suspended;
                l.date_suspended = today();
            }
        }),
        "unsuspendlicense" => change(account, fields, |l| {
            l.status = LicenseStatus::Active;
            l.date_suspended = "0000-00-00".to_owned();
        }),
        "searchlicenses" => search(account, fields),
        "updatedomain" => update_domain(account, fields),
        _ => fail(code::NOT_SUPPORTED),
    }
}

fn add(account: &mut Account, fields: &Fields) -> Answer {
    let Some(term) = fields.filled("term") else {
        return fail(code::TERM_REQUIRED);
    };
    let Some(domain) = fields.filled("domain") else {
        return fail(code::DOMAIN_REQUIRED);
    };
    let Some(price) = account
        .packages
        .iter()
        .find(|p| p.term == term)
        .map(|p| p.price_cents)
    else {
        return fail(code::UNKNOWN_TERM);
    };
    if account.domain_taken(domain) {
        return fail(code::EXISTS);
    }
    let test_mode = fields.get("test_mode") == Some("true");
    if !test_mode && account.credit_cents < price {
        return fail(code::NO_FUNDS);
    }
    if let Some(message) = account.add_failure.take() {
        return (109, message, Value::Null);
    }
    if !test_mode {
        account.credit_cents -= price;
    }
    let record = account.add(domain, term, test_mode, today());
    ok(json!([{"license": record.license, "domain": record.domain}]))
}

/// Runs `apply` on the live license named by the `license` field.
fn change(
    account: &mut Account,
    fields: &Fields,
    apply: impl FnOnce(&mut super::LicenseRecord),
) -> Answer {
    let key = fields.filled("license").unwrap_or_default();
    match account.live_license_mut(key) {
        Some(license) => {
            apply(license);
            ok(Value::Null)
        }
        None => fail(code::NO_LICENSE),
    }
}

fn search(account: &Account, fields: &Fields) -> Answer {
    let by_domain = fields
        .filled("search[domain]")
        .map(|d| ("domain", d.to_ascii_lowercase()));
    let by_license = fields
        .filled("search[license]")
        .map(|k| ("license", k.to_ascii_lowercase()));
    let Some((what, needle)) = by_domain.or(by_license) else {
        return fail(code::SEARCH_REQUIRED);
    };
    let page = fields
        .get("page")
        .and_then(|p| p.trim().parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let matches: Vec<Value> = account
        .licenses
        .iter()
        .filter(|l| l.status != LicenseStatus::Cancelled)
        .filter(|l| {
            let hay = if what == "domain" {
                &l.domain
            } else {
                &l.license
            };
            hay.to_ascii_lowercase().contains(&needle)
        })
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|l| {
            json!({"id": l.id.to_string(), "domain": l.domain, "license": l.license,
                   "last_callback": "", "term": "0"})
        })
        .collect();
    ok(Value::Array(matches))
}

fn update_domain(account: &mut Account, fields: &Fields) -> Answer {
    let Some(domain) = fields.filled("domain").map(str::to_owned) else {
        return fail(code::DOMAIN_REQUIRED);
    };
    let key = fields.filled("license").unwrap_or_default().to_owned();
    if account.live_license_mut(&key).is_none() {
        return fail(code::NO_LICENSE);
    }
    let taken_by_other = account.licenses.iter().any(|l| {
        l.status != LicenseStatus::Cancelled
            && l.license != key
            && l.domain.eq_ignore_ascii_case(&domain)
    });
    if taken_by_other {
        return fail(code::EXISTS);
    }
    if let Some(license) = account.live_license_mut(&key) {
        license.domain = domain;
    }
    ok(Value::Null)
}

/// `getlicenses`' data: an object keyed by license key, each a one-item
/// list, as in the document.
fn licenses(account: &Account) -> Value {
    let mut map = serde_json::Map::new();
    for l in account
        .licenses
        .iter()
        .filter(|l| l.status != LicenseStatus::Cancelled)
    {
        map.insert(
            l.license.clone(),
            json!([{"type": "license", "license": l.license, "domain": l.domain,
                    "date_added": l.date_added, "date_suspended": l.date_suspended,
                    "date_renews": "0000-00-00", "term": l.term}]),
        );
    }
    Value::Object(map)
}

/// Cents as the API writes amounts: `"10.00"`.
fn cents(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

fn today() -> String {
    clock::now_utc().chars().take(10).collect()
}
