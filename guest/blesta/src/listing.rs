//! `getlicenses`: every license of the account, as listed accounts.
//!
//! The document gives `data` as an object keyed by license key, each key
//! holding a list of one license: `{"KEY": [{"type", "license", "domain",
//! "date_added", "date_suspended", "date_renews", "term"}]}`. A plain list
//! of licenses is read too. The call is not paged (only `searchlicenses`
//! is): one answer holds every license. A cancelled license is no longer
//! listed, so none is shown `terminated`.

use provisioning_guest::types::{Error, ListedAccount, ServiceState};
use provisioning_guest::{json, text};
use serde_json::Value;

/// The licenses of a `getlicenses` answer's `data`; `null` is none.
pub fn accounts(data: &Value) -> Result<Vec<ListedAccount>, Error> {
    let groups = match data {
        Value::Null => return Ok(Vec::new()),
        other => json::items(other).ok_or_else(|| {
            Error::BadResponse("getlicenses answered data that is not a list".to_owned())
        })?,
    };
    let mut accounts = Vec::new();
    for group in groups {
        // One license, or the list of licenses under its key.
        let licenses = match group {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for license in licenses {
            accounts.push(listed(license)?);
        }
    }
    Ok(accounts)
}

fn listed(item: &Value) -> Result<ListedAccount, Error> {
    let field = |name: &str| json::get(item, name).and_then(json::text);
    let remote_id = field("license").ok_or_else(|| {
        Error::BadResponse("a license in the getlicenses answer has no key".to_owned())
    })?;
    // `date_suspended` is `0000-00-00` unless the license is suspended.
    let suspended = field("date_suspended")
        .and_then(|d| text::date(&d))
        .is_some();
    Ok(ListedAccount {
        remote_id,
        domain: field("domain"),
        username: None,
        email: None,
        // The term, which is the package id list-packages gives.
        package: field("term"),
        state: if suspended {
            ServiceState::Suspended
        } else {
            ServiceState::Active
        },
        created: field("date_added").and_then(|d| text::date(&d)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_documented_answer() {
        let data = json!({
            "ABCDEFGH12345678": [{"type": "license", "license": "ABCDEFGH12345678",
                "domain": "domain.com", "date_added": "2009-07-24",
                "date_suspended": "0000-00-00", "date_renews": "2009-10-01", "term": "monthly"}],
            "ABCDEFGH00000001": [{"type": "license", "license": "ABCDEFGH00000001",
                "domain": "other.com", "date_added": "0000-00-00",
                "date_suspended": "2009-08-01", "term": "owned"}]
        });
        let list = accounts(&data).unwrap();
        assert_eq!(list.len(), 2);
        let first = list
            .iter()
            .find(|a| a.remote_id == "ABCDEFGH12345678")
            .unwrap();
        assert_eq!(first.domain.as_deref(), Some("domain.com"));
        assert_eq!(first.package.as_deref(), Some("monthly"));
        assert_eq!(first.state, ServiceState::Active);
        assert_eq!(first.created.as_deref(), Some("2009-07-24"));
        let second = list
            .iter()
            .find(|a| a.remote_id == "ABCDEFGH00000001")
            .unwrap();
        assert_eq!(second.state, ServiceState::Suspended);
        assert_eq!(second.created, None);
    }

    #[test]
    fn other_shapes() {
        assert!(accounts(&json!(null)).unwrap().is_empty());
        assert!(accounts(&json!({})).unwrap().is_empty());
        let flat = json!([{"license": "K1", "domain": "a.com", "term": "yearly"}]);
        assert_eq!(accounts(&flat).unwrap()[0].remote_id, "K1");
        assert!(matches!(accounts(&json!("x")), Err(Error::BadResponse(_))));
        assert!(matches!(
            accounts(&json!({"K": [{"domain": "a.com"}]})),
            Err(Error::BadResponse(_))
        ));
    }
}
