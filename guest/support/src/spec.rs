//! Declaring the settings a module needs (`setting-spec`), tersely.
//!
//! ```
//! use provisioning_guest::types::{SettingKind, SettingSpec};
//!
//! let endpoint = SettingSpec::text("endpoint", "API endpoint")
//!     .required()
//!     .with_default("https://api.example.org/v1")
//!     .with_help("Base URL of the provider's API");
//! assert_eq!(endpoint.kind, SettingKind::Text);
//! assert!(endpoint.required);
//! ```

use crate::types::{SettingKind, SettingScope, SettingSpec};

impl SettingSpec {
    /// An optional server-scope setting of `kind` with no default, help or
    /// choices.
    pub fn new(name: &str, label: &str, kind: SettingKind) -> Self {
        Self {
            name: name.to_owned(),
            label: label.to_owned(),
            kind,
            scope: SettingScope::Server,
            required: false,
            default: None,
            help: String::new(),
            choices: Vec::new(),
        }
    }

    /// A free-text setting.
    pub fn text(name: &str, label: &str) -> Self {
        Self::new(name, label, SettingKind::Text)
    }

    /// A setting that must never be logged or echoed (API key, password).
    pub fn secret(name: &str, label: &str) -> Self {
        Self::new(name, label, SettingKind::Secret)
    }

    /// A decimal number.
    pub fn number(name: &str, label: &str) -> Self {
        Self::new(name, label, SettingKind::Number)
    }

    /// "true" or "false".
    pub fn boolean(name: &str, label: &str) -> Self {
        Self::new(name, label, SettingKind::Boolean)
    }

    /// One of `choices`.
    pub fn choice(name: &str, label: &str, choices: &[&str]) -> Self {
        let mut spec = Self::new(name, label, SettingKind::Choice);
        spec.choices = choices.iter().map(|c| (*c).to_owned()).collect();
        spec
    }

    /// Makes the setting per product instead of per server.
    pub fn per_product(mut self) -> Self {
        self.scope = SettingScope::Product;
        self
    }

    /// Makes the setting required: a call without it (and without a
    /// default) fails with `invalid-config`.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Sets the value used when the setting is absent.
    pub fn with_default(mut self, value: &str) -> Self {
        self.default = Some(value.to_owned());
        self
    }

    /// Sets the line of help shown to the operator.
    pub fn with_help(mut self, help: &str) -> Self {
        self.help = help.to_owned();
        self
    }
}
