//! Why a module of a manifest is not in service: what a host that loads
//! what it can ([`crate::Host::load_manifest_lenient`]) reports for each
//! module it could not load, so that one broken entry does not take the
//! others down with it.

use serde::Serialize;

use crate::module::SettingsRefused;

/// What kind of failure kept a module out of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadErrorKind {
    /// The module's configuration is wrong: its manifest entry does not
    /// resolve (an environment variable not set, a secret file missing, a
    /// bad bound or origin) or its settings do not fit the module's
    /// declarations (an unknown setting, a secret written inline).
    InvalidConfig,
    /// The component did not load: the file is missing or not a
    /// component, its digest is not the pinned one, it could not be pulled
    /// from its registry (see [`crate::oci::OciError`]), it imports what
    /// the host does not grant, or its `info` is unusable.
    LoadFailed,
    /// The manifest has no module of that name.
    UnknownModule,
}

impl LoadErrorKind {
    /// The stable machine-readable name: `invalid-config`, `load-failed`
    /// or `unknown-module`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadErrorKind::InvalidConfig => "invalid-config",
            LoadErrorKind::LoadFailed => "load-failed",
            LoadErrorKind::UnknownModule => "unknown-module",
        }
    }
}

impl std::fmt::Display for LoadErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one module of a manifest did not load.
///
/// The message names the module and what is wrong (the setting and its
/// variable or file, the component file), never a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ModuleLoadError {
    /// The module's name in the manifest.
    pub module: String,
    /// What kind of failure.
    pub kind: LoadErrorKind,
    /// What is wrong, for a person.
    pub message: String,
}

impl ModuleLoadError {
    /// A module whose manifest entry did not resolve
    /// ([`crate::Manifest::module_config`] failed with `error`).
    pub fn invalid_config(module: &str, error: &anyhow::Error) -> ModuleLoadError {
        ModuleLoadError {
            module: module.to_string(),
            kind: LoadErrorKind::InvalidConfig,
            message: format!("{error:#}"),
        }
    }

    /// A module whose resolved configuration did not load
    /// ([`crate::Host::load`] or [`crate::Host::prepare`] failed with
    /// `error`): `invalid-config` when its settings were refused,
    /// `load-failed` otherwise.
    pub fn from_load(module: &str, error: &anyhow::Error) -> ModuleLoadError {
        let settings = error.chain().any(|cause| cause.is::<SettingsRefused>());
        ModuleLoadError {
            module: module.to_string(),
            kind: if settings {
                LoadErrorKind::InvalidConfig
            } else {
                LoadErrorKind::LoadFailed
            },
            message: format!("{error:#}"),
        }
    }

    /// The manifest has no module named `module`.
    pub fn unknown_module(module: &str) -> ModuleLoadError {
        ModuleLoadError {
            module: module.to_string(),
            kind: LoadErrorKind::UnknownModule,
            message: format!("the manifest has no module named `{module}`"),
        }
    }
}
