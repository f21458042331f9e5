//! `provisioning serve`: the host as a local service for billing platforms
//! that are not written in Rust (a PHP module, say): a JSON API over HTTP
//! (or HTTPS) on loopback, behind a bearer token, reloading on SIGHUP and
//! file changes, shutting down gracefully on SIGTERM, telling systemd
//! about each (notify.rs). The transport, its bounds on slow clients and
//! TLS are in listener.rs and tls.rs.

mod api;
mod auth;
mod error;
mod listener;
mod notify;
mod observe;
mod reload;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use provisioning_host::logging::LiveSecrets;
use provisioning_host::{Host, HostOptions, Journal, Manifest, Redactor};

use crate::output::outln;

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest of the modules to serve.
    #[arg(long, short, default_value = "provisioning.toml")]
    manifest: PathBuf,
    /// Address to listen on. Loopback by default: the billing platform runs
    /// on the same machine.
    #[arg(long, default_value = "127.0.0.1:8790")]
    listen: SocketAddr,
    /// Environment variable holding the bearer token clients must present.
    #[arg(
        long,
        default_value = "PROVISIONING_SERVE_TOKEN",
        conflicts_with = "token_file"
    )]
    token_env: String,
    /// File holding the bearer token (instead of an environment variable).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    max_body_bytes: usize,
    /// Largest request body of `POST /v1/usage` (a list of up to 10 000
    /// services, a few hundred bytes each), in bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    max_usage_body_bytes: usize,
    /// How often the manifest and component files are checked for changes,
    /// in milliseconds.
    #[arg(long, default_value_t = 1000)]
    watch_interval_ms: u64,
    /// Refuse to start unless every module of the manifest loads. Without
    /// it, the modules that load are served and the others are reported
    /// not ready (and tried again on every reload).
    #[arg(long)]
    strict: bool,
    /// Reconcile the journal's unknown outcomes with the providers every
    /// this many seconds (as `POST /v1/journal/reconcile` does once). Off
    /// unless given.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    reconcile_every_secs: Option<u64>,
    #[command(flatten)]
    transport: listener::Transport,
}

/// The serve token, and its registration among the live secrets (so that
/// no log line, error body or echoed request id shows it) for as long as
/// the guard is kept.
fn read_token(args: &Args) -> anyhow::Result<(auth::Token, LiveSecrets)> {
    let token = match &args.token_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?,
        None => std::env::var(&args.token_env).with_context(|| {
            format!(
                "environment variable {} (the serve token) is not set",
                args.token_env
            )
        })?,
    };
    let masked = LiveSecrets::register(&Redactor::new().with([token.trim()]));
    Ok((auth::Token::new(&token)?, masked))
}

/// Loads the manifest (what loads, or everything with `--strict`), serves
/// until SIGTERM or Ctrl-C, then lets calls in flight finish and exits.
///
/// The modules that did not load are the host's not ready ones
/// ([`Host::not_ready`]): shown by the API, tried again by every reload.
pub async fn run(args: Args, options: HostOptions) -> anyhow::Result<ExitCode> {
    let (token, _token_masked) = read_token(&args)?;
    let tls = args.transport.tls()?;
    let metrics = observe::install_metrics().context("installing the metrics recorder")?;
    let reloads = observe::ReloadStatus::default();
    let manifest = Manifest::from_file(&args.manifest)?;
    let host = Arc::new(Host::from_manifest(&manifest, options)?);
    let failures = if args.strict {
        host.load_manifest(&manifest).await?;
        Vec::new()
    } else {
        host.load_manifest_lenient(&manifest).await
    };
    for failure in &failures {
        tracing::error!(module = %failure.module, kind = %failure.kind, "module not ready, serving the others: {}", failure.message);
    }

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    // SIGHUP is listened for, and the watched files looked at, before the
    // server announces itself: what happens after the announcement reloads.
    let watching = reload::watch(
        host.clone(),
        args.manifest.clone(),
        Duration::from_millis(args.watch_interval_ms.max(10)),
        reload::hangups(),
        reloads.clone(),
        tls.clone(),
    );
    if !address.ip().is_loopback() && tls.is_none() {
        tracing::warn!(%address, "serving beyond loopback without TLS: give --tls-cert and --tls-key, or put TLS in front of it");
    }
    // The first stdout line tells scripts and tests where to connect.
    let scheme = if tls.is_some() { "https" } else { "http" };
    outln!("listening on {scheme}://{address}")?;
    notify::ready(&host);
    notify::watchdog();
    let watcher = tokio::spawn(watching);
    let reconciler = args
        .reconcile_every_secs
        .filter(|_| host.journal().is_some())
        .map(|secs| tokio::spawn(reconcile_every(host.clone(), Duration::from_secs(secs))));
    let purger = host
        .journal()
        .and_then(Journal::retain_acknowledged)
        .map(|retain| tokio::spawn(purge_every(host.clone(), retain, PURGE_EVERY)));
    let app = api::router(
        api::AppState {
            host: host.clone(),
            reloads: reloads.clone(),
        },
        token,
        api::BodyLimits {
            max_body_bytes: args.max_body_bytes,
            max_usage_body_bytes: args.max_usage_body_bytes,
        },
    )
    .merge(observe::routes(observe::Observed {
        host: host.clone(),
        metrics,
        reloads,
    }))
    .layer(axum::middleware::from_fn(observe::access_log));
    listener::serve(listener, app, tls, &args.transport, shutdown_signal())
        .await
        .context("serving")?;
    watcher.abort();
    for task in [reconciler, purger].into_iter().flatten() {
        task.abort();
    }
    // Outcomes the journal did not take when their calls ended are in this
    // process only: one more try before it goes.
    if let Some(journal) = host.journal() {
        let held = journal.write_held().await;
        if held > 0 {
            tracing::error!(
                held,
                "stopping with call outcomes the journal did not take: their entries stay unknown until resolved"
            );
        }
    }
    tracing::info!("stopped: every call in flight has finished");
    Ok(ExitCode::SUCCESS)
}

/// The background reconcile pass: every `period`, the journal's unknown
/// outcomes are looked into at their providers; a pass that fails is
/// logged and the next one tries again.
async fn reconcile_every(host: Arc<Host>, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match provisioning_host::reconcile::reconcile(&host).await {
            Ok(report) if report.entries.is_empty() => {}
            Ok(report) => tracing::info!(
                resolved = report.resolved(),
                unknown = report.entries.len(),
                "reconcile pass"
            ),
            Err(error) => tracing::warn!("reconcile pass failed: {error:#}"),
        }
    }
}

/// How often serve purges the journal's old acknowledged entries, when the
/// manifest sets `[journal] retain_acknowledged_days`.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// The background purge: at start, then every `period`, the entries
/// acknowledged more than `retain` ago are deleted; a pass that fails is
/// logged and the next one tries again. (The retention is the one the
/// journal was opened with: a reload does not change it.)
async fn purge_every(host: Arc<Host>, retain: Duration, period: Duration) {
    let Some(journal) = host.journal() else {
        return;
    };
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match journal.purge_acknowledged(retain).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(
                purged,
                retain_days = retain.as_secs() / 86_400,
                "purged acknowledged journal entries"
            ),
            Err(error) => tracing::warn!("purging the journal failed: {error:#}"),
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C. From then on no connection is accepted;
/// requests in flight run to their end (each call is bounded by its
/// module's deadline).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!("cannot listen for SIGTERM: {error}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => {},
        _ = tokio::signal::ctrl_c() => {},
    }
    notify::stopping();
    tracing::info!("shutting down: no new connections, finishing calls in flight");
}
