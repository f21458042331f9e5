//! Turning answers into table cells and JSON, with secrets masked.

use provisioning_host::types::Limit;
use provisioning_host::{CallError, Redactor, Response};

/// A one-line summary of a successful answer.
pub fn summarize(response: &Response) -> String {
    match response {
        Response::Connection(status) => status.message.clone(),
        Response::Created(created) => {
            let mut text = format!(
                "remote id {} ({})",
                created.remote_id,
                state_name(created.status)
            );
            for credential in &created.credentials {
                text.push_str(&format!(", {} issued", credential.name));
            }
            text
        }
        Response::Done(outcome) => {
            let mut text = outcome.message.clone();
            for credential in &outcome.credentials {
                text.push_str(&format!(", {} issued", credential.name));
            }
            text
        }
        Response::Usage(usage) => usage
            .figures
            .iter()
            .map(|f| match f.limit {
                Limit::Unlimited => format!("{} {} {} of unlimited", f.name, f.used, f.unit),
                Limit::Value(limit) => format!("{} {} of {} {}", f.name, f.used, limit, f.unit),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Response::Packages(packages) => format!(
            "{} packages: {}",
            packages.len(),
            packages
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Response::SignOn(url) => url.clone(),
        Response::Status(status) => state_name(status.state).to_string(),
    }
}

/// The outcome cell: `ok`, or the error's kind with its message.
pub fn outcome(result: &Result<Response, CallError>, redactor: &Redactor) -> (String, String) {
    match result {
        Ok(response) => ("ok".into(), redactor.redact(&summarize(response))),
        Err(error) => (error.kind().into(), redactor.redact(&error.to_string())),
    }
}

/// A JSON document for a call's result, masked.
pub fn result_json(result: &Result<Response, CallError>, redactor: &Redactor) -> serde_json::Value {
    let value = match result {
        Ok(response) => serde_json::json!({ "ok": response }),
        Err(error) => serde_json::json!({
            "error": { "kind": error.kind(), "message": error.to_string() }
        }),
    };
    // Mask on the serialized form so no field escapes, whatever its depth.
    let text = redactor.redact(&value.to_string());
    serde_json::from_str(&text).unwrap_or(value)
}

/// Prints rows as an aligned text table.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in rows {
        line(row.clone());
    }
}

/// The contract's name of a service state.
fn state_name(state: provisioning_host::types::ServiceState) -> &'static str {
    use provisioning_host::types::ServiceState;
    match state {
        ServiceState::Pending => "pending",
        ServiceState::Active => "active",
        ServiceState::Suspended => "suspended",
        ServiceState::Terminated => "terminated",
        ServiceState::Failed => "failed",
        ServiceState::Unknown => "unknown",
    }
}
