//! Licenses: reading the key out of answers and finding one by domain.

use provisioning_guest::types::{Error, Service};
use provisioning_guest::{input, json, text};
use serde_json::Value;

use crate::api::{Api, NOT_FOUND, action};

/// Results per `searchlicenses` page, as the document says.
pub const PAGE_SIZE: usize = 25;
/// Pages read at most (2,500 matches): a bound so that a provider that
/// keeps answering full pages cannot keep the module looping.
const MAX_PAGES: usize = 100;

/// The license key in `addlicense`'s `data`: `[{"license", "domain"}]`
/// (also accepted: one object, or the key as a bare string).
pub fn key_from_add(data: &Value) -> Result<String, Error> {
    let key = match data {
        Value::String(_) => json::text(data),
        Value::Object(_) => json::get(data, "license").and_then(json::text),
        _ => json::items(data).and_then(|items| {
            items
                .into_iter()
                .find_map(|item| json::get(item, "license").and_then(json::text))
        }),
    };
    key.ok_or_else(|| {
        Error::BadResponse("addlicense succeeded but its answer has no license key".to_owned())
    })
}

/// The license key of `service`: its remote id, or else the key of the
/// license the provider has for its domain.
pub fn key_of(api: &Api, service: &Service) -> Result<String, Error> {
    if let Some(key) = input::optional(service.remote_id.as_deref()) {
        return Ok(key.to_owned());
    }
    let domain = input::optional(service.domain.as_deref()).ok_or_else(|| {
        Error::InvalidInput(
            "the service has neither a `remote-id` (license key) nor a `domain`".to_owned(),
        )
    })?;
    find_by_domain(api, domain)?.ok_or_else(|| {
        Error::NotFound(format!("no license for the domain {}", text::clean(domain)))
    })
}

/// The key of the license for exactly `domain` (ignoring ASCII case), read
/// page by page: the search matches parts of domains, so a page can be
/// full of near misses.
pub fn find_by_domain(api: &Api, domain: &str) -> Result<Option<String>, Error> {
    for page in 1..=MAX_PAGES {
        let page_text = page.to_string();
        let data = match api.call(
            action::SEARCH,
            &[("search[domain]", domain), ("page", &page_text)],
        ) {
            Ok(data) => data,
            // Some answer "does not exist" rather than an empty page.
            Err(failure) if failure.code == Some(NOT_FOUND) => return Ok(None),
            Err(failure) => return Err(failure.error),
        };
        let items = match &data {
            Value::Null => Vec::new(),
            other => json::items(other).ok_or_else(|| {
                Error::BadResponse("searchlicenses answered data that is not a list".to_owned())
            })?,
        };
        let found = items.iter().find_map(|item| {
            let matches = json::get(item, "domain")
                .and_then(json::text)
                .is_some_and(|d| d.eq_ignore_ascii_case(domain));
            matches
                .then(|| json::get(item, "license").and_then(json::text))
                .flatten()
        });
        if found.is_some() {
            return Ok(found);
        }
        if items.len() < PAGE_SIZE {
            return Ok(None);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn add_answer_shapes() {
        let documented = json!([{"license": "ABCDEFGH12345678", "domain": "mydomain.com"}]);
        assert_eq!(key_from_add(&documented).unwrap(), "ABCDEFGH12345678");
        assert_eq!(key_from_add(&json!({"license": " K1 "})).unwrap(), "K1");
        assert!(matches!(
            key_from_add(&json!(null)),
            Err(Error::BadResponse(_))
        ));
        assert!(matches!(
            key_from_add(&json!([{"domain": "x"}])),
            Err(Error::BadResponse(_))
        ));
    }
}
