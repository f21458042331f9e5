//! Reading loosely typed JSON the way providers write it: numbers as
//! strings, lists as objects, fields at the top level or under a wrapper.

use serde_json::Value;

use crate::text;
use crate::types::Error;

/// `value[key]`, when present and not `null`.
pub fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.get(key).filter(|v| !v.is_null())
}

/// `value[key]`, or else `value[wrapper][key]` for the first `wrappers`
/// entry that has it: for APIs that put a field sometimes at the top level
/// and sometimes under `data` (or `response`, ...).
pub fn find<'a>(value: &'a Value, key: &str, wrappers: &[&str]) -> Option<&'a Value> {
    get(value, key).or_else(|| {
        wrappers
            .iter()
            .find_map(|w| get(value, w).and_then(|inner| get(inner, key)))
    })
}

/// A scalar as text: a non-blank string (trimmed), a number or a boolean.
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A finite number given as a JSON number or as a numeric string.
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite())
}

/// The items of a list: a JSON array, or the values of an object (PHP
/// encodes an array whose keys are not 0..n as an object). `None` for
/// anything else.
pub fn items(value: &Value) -> Option<Vec<&Value>> {
    match value {
        Value::Array(a) => Some(a.iter().collect()),
        Value::Object(o) => Some(o.values().collect()),
        _ => None,
    }
}

/// The items listed under `key` of an answer (see [`items`]); no `key` at
/// all is an empty list. `what` names the list in the error ("product").
pub fn items_under<'a>(body: &'a Value, key: &str, what: &str) -> Result<Vec<&'a Value>, Error> {
    match get(body, key) {
        None => Ok(Vec::new()),
        Some(list) => items(list).ok_or_else(|| {
            Error::BadResponse(format!("the {what} list in the answer is not a list"))
        }),
    }
}

/// Keys under which APIs commonly put a human message about the answer.
const MESSAGE_KEYS: [&str; 8] = [
    "message",
    "error",
    "msg",
    "response_text",
    "error_message",
    "error_description",
    "description",
    "detail",
];

/// The human message of an answer, cleaned for a log (see [`text::clean`]):
/// the first string among `message`, `error` (or an object's message),
/// `msg`, `response_text`, ... that has text. Looks one level down under
/// `response` and `data` too.
pub fn message(value: &Value) -> Option<String> {
    fn direct(value: &Value) -> Option<String> {
        // Only strings: `"error": true` or `"error": 0` is a flag, not a
        // message.
        MESSAGE_KEYS.iter().find_map(|k| match get(value, k)? {
            nested @ Value::Object(_) => direct(nested),
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            _ => None,
        })
    }
    direct(value)
        .or_else(|| {
            ["response", "data"]
                .iter()
                .find_map(|w| get(value, w).and_then(direct))
        })
        .map(|m| text::clean(&m))
        .filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_under_a_key_tolerate_absence_and_refuse_scalars() {
        let body = json!({"data": {"7": "a", "9": "b"}, "bad": 3});
        assert_eq!(items_under(&body, "data", "product").unwrap().len(), 2);
        assert!(items_under(&body, "missing", "product").unwrap().is_empty());
        assert!(matches!(
            items_under(&body, "bad", "product"),
            Err(Error::BadResponse(m)) if m.contains("product")
        ));
    }

    #[test]
    fn finds_fields_at_top_level_or_under_a_wrapper() {
        let v = json!({"a": 1, "data": {"b": "2", "a": 3}, "n": null});
        assert_eq!(find(&v, "a", &["data"]), Some(&json!(1)));
        assert_eq!(find(&v, "b", &["data"]), Some(&json!("2")));
        assert_eq!(find(&v, "n", &["data"]), None);
        assert_eq!(find(&v, "c", &["data", "response"]), None);
    }

    #[test]
    fn reads_numbers_and_text_tolerantly() {
        assert_eq!(number(&json!("1250.50")), Some(1250.5));
        assert_eq!(number(&json!(" 7 ")), Some(7.0));
        assert_eq!(number(&json!(3)), Some(3.0));
        assert_eq!(number(&json!("unlimited")), None);
        assert_eq!(number(&json!("NaN")), None);
        assert_eq!(text(&json!(123)), Some("123".into()));
        assert_eq!(text(&json!("  ")), None);
    }

    #[test]
    fn lists_may_be_objects() {
        assert_eq!(items(&json!([1, 2])).map(|v| v.len()), Some(2));
        assert_eq!(items(&json!({"5": 1, "9": 2})).map(|v| v.len()), Some(2));
        assert_eq!(items(&json!("x")), None);
    }

    #[test]
    fn finds_messages() {
        assert_eq!(
            message(&json!({"message": "Bad\nthing"})),
            Some("Bad thing".into())
        );
        assert_eq!(
            message(&json!({"error": {"message": "nested"}})),
            Some("nested".into())
        );
        assert_eq!(
            message(&json!({"response": {"status": "FAILURE", "message": "wrapped"}})),
            Some("wrapped".into())
        );
        assert_eq!(message(&json!({"status": "ERROR"})), None);
        assert_eq!(
            message(&json!({"error": true, "msg": "why"})),
            Some("why".into())
        );
    }
}
