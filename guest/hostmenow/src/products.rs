//! `Get_Products` answers as packages.

use provisioning_guest::json;
use provisioning_guest::types::{Error, Package, Price};
use serde_json::Value;

/// Billing cycles in the order prices are listed; others follow by name.
const CYCLES: [&str; 6] = [
    "monthly",
    "quarterly",
    "semiannually",
    "annually",
    "biennially",
    "triennially",
];

/// Fields of a product read into dedicated fields of [`Package`]; the
/// product's other scalar fields become its `details`.
const KNOWN_FIELDS: [&str; 4] = [
    "product_id",
    "product_name",
    "description",
    "billing_cycles",
];

/// The products under `data`: a list, or an object of products (PHP's
/// encoding of a list with gaps). No `data` at all is an empty list.
fn products(body: &Value) -> Result<Vec<&Value>, Error> {
    json::items_under(body, "data", "product")
}

/// How many products the answer lists.
pub fn count(body: &Value) -> Result<usize, Error> {
    products(body).map(|p| p.len())
}

/// The packages the answer lists.
pub fn packages(body: &Value) -> Result<Vec<Package>, Error> {
    products(body)?.into_iter().map(package).collect()
}

fn package(product: &Value) -> Result<Package, Error> {
    let Value::Object(fields) = product else {
        return Err(Error::BadResponse(
            "a product in the answer is not an object".to_owned(),
        ));
    };
    let id = json::get(product, "product_id")
        .and_then(json::text)
        .ok_or_else(|| {
            Error::BadResponse("a product in the answer has no product_id".to_owned())
        })?;
    let details = fields
        .iter()
        .filter(|(key, _)| !KNOWN_FIELDS.contains(&key.as_str()))
        .filter_map(|(key, value)| Some((key.clone(), json::text(value)?)))
        .collect();
    Ok(Package {
        name: json::get(product, "product_name")
            .and_then(json::text)
            .unwrap_or_else(|| id.clone()),
        id,
        description: json::get(product, "description").and_then(json::text),
        prices: prices(product),
        details,
    })
}

/// One price per offered cycle of `billing_cycles` (`{cycle: {price,
/// setup_fee}}`, or `{cycle: price}`).
fn prices(product: &Value) -> Vec<Price> {
    let Some(Value::Object(cycles)) = json::get(product, "billing_cycles") else {
        // Missing, or `[]`: PHP's encoding of an empty map.
        return Vec::new();
    };
    let currency = json::get(product, "currency").and_then(json::text);
    let mut prices: Vec<Price> = cycles
        .iter()
        .filter_map(|(cycle, entry)| {
            let amount = match entry {
                Value::Object(_) => json::get(entry, "price").and_then(json::text),
                scalar => json::text(scalar),
            }?;
            // WHMCS, which the provider runs on, prices a cycle it does not
            // offer at -1.
            if amount.parse::<f64>().is_ok_and(|n| n < 0.0) {
                return None;
            }
            Some(Price {
                cycle: cycle.to_lowercase(),
                amount,
                setup_fee: json::get(entry, "setup_fee").and_then(json::text),
                currency: json::get(entry, "currency")
                    .and_then(json::text)
                    .or_else(|| currency.clone()),
            })
        })
        .collect();
    prices.sort_by(|a, b| {
        let rank = |p: &Price| {
            CYCLES
                .iter()
                .position(|c| *c == p.cycle)
                .unwrap_or(CYCLES.len())
        };
        rank(a).cmp(&rank(b)).then_with(|| a.cycle.cmp(&b.cycle))
    });
    prices
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_documented_answer() {
        let body = json!({
            "status": "success",
            "message": "Products retrieved successfully",
            "data": [{
                "product_id": "123",
                "product_name": "Shared Hosting - Basic",
                "description": "Perfect for small websites",
                "disk": "5 GB",
                "billing_cycles": {
                    "annually": {"price": "99.99", "setup_fee": "0.00"},
                    "monthly": {"price": "9.99", "setup_fee": "0.00"},
                    "quarterly": {"price": "27.99", "setup_fee": "0.00"},
                    "biennially": {"price": "-1.00", "setup_fee": "0.00"}
                }
            }]
        });
        assert_eq!(count(&body).unwrap(), 1);
        let packages = packages(&body).unwrap();
        let p = &packages[0];
        assert_eq!(p.id, "123");
        assert_eq!(p.name, "Shared Hosting - Basic");
        assert_eq!(p.description.as_deref(), Some("Perfect for small websites"));
        assert_eq!(p.details, vec![("disk".to_owned(), "5 GB".to_owned())]);
        let cycles: Vec<_> = p
            .prices
            .iter()
            .map(|p| (p.cycle.as_str(), p.amount.as_str()))
            .collect();
        assert_eq!(
            cycles,
            [
                ("monthly", "9.99"),
                ("quarterly", "27.99"),
                ("annually", "99.99")
            ]
        );
        assert_eq!(p.prices[0].setup_fee.as_deref(), Some("0.00"));
    }

    #[test]
    fn tolerates_php_shapes() {
        let body =
            json!({"status": "success", "data": {"7": {"product_id": 7, "billing_cycles": []}}});
        let listed = packages(&body).unwrap();
        assert_eq!((listed[0].id.as_str(), listed[0].name.as_str()), ("7", "7"));
        assert!(listed[0].prices.is_empty());
        assert_eq!(count(&json!({"status": "success"})).unwrap(), 0);
        assert!(count(&json!({"status": "success", "data": "none"})).is_err());
        assert!(packages(&json!({"data": [{"product_name": "x"}]})).is_err());
    }
}
