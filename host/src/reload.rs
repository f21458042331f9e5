//! Keeping a host in step with its manifest: [`Host::apply_manifest`]
//! takes the manifest as it is now (edited, a component rebuilt, a secret
//! rotated), resolves every module's entry again, secrets included, and
//! swaps in each module whose entry, component or resolved settings
//! changed, through the host's hot swap. A version that fails to load is
//! refused and the one in service keeps serving; a module not ready is
//! tried again; a module the manifest dropped is unloaded.

use crate::host::Host;
use crate::load_error::ModuleLoadError;
use crate::manifest::Manifest;

/// What [`Host::apply_manifest`] found and did, module by module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Modules swapped in (a new version, or one that was not ready).
    pub swapped: Vec<Swapped>,
    /// Modules whose new version was refused: the old one keeps serving.
    pub refused: Vec<Refused>,
    /// Modules taken out of service because the manifest dropped them.
    pub removed: Vec<Removed>,
    /// The manifest's modules still not in service after the reload, each
    /// with why (as [`Host::not_ready`] tells them).
    pub not_ready: Vec<ModuleLoadError>,
}

/// A module [`Host::apply_manifest`] put in service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swapped {
    /// The module's name.
    pub module: String,
    /// The digest of the version it replaced (`None`: the module was not
    /// in service, it was not ready or is new).
    pub old_digest: Option<String>,
    /// The digest of the version now in service.
    pub new_digest: String,
    /// Why it was loaded: `manifest entry changed`, `component changed`,
    /// `settings changed: <names>` (names only, never values) or
    /// `not ready, trying again`.
    pub changes: Vec<String>,
}

/// A module whose new version [`Host::apply_manifest`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The module's name.
    pub module: String,
    /// The digest of the version that keeps serving.
    pub serving_digest: String,
    /// Why the new version was refused.
    pub error: ModuleLoadError,
}

/// A module [`Host::apply_manifest`] unloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The module's name.
    pub module: String,
    /// The digest of the version taken out of service.
    pub digest: String,
}

impl Host {
    /// Brings the host in step with `manifest`, the same manifest read
    /// again after a change (a server does so on SIGHUP or when a watched
    /// file changes; see [`Manifest::referenced_files`]).
    ///
    /// Every module's entry is resolved again, secrets included. A module
    /// in service is swapped in again ([`Host::load`]: calls in flight
    /// finish on the old version) when its manifest entry is not the one
    /// it was loaded from, its component file's digest is not the one in
    /// service, or a resolved setting's value changed (a rotated secret);
    /// otherwise it is left alone. A new version that does not load is
    /// refused and the old one keeps serving. A module not in service (not
    /// ready, or new to the manifest) is loaded, or stays
    /// [not ready](Host::not_ready) with the new reason. A module in
    /// service that the manifest no longer names is unloaded.
    ///
    /// Every step is logged, naming settings but never their values. The
    /// journal cannot change under a running host: when the manifest's
    /// journal key is no longer the one [`Host::from_manifest`] opened it
    /// with, a warning says so and the journal keeps its key until a
    /// restart.
    ///
    /// ```no_run
    /// # async fn example() -> anyhow::Result<()> {
    /// use provisioning_host::{Host, HostOptions, Manifest};
    ///
    /// let path = std::path::Path::new("provisioning.toml");
    /// let host = Host::from_manifest(&Manifest::from_file(path)?, HostOptions::default())?;
    /// host.load_manifest_lenient(&Manifest::from_file(path)?).await;
    /// // ... the operator edits the manifest, rebuilds a component, rotates a key ...
    /// let report = host.apply_manifest(&Manifest::from_file(path)?).await;
    /// for swapped in &report.swapped {
    ///     println!("{} now runs {} ({})", swapped.module, swapped.new_digest, swapped.changes.join("; "));
    /// }
    /// for refused in &report.refused {
    ///     eprintln!("{} keeps {}: {}", refused.module, refused.serving_digest, refused.error);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn apply_manifest(&self, manifest: &Manifest) -> ReloadReport {
        let mut report = ReloadReport::default();
        for (name, entry) in &manifest.modules {
            let current = self.module(name);
            let old = current.as_ref().map(|module| module.digest().to_string());
            let failure = match manifest.module_config(name) {
                Err(error) => ModuleLoadError::invalid_config(name, &error),
                Ok(config) => {
                    let mut changes = Vec::new();
                    if let Some(module) = &current {
                        if self.entry(name).as_ref() != Some(entry) {
                            changes.push("manifest entry changed".to_string());
                        }
                        // A component from a registry is pinned by its
                        // entry: the same entry, the same bytes.
                        if config.registry.is_none()
                            && crate::module::file_sha256(&config.component)
                                .ok()
                                .as_deref()
                                != Some(module.digest())
                        {
                            changes.push("component changed".to_string());
                        }
                        // Names only: the values are secrets.
                        let settings = module.changed_settings(&config);
                        if !settings.is_empty() {
                            changes.push(format!("settings changed: {}", settings.join(", ")));
                        }
                        if changes.is_empty() {
                            continue;
                        }
                    } else {
                        changes.push("not ready, trying again".to_string());
                    }
                    for change in &changes {
                        tracing::info!(module = %name, "reload: {change}");
                    }
                    match self.load_entry(config, entry).await {
                        Ok(module) => {
                            tracing::info!(module = %name, old = old.as_deref().unwrap_or("-"), new = %module.digest(), "reload: module swapped in");
                            report.swapped.push(Swapped {
                                module: name.clone(),
                                old_digest: old,
                                new_digest: module.digest().to_string(),
                                changes,
                            });
                            continue;
                        }
                        Err(failure) => failure,
                    }
                }
            };
            match old {
                Some(serving) => {
                    tracing::error!(module = %name, %serving, "reload: new version refused, the old one keeps serving: {}", failure.message);
                    report.refused.push(Refused {
                        module: name.clone(),
                        serving_digest: serving,
                        error: failure,
                    });
                }
                None => {
                    tracing::error!(module = %name, kind = %failure.kind, "reload: module still not ready: {}", failure.message);
                    self.note_failure(&failure);
                }
            }
        }
        for module in self.modules() {
            if !manifest.modules.contains_key(module.name()) {
                self.unload(module.name());
                tracing::info!(module = %module.name(), digest = %module.digest(), "reload: module removed from the manifest, unloaded");
                report.removed.push(Removed {
                    module: module.name().to_string(),
                    digest: module.digest().to_string(),
                });
            }
        }
        self.retain_not_ready(|name| manifest.modules.contains_key(name));
        report.not_ready = self.not_ready();
        if let Some(opened_with) = self.journal_key()
            && journal_key_digest(manifest).as_deref() != opened_with
        {
            tracing::warn!(
                "reload: the journal key changed (or can no longer be read); the journal keeps the key it was opened with until a restart"
            );
        }
        report
    }
}

/// The sha256 of the manifest's journal key (`None` without a journal or
/// when the key cannot be read), to notice a change without keeping a
/// second copy of the key.
fn journal_key_digest(manifest: &Manifest) -> Option<String> {
    let config = manifest.journal_config().ok()??;
    Some(crate::hex::sha256(config.key_hex.as_bytes()))
}
