//! `listAccounts` answers as listed accounts.
//!
//! The list names each account's package by name only, so the names are
//! matched to ids with `getPackages`; it gives no client email (only
//! `getAccount` does, one account at a time, which the rate limit of 100
//! requests per 5 minutes cannot afford for a whole list).

use provisioning_guest::types::{Error, ListedAccount, Package};
use provisioning_guest::{json, text};
use serde_json::Value;

use crate::account;

/// The accounts of a `listAccounts` answer, their package names matched
/// against `packages` (a name no package has leaves the package unknown).
pub fn accounts(body: &Value, packages: &[Package]) -> Result<Vec<ListedAccount>, Error> {
    json::items_under(body, "data", "account")?
        .into_iter()
        .map(|item| listed(item, packages))
        .collect()
}

fn listed(item: &Value, packages: &[Package]) -> Result<ListedAccount, Error> {
    let field = |name: &str| json::get(item, name).and_then(json::text);
    let remote_id = field("id")
        .or_else(|| field("account_id"))
        .ok_or_else(|| Error::BadResponse("an account in the list has no id".to_owned()))?;
    let package = field("package_id").or_else(|| {
        let name = field("package_name")?;
        packages
            .iter()
            .find(|p| p.name.trim().eq_ignore_ascii_case(&name))
            .map(|p| p.id.clone())
    });
    Ok(ListedAccount {
        remote_id,
        domain: field("domain"),
        username: field("username"),
        email: field("client_email").or_else(|| field("email")),
        package,
        state: account::state(field("status").as_deref()),
        // `2024-03-20 12:00:00`, in a time zone the document does not give.
        created: field("created_at").and_then(|t| text::date(&t)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use provisioning_guest::types::ServiceState;
    use serde_json::json;

    fn package(id: &str, name: &str) -> Package {
        Package {
            id: id.to_owned(),
            name: name.to_owned(),
            description: None,
            prices: Vec::new(),
            details: Vec::new(),
        }
    }

    #[test]
    fn reads_the_documented_answer() {
        let body = json!({"status": "success", "data": [
            {"id": 123, "domain": "example.com", "username": "example_user", "status": "active",
             "package_name": "Basic Hosting", "server_name": "Server-01",
             "created_at": "2024-03-20 12:00:00"},
            {"id": 124, "domain": "test.com", "username": "test_user", "status": "pending",
             "package_name": "Unheard Of", "server_name": "Server-02",
             "created_at": "2024-03-21 10:30:00"}
        ]});
        let packages = [package("1", "Basic Hosting"), package("2", "Professional")];
        let list = accounts(&body, &packages).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].remote_id, "123");
        assert_eq!(list[0].domain.as_deref(), Some("example.com"));
        assert_eq!(list[0].username.as_deref(), Some("example_user"));
        assert_eq!(list[0].package.as_deref(), Some("1"));
        assert_eq!(list[0].state, ServiceState::Active);
        assert_eq!(list[0].created.as_deref(), Some("2024-03-20"));
        assert_eq!(list[0].email, None);
        assert_eq!(list[1].package, None, "an unknown package name is no id");
        assert_eq!(list[1].state, ServiceState::Pending);
    }

    #[test]
    fn rejects_odd_shapes() {
        assert!(accounts(&json!({"data": "none"}), &[]).is_err());
        assert!(matches!(
            accounts(&json!({"data": [{"domain": "x.tz"}]}), &[]),
            Err(Error::BadResponse(_))
        ));
        assert!(
            accounts(&json!({"status": "success"}), &[])
                .unwrap()
                .is_empty()
        );
    }
}
