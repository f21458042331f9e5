//! The settings of one call, checked against the module's declared specs.

use std::fmt;

use crate::types::{Error, Setting, SettingKind, SettingSpec};
use crate::url::Endpoint;

/// The settings of one call: every declared setting, validated, with
/// defaults applied. Settings the module did not declare are ignored.
///
/// `Debug` shows secret values as `[redacted]`.
#[derive(Clone)]
pub struct Settings {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    name: String,
    label: String,
    kind: SettingKind,
    /// Normalised (see [`normalise`]); `None` when absent and no default.
    value: Option<String>,
}

impl Settings {
    /// Checks `given` against `specs`.
    ///
    /// An empty or blank value counts as absent (platforms send empty
    /// strings for fields left blank). An absent setting takes its default;
    /// a required one with neither fails with
    /// ``invalid-config("missing required setting `api-key` (API key)")``.
    /// Numbers, booleans and choices are checked and normalised: booleans
    /// become `"true"`/`"false"` (also accepting `1/0`, `yes/no`, `on/off`),
    /// choices take the declared spelling (matched ignoring ASCII case),
    /// text is trimmed, secrets are kept exactly as given. When a name is
    /// given twice the last value wins.
    ///
    /// No error message ever contains a setting's value.
    pub fn parse(given: &[Setting], specs: &[SettingSpec]) -> Result<Self, Error> {
        let mut entries = Vec::with_capacity(specs.len());
        for spec in specs {
            let raw = given
                .iter()
                .rev()
                .find(|s| s.name == spec.name)
                .map(|s| s.value.as_str())
                .filter(|v| !v.trim().is_empty())
                .or(spec.default.as_deref());
            let value = match raw {
                Some(raw) => Some(normalise(spec, raw)?),
                None if spec.required => return Err(missing(&spec.name, &spec.label)),
                None => None,
            };
            entries.push(Entry {
                name: spec.name.clone(),
                label: spec.label.clone(),
                kind: spec.kind,
                value,
            });
        }
        Ok(Self { entries })
    }

    fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The value of setting `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entry(name).and_then(|e| e.value.as_deref())
    }

    /// The value of setting `name`, or `invalid-config` saying it is
    /// missing: for settings that are optional in general but needed by
    /// this call.
    pub fn require(&self, name: &str) -> Result<&str, Error> {
        match self.entry(name) {
            Some(Entry {
                value: Some(value), ..
            }) => Ok(value),
            Some(entry) => Err(missing(&entry.name, &entry.label)),
            None => Err(Error::InvalidConfig(format!(
                "missing required setting `{name}`"
            ))),
        }
    }

    /// The value of a `number` setting.
    pub fn number(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|v| v.parse().ok())
    }

    /// The value of a `boolean` setting.
    pub fn boolean(&self, name: &str) -> Option<bool> {
        self.get(name).map(|v| v == "true")
    }

    /// The value of setting `name` as an http(s) URL with a host (an API
    /// endpoint), or `invalid-config` saying what is wrong with it.
    pub fn endpoint(&self, name: &str) -> Result<Endpoint, Error> {
        let value = self.require(name)?;
        Endpoint::parse(value).map_err(|why| {
            let label = self.entry(name).map(|e| e.label.as_str()).unwrap_or(name);
            Error::InvalidConfig(format!("setting `{name}` ({label}) {why}"))
        })
    }
}

/// What `Debug` shows for a secret: the host's mask (`provisioning_host::MASK`)
/// too, so that a masked value reads the same wherever it comes from.
const MASK: &str = "[redacted]";

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for e in &self.entries {
            match (&e.value, e.kind) {
                (Some(_), SettingKind::Secret) => map.entry(&e.name, &MASK),
                (value, _) => map.entry(&e.name, value),
            };
        }
        map.finish()
    }
}

fn missing(name: &str, label: &str) -> Error {
    Error::InvalidConfig(format!("missing required setting `{name}` ({label})"))
}

/// Checks `raw` against the kind of `spec` and returns the value to keep.
fn normalise(spec: &SettingSpec, raw: &str) -> Result<String, Error> {
    let invalid = |what: &str| {
        Error::InvalidConfig(format!(
            "setting `{}` ({}) must be {what}",
            spec.name, spec.label
        ))
    };
    let trimmed = raw.trim();
    match spec.kind {
        SettingKind::Text => Ok(trimmed.to_owned()),
        // A password may start or end with a space: keep it as given.
        SettingKind::Secret => Ok(raw.to_owned()),
        SettingKind::Number => match trimmed.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(trimmed.to_owned()),
            _ => Err(invalid("a decimal number")),
        },
        SettingKind::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok("true".to_owned()),
            "false" | "0" | "no" | "off" => Ok("false".to_owned()),
            _ => Err(invalid("true or false")),
        },
        SettingKind::Choice => spec
            .choices
            .iter()
            .find(|c| c.eq_ignore_ascii_case(trimmed))
            .cloned()
            .ok_or_else(|| invalid(&format!("one of: {}", spec.choices.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> Vec<Setting> {
        pairs
            .iter()
            .map(|(n, v)| Setting {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect()
    }

    fn specs() -> Vec<SettingSpec> {
        vec![
            SettingSpec::text("endpoint", "Endpoint")
                .required()
                .with_default("https://api.example.org/v1"),
            SettingSpec::secret("api-key", "API key").required(),
            SettingSpec::number("timeout", "Timeout"),
            SettingSpec::boolean("test-mode", "Test mode").with_default("false"),
            SettingSpec::choice("region", "Region", &["eu", "us"]).per_product(),
        ]
    }

    fn invalid_config(result: Result<Settings, Error>) -> String {
        match result {
            Err(Error::InvalidConfig(m)) => m,
            Err(other) => panic!("unexpected error {other:?}"),
            Ok(s) => panic!("accepted: {s:?}"),
        }
    }

    #[test]
    fn applies_defaults_and_normalises() {
        let s = Settings::parse(
            &given(&[
                ("api-key", " k3y "),
                ("test-mode", "On"),
                ("region", "EU"),
                ("endpoint", ""),
                ("undeclared", "x"),
            ]),
            &specs(),
        )
        .unwrap();
        assert_eq!(s.get("endpoint"), Some("https://api.example.org/v1"));
        assert_eq!(s.get("api-key"), Some(" k3y "));
        assert_eq!(s.boolean("test-mode"), Some(true));
        assert_eq!(s.get("region"), Some("eu"));
        assert_eq!(s.number("timeout"), None);
        assert_eq!(s.get("undeclared"), None);
        assert!(s.endpoint("endpoint").is_ok());
    }

    #[test]
    fn missing_required_names_setting_and_label() {
        let m = invalid_config(Settings::parse(&given(&[("api-key", "  ")]), &specs()));
        assert_eq!(m, "missing required setting `api-key` (API key)");
    }

    #[test]
    fn rejects_bad_kinds_without_echoing_values() {
        let base = [("api-key", "sekrit")];
        for (name, value, expect) in [
            ("timeout", "soon", "a decimal number"),
            ("timeout", "NaN", "a decimal number"),
            ("test-mode", "maybe", "true or false"),
            ("region", "mars", "one of: eu, us"),
        ] {
            let mut pairs = base.to_vec();
            pairs.push((name, value));
            let m = invalid_config(Settings::parse(&given(&pairs), &specs()));
            assert!(m.contains(expect) && m.contains(name), "{m}");
            assert!(!m.contains(value), "{m}");
        }
    }

    #[test]
    fn endpoint_must_be_http_with_host() {
        let s = Settings::parse(
            &given(&[
                ("api-key", "sekrit"),
                ("endpoint", "ftp://files.example.org"),
            ]),
            &specs(),
        )
        .unwrap();
        match s.endpoint("endpoint") {
            Err(Error::InvalidConfig(m)) => {
                assert_eq!(m, "setting `endpoint` (Endpoint) must use http or https")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let s = Settings::parse(&given(&[("api-key", "sekrit")]), &specs()).unwrap();
        let shown = format!("{s:?}");
        assert!(
            shown.contains("[redacted]") && !shown.contains("sekrit"),
            "{shown}"
        );
    }
}
