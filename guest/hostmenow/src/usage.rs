//! `get_Bandwidth_Disk_Usage` answers as usage figures.

use provisioning_guest::json;
use provisioning_guest::types::{Error, Limit, Usage, UsageFigure};
use serde_json::Value;

/// Where fields may sit besides the top level (the document puts the usage
/// at the top level; `data` is where other answers put their payload).
const WRAPPERS: [&str; 1] = ["data"];

/// Disk and bandwidth usage, in MB, as the answer gives them.
pub fn usage(body: &Value) -> Result<Usage, Error> {
    let disk = json::find(body, "disk_usage", &WRAPPERS);
    let bandwidth = json::find(body, "bandwidth_usage", &WRAPPERS);
    if disk.is_none() && bandwidth.is_none() {
        return Err(Error::BadResponse(
            "the usage answer has neither disk_usage nor bandwidth_usage".to_owned(),
        ));
    }
    let mut figures = Vec::new();
    if let Some(disk) = disk {
        figures.push(figure("disk", disk, &["used_mb"])?);
    }
    if let Some(bandwidth) = bandwidth {
        figures.push(figure(
            "bandwidth",
            bandwidth,
            &["current_month_mb", "used_mb"],
        )?);
    }
    Ok(Usage {
        figures,
        updated_at: json::find(body, "last_updated", &WRAPPERS).and_then(json::text),
    })
}

/// One figure from `{<used>: "1250.50", limit_mb: "5000"}`; numbers may be
/// strings or numbers.
fn figure(name: &str, value: &Value, used_keys: &[&str]) -> Result<UsageFigure, Error> {
    let bad = |what: &str| Error::BadResponse(format!("the {name} usage in the answer {what}"));
    let used = used_keys
        .iter()
        .find_map(|key| json::get(value, key))
        .and_then(json::number)
        .filter(|n| *n >= 0.0)
        .ok_or_else(|| bad("has no usable used amount"))?;
    let limit = json::get(value, "limit_mb")
        .and_then(limit)
        .ok_or_else(|| bad("has no usable limit_mb"))?;
    Ok(UsageFigure {
        name: name.to_owned(),
        unit: "MB".to_owned(),
        used,
        limit,
    })
}

/// `0` (or "unlimited") means no limit.
fn limit(value: &Value) -> Option<Limit> {
    if json::text(value).is_some_and(|t| t.eq_ignore_ascii_case("unlimited")) {
        return Some(Limit::Unlimited);
    }
    let n = json::number(value)?;
    if n == 0.0 {
        Some(Limit::Unlimited)
    } else {
        (n > 0.0).then_some(Limit::Value(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_documented_answer() {
        let body = json!({
            "status": "success",
            "message": "Usage retrieved successfully",
            "disk_usage": {"used_mb": "1250.50", "limit_mb": "5000", "percentage_used": "25.01"},
            "bandwidth_usage": {"current_month_mb": "3500.75", "limit_mb": "0", "percentage_used": "0"},
            "last_updated": "2025-01-03 14:30:00"
        });
        let usage = usage(&body).unwrap();
        assert_eq!(
            usage.figures,
            vec![
                UsageFigure {
                    name: "disk".into(),
                    unit: "MB".into(),
                    used: 1250.5,
                    limit: Limit::Value(5000.0)
                },
                UsageFigure {
                    name: "bandwidth".into(),
                    unit: "MB".into(),
                    used: 3500.75,
                    limit: Limit::Unlimited
                },
            ]
        );
        assert_eq!(usage.updated_at.as_deref(), Some("2025-01-03 14:30:00"));
    }

    #[test]
    fn accepts_numbers_and_a_data_wrapper() {
        let body = json!({"status": "success", "data": {
            "disk_usage": {"used_mb": 10, "limit_mb": 0},
            "last_updated": "now"
        }});
        let usage = usage(&body).unwrap();
        assert_eq!(usage.figures.len(), 1);
        assert_eq!(usage.figures[0].limit, Limit::Unlimited);
        assert_eq!(usage.updated_at.as_deref(), Some("now"));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(matches!(
            usage(&json!({"status": "success"})),
            Err(Error::BadResponse(_))
        ));
        let no_limit = json!({"disk_usage": {"used_mb": "1"}});
        assert!(matches!(usage(&no_limit), Err(Error::BadResponse(m)) if m.contains("limit_mb")));
        let bad_used = json!({"disk_usage": {"used_mb": "lots", "limit_mb": "1"}});
        assert!(usage(&bad_used).is_err());
    }
}
