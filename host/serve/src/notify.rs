//! systemd's notify protocol (`sd_notify(3)`), for `Type=notify` and
//! `Type=notify-reload` units: `READY=1` once the modules are loaded and
//! the listener bound, `RELOADING=1` (with `MONOTONIC_USEC=`) then
//! `READY=1` around every reload, `STOPPING=1` at shutdown, and
//! `WATCHDOG=1` at half of `WATCHDOG_USEC` when the unit has a watchdog.
//!
//! Without `NOTIFY_SOCKET` in the environment (not run by systemd) every
//! function here does nothing.

use std::time::Duration;

use provisioning_host::Host;
use sd_notify::NotifyState;

/// Sends `states` as one datagram; a failure is logged, never fatal (the
/// service manager is told nothing, the server keeps serving).
fn send(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!("cannot notify the service manager: {error}");
    }
}

/// What `systemctl status` shows beside the unit.
fn status(host: &Host) -> String {
    let modules = host.modules().len();
    let plural = if modules == 1 { "" } else { "s" };
    match host.not_ready().len() {
        0 => format!("serving {modules} module{plural}"),
        not_ready => format!("serving {modules} module{plural}, {not_ready} not ready"),
    }
}

/// `READY=1`: serving (at start, and when a reload is done).
pub fn ready(host: &Host) {
    let status = status(host);
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// `RELOADING=1` with the monotonic clock's time, which systemd 253 and
/// later require with it (for `Type=notify-reload`); `READY=1` follows
/// when the reload is done.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[
            NotifyState::Reloading,
            now,
            NotifyState::Status("reloading"),
        ]),
        Err(error) => tracing::warn!("cannot read the monotonic clock for systemd: {error}"),
    }
}

/// `STOPPING=1`: shutting down, calls in flight finishing.
pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: finishing calls in flight"),
    ]);
}

/// When the unit has a watchdog (`WATCHDOG_USEC` set, and `WATCHDOG_PID`
/// unset or this process), pings it at half its period from a task of the
/// runtime that serves: a runtime wedged so that no task runs stops the
/// pings and systemd restarts the service.
pub fn watchdog() {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (period / 2).max(Duration::from_millis(1));
    tracing::info!(
        every_ms = every.as_millis() as u64,
        "pinging the systemd watchdog"
    );
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            send(&[NotifyState::Watchdog]);
        }
    });
}
