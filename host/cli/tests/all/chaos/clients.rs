//! The clients: each sends its scheduled operations in order, not before
//! their time, and records what came back.

use std::time::Duration;

use serde_json::{Value, json};

use super::cluster::{Cluster, TOKEN, secrets};
use super::history::{Call, Event, History};
use super::schedule::{At, Op, create_key, group, module_of, service_id};

/// How long one request may take before it counts as unanswered: past
/// the longest deadline (Webline's 5 s) plus a slow journal's wait and a
/// stalled host's pause.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// A client's HTTP agent: loopback only, every request bounded.
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(2))
        .timeout(REQUEST_TIMEOUT)
        .build()
}

/// Sends one request to `base`; the status (none without an answer) and
/// the body.
pub fn send(
    agent: &ureq::Agent,
    base: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    request_id: Option<&str>,
) -> (Option<u16>, Value) {
    let mut request = agent
        .request(method, &format!("{base}{path}"))
        .set("Authorization", &format!("Bearer {TOKEN}"));
    if let Some(id) = request_id {
        request = request.set("X-Request-Id", id);
    }
    let result = match body {
        Some(body) => request.send_json(body.clone()),
        None => request.call(),
    };
    let response = match result {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(error) => return (None, Value::String(format!("no answer: {error}"))),
    };
    let status = response.status();
    match response.into_string() {
        Ok(text) => (
            Some(status),
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ),
        Err(error) => (None, Value::String(format!("answer cut: {error}"))),
    }
}

/// The password a create of key `key` sends (a secret: never in a log).
pub fn create_password(group: &str, key: usize) -> String {
    format!("Chaos-Create-{group}-{key}-pW7z")
}

/// The password change-password `n` sends.
pub fn new_password(n: usize) -> String {
    format!("Chaos-New-{n}-qX4v")
}

/// The domain of key `key`'s service (another one for a conflicting
/// create, which must never reach the provider).
pub fn domain(group: &str, key: usize, conflicting: bool) -> String {
    let base = if conflicting {
        format!("conflict-{}", service_id(group, key))
    } else {
        service_id(group, key)
    };
    match module_of(key) {
        "hostmenow" => format!("{base}.example.com"),
        _ => format!("{base}.co.tz"),
    }
}

/// The service record of key `key`.
pub fn service(group: &str, key: usize, conflicting: bool) -> Value {
    let id = service_id(group, key);
    let domain = domain(group, key, conflicting);
    match module_of(key) {
        "hostmenow" => json!({
            "service_id": id, "domain": domain, "username": format!("c{group}{key}"),
            "password": create_password(group, key), "package": "101",
            "billing_cycle": "monthly",
            "client": { "first_name": "Chaos", "last_name": "Client", "email": "c@example.com" },
            "custom_fields": []
        }),
        _ => json!({
            "service_id": id, "domain": domain, "package": "1", "billing_cycle": "monthly",
            "client": {
                "first_name": "Asha", "last_name": "Mushi", "email": "asha@example.co.tz",
                "phone": "+255712345678", "country": "TZ"
            },
            "custom_fields": []
        }),
    }
}

/// Runs one client's operations, recording each into `history`.
pub fn run(client: usize, ops: &[At<Op>], cluster: &Cluster, history: &History) {
    let agent = agent();
    let secrets = secrets();
    for at in ops {
        let due = history.instant(at.ms);
        if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
            std::thread::sleep(wait);
        }
        let start_ms = history.now_ms();
        let base = cluster.hosts[at.what.host()].base();
        let mut calls = Vec::new();
        let mut call = |method: &str, path: &str, body: Option<Value>, id: Option<&str>| {
            let (status, answer) = send(&agent, &base, method, path, body.as_ref(), id);
            history.scan(
                &format!("the answer to {method} {path}"),
                &answer.to_string(),
                &secrets,
            );
            calls.push(Call {
                route: format!("{method} {path}"),
                request: body.unwrap_or(Value::Null),
                status,
                body: answer.clone(),
            });
            (status, answer)
        };
        let module_call = |module: &str| format!("/v1/modules/{module}/call");
        match &at.what {
            Op::Create {
                host,
                key,
                conflicting,
            } => {
                let g = group(*host);
                call(
                    "POST",
                    &module_call(module_of(*key)),
                    Some(json!({
                        "request": { "function": "create-account", "service": service(g, *key, *conflicting) },
                        "idempotency_key": create_key(g, *key),
                    })),
                    None,
                );
            }
            Op::Suspend {
                host,
                key,
                n,
                unsuspend,
            } => {
                let g = group(*host);
                let function = if *unsuspend { "unsuspend" } else { "suspend" };
                call(
                    "POST",
                    &module_call("hostmenow"),
                    Some(json!({
                        "request": { "function": function, "service": service(g, *key, false), "reason": "chaos" },
                        "idempotency_key": format!("{function}-{g}-{n}"),
                    })),
                    None,
                );
            }
            Op::ChangePassword { host, key, n } => {
                let g = group(*host);
                call(
                    "POST",
                    &module_call("hostmenow"),
                    Some(json!({
                        "request": {
                            "function": "change-password", "service": service(g, *key, false),
                            "new_password": new_password(*n),
                        },
                        "idempotency_key": format!("password-{g}-{n}"),
                    })),
                    None,
                );
            }
            Op::Read { host, key } => {
                call(
                    "POST",
                    &module_call(module_of(*key)),
                    Some(json!({
                        "request": { "function": "service-status", "service": service(group(*host), *key, false) },
                    })),
                    None,
                );
            }
            Op::TestConnection { module, .. } => {
                call(
                    "POST",
                    &module_call(module),
                    Some(json!({ "request": { "function": "test-connection" } })),
                    None,
                );
            }
            Op::Usage { host, keys } => {
                let services: Vec<Value> = keys
                    .iter()
                    .map(|key| json!({ "module": "hostmenow", "service": service(group(*host), *key, false) }))
                    .collect();
                call(
                    "POST",
                    "/v1/usage",
                    Some(json!({ "services": services })),
                    None,
                );
            }
            Op::Ack { .. } => {
                let (status, pending) = call("GET", "/v1/journal/pending", None, None);
                if status == Some(200) {
                    let answered: Vec<i64> = pending["pending"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|e| e["state"] == "answered")
                        .filter_map(|e| e["id"].as_i64())
                        .take(3)
                        .collect();
                    for id in answered {
                        call(
                            "POST",
                            &format!("/v1/journal/{id}/ack"),
                            Some(json!({})),
                            None,
                        );
                    }
                }
            }
            Op::Reconcile { .. } => {
                call("POST", "/v1/journal/reconcile", Some(json!({})), None);
            }
            Op::Hostile { .. } => {
                call(
                    "POST",
                    &module_call("hostmenow"),
                    Some(json!({ "request": { "function": "test-connection" } })),
                    Some(TOKEN),
                );
                call(
                    "POST",
                    "/v1/journal/1/ack",
                    Some(json!({ "finding": "maybe" })),
                    None,
                );
            }
            Op::Misbehave { guest, .. } => {
                call(
                    "POST",
                    &module_call("misbehaving"),
                    Some(json!({ "request": {
                        "function": "usage-data",
                        "service": { "service_id": format!("{}/{client}", guest.behaviour()) },
                    } })),
                    None,
                );
            }
            Op::SettingOverride { .. } => {
                call(
                    "POST",
                    &module_call("webline"),
                    Some(json!({
                        "request": { "function": "test-connection" },
                        "settings": [{ "name": "api-key", "value": "wla_not_the_operators_key" }],
                    })),
                    None,
                );
            }
        }
        history.events.lock().unwrap().push(Event {
            client,
            op: at.what.clone(),
            start_ms,
            end_ms: history.now_ms(),
            calls,
        });
    }
}
