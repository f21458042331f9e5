//! Local simulators of the providers' APIs, with fault injection.
//!
//! A [`Sandbox`] serves every simulator on one loopback port, each under the
//! same path as the real provider, so a module pointed at
//! [`Sandbox::origin`] instead of the provider's origin runs unchanged.
//! Tests drive and inspect the simulators through their handles
//! ([`Sandbox::hostmenow`]) or, out of process, through the routes under
//! `/_sandbox/`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blesta;
mod clock;
pub mod fault;
pub mod hostmenow;
pub mod logicboxes;
mod simulator;
pub mod webline;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use blesta::Blesta;
use hostmenow::HostMeNow;
use logicboxes::LogicBoxes;
use webline::Webline;

/// Every simulator, served over HTTP in a background task.
///
/// Dropping it stops the server too (gracefully, in the background);
/// [`Sandbox::shutdown`] also waits until it has stopped.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    origin: String,
    hostmenow: HostMeNow,
    blesta: Blesta,
    webline: Webline,
    logicboxes: LogicBoxes,
    /// TCP connections accepted so far, over every simulator.
    connections: Arc<AtomicU64>,
    // Dropping the sender is itself the stop signal, so no `Drop` impl is
    // needed for "dropping stops it".
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Sandbox {
    /// Binds 127.0.0.1 on a free port and serves every simulator in a tokio
    /// task on the current runtime.
    pub async fn start() -> anyhow::Result<Sandbox> {
        Sandbox::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Same as [`Sandbox::start`] on a given address.
    pub async fn start_on(addr: SocketAddr) -> anyhow::Result<Sandbox> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the sandbox to {addr}"))?;
        let addr = listener
            .local_addr()
            .context("reading the sandbox's bound address")?;
        let origin = origin_of(addr);
        let hostmenow = HostMeNow::new(origin.clone());
        let blesta = Blesta::new(origin.clone());
        let webline = Webline::new(origin.clone());
        let logicboxes = LogicBoxes::new(origin.clone());
        let app = Router::new()
            .merge(hostmenow.router())
            .merge(blesta.router())
            .merge(webline.router())
            .merge(logicboxes.router());
        let connections = Arc::new(AtomicU64::new(0));
        let counter = connections.clone();
        let listener = listener.tap_io(move |_tcp| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let signal = async {
                // Err means the sender was dropped: stop all the same.
                let _ = stopped.await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
            {
                tracing::warn!(%error, "sandbox server failed");
            }
        });
        tracing::info!(%origin, "sandbox listening");
        Ok(Sandbox {
            addr,
            origin,
            hostmenow,
            blesta,
            webline,
            logicboxes,
            connections,
            stop,
            task,
        })
    }

    /// TCP connections the sandbox has accepted since it started: how a
    /// test tells whether clients keep their connections alive.
    pub fn connections_accepted(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// The address the sandbox listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT` of the sandbox; an unspecified listen address
    /// (0.0.0.0, ::) is given as loopback, which can be connected to.
    pub fn origin(&self) -> String {
        self.origin.clone()
    }

    /// The HostMeNow simulator.
    pub fn hostmenow(&self) -> &HostMeNow {
        &self.hostmenow
    }

    /// The Blesta license reseller simulator.
    pub fn blesta(&self) -> &Blesta {
        &self.blesta
    }

    /// The Webline Africa hosting simulator.
    pub fn webline(&self) -> &Webline {
        &self.webline
    }

    /// The LogicBoxes (ResellerClub) mail simulator.
    pub fn logicboxes(&self) -> &LogicBoxes {
        &self.logicboxes
    }

    /// Stops accepting connections, lets requests in flight finish, and
    /// returns once the server has stopped.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "sandbox server task failed");
        }
    }
}

fn origin_of(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    // SocketAddr's Display brackets IPv6 addresses as URLs need.
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_connectable() {
        let origin = |text: &str| origin_of(text.parse().unwrap());
        assert_eq!(origin("127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(origin("0.0.0.0:8080"), "http://127.0.0.1:8080");
        assert_eq!(origin("[::]:8080"), "http://[::1]:8080");
        assert_eq!(origin("[::1]:9"), "http://[::1]:9");
    }
}
