//! The operator's TOML manifest: which modules to load, what each may reach,
//! its bounds and its settings. Secrets come from the environment or a file,
//! never from the manifest text.
//!
//! ```toml
//! [modules.hostmenow]
//! component = "modules/hostmenow_module.wasm"   # or "oci://REGISTRY/REPOSITORY[:TAG]@sha256:HEX"
//! allowed_hosts = ["https://hostmenow.org"]
//! sha256 = "9f2c…"          # optional: refuse any other build of the component
//! signature = { public_key = "keys/acme.pub" }   # optional, oci:// only: a cosign signature by this key
//! memory_mb = 64
//! deadline_ms = 30000
//! read_retries = 2
//! rate_limit = { requests = 100, per_seconds = 300 }   # optional: paces every call
//!
//! [modules.hostmenow.settings]
//! endpoint = "https://hostmenow.org/backstage/modules/addons/products_reseller/api.php"
//! api-key = { env = "HOSTMENOW_API_KEY" }
//!
//! [journal]                     # optional: record every mutating call
//! path = "journal.sqlite3"      # a SQLite file, or instead a PostgreSQL database:
//! # url = { env = "PROVISIONING_JOURNAL_URL" }  # postgres://user:password@host/db?sslmode=require
//! key = { env = "PROVISIONING_JOURNAL_KEY" }   # 64 hex characters
//! lease_seconds = 10            # optional: how long a running call's lease lasts
//! retain_acknowledged_days = 90 # optional: purge acknowledged entries after 90 days
//! ```
//!
//! The entries serialize as well, so a manifest a program writes (the
//! tests' `provisioning-test-support`) is this format, not a second
//! spelling of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::journal::{Journal, JournalLocation, JournalOptions};
use crate::limits::{Limits, RequestRate};
use crate::module::{ModuleConfig, SettingValue};
use crate::oci::OciReference;
use crate::policy::OutboundPolicy;

/// A parsed manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Modules by the name calls use.
    #[serde(default)]
    pub modules: BTreeMap<String, ModuleEntry>,
    /// Where mutating calls are journaled, if anywhere.
    pub journal: Option<JournalSection>,
    /// Directory relative component and secret file paths resolve against.
    #[serde(skip)]
    base_dir: PathBuf,
}

/// One module's entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleEntry {
    /// The component file, or a registry reference pinned by digest:
    /// `oci://REGISTRY/REPOSITORY[:TAG]@sha256:HEX` (see [`crate::oci`]).
    pub component: PathBuf,
    /// Origins (`scheme://host[:port]`) the module may reach; none by default.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// The component's expected sha256 (hex): a file with any other digest
    /// is refused at load.
    pub sha256: Option<String>,
    /// Memory cap per call, MiB.
    pub memory_mb: Option<u64>,
    /// Deadline per call, milliseconds.
    pub deadline_ms: Option<u64>,
    /// Further attempts of a safe read after a transient failure.
    pub read_retries: Option<u32>,
    /// The provider's published request rate, which every call of the
    /// module is paced by.
    pub rate_limit: Option<RequestRateEntry>,
    /// Settings given to every call.
    #[serde(default)]
    pub settings: BTreeMap<String, SettingSource>,
    /// The signature a component from a registry must carry before it
    /// loads: `signature = { public_key = "keys/acme.pub" }`.
    pub signature: Option<SignatureEntry>,
}

/// `signature = { public_key = "keys/acme.pub" }`: the component (from a
/// registry) loads only when a cosign signature of its pinned digest
/// verifies with this key (see [`crate::oci::signature`]).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureEntry {
    /// The PEM public key (`cosign.pub`), relative to the manifest's
    /// directory if not absolute.
    pub public_key: PathBuf,
}

/// `rate_limit = { requests = 100, per_seconds = 300 }`: at most
/// `requests` calls in any `per_seconds` seconds.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRateEntry {
    /// Calls allowed in one window.
    pub requests: u32,
    /// Length of the window, seconds.
    pub per_seconds: u64,
}

/// The `[journal]` section.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JournalSection {
    /// The SQLite file, relative to the manifest's directory if not
    /// absolute; created when missing. Exactly one of `path` and `url`.
    pub path: Option<PathBuf>,
    /// The PostgreSQL database's URL
    /// (`postgres://user:password@host:port/dbname?sslmode=require`): a
    /// secret, so `{ env = "VAR" }` or `{ file = "path" }`, never inline.
    pub url: Option<SettingSource>,
    /// The key that seals generated credentials: `{ env = "VAR" }` or
    /// `{ file = "path" }` holding 64 hex characters, never inline.
    pub key: SettingSource,
    /// How long this host vouches for a running call between renewals,
    /// seconds (default 10): after a crash, its calls show as unknown once
    /// this has passed.
    pub lease_seconds: Option<u64>,
    /// How many days an acknowledged entry is kept: `provisioning journal
    /// purge` and serve (at start, then hourly) delete the entries
    /// acknowledged longer ago. Entries not acknowledged (in flight,
    /// answered, unknown) are never purged, and sealed credentials are
    /// destroyed at acknowledgement whatever this says.
    ///
    /// Absent (the default): acknowledged entries are kept for good, as
    /// before this option existed. That is the default because purging
    /// loses two things an operator should give up knowingly: a purged
    /// entry's idempotency key is free again (a platform repeating a call
    /// with it after the purge runs it anew), and `provisioning usage
    /// --from-journal` rebuilds the services from the entries, so it no
    /// longer sees a service whose create-account was purged (give it
    /// `--services` instead). 90 is a sensible value when neither matters:
    /// well beyond any platform's retries and a quarter's billing cycles.
    /// 0 is refused (it would free keys as soon as they are acknowledged):
    /// leave the option out to keep everything.
    pub retain_acknowledged_days: Option<u64>,
}

/// The `[journal]` section resolved: where the journal is, its key, how it
/// runs.
#[derive(Clone)]
pub struct JournalConfig {
    /// The SQLite file or the PostgreSQL database.
    pub location: JournalLocation,
    /// The sealing key, 64 hex characters.
    pub key_hex: String,
    /// The lease and other options.
    pub options: JournalOptions,
}

impl std::fmt::Debug for JournalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key never reaches a Debug dump.
        f.debug_struct("JournalConfig")
            .field("location", &self.location)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl JournalConfig {
    /// Opens the journal this describes.
    pub fn open(&self) -> anyhow::Result<Journal> {
        Journal::open_at(&self.location, &self.key_hex, self.options.clone())
    }
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum SettingSource {
    /// `{ env = "VAR" }`: an environment variable of the host process.
    Env {
        /// The variable's name.
        env: String,
    },
    /// `{ file = "path" }`: a file's content, trailing newline removed.
    File {
        /// The file, relative to the manifest's directory if not absolute.
        file: PathBuf,
    },
    /// A value written in the manifest (refused for secret settings).
    Inline(toml::Value),
}

impl Manifest {
    /// Reads and parses a manifest file.
    ///
    /// Relative paths in it resolve against the file's directory; secrets
    /// are read only by [`Manifest::module_config`],
    /// [`Manifest::module_configs`] and [`Manifest::journal_config`].
    ///
    /// ```
    /// # fn main() -> anyhow::Result<()> {
    /// use provisioning_host::Manifest;
    ///
    /// let dir = std::env::temp_dir().join(format!("manifest-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("provisioning.toml");
    /// std::fs::write(&path, r#"
    ///     [modules.hostmenow]
    ///     component = "hostmenow_module.wasm"
    ///     allowed_hosts = ["https://hostmenow.org"]
    /// "#)?;
    ///
    /// let manifest = Manifest::from_file(&path)?;
    /// assert_eq!(manifest.modules["hostmenow"].allowed_hosts, ["https://hostmenow.org"]);
    /// let config = &manifest.module_configs()?[0];
    /// assert_eq!(config.component, dir.join("hostmenow_module.wasm"));
    /// assert!(manifest.journal_config()?.is_none());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(()) }
    /// ```
    pub fn from_file(path: &Path) -> anyhow::Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading manifest {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Manifest::parse(&text, base).with_context(|| format!("in manifest {}", path.display()))
    }

    /// Parses manifest text; relative paths resolve against `base_dir`.
    pub fn parse(text: &str, base_dir: &Path) -> anyhow::Result<Manifest> {
        let mut manifest: Manifest =
            toml::from_str(text).map_err(|error| without_source_line(text, &error))?;
        manifest.base_dir = base_dir.to_path_buf();
        // A registry reference without a digest is refused here, before
        // anything is loaded: a tag alone may move.
        for (name, entry) in &manifest.modules {
            entry
                .registry_reference()
                .with_context(|| format!("module `{name}`"))?;
        }
        Ok(manifest)
    }

    /// The journal's file, sealing key and options, when the manifest has
    /// a `[journal]` section.
    pub fn journal_config(&self) -> anyhow::Result<Option<JournalConfig>> {
        let Some(section) = &self.journal else {
            return Ok(None);
        };
        let key = section.key.resolve("journal key", &self.base_dir)?;
        if key.inline {
            bail!(
                "the journal key is a secret: give it as {{ env = \"VAR\" }} or {{ file = \"path\" }}, never inline"
            );
        }
        let location = match (&section.path, &section.url) {
            (Some(path), None) => JournalLocation::Sqlite(self.base_dir.join(path)),
            (None, Some(url)) => {
                let url = url.resolve("journal URL", &self.base_dir)?;
                if url.inline {
                    bail!(
                        "the journal URL is a secret (it may hold a password): give it as {{ env = \"VAR\" }} or {{ file = \"path\" }}, never inline"
                    );
                }
                if crate::journal::describe_url(&url.value).is_none() {
                    bail!(
                        "the journal URL is not a PostgreSQL URL (postgres://user:password@host:port/dbname)"
                    );
                }
                JournalLocation::Postgres(url.value)
            }
            (Some(_), Some(_)) => bail!(
                "[journal] has both `path` (a SQLite file) and `url` (a PostgreSQL database): keep one"
            ),
            (None, None) => {
                bail!("[journal] needs `path` (a SQLite file) or `url` (a PostgreSQL database)")
            }
        };
        let mut options = JournalOptions::default();
        if let Some(seconds) = section.lease_seconds {
            if seconds == 0 {
                bail!("[journal] lease_seconds must be above 0");
            }
            options.lease = Duration::from_secs(seconds);
        }
        if let Some(days) = section.retain_acknowledged_days {
            if days == 0 {
                bail!(
                    "[journal] retain_acknowledged_days must be above 0 (leave it out to keep acknowledged entries for good)"
                );
            }
            let seconds = days
                .checked_mul(86_400)
                .context("[journal] retain_acknowledged_days is too large")?;
            options.retain_acknowledged = Some(Duration::from_secs(seconds));
        }
        Ok(Some(JournalConfig {
            location,
            key_hex: key.value,
            options,
        }))
    }

    /// Resolves one module's entry into a [`ModuleConfig`], reading its
    /// secrets from their environment variables and files; the other
    /// modules' entries are not looked at, so a broken one does not stand in
    /// the way.
    ///
    /// Errors name the module and, for a secret that cannot be read, the
    /// setting and its variable or file (never a value).
    pub fn module_config(&self, name: &str) -> anyhow::Result<ModuleConfig> {
        let entry = self
            .modules
            .get(name)
            .with_context(|| format!("the manifest has no module named `{name}`"))?;
        entry
            .to_config(name, &self.base_dir)
            .with_context(|| format!("module `{name}`"))
    }

    /// Resolves every module's entry into a [`ModuleConfig`], reading secrets
    /// from their environment variables and files. Fails on the first
    /// module that does not resolve, naming it.
    pub fn module_configs(&self) -> anyhow::Result<Vec<ModuleConfig>> {
        self.modules
            .keys()
            .map(|name| self.module_config(name))
            .collect()
    }

    /// Every file the manifest refers to, resolved against its directory:
    /// each module's component and `{ file = ... }` settings, and the
    /// journal key's file (not the journal itself, which the host writes).
    /// What a server watches to notice a new component or a rotated secret;
    /// reading it needs no secret, and a file may be missing.
    pub fn referenced_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in self.modules.values() {
            // A component from a registry is pinned by digest: no file of
            // the operator's to watch.
            if !crate::oci::is_reference(&entry.component) {
                files.push(self.base_dir.join(&entry.component));
            }
            for source in entry.settings.values() {
                if let SettingSource::File { file } = source {
                    files.push(self.base_dir.join(file));
                }
            }
        }
        if let Some(journal) = &self.journal {
            for source in [Some(&journal.key), journal.url.as_ref()]
                .into_iter()
                .flatten()
            {
                if let SettingSource::File { file } = source {
                    files.push(self.base_dir.join(file));
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        files.retain(|file| seen.insert(file.clone()));
        files
    }
}

impl ModuleEntry {
    /// The registry reference the component is named by, when it is one
    /// (`oci://…`); an error when that reference is malformed or pins no
    /// digest.
    pub fn registry_reference(&self) -> Result<Option<OciReference>, crate::oci::OciError> {
        if !crate::oci::is_reference(&self.component) {
            return Ok(None);
        }
        let text = self.component.to_str().unwrap_or_default();
        OciReference::parse_pinned(text).map(Some)
    }

    fn to_config(&self, name: &str, base_dir: &Path) -> anyhow::Result<ModuleConfig> {
        let mut limits = Limits::default();
        if let Some(mb) = self.memory_mb {
            limits.memory_bytes = usize::try_from(mb)
                .ok()
                .and_then(|mb| mb.checked_mul(1 << 20))
                .context("memory_mb is too large")?;
        }
        if let Some(ms) = self.deadline_ms {
            if ms == 0 {
                bail!("deadline_ms must be above 0");
            }
            limits.deadline = Duration::from_millis(ms);
        }
        if let Some(retries) = self.read_retries {
            limits.read_retries = retries;
        }
        let rate_limit = self
            .rate_limit
            .as_ref()
            .map(|entry| RequestRate::new(entry.requests, Duration::from_secs(entry.per_seconds)))
            .transpose()
            .context("rate_limit")?;
        let settings = self
            .settings
            .iter()
            .map(|(key, source)| Ok((key.clone(), source.resolve(key, base_dir)?)))
            .collect::<anyhow::Result<_>>()?;
        let registry = self.registry_reference()?;
        let signature = match (&self.signature, &registry) {
            (None, _) => None,
            (Some(entry), Some(_)) => Some(
                crate::oci::signature::PublicKey::read(&base_dir.join(&entry.public_key))
                    .context("signature")?,
            ),
            (Some(_), None) => bail!(
                "signature: signatures are checked for components from a registry (oci://…); pin a local file with sha256"
            ),
        };
        Ok(ModuleConfig {
            name: name.to_string(),
            component: match registry {
                Some(_) => self.component.clone(),
                None => base_dir.join(&self.component),
            },
            registry,
            policy: OutboundPolicy::parse(&self.allowed_hosts).context("allowed_hosts")?,
            limits,
            settings,
            pinned_sha256: self.sha256.clone(),
            signature,
            rate_limit,
        })
    }
}

impl SettingSource {
    fn resolve(&self, key: &str, base_dir: &Path) -> anyhow::Result<SettingValue> {
        let (value, inline) = match self {
            SettingSource::Env { env } => (
                std::env::var(env).with_context(|| {
                    format!("setting `{key}`: environment variable {env} is not set")
                })?,
                false,
            ),
            SettingSource::File { file } => {
                let path = base_dir.join(file);
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("setting `{key}`: reading {}", path.display()))?;
                (text.trim_end_matches(['\r', '\n']).to_string(), false)
            }
            SettingSource::Inline(value) => (
                match value {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                        value.to_string()
                    }
                    _ => bail!(
                        "setting `{key}`: expected a value, {{ env = \"VAR\" }} or {{ file = \"path\" }}"
                    ),
                },
                true,
            ),
        };
        Ok(SettingValue { value, inline })
    }
}

/// A TOML error told by its position and message, without the source line
/// toml's own message quotes: that line may hold an inline secret (a
/// module's key), and the error reaches logs and the API.
fn without_source_line(text: &str, error: &toml::de::Error) -> anyhow::Error {
    let message = error.message().trim_end();
    let Some(before) = error.span().and_then(|span| text.get(..span.start)) else {
        return anyhow::anyhow!("TOML error: {message}");
    };
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
    anyhow::anyhow!("TOML error at line {line}, column {column}: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_paths_limits_and_sources() {
        let dir = std::env::temp_dir().join(format!("manifest-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("key.txt"), "from-file\n").unwrap();
        let manifest = Manifest::parse(
            r#"
            [modules.demo]
            component = "demo.wasm"
            allowed_hosts = ["http://127.0.0.1:9000"]
            memory_mb = 16
            deadline_ms = 1500
            [modules.demo.settings]
            endpoint = "http://127.0.0.1:9000/api"
            api-key = { file = "key.txt" }
            retries = 3
            "#,
            &dir,
        )
        .unwrap();
        let config = manifest.module_configs().unwrap().remove(0);
        assert_eq!(config.component, dir.join("demo.wasm"));
        assert_eq!(config.limits.memory_bytes, 16 << 20);
        assert_eq!(config.limits.deadline, Duration::from_millis(1500));
        let get = |k: &str| {
            config
                .settings
                .iter()
                .find(|(n, _)| n == k)
                .unwrap()
                .1
                .clone()
        };
        assert_eq!(get("api-key").value, "from-file");
        assert!(!get("api-key").inline);
        assert!(get("endpoint").inline);
        assert_eq!(get("retries").value, "3");
        assert_eq!(
            config.rate_limit, None,
            "no rate limit unless the operator sets one"
        );
    }

    #[test]
    fn a_rate_limit_is_read_and_must_allow_something() {
        let parse = |rate_limit: &str| {
            Manifest::parse(
                &format!("[modules.demo]\ncomponent = \"demo.wasm\"\nrate_limit = {rate_limit}\n"),
                Path::new("."),
            )
            .unwrap()
            .module_configs()
        };
        let config = parse("{ requests = 100, per_seconds = 300 }")
            .unwrap()
            .remove(0);
        assert_eq!(
            config.rate_limit,
            Some(RequestRate {
                requests: 100,
                per: Duration::from_secs(300)
            })
        );
        for refused in [
            "{ requests = 0, per_seconds = 300 }",
            "{ requests = 100, per_seconds = 0 }",
        ] {
            let error = format!("{:#}", parse(refused).unwrap_err());
            assert!(error.contains("rate_limit"), "{error}");
        }
        let unknown = Manifest::parse(
            "[modules.demo]\ncomponent = \"x\"\nrate_limit = { requests = 1, per = 1 }\n",
            Path::new("."),
        );
        assert!(unknown.is_err(), "per_seconds is the field's name");
    }

    #[test]
    fn a_missing_environment_variable_is_named() {
        let manifest = Manifest::parse(
            r#"
            [modules.demo]
            component = "demo.wasm"
            [modules.demo.settings]
            api-key = { env = "PROVISIONING_TEST_SURELY_UNSET" }
            "#,
            Path::new("."),
        )
        .unwrap();
        let error = format!("{:#}", manifest.module_configs().unwrap_err());
        assert!(error.contains("PROVISIONING_TEST_SURELY_UNSET"), "{error}");
    }

    #[test]
    fn the_journal_key_comes_from_a_file_or_the_environment_never_inline() {
        let dir = std::env::temp_dir().join(format!("manifest-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("journal.key"), "ab".repeat(32) + "\n").unwrap();
        let manifest = Manifest::parse(
            "[journal]\npath = \"j.sqlite3\"\nkey = { file = \"journal.key\" }\n",
            &dir,
        )
        .unwrap();
        let config = manifest.journal_config().unwrap().unwrap();
        assert_eq!(
            config.location,
            JournalLocation::Sqlite(dir.join("j.sqlite3"))
        );
        assert_eq!(config.key_hex, "ab".repeat(32));
        assert_eq!(config.options.lease, crate::journal::DEFAULT_LEASE);
        assert_eq!(
            config.options.retain_acknowledged, None,
            "kept for good unless the operator says otherwise"
        );
        assert!(!format!("{config:?}").contains("abab"), "no key in Debug");

        let unset = Manifest::parse(
            "[journal]\npath = \"j.sqlite3\"\nkey = { env = \"PROVISIONING_TEST_SURELY_UNSET\" }\n",
            &dir,
        )
        .unwrap();
        let error = format!("{:#}", unset.journal_config().unwrap_err());
        assert!(error.contains("PROVISIONING_TEST_SURELY_UNSET"), "{error}");

        let inline =
            Manifest::parse("[journal]\npath = \"j.sqlite3\"\nkey = \"00\"\n", &dir).unwrap();
        let error = format!("{:#}", inline.journal_config().unwrap_err());
        assert!(error.contains("never inline"), "{error}");

        let none = Manifest::parse("", &dir).unwrap();
        assert!(none.journal_config().unwrap().is_none());
    }

    #[test]
    fn retention_is_read_in_days_and_zero_is_refused() {
        let dir = std::env::temp_dir().join(format!("manifest-retain-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("journal.key"), "ab".repeat(32)).unwrap();
        let parse = |line: &str| {
            Manifest::parse(
                &format!(
                    "[journal]\npath = \"j.sqlite3\"\nkey = {{ file = \"journal.key\" }}\n{line}"
                ),
                &dir,
            )
            .unwrap()
            .journal_config()
        };
        let config = parse("retain_acknowledged_days = 90\n").unwrap().unwrap();
        assert_eq!(
            config.options.retain_acknowledged,
            Some(Duration::from_secs(90 * 86_400))
        );
        let error = format!("{:#}", parse("retain_acknowledged_days = 0\n").unwrap_err());
        assert!(
            error.contains("retain_acknowledged_days must be above 0"),
            "{error}"
        );
        let error = format!(
            "{:#}",
            parse(&format!("retain_acknowledged_days = {}\n", i64::MAX)).unwrap_err()
        );
        assert!(error.contains("too large"), "{error}");
    }

    #[test]
    fn one_module_resolves_while_another_is_broken() {
        let dir = std::env::temp_dir().join(format!("manifest-one-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("good.key"), "good-value\n").unwrap();
        let manifest = Manifest::parse(
            r#"
            [journal]
            path = "j.sqlite3"
            key = { file = "journal.key" }
            [modules.broken]
            component = "broken.wasm"
            [modules.broken.settings]
            api-key = { env = "PROVISIONING_TEST_SURELY_UNSET" }
            [modules.good]
            component = "good.wasm"
            [modules.good.settings]
            api-key = { file = "good.key" }
            endpoint = "https://example.com"
            "#,
            &dir,
        )
        .unwrap();
        let good = manifest.module_config("good").unwrap();
        assert_eq!(good.component, dir.join("good.wasm"));
        let error = format!("{:#}", manifest.module_config("broken").unwrap_err());
        assert!(
            error.contains("module `broken`")
                && error.contains("setting `api-key`")
                && error.contains("PROVISIONING_TEST_SURELY_UNSET"),
            "{error}"
        );
        let error = format!("{:#}", manifest.module_config("nope").unwrap_err());
        assert!(error.contains("no module named `nope`"), "{error}");
        assert!(manifest.module_configs().is_err(), "the strict form fails");

        assert_eq!(
            manifest.referenced_files(),
            [
                dir.join("broken.wasm"),
                dir.join("good.wasm"),
                dir.join("good.key"),
                dir.join("journal.key"),
            ]
        );
    }

    #[test]
    fn a_journal_url_selects_postgres_and_is_a_secret_never_shown() {
        let dir = std::env::temp_dir().join(format!("manifest-journal-url-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = "postgres://journal:S3cret-pw@db.internal:6543/billing?sslmode=require";
        std::fs::write(dir.join("journal.url"), format!("{url}\n")).unwrap();
        std::fs::write(dir.join("journal.key"), "ab".repeat(32)).unwrap();
        let key = "key = { file = \"journal.key\" }\n";
        let parse = |journal: &str| Manifest::parse(&format!("[journal]\n{journal}{key}"), &dir);

        let manifest = parse("url = { file = \"journal.url\" }\n").unwrap();
        let config = manifest.journal_config().unwrap().unwrap();
        assert_eq!(config.location, JournalLocation::Postgres(url.into()));
        let shown = format!("{config:?} {}", config.location);
        assert!(!shown.contains("S3cret-pw"), "{shown}");
        assert!(shown.contains("db.internal:6543/billing"), "{shown}");
        assert!(
            manifest
                .referenced_files()
                .contains(&dir.join("journal.url")),
            "a rotated URL file is noticed like any secret file"
        );

        let inline = parse(&format!("url = \"{url}\"\n")).unwrap();
        let error = format!("{:#}", inline.journal_config().unwrap_err());
        assert!(error.contains("never inline"), "{error}");
        assert!(!error.contains("S3cret-pw"), "{error}");

        let both = parse("path = \"j.sqlite3\"\nurl = { file = \"journal.url\" }\n").unwrap();
        let error = format!("{:#}", both.journal_config().unwrap_err());
        assert!(error.contains("keep one"), "{error}");
        let neither = parse("").unwrap();
        let error = format!("{:#}", neither.journal_config().unwrap_err());
        assert!(error.contains("needs `path`"), "{error}");

        std::fs::write(
            dir.join("bad.url"),
            "postgres://u:S3cret-pw@h/db?sslmode=bogus",
        )
        .unwrap();
        let bad = parse("url = { file = \"bad.url\" }\n").unwrap();
        let error = format!("{:#}", bad.journal_config().unwrap_err());
        assert!(error.contains("not a PostgreSQL URL"), "{error}");
        assert!(!error.contains("S3cret-pw"), "{error}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let error = Manifest::parse(
            "[modules.demo]\ncomponent = \"x\"\nallowed_host = []\n",
            Path::new("."),
        );
        assert!(error.is_err());
    }

    #[test]
    fn a_syntax_error_is_placed_without_quoting_its_line() {
        let text = "[modules.demo]\ncomponent = \"x\"\n[modules.demo.settings]\n\
                    api-key = \"Inline-Key-0123456789\" oops\n";
        let error = format!("{:#}", Manifest::parse(text, Path::new(".")).unwrap_err());
        assert!(error.contains("line 4"), "{error}");
        assert!(!error.contains("Inline-Key-0123456789"), "{error}");
    }
}
