//! Reading the service record a call acts on.

use crate::types::{Error, Service};

/// `value` trimmed, or `None` when absent or blank.
pub fn optional(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// `value` trimmed, or `invalid-input` naming the missing `field`, e.g.
/// ``required(service.domain.as_deref(), "domain")`` fails with
/// ``"the service has no `domain`"``.
pub fn required<'a>(value: Option<&'a str>, field: &str) -> Result<&'a str, Error> {
    optional(value).ok_or_else(|| Error::InvalidInput(format!("the service has no `{field}`")))
}

/// A non-blank argument of the call (not a field of the service), or
/// `invalid-input` naming it.
pub fn argument<'a>(value: &'a str, name: &str) -> Result<&'a str, Error> {
    optional(Some(value)).ok_or_else(|| Error::InvalidInput(format!("`{name}` is empty")))
}

/// The value of the service's first custom field whose name is one of
/// `names` (ignoring ASCII case), when not blank.
pub fn custom_field<'a>(service: &'a Service, names: &[&str]) -> Option<&'a str> {
    service
        .custom_fields
        .iter()
        .filter(|(name, _)| names.iter().any(|n| n.eq_ignore_ascii_case(name.trim())))
        .find_map(|(_, value)| optional(Some(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Service {
        Service {
            service_id: "1".into(),
            remote_id: None,
            domain: Some("  ".into()),
            username: Some(" bob ".into()),
            password: None,
            package: None,
            billing_cycle: None,
            client: None,
            custom_fields: vec![("IP-Address".into(), "10.0.0.1".into())],
        }
    }

    #[test]
    fn required_fields_name_what_is_missing() {
        let s = service();
        assert_eq!(required(s.username.as_deref(), "username"), Ok("bob"));
        assert_eq!(
            required(s.domain.as_deref(), "domain"),
            Err(Error::InvalidInput("the service has no `domain`".into()))
        );
        assert!(argument(" ", "new-password").is_err());
    }

    #[test]
    fn custom_fields_match_ignoring_case() {
        let s = service();
        assert_eq!(
            custom_field(&s, &["ip_address", "ip-address"]),
            Some("10.0.0.1")
        );
        assert_eq!(custom_field(&s, &["other"]), None);
    }
}
