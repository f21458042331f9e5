//! `getpackages`: the terms the account may add, as packages.

use provisioning_guest::json;
use provisioning_guest::types::{Error, Package, Price};
use serde_json::Value;

/// The packages in `getpackages`'s `data`:
/// `[{"name", "type", "term", "price"}]`. The id is the term, which is
/// what `addlicense` takes; prices are in USD.
pub fn packages(data: &Value) -> Result<Vec<Package>, Error> {
    let items = match data {
        Value::Null => Vec::new(),
        other => json::items(other).ok_or_else(|| {
            Error::BadResponse("getpackages answered data that is not a list".to_owned())
        })?,
    };
    items.into_iter().map(package).collect()
}

fn package(item: &Value) -> Result<Package, Error> {
    let term = json::get(item, "term")
        .and_then(json::text)
        .ok_or_else(|| {
            Error::BadResponse("a package in the getpackages answer has no term".to_owned())
        })?;
    let name = json::get(item, "name")
        .and_then(json::text)
        .unwrap_or_else(|| term.clone());
    let prices = json::get(item, "price")
        .and_then(json::text)
        .map(|amount| Price {
            cycle: term.clone(),
            amount,
            setup_fee: None,
            currency: Some("USD".to_owned()),
        })
        .into_iter()
        .collect();
    let details = json::get(item, "type")
        .and_then(json::text)
        .map(|t| ("type".to_owned(), t))
        .into_iter()
        .collect();
    Ok(Package {
        id: term,
        name,
        description: None,
        prices,
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documented_shape() {
        let data =
            json!([{"name":"Blesta Monthly","type":"license","term":"monthly","price":"15.95"}]);
        let list = packages(&data).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, "monthly");
        assert_eq!(list[0].name, "Blesta Monthly");
        assert_eq!(list[0].prices[0].amount, "15.95");
        assert!(matches!(
            packages(&json!([{"name": "x"}])),
            Err(Error::BadResponse(_))
        ));
        assert!(packages(&json!(null)).unwrap().is_empty());
    }
}
