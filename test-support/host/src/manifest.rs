//! Manifests for tests, written as TOML through the host's own manifest
//! types ([`ModuleEntry`], [`JournalSection`], [`SettingSource`]): a test's
//! manifest is the format the host reads, not a second spelling of it.
//!
//! ```no_run
//! # let sandbox: provisioning_sandbox::Sandbox = todo!();
//! use provisioning_test_support::manifest::{Module, TestManifest};
//!
//! let toml = TestManifest::new()
//!     .module("hostmenow", Module::hostmenow(&sandbox).secret_env("api-key", "TEST_HMN_KEY"))
//!     .toml();
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use provisioning_host::{JournalSection, ModuleEntry, RequestRateEntry, SettingSource};
use provisioning_sandbox::{Sandbox, blesta, logicboxes};
use serde::Serialize;

/// A manifest: modules by name and an optional journal.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TestManifest {
    modules: BTreeMap<String, ModuleEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    journal: Option<JournalSection>,
}

impl TestManifest {
    /// A manifest with nothing in it.
    pub fn new() -> TestManifest {
        TestManifest::default()
    }

    /// Adds (or replaces) the module `name`.
    pub fn module(mut self, name: &str, module: Module) -> TestManifest {
        self.modules.insert(name.to_owned(), module.0);
        self
    }

    /// A journal in the SQLite file `path` (relative to the manifest's
    /// directory), sealed with the key in the environment variable
    /// `key_var`.
    pub fn sqlite_journal(self, path: impl Into<PathBuf>, key_var: &str) -> TestManifest {
        self.journal(JournalSection {
            path: Some(path.into()),
            ..journal(key_var)
        })
    }

    /// A journal in the PostgreSQL database whose URL is in the
    /// environment variable `url_var`, sealed with the key in `key_var`.
    pub fn postgres_journal(self, url_var: &str, key_var: &str) -> TestManifest {
        self.journal(JournalSection {
            url: Some(env(url_var)),
            ..journal(key_var)
        })
    }

    /// The journal's lease (after [`TestManifest::sqlite_journal`] or
    /// [`TestManifest::postgres_journal`]).
    pub fn lease_seconds(mut self, seconds: u64) -> TestManifest {
        let journal = self.journal.as_mut().expect("a journal to lease");
        journal.lease_seconds = Some(seconds);
        self
    }

    /// Sets the `[journal]` section as given.
    pub fn journal(mut self, journal: JournalSection) -> TestManifest {
        self.journal = Some(journal);
        self
    }

    /// This manifest with `other`'s modules (and its journal, if it has
    /// one) added.
    pub fn merge(mut self, other: TestManifest) -> TestManifest {
        self.modules.extend(other.modules);
        self.journal = other.journal.or(self.journal);
        self
    }

    /// The manifest as TOML.
    pub fn toml(&self) -> String {
        toml::to_string(self).expect("a manifest serializes")
    }

    /// Writes the manifest to `path` and returns the path.
    pub fn write(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        std::fs::write(path, self.toml()).expect("the manifest is written");
        path.to_owned()
    }
}

/// A `[journal]` section with only its key, from `key_var`.
fn journal(key_var: &str) -> JournalSection {
    JournalSection {
        path: None,
        url: None,
        key: env(key_var),
        lease_seconds: None,
        retain_acknowledged_days: None,
    }
}

/// `{ env = "VAR" }`.
pub fn env(var: &str) -> SettingSource {
    SettingSource::Env {
        env: var.to_owned(),
    }
}

/// One module's entry, built up from its component.
#[derive(Debug, Clone)]
pub struct Module(ModuleEntry);

impl Module {
    /// The component file, nothing granted, no settings.
    pub fn new(component: impl Into<PathBuf>) -> Module {
        Module(ModuleEntry {
            component: component.into(),
            allowed_hosts: Vec::new(),
            sha256: None,
            memory_mb: None,
            deadline_ms: None,
            read_retries: None,
            rate_limit: None,
            settings: BTreeMap::new(),
            signature: None,
        })
    }

    /// The HostMeNow component, granted the sandbox, with its endpoint (its
    /// `api-key` is the test's to give).
    pub fn hostmenow(sandbox: &Sandbox) -> Module {
        Module::new(provisioning_components::HOSTMENOW)
            .allow(&sandbox.origin())
            .setting("endpoint", &sandbox.hostmenow().endpoint())
    }

    /// The Webline component, granted the sandbox, with its endpoint (its
    /// `api-key` is the test's to give).
    pub fn webline(sandbox: &Sandbox) -> Module {
        Module::new(provisioning_components::WEBLINE)
            .allow(&sandbox.origin())
            .setting("endpoint", &sandbox.webline().endpoint())
    }

    /// The Blesta component, granted the sandbox, with its endpoint and
    /// user id (its `password` is the test's to give).
    pub fn blesta(sandbox: &Sandbox) -> Module {
        Module::new(provisioning_components::BLESTA)
            .allow(&sandbox.origin())
            .setting("endpoint", &sandbox.blesta().endpoint())
            .setting("uid", blesta::UID)
    }

    /// The LogicBoxes component, granted the sandbox, with its endpoint and
    /// reseller id (its `api-key` is the test's to give).
    pub fn logicboxes(sandbox: &Sandbox) -> Module {
        Module::new(provisioning_components::LOGICBOXES)
            .allow(&sandbox.origin())
            .setting("endpoint", sandbox.logicboxes().origin())
            .setting("auth-userid", logicboxes::AUTH_USERID)
    }

    /// The misbehaving test component, doing `behaviour` on every call.
    pub fn misbehaving(behaviour: &str) -> Module {
        Module::new(provisioning_components::MISBEHAVING).setting("behaviour", behaviour)
    }

    /// Grants the origin (`scheme://host[:port]`).
    pub fn allow(mut self, origin: &str) -> Module {
        self.0.allowed_hosts.push(origin.to_owned());
        self
    }

    /// Requires a signature by the public key in `file` (`signature = {
    /// public_key = … }`).
    pub fn signed_by(mut self, file: impl Into<PathBuf>) -> Module {
        self.0.signature = Some(provisioning_host::SignatureEntry {
            public_key: file.into(),
        });
        self
    }

    /// A setting written in the manifest.
    pub fn setting(self, name: &str, value: &str) -> Module {
        self.source(name, SettingSource::Inline(value.into()))
    }

    /// A setting read from the environment variable `var`.
    pub fn secret_env(self, name: &str, var: &str) -> Module {
        self.source(name, env(var))
    }

    /// A setting read from `file` (relative to the manifest's directory).
    pub fn secret_file(self, name: &str, file: impl Into<PathBuf>) -> Module {
        self.source(name, SettingSource::File { file: file.into() })
    }

    /// A setting from `source`.
    pub fn source(mut self, name: &str, source: SettingSource) -> Module {
        self.0.settings.insert(name.to_owned(), source);
        self
    }

    /// Each call's deadline (`deadline_ms`, whole milliseconds).
    pub fn deadline(mut self, deadline: Duration) -> Module {
        self.0.deadline_ms = Some(deadline.as_millis().try_into().expect("a deadline in u64"));
        self
    }

    /// Each call's memory cap.
    pub fn memory_mb(mut self, memory_mb: u64) -> Module {
        self.0.memory_mb = Some(memory_mb);
        self
    }

    /// The provider's published request rate.
    pub fn rate_limit(mut self, requests: u32, per_seconds: u64) -> Module {
        self.0.rate_limit = Some(RequestRateEntry {
            requests,
            per_seconds,
        });
        self
    }

    /// The component's expected sha256.
    pub fn sha256(mut self, digest: &str) -> Module {
        self.0.sha256 = Some(digest.to_owned());
        self
    }

    /// Further attempts of a safe read after a transient failure.
    pub fn read_retries(mut self, retries: u32) -> Module {
        self.0.read_retries = Some(retries);
        self
    }
}
