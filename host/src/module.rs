//! A module loaded once: compiled, checked and pre-linked at load, so that
//! every call only creates a fresh store and instance.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use tokio::sync::Semaphore;
use wasmtime::Store;
use wasmtime::component::{Component, Instance};

use crate::bindings::ProviderPre;
use crate::bindings::types::{ModuleInfo, Setting, SettingKind};
use crate::engine::{MAX_MODULE_MEMORY, Runtime};
use crate::http_client::ProviderClient;
use crate::limits::{Limits, RequestRate};
use crate::logging::LiveSecrets;
use crate::policy::OutboundPolicy;
use crate::redact::Redactor;
use crate::request::ExportIndices;
use crate::store::{CallState, call_store};

/// A configured setting value and where it came from.
#[derive(Clone)]
pub struct SettingValue {
    /// The value itself.
    pub value: String,
    /// Whether the operator wrote it inline in the manifest (refused for
    /// settings the module declares secret).
    pub inline: bool,
}

impl std::fmt::Debug for SettingValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The value may be a secret; it never reaches a Debug dump.
        f.debug_struct("SettingValue")
            .field("inline", &self.inline)
            .finish_non_exhaustive()
    }
}

/// How an operator configured one module.
#[derive(Debug, Clone)]
pub struct ModuleConfig {
    /// The name calls use to address the module.
    pub name: String,
    /// The component file (for a component from a registry, the
    /// reference as written; see `registry`).
    pub component: PathBuf,
    /// The registry reference the component is pulled from, when it comes
    /// from one: the host pulls it into its module cache
    /// ([`crate::HostOptions::module_cache`]), the manifest's and the
    /// component's digests checked, and loads it from there.
    pub registry: Option<crate::oci::OciReference>,
    /// Origins the module may reach.
    pub policy: OutboundPolicy,
    /// Per-call bounds.
    pub limits: Limits,
    /// Server-scope settings given to every call (endpoint, credentials).
    pub settings: Vec<(String, SettingValue)>,
    /// The sha256 (hex) the component file must have, when the operator
    /// pinned one.
    pub pinned_sha256: Option<String>,
    /// The key a cosign signature of the component must verify with before
    /// it loads, when the operator requires one (components from a
    /// registry: see [`crate::oci::signature`]).
    pub signature: Option<crate::oci::signature::PublicKey>,
    /// The provider's published request rate, which every call of the
    /// module is paced by (see [`crate::Host`]); `None` when the operator
    /// set none.
    pub rate_limit: Option<RequestRate>,
}

impl ModuleConfig {
    /// A config with default limits, no settings and no granted origin.
    pub fn new(name: impl Into<String>, component: impl Into<PathBuf>) -> ModuleConfig {
        ModuleConfig {
            name: name.into(),
            component: component.into(),
            registry: None,
            policy: OutboundPolicy::default(),
            limits: Limits::default(),
            settings: Vec::new(),
            pinned_sha256: None,
            signature: None,
            rate_limit: None,
        }
    }

    /// Pins the component's sha256 (hex): a file with another digest is
    /// refused at load.
    pub fn pin_sha256(mut self, sha256: impl Into<String>) -> ModuleConfig {
        self.pinned_sha256 = Some(sha256.into());
        self
    }

    /// Grants these origins (`scheme://host[:port]`).
    pub fn allow_hosts<S: AsRef<str>>(mut self, hosts: &[S]) -> anyhow::Result<ModuleConfig> {
        self.policy = OutboundPolicy::parse(hosts)?;
        Ok(self)
    }

    /// Sets a setting given by the embedding program (not inline text),
    /// replacing any earlier value of the same name.
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> ModuleConfig {
        let name = name.into();
        self.settings.retain(|(existing, _)| *existing != name);
        self.settings.push((
            name,
            SettingValue {
                value: value.into(),
                inline: false,
            },
        ));
        self
    }

    /// Replaces the limits.
    pub fn limits(mut self, limits: Limits) -> ModuleConfig {
        self.limits = limits;
        self
    }

    /// Sets the provider's published request rate (see [`RequestRate::new`]).
    pub fn rate_limit(mut self, rate_limit: RequestRate) -> ModuleConfig {
        self.rate_limit = Some(rate_limit);
        self
    }
}

/// A loaded module, immutable: a new version is a new `LoadedModule`, and
/// calls in flight keep the one they started with.
pub struct LoadedModule {
    name: Arc<str>,
    digest: String,
    info: ModuleInfo,
    imports: Vec<String>,
    pre: ProviderPre<CallState>,
    /// Where the contract's functions sit among the component's exports.
    exports: ExportIndices,
    policy: Arc<OutboundPolicy>,
    limits: Limits,
    rate_limit: Option<RequestRate>,
    settings: Vec<Setting>,
    /// Masks the module's secret settings.
    redactor: Redactor,
    /// The host's shared HTTP client (`None`: a connection per request).
    client: Option<ProviderClient>,
    /// The host's bound on calls running at once.
    call_slots: Arc<Semaphore>,
    /// Keeps those secrets masked in every log line while the module is
    /// loaded.
    _live_secrets: LiveSecrets,
}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .field("id", &self.info.id)
            .field("version", &self.info.version)
            .finish_non_exhaustive()
    }
}

impl LoadedModule {
    /// Reads, compiles, checks and pre-links a component, then asks it for
    /// its `info` and checks the configured settings against it.
    pub(crate) async fn load(
        runtime: &Runtime,
        config: ModuleConfig,
    ) -> anyhow::Result<LoadedModule> {
        let name: Arc<str> = config.name.as_str().into();
        if config.limits.memory_bytes > MAX_MODULE_MEMORY {
            bail!(
                "module `{name}`: a memory cap of {} MiB is above the host's limit of {} MiB",
                config.limits.memory_bytes >> 20,
                MAX_MODULE_MEMORY >> 20
            );
        }
        let (component, pinned_sha256) = component_file(runtime, &config)
            .await
            .with_context(|| format!("loading module `{name}`"))?;
        let Prepared {
            pre,
            exports,
            digest,
            imports,
        } = prepare(runtime, &component, pinned_sha256.as_deref())
            .with_context(|| format!("loading module `{name}`"))?;
        let info = read_info(runtime, &pre, name.clone(), &config.limits)
            .await
            .and_then(|info| check_info(&info).map(|()| info))
            .with_context(|| format!("reading the info of module `{name}`"))?;
        let (settings, redactor) = check_settings(&info, &config.settings)
            .map_err(|error| anyhow::Error::new(SettingsRefused(format!("{error:#}"))))
            .with_context(|| format!("settings of module `{name}`"))?;
        Ok(LoadedModule {
            name,
            digest,
            info,
            imports,
            pre,
            exports,
            policy: Arc::new(config.policy),
            limits: config.limits,
            rate_limit: config.rate_limit,
            settings,
            _live_secrets: LiveSecrets::register(&redactor),
            redactor,
            client: runtime.client.clone(),
            call_slots: runtime.call_slots.clone(),
        })
    }

    /// Makes a fresh store and instance from the pre-linked component, as
    /// every call does, and drops them without calling the guest: a check
    /// that the module can be instantiated now, and the fixed cost of a
    /// call before the guest runs (`benches/`).
    pub async fn instantiate_idle(&self) -> anyhow::Result<()> {
        let mut store = self.new_store(Instant::now() + self.limits.deadline);
        self.pre
            .instantiate_async(&mut store)
            .await
            .map_err(anyhow::Error::from)
            .with_context(|| format!("instantiating module `{}`", self.name))?;
        Ok(())
    }

    /// A fresh store for one call of this module: its allow-list, bounds
    /// and the host's HTTP client, trapping at `deadline`.
    pub(crate) fn new_store(&self, deadline: Instant) -> Store<CallState> {
        let state = CallState::new(
            self.name.clone(),
            self.policy.clone(),
            &self.limits,
            deadline,
            self.client.clone(),
        );
        call_store(self.pre.engine(), state)
    }

    /// The name calls use.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name, shared (for what outlives a borrow: a call's log lines).
    pub(crate) fn shared_name(&self) -> &Arc<str> {
        &self.name
    }

    /// The settings every call gets, resolved at load.
    pub(crate) fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// Masks the module's secret settings.
    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Waits for one of the host's call slots (the bound on calls running
    /// at once); the slot is free again when the permit is dropped. The
    /// permit is owned, not a borrow of the module: an instance kept for
    /// reuse holds its slot while idle.
    pub(crate) async fn call_slot(
        &self,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError> {
        self.call_slots.clone().acquire_owned().await
    }

    /// Where the contract's functions sit among the component's exports.
    pub(crate) fn exports(&self) -> &ExportIndices {
        &self.exports
    }

    /// A fresh instance of the pre-linked component in `store`, and where
    /// its contract functions are.
    pub(crate) async fn instantiate(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<(Instance, &ExportIndices)> {
        let instance = self.pre.instance_pre().instantiate_async(store).await?;
        Ok((instance, &self.exports))
    }

    /// What the module says it is and does.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    /// The sha256 of the component file, hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The interfaces the component imports.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// The origins the module may reach.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// The per-call bounds.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The provider's published request rate, when the operator set one:
    /// what the host paces every call of the module by.
    pub fn rate_limit(&self) -> Option<RequestRate> {
        self.rate_limit
    }

    /// The names of the settings whose value in `config` is not the one
    /// this module was loaded with, added and dropped ones included, in
    /// order of name; never the values. A rotated secret shows here: a
    /// server swaps such a module in again ([`crate::Host::load`]) as it
    /// would a new component.
    pub fn changed_settings(&self, config: &ModuleConfig) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (name, value) in &config.settings {
            let current = self.settings.iter().find(|s| &s.name == name);
            if current.is_none_or(|s| s.value != value.value) {
                names.push(name.clone());
            }
        }
        for setting in &self.settings {
            if !config
                .settings
                .iter()
                .any(|(name, _)| *name == setting.name)
            {
                names.push(setting.name.clone());
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

/// A load refused because of the configured settings (an unknown name, a
/// secret written inline) rather than the component: what tells
/// `invalid-config` from `load-failed` in [`crate::ModuleLoadError`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SettingsRefused(String);

/// What `inspect` shows of a component file without a manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    /// sha256 of the file, hex.
    pub digest: String,
    /// The component's imports.
    pub imports: Vec<String>,
    /// The module's own description.
    #[serde(serialize_with = "crate::wire::as_json::serialize")]
    pub info: ModuleInfo,
}

impl Inspection {
    /// Loads a component with no settings and no granted origin and reads
    /// its info and imports.
    pub(crate) async fn of(runtime: &Runtime, path: &Path) -> anyhow::Result<Inspection> {
        let Prepared {
            pre,
            digest,
            imports,
            ..
        } = prepare(runtime, path, None)?;
        let info = read_info(runtime, &pre, "inspect".into(), &Limits::default()).await?;
        Ok(Inspection {
            digest,
            imports,
            info,
        })
    }
}

/// The sha256 of a file, as the host prints it (lower-case hex): the
/// digest [`LoadedModule::digest`] and [`Inspection::digest`] show, and
/// what a manifest's `sha256 = "..."` pins.
///
/// ```no_run
/// # fn main() -> anyhow::Result<()> {
/// let digest = provisioning_host::file_sha256("modules/hostmenow_module.wasm".as_ref())?;
/// println!("sha256 = {digest:?}");
/// # Ok(()) }
/// ```
pub fn file_sha256(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(crate::hex::sha256(&bytes))
}

/// A compiled component linked against what the host grants.
struct Prepared {
    /// The pre-linked instance every call starts from.
    pre: ProviderPre<CallState>,
    exports: ExportIndices,
    /// The file's sha256.
    digest: String,
    /// The component's imports.
    imports: Vec<String>,
}

/// The file the component is read from and the sha256 it must have: the
/// configured file and pin, or for a component from a registry the cached
/// copy (pulled first when the cache lacks it) and its layer's digest.
async fn component_file(
    runtime: &Runtime,
    config: &ModuleConfig,
) -> anyhow::Result<(PathBuf, Option<String>)> {
    let Some(reference) = &config.registry else {
        return Ok((config.component.clone(), config.pinned_sha256.clone()));
    };
    let cache = runtime.module_cache.as_deref().with_context(|| {
        format!("{reference} is in a registry, and the host has no module cache to pull it into")
    })?;
    let (path, layer_sha256) = crate::oci::cached_component(cache, reference).await?;
    if let Some(key) = &config.signature {
        crate::oci::signature::verified(cache, reference, key).await?;
    }
    if let Some(pinned) = &config.pinned_sha256
        && !pinned.trim().eq_ignore_ascii_case(&layer_sha256)
    {
        bail!(
            "the component of {reference} has sha256 {layer_sha256}, but the manifest pins sha256 {}: refusing to load it",
            pinned.trim()
        );
    }
    Ok((path, Some(layer_sha256)))
}

/// Compiles a component file and links it against what the host grants.
fn prepare(
    runtime: &Runtime,
    path: &Path,
    pinned_sha256: Option<&str>,
) -> anyhow::Result<Prepared> {
    let (component, digest, imports) = compile(runtime, path, pinned_sha256)?;
    let exports = ExportIndices::find(&component).context(
        "the component does not fit the provisioning world (billing:provisioning/module)",
    )?;
    let pre = runtime
        .linker
        .instantiate_pre(&component)
        .and_then(ProviderPre::new)
        .map_err(anyhow::Error::from)
        .context(
            "the component does not fit the provisioning world (billing:provisioning/module)",
        )?;
    Ok(Prepared {
        pre,
        exports,
        digest,
        imports,
    })
}

/// Reads and compiles a component file, refusing, before compiling it, a
/// file whose digest is not the pinned one or that imports what the host
/// does not grant. Returns the component, its sha256 and its imports.
fn compile(
    runtime: &Runtime,
    path: &Path,
    pinned_sha256: Option<&str>,
) -> anyhow::Result<(Component, String, Vec<String>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let digest = crate::hex::sha256(&bytes);
    if let Some(pinned) = pinned_sha256
        && !pinned.trim().eq_ignore_ascii_case(&digest)
    {
        bail!(
            "{} has sha256 {digest}, but the manifest pins sha256 {}: refusing to load it",
            path.display(),
            pinned.trim()
        );
    }
    // The imports are read from the binary before anything is compiled: a
    // component reaching for what is not granted is refused at once, not
    // after a compile that takes a large one most of a minute.
    let imports = crate::grant::imports_of(&bytes)
        .with_context(|| format!("{} is not a WebAssembly component", path.display()))?;
    let refused = crate::grant::refused(&imports);
    if !refused.is_empty() {
        bail!(
            "{} imports interfaces the host does not grant: {}",
            path.display(),
            refused.join(", ")
        );
    }
    let component = runtime
        .component(&bytes, &digest)
        .with_context(|| format!("compiling {}", path.display()))?;
    debug_assert_eq!(
        imports,
        component
            .component_type()
            .imports(&runtime.engine)
            .map(|(name, _)| name.to_string())
            .collect::<Vec<_>>(),
        "the imports read from the binary are the ones wasmtime compiled"
    );
    Ok((component, digest, imports))
}

/// Calls `info` in a throwaway store that may reach nothing, on the guest
/// threads like every call (a module's code never runs on the caller's).
async fn read_info(
    runtime: &Runtime,
    pre: &ProviderPre<CallState>,
    name: Arc<str>,
    limits: &Limits,
) -> anyhow::Result<ModuleInfo> {
    let (pre, limits) = (pre.clone(), *limits);
    let work = async move {
        let deadline = Instant::now() + limits.deadline;
        // No client: `info` may reach nothing.
        let state = CallState::new(
            name,
            Arc::new(OutboundPolicy::default()),
            &limits,
            deadline,
            None,
        );
        let mut store = call_store(pre.engine(), state);
        let instance = pre.instantiate_async(&mut store).await?;
        let info = instance
            .billing_provisioning_module()
            .call_info(&mut store)
            .await?;
        anyhow::Ok(info)
    };
    runtime
        .guests
        .run(work)
        .await
        .context("the task reading the module's info ended abnormally")?
}

/// Refuses an `info` the host could not rely on: no id, a setting declared
/// twice, a choice without choices or with a default outside them.
fn check_info(info: &ModuleInfo) -> anyhow::Result<()> {
    if info.id.trim().is_empty() {
        bail!("the module's info has an empty id");
    }
    for (index, spec) in info.settings.iter().enumerate() {
        if spec.name.trim().is_empty() {
            bail!("the module's info declares a setting without a name");
        }
        if info.settings[..index].iter().any(|s| s.name == spec.name) {
            bail!("the module's info declares setting `{}` twice", spec.name);
        }
        if spec.kind == SettingKind::Choice {
            if spec.choices.is_empty() {
                bail!("choice setting `{}` offers no choices", spec.name);
            }
            if let Some(default) = &spec.default
                && !spec.choices.contains(default)
            {
                bail!(
                    "choice setting `{}` defaults to `{default}`, which is not one of its choices",
                    spec.name
                );
            }
        }
    }
    Ok(())
}

/// Checks configured settings against the module's declarations: every
/// required server setting present, no unknown name, no secret written
/// inline. Returns the settings for calls and a redactor for the secrets.
fn check_settings(
    info: &ModuleInfo,
    configured: &[(String, SettingValue)],
) -> anyhow::Result<(Vec<Setting>, Redactor)> {
    let mut redactor = Redactor::new();
    let mut settings = Vec::new();
    for (name, value) in configured {
        let Some(spec) = info.settings.iter().find(|s| &s.name == name) else {
            let known: Vec<&str> = info.settings.iter().map(|s| s.name.as_str()).collect();
            bail!(
                "unknown setting `{name}` (the module declares: {})",
                known.join(", ")
            );
        };
        if spec.kind == SettingKind::Secret {
            if value.inline {
                bail!(
                    "setting `{name}` is a secret: give it as {{ env = \"VAR\" }} or {{ file = \"path\" }}, never inline"
                );
            }
            redactor.add(&value.value);
        }
        settings.push(Setting {
            name: name.clone(),
            value: value.value.clone(),
        });
    }
    Ok((settings, redactor))
}
