//! `getPackages` answers as packages.

use provisioning_guest::json;
use provisioning_guest::types::{Error, Package, Price};
use serde_json::Value;

/// The provider prices in Tanzanian shillings, as integers.
const CURRENCY: &str = "TZS";

/// Fields read into dedicated fields of [`Package`]; the other scalar
/// fields (disk and bandwidth in MB, ...) become its `details`.
const KNOWN_FIELDS: [&str; 5] = ["id", "name", "description", "price_monthly", "price_yearly"];

/// The packages under `data`; no `data` at all is an empty list.
fn list(body: &Value) -> Result<Vec<&Value>, Error> {
    json::items_under(body, "data", "package")
}

/// How many packages the answer lists.
pub fn count(body: &Value) -> Result<usize, Error> {
    list(body).map(|p| p.len())
}

/// The packages the answer lists.
pub fn packages(body: &Value) -> Result<Vec<Package>, Error> {
    list(body)?.into_iter().map(package).collect()
}

fn package(item: &Value) -> Result<Package, Error> {
    let Value::Object(fields) = item else {
        return Err(Error::BadResponse(
            "a package in the answer is not an object".to_owned(),
        ));
    };
    let id = json::get(item, "id")
        .and_then(json::text)
        .ok_or_else(|| Error::BadResponse("a package in the answer has no id".to_owned()))?;
    let prices = [("monthly", "price_monthly"), ("annually", "price_yearly")]
        .into_iter()
        .filter_map(|(cycle, field)| {
            Some(Price {
                cycle: cycle.to_owned(),
                amount: json::get(item, field).and_then(json::text)?,
                setup_fee: None,
                currency: Some(CURRENCY.to_owned()),
            })
        })
        .collect();
    let details = fields
        .iter()
        .filter(|(key, _)| !KNOWN_FIELDS.contains(&key.as_str()))
        .filter_map(|(key, value)| Some((key.clone(), json::text(value)?)))
        .collect();
    Ok(Package {
        name: json::get(item, "name")
            .and_then(json::text)
            .unwrap_or_else(|| id.clone()),
        id,
        description: json::get(item, "description").and_then(json::text),
        prices,
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_documented_answer() {
        let body = json!({"status": "success", "data": [{
            "id": 1, "name": "Basic Hosting", "description": "Perfect for small websites",
            "disk_space_mb": 5000, "bandwidth_mb": 50000, "max_accounts": 5,
            "price_monthly": 25000, "price_yearly": 250000, "directadmin_package": "basic"
        }]});
        assert_eq!(count(&body).unwrap(), 1);
        let p = &packages(&body).unwrap()[0];
        assert_eq!((p.id.as_str(), p.name.as_str()), ("1", "Basic Hosting"));
        assert_eq!(p.prices.len(), 2);
        assert_eq!(p.prices[0].cycle, "monthly");
        assert_eq!(p.prices[0].amount, "25000");
        assert_eq!(p.prices[1].amount, "250000");
        assert_eq!(p.prices[0].currency.as_deref(), Some("TZS"));
        assert!(
            p.details
                .contains(&("disk_space_mb".to_owned(), "5000".to_owned()))
        );
        assert!(
            p.details
                .contains(&("bandwidth_mb".to_owned(), "50000".to_owned()))
        );
    }

    #[test]
    fn rejects_odd_shapes() {
        assert!(count(&json!({"data": "none"})).is_err());
        assert!(packages(&json!({"data": [{"name": "x"}]})).is_err());
        assert_eq!(count(&json!({"status": "success"})).unwrap(), 0);
    }
}
