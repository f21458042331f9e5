//! The host: a registry of loaded modules and the entry point for calls.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::Context;

use crate::bindings::types::Setting;
use crate::call::{CallError, Request, Response};
use crate::call_runner;
use crate::engine::Runtime;
use crate::manifest::Manifest;
use crate::module::{Inspection, LoadedModule, ModuleConfig};

/// Loads provider modules and runs calls on them.
///
/// Cheap to share behind an `Arc`; every method takes `&self`. Replacing a
/// module ([`Host::load`] under a name already loaded) is atomic: calls in
/// flight finish on the version they started with.
///
/// ```no_run
/// # async fn example() -> anyhow::Result<()> {
/// use provisioning_host::{Host, Manifest, Request};
///
/// let host = Host::new()?;
/// host.load_manifest(&Manifest::from_file("provisioning.toml".as_ref())?).await?;
/// match host.call("hostmenow", &Request::TestConnection).await {
///     Ok(response) => println!("{response:?}"),
///     Err(error) => eprintln!("{} ({})", error, error.kind()),
/// }
/// # Ok(()) }
/// ```
pub struct Host {
    runtime: Arc<Runtime>,
    modules: RwLock<BTreeMap<String, Arc<LoadedModule>>>,
}

impl Host {
    /// A host with no module loaded.
    pub fn new() -> anyhow::Result<Host> {
        Ok(Host {
            runtime: Runtime::new()?,
            modules: RwLock::new(BTreeMap::new()),
        })
    }

    /// Loads every module of a manifest. Fails on the first module that does
    /// not load, naming it.
    pub async fn load_manifest(&self, manifest: &Manifest) -> anyhow::Result<()> {
        for config in manifest.module_configs()? {
            self.load(config).await?;
        }
        Ok(())
    }

    /// Loads one module, or swaps in a new version of one already loaded.
    ///
    /// A swap is atomic and drops nothing: calls in flight finish on the
    /// version they started with, calls made after it returns go to the new
    /// one. The new version must load, match its pinned digest and say in
    /// its `info` that it is the same module (same id); otherwise this fails
    /// and the version already loaded stays in service.
    pub async fn load(&self, config: ModuleConfig) -> anyhow::Result<Arc<LoadedModule>> {
        let name = config.name.clone();
        let module = Arc::new(LoadedModule::load(&self.runtime, config).await?);
        let previous = {
            let mut modules = self.modules.write().expect("module registry lock");
            if let Some(old) = modules.get(&name)
                && old.info().id != module.info().id
            {
                anyhow::bail!(
                    "module `{name}` is `{}`, but the new component says it is `{}`: not swapped",
                    old.info().id,
                    module.info().id
                );
            }
            modules.insert(name.clone(), module.clone())
        };
        match previous {
            Some(old) => {
                tracing::info!(module = %name, old = %old.digest(), new = %module.digest(), "module replaced")
            }
            None => {
                tracing::info!(module = %name, digest = %module.digest(), id = %module.info().id, "module loaded")
            }
        }
        Ok(module)
    }

    /// Takes a module out of service; calls in flight on it finish. Returns
    /// whether a module of that name was loaded.
    pub fn unload(&self, name: &str) -> bool {
        let removed = self
            .modules
            .write()
            .expect("module registry lock")
            .remove(name);
        if let Some(module) = &removed {
            tracing::info!(module = %name, digest = %module.digest(), "module unloaded");
        }
        removed.is_some()
    }

    /// The module loaded under `name`.
    pub fn module(&self, name: &str) -> Option<Arc<LoadedModule>> {
        self.modules
            .read()
            .expect("module registry lock")
            .get(name)
            .cloned()
    }

    /// Every loaded module, by name.
    pub fn modules(&self) -> Vec<Arc<LoadedModule>> {
        self.modules
            .read()
            .expect("module registry lock")
            .values()
            .cloned()
            .collect()
    }

    /// Calls a function of a module with the module's configured settings.
    pub async fn call(&self, module: &str, request: &Request) -> Result<Response, CallError> {
        self.call_with(module, request, &[]).await
    }

    /// Calls a function with extra settings for this call (product-scope
    /// settings, say), which override the module's configured ones by name.
    pub async fn call_with(
        &self,
        module: &str,
        request: &Request,
        settings: &[Setting],
    ) -> Result<Response, CallError> {
        let loaded = self
            .module(module)
            .ok_or_else(|| CallError::UnknownModule(module.to_string()))?;
        call_runner::run(&loaded, request, settings).await
    }

    /// Reads a component file's info, imports and digest without loading it
    /// as a module.
    pub async fn inspect(&self, component: &Path) -> anyhow::Result<Inspection> {
        Inspection::of(&self.runtime, component)
            .await
            .with_context(|| format!("inspecting {}", component.display()))
    }
}
