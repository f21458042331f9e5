//! `provisioning serve` as a library: the host as a local service for
//! billing platforms that are not written in Rust (a PHP module, say): a
//! JSON API over HTTP (or HTTPS) on loopback, behind a bearer token,
//! reloading on SIGHUP and file changes, shutting down gracefully on
//! SIGTERM, telling systemd about each (notify.rs). The CLI's `serve`
//! subcommand parses its flags into a [`Config`] and calls [`run`].
//!
//! - [`router`] is the whole application as an axum `Router` (the API, the
//!   operator's open routes, the access log), for [`run`] and for tests
//!   that call it in process.
//! - Every answer and every error body is a typed `Serialize` value
//!   ([`answers`], [`ErrorBody`]); [`openapi`] derives the API's OpenAPI
//!   document from those types and the handlers (utoipa), the document a
//!   platform's developer generates a client from (`openapi.json`,
//!   written by `cargo run -p provisioning-serve --example openapi`).
//! - The transport, its bounds on slow clients and TLS are in listener.rs
//!   and tls.rs.

#![deny(missing_docs)]

pub mod answers;
mod api;
mod auth;
mod document;
mod error;
mod listener;
mod notify;
mod observe;
mod reload;
mod responses;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use provisioning_host::logging::LiveSecrets;
use provisioning_host::{Host, HostOptions, Journal, Manifest, Redactor};

pub use api::{BodyLimits, MAX_REUSE_CALLS, MAX_USAGE_CONCURRENCY, MAX_USAGE_SERVICES};
pub use auth::Token;
pub use document::{API_VERSION, OPENAPI_PATH, openapi, openapi_json};
pub use error::{ApiErrorDetail, ErrorBody};
pub use listener::{TlsFiles, Transport};
pub use observe::{
    LastReload, LastReloadWithReason, ReloadRefused, ReloadResult, ReloadStatus, install_metrics,
};

/// How [`run`] serves: what the `serve` subcommand's flags say.
#[derive(Debug, Clone)]
pub struct Config {
    /// The manifest of the modules to serve.
    pub manifest: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the bearer token clients must present is read from.
    pub token: TokenSource,
    /// Bounds on request bodies.
    pub limits: BodyLimits,
    /// How often the manifest and component files are checked for
    /// changes.
    pub watch_interval: Duration,
    /// Refuse to start unless every module of the manifest loads. Without
    /// it, the modules that load are served and the others are reported
    /// not ready (and tried again on every reload).
    pub strict: bool,
    /// Reconcile the journal's unknown outcomes with the providers this
    /// often (as `POST /v1/journal/reconcile` does once); never when
    /// `None`.
    pub reconcile_every: Option<Duration>,
    /// HTTP or HTTPS, and the bounds on slow clients.
    pub transport: Transport,
}

/// Where the serve token is read from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// An environment variable of this name.
    Env(String),
    /// A file.
    File(PathBuf),
}

/// The serve token, and its registration among the live secrets (so that
/// no log line, error body or echoed request id shows it) for as long as
/// the guard is kept.
fn read_token(source: &TokenSource) -> anyhow::Result<(Token, LiveSecrets)> {
    let token = match source {
        TokenSource::File(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?,
        TokenSource::Env(name) => std::env::var(name)
            .with_context(|| format!("environment variable {name} (the serve token) is not set"))?,
    };
    let masked = LiveSecrets::register(&Redactor::new().with([token.trim()]));
    Ok((Token::new(&token)?, masked))
}

/// What the whole application is made of.
#[derive(Clone)]
pub struct App {
    /// The host with the manifest's modules, and those that did not load.
    pub host: Arc<Host>,
    /// The token every route but the operator's open ones requires.
    pub token: Token,
    /// Bounds on request bodies.
    pub limits: BodyLimits,
    /// The last reload's result.
    pub reloads: ReloadStatus,
    /// The Prometheus scrape's renderer ([`install_metrics`], or a
    /// recorder of the caller's own).
    pub metrics: PrometheusHandle,
}

/// The whole application: the API behind the token with its body caps,
/// the operator's open routes (`/metrics`, liveness, readiness), and the
/// access log with request ids over both. [`run`] serves it; a test can
/// call it in process.
pub fn router(app: App) -> Router {
    let (api, _) = api::routes(app.limits)
        .with_state(api::AppState {
            host: app.host.clone(),
            reloads: app.reloads.clone(),
        })
        .split_for_parts();
    let api = api
        .layer(axum::extract::DefaultBodyLimit::max(
            app.limits.max_body_bytes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.token,
            auth::require_token,
        ));
    let (open, _) = observe::routes()
        .with_state(observe::Observed {
            host: app.host,
            metrics: app.metrics,
            reloads: app.reloads,
        })
        .split_for_parts();
    api.merge(open)
        .layer(axum::middleware::from_fn(observe::access_log))
}

/// Loads the manifest (what loads, or everything with `strict`), serves
/// until SIGTERM or Ctrl-C, then lets calls in flight finish and returns.
/// `announce` is given the address served (`http://127.0.0.1:8790`) once
/// the listener is bound, before the server takes requests.
///
/// The modules that did not load are the host's not ready ones
/// ([`Host::not_ready`]): shown by the API, tried again by every reload.
pub async fn run(
    config: Config,
    options: HostOptions,
    announce: impl FnOnce(&str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let (token, _token_masked) = read_token(&config.token)?;
    let tls = config.transport.tls()?;
    let metrics = install_metrics().context("installing the metrics recorder")?;
    let reloads = ReloadStatus::default();
    let manifest = Manifest::from_file(&config.manifest)?;
    let host = Arc::new(Host::from_manifest(&manifest, options)?);
    let failures = if config.strict {
        host.load_manifest(&manifest).await?;
        Vec::new()
    } else {
        host.load_manifest_lenient(&manifest).await
    };
    for failure in &failures {
        tracing::error!(module = %failure.module, kind = %failure.kind, "module not ready, serving the others: {}", failure.message);
    }

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let address = listener.local_addr()?;
    // SIGHUP is listened for, and the watched files looked at, before the
    // server announces itself: what happens after the announcement reloads.
    let watching = reload::watch(
        host.clone(),
        config.manifest.clone(),
        config.watch_interval.max(Duration::from_millis(10)),
        reload::hangups(),
        reloads.clone(),
        tls.clone(),
    );
    if !address.ip().is_loopback() && tls.is_none() {
        tracing::warn!(%address, "serving beyond loopback without TLS: give --tls-cert and --tls-key, or put TLS in front of it");
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    announce(&format!("{scheme}://{address}"))?;
    notify::ready(&host);
    notify::watchdog();
    let watcher = tokio::spawn(watching);
    let reconciler = config
        .reconcile_every
        .filter(|_| host.journal().is_some())
        .map(|period| tokio::spawn(reconcile_every(host.clone(), period)));
    let purger = host
        .journal()
        .and_then(Journal::retain_acknowledged)
        .map(|retain| tokio::spawn(purge_every(host.clone(), retain, PURGE_EVERY)));
    let app = router(App {
        host: host.clone(),
        token,
        limits: config.limits,
        reloads,
        metrics,
    });
    listener::serve(listener, app, tls, &config.transport, shutdown_signal())
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
    Ok(())
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
