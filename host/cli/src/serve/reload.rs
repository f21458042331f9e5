//! Keeping the served modules in step with the manifest and the component
//! files: on SIGHUP, and when a watched file changes, the manifest is read
//! again and every module whose entry or component changed is swapped in
//! through the host's hot swap. A version that fails to load is refused and
//! the one in service keeps serving.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use provisioning_host::{Host, Manifest, ModuleEntry};

/// What a reload found and did.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Modules swapped in or added: (name, old digest, new digest).
    pub swapped: Vec<(String, Option<String>, String)>,
    /// Modules taken out of service because the manifest dropped them.
    pub removed: Vec<String>,
    /// Modules whose new version was refused: (name, why).
    pub refused: Vec<(String, String)>,
}

/// Reloads the manifest at `path` into `host`, given the entries it was
/// last loaded with (updated in place).
pub async fn apply(
    host: &Host,
    path: &Path,
    loaded: &mut BTreeMap<String, ModuleEntry>,
) -> anyhow::Result<ReloadReport> {
    let manifest = Manifest::from_file(path)?;
    let configs = manifest.module_configs()?;
    let mut report = ReloadReport::default();
    for (config, (name, entry)) in configs.into_iter().zip(&manifest.modules) {
        let current = host.module(name);
        let unchanged = loaded.get(name) == Some(entry)
            && current.as_ref().is_some_and(|module| {
                file_digest(&config.component).ok().as_deref() == Some(module.digest())
            });
        if unchanged {
            continue;
        }
        let old = current.map(|module| module.digest().to_string());
        match host.load(config).await {
            Ok(module) => {
                tracing::info!(module = %name, old = old.as_deref().unwrap_or("-"), new = %module.digest(), "reload: module swapped in");
                report
                    .swapped
                    .push((name.clone(), old, module.digest().to_string()));
                loaded.insert(name.clone(), entry.clone());
            }
            Err(error) => {
                tracing::error!(module = %name, serving = old.as_deref().unwrap_or("-"), "reload: new version refused, the old one keeps serving: {error:#}");
                report.refused.push((name.clone(), format!("{error:#}")));
            }
        }
    }
    for module in host.modules() {
        if !manifest.modules.contains_key(module.name()) {
            host.unload(module.name());
            loaded.remove(module.name());
            tracing::info!(module = %module.name(), digest = %module.digest(), "reload: module removed from the manifest, unloaded");
            report.removed.push(module.name().to_string());
        }
    }
    Ok(report)
}

fn file_digest(path: &Path) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The files whose change triggers a reload: the manifest and every
/// component it names.
fn watched_files(manifest: &Path) -> Vec<PathBuf> {
    let mut files = vec![manifest.to_path_buf()];
    if let Ok(parsed) = Manifest::from_file(manifest)
        && let Ok(configs) = parsed.module_configs()
    {
        files.extend(configs.into_iter().map(|c| c.component));
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
    host: Arc<Host>,
    manifest: PathBuf,
    mut loaded: BTreeMap<String, ModuleEntry>,
    interval: Duration,
    mut hangup: Option<tokio::signal::unix::Signal>,
) {
    let mut files = watched_files(&manifest);
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
        match apply(&host, &manifest, &mut loaded).await {
            Ok(report) => tracing::info!(
                swapped = report.swapped.len(),
                removed = report.removed.len(),
                refused = report.refused.len(),
                "reload done"
            ),
            Err(error) => {
                tracing::error!("reload failed, every module keeps serving: {error:#}")
            }
        }
        files = watched_files(&manifest);
        last = stamps(&files);
    }
}
