//! Keeping the served modules in step with the manifest, the component
//! files and the secrets: on SIGHUP, and when a watched file changes, the
//! manifest is read again and applied ([`Host::apply_manifest`]: every
//! secret source resolved again, every module whose entry, component or
//! resolved settings changed swapped in through the host's hot swap, a
//! version that fails to load refused while the one in service keeps
//! serving, a module that was not ready tried again). With TLS, the
//! certificate and key are read again too, and their files watched.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use provisioning_host::{Host, Manifest, ReloadReport};

use crate::notify;
use crate::observe::{Refusal, ReloadStatus};
use crate::tls::Tls;

/// Reads the manifest again and applies it ([`Host::apply_manifest`]).
async fn apply(host: &Host, manifest: &Path) -> anyhow::Result<ReloadReport> {
    let manifest = Manifest::from_file(manifest)?;
    Ok(host.apply_manifest(&manifest).await)
}

/// Why each module's new version was refused (the old one keeps
/// serving), one reason each.
fn refused_reasons(report: &ReloadReport) -> Vec<String> {
    report
        .refused
        .iter()
        .map(|refused| {
            format!(
                "{}: refused, old version keeps serving: {}",
                refused.module, refused.error
            )
        })
        .collect()
}

/// The files whose change triggers a reload: the manifest, every
/// component it names, every secret file of its modules and the journal
/// key's file (and the TLS certificate and key). Read from the entries, so
/// that a module whose secret is missing still has its files watched.
fn watched_files(manifest: &Path, tls: Option<&Tls>) -> Vec<PathBuf> {
    let mut files = vec![manifest.to_path_buf()];
    if let Ok(parsed) = Manifest::from_file(manifest) {
        files.extend(parsed.referenced_files());
    }
    files.extend(tls.into_iter().flat_map(Tls::files));
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
/// manifest is a handful of files). The files are looked at once when
/// this is called, before the returned future first runs: a change made
/// as soon as the server has announced itself is seen as a change. The
/// future runs until the process ends.
pub fn watch(
    host: Arc<Host>,
    manifest: PathBuf,
    interval: Duration,
    hangup: Option<tokio::signal::unix::Signal>,
    reloads: ReloadStatus,
    tls: Option<Arc<Tls>>,
) -> impl std::future::Future<Output = ()> {
    let files = watched_files(&manifest, tls.as_deref());
    let last = stamps(&files);
    watch_from(
        host,
        manifest,
        interval,
        hangup,
        tls,
        (files, last),
        reloads,
    )
}

/// A file being written may change again at once: how long a change
/// settles before it is read (shorter for a quick poll).
const SETTLE: Duration = Duration::from_millis(250);

async fn watch_from(
    host: Arc<Host>,
    manifest: PathBuf,
    interval: Duration,
    mut hangup: Option<tokio::signal::unix::Signal>,
    tls: Option<Arc<Tls>>,
    // The watched files and their stamps when `watch` was called.
    (mut files, mut last): (Vec<PathBuf>, Vec<Option<(SystemTime, u64)>>),
    reloads: ReloadStatus,
) {
    // The first poll one interval from now, not at once.
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        let cause = tokio::select! {
            _ = ticker.tick() => {
                let now = stamps(&files);
                if now == last {
                    continue;
                }
                tokio::time::sleep(SETTLE.min(interval / 2)).await;
                "a watched file changed"
            }
            Some(()) = async { match hangup.as_mut() { Some(s) => s.recv().await, None => None } } => "SIGHUP",
        };
        notify::reloading();
        tracing::info!("reloading the manifest: {cause}");
        let mut refusal = Refusal::default();
        match apply(&host, &manifest).await {
            Ok(report) => {
                tracing::info!(
                    swapped = report.swapped.len(),
                    removed = report.removed.len(),
                    refused = report.refused.len(),
                    not_ready = report.not_ready.len(),
                    "reload done"
                );
                refusal.modules = report.refused.len();
                refusal.reasons = refused_reasons(&report);
            }
            Err(error) => {
                tracing::error!("reload failed, every module keeps serving: {error:#}");
                refusal.manifest = true;
                refusal.reasons.push(format!("{error:#}"));
            }
        }
        if let Some(tls) = &tls
            && let Err(error) = tls.reload()
        {
            // Logged by the reload itself.
            refusal.tls = true;
            refusal.reasons.push(format!(
                "TLS certificate refused, the old one keeps serving: {error:#}"
            ));
        }
        reloads.record(refusal);
        notify::ready(&host);
        files = watched_files(&manifest, tls.as_deref());
        last = stamps(&files);
    }
}
