//! Keeping the served modules in step with the manifest, the component
//! files and the secrets: on SIGHUP, and when a watched file changes, the
//! manifest is read again, every secret source (environment and file) is
//! resolved again, and every module whose entry, component or resolved
//! settings changed is swapped in through the host's hot swap. A version
//! that fails to load is refused and the one in service keeps serving; a
//! module that was not ready is tried again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use provisioning_host::{Host, Manifest, ModuleEntry, ModuleLoadError};

use super::NotReady;

/// What a reload found and did.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Modules swapped in or added: (name, old digest, new digest).
    pub swapped: Vec<(String, Option<String>, String)>,
    /// Modules taken out of service because the manifest dropped them.
    pub removed: Vec<String>,
    /// Modules whose new version was refused: (name, why).
    pub refused: Vec<(String, String)>,
    /// Modules still not ready after the reload.
    pub not_ready: usize,
}

/// What the reloads of one server share.
pub struct Reloader {
    /// The host serving the modules.
    pub host: Arc<Host>,
    /// The manifest file.
    pub manifest: PathBuf,
    /// The entries the loaded modules were last loaded with.
    pub loaded: BTreeMap<String, ModuleEntry>,
    /// The modules that did not load, with why.
    pub not_ready: NotReady,
    /// The sha256 of the journal key the journal was opened with, if any.
    pub journal_key: Option<String>,
}

impl Reloader {
    /// Reads the manifest again and applies it.
    pub async fn apply(&mut self) -> anyhow::Result<ReloadReport> {
        let manifest = Manifest::from_file(&self.manifest)?;
        let host = &self.host;
        let mut report = ReloadReport::default();
        for (name, entry) in &manifest.modules {
            let current = host.module(name);
            let old = current.as_ref().map(|module| module.digest().to_string());
            let failure = match manifest.module_config(name) {
                Err(error) => Some(ModuleLoadError::invalid_config(name, &error)),
                Ok(config) => {
                    let mut changes = Vec::new();
                    if let Some(module) = &current {
                        if self.loaded.get(name) != Some(entry) {
                            changes.push("manifest entry changed".to_string());
                        }
                        if file_digest(&config.component).ok().as_deref() != Some(module.digest()) {
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
                    match host.load(config).await {
                        Ok(module) => {
                            tracing::info!(module = %name, old = old.as_deref().unwrap_or("-"), new = %module.digest(), "reload: module swapped in");
                            report.swapped.push((
                                name.clone(),
                                old.clone(),
                                module.digest().to_string(),
                            ));
                            self.loaded.insert(name.clone(), entry.clone());
                            self.not_ready_map().remove(name);
                            None
                        }
                        Err(error) => Some(ModuleLoadError::from_load(name, &error)),
                    }
                }
            };
            let Some(failure) = failure else { continue };
            match old {
                Some(serving) => {
                    tracing::error!(module = %name, %serving, "reload: new version refused, the old one keeps serving: {}", failure.message);
                    report.refused.push((name.clone(), failure.message));
                }
                None => {
                    tracing::error!(module = %name, kind = %failure.kind, "reload: module still not ready: {}", failure.message);
                    self.not_ready_map().insert(name.clone(), failure);
                }
            }
        }
        for module in host.modules() {
            if !manifest.modules.contains_key(module.name()) {
                host.unload(module.name());
                self.loaded.remove(module.name());
                tracing::info!(module = %module.name(), digest = %module.digest(), "reload: module removed from the manifest, unloaded");
                report.removed.push(module.name().to_string());
            }
        }
        let mut not_ready = self.not_ready_map();
        not_ready.retain(|name, _| manifest.modules.contains_key(name));
        report.not_ready = not_ready.len();
        drop(not_ready);
        if journal_key_digest(&manifest) != self.journal_key {
            tracing::warn!(
                "reload: the journal key changed (or can no longer be read); the journal keeps the key it was opened with until a restart"
            );
        }
        Ok(report)
    }

    fn not_ready_map(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, ModuleLoadError>> {
        self.not_ready.write().expect("not-ready lock")
    }
}

/// The sha256 of the manifest's journal key (`None` without a journal or
/// when the key cannot be read), to notice a change without keeping a
/// second copy of the key.
pub fn journal_key_digest(manifest: &Manifest) -> Option<String> {
    let config = manifest.journal_config().ok()??;
    Some(hex_sha256(config.key_hex.as_bytes()))
}

fn file_digest(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex_sha256(&bytes))
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The files whose change triggers a reload: the manifest, every
/// component it names, every secret file of its modules and the journal
/// key's file. Read from the entries, so that a module whose secret is
/// missing still has its files watched.
fn watched_files(manifest: &Path) -> Vec<PathBuf> {
    let mut files = vec![manifest.to_path_buf()];
    if let Ok(parsed) = Manifest::from_file(manifest) {
        files.extend(parsed.referenced_files());
    }
    files
}

/// Modification time and size of each file (`None` for a missing one).
fn stamps(files: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    files
        .iter()
        .map(|file| {
            let meta = std::fs::metadata(file).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

/// Listens for SIGHUP. Called before the server announces itself, so that
/// a SIGHUP sent as soon as it is up reloads rather than kills it.
pub fn hangups() -> Option<tokio::signal::unix::Signal> {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!("cannot listen for SIGHUP, reloading on file changes only: {error}");
            None
        }
    }
}

/// Reloads on SIGHUP and whenever a watched file's stamp changes (polled
/// every `interval`; polling needs no platform-specific watcher and a
/// manifest is a handful of files). Runs until the process ends.
pub async fn watch(
    mut reloader: Reloader,
    interval: Duration,
    mut hangup: Option<tokio::signal::unix::Signal>,
) {
    let mut files = watched_files(&reloader.manifest);
    let mut last = stamps(&files);
    let mut ticker = tokio::time::interval(interval);
    loop {
        let cause = tokio::select! {
            _ = ticker.tick() => {
                let now = stamps(&files);
                if now == last {
                    continue;
                }
                // A file being written may change again at once; settle
                // for one more tick before reading it.
                tokio::time::sleep(interval / 2).await;
                "a watched file changed"
            }
            Some(()) = async { match hangup.as_mut() { Some(s) => s.recv().await, None => None } } => "SIGHUP",
        };
        tracing::info!("reloading the manifest: {cause}");
        match reloader.apply().await {
            Ok(report) => tracing::info!(
                swapped = report.swapped.len(),
                removed = report.removed.len(),
                refused = report.refused.len(),
                not_ready = report.not_ready,
                "reload done"
            ),
            Err(error) => {
                tracing::error!("reload failed, every module keeps serving: {error:#}")
            }
        }
        files = watched_files(&reloader.manifest);
        last = stamps(&files);
    }
}
