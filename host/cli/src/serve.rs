//! `provisioning serve`: the flags, parsed into the serve library's
//! [`provisioning_serve::Config`]; everything else (the API, TLS, reload,
//! systemd, metrics) is the `provisioning-serve` crate's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use provisioning_host::HostOptions;
use provisioning_serve::{BodyLimits, Config, TlsFiles, TokenSource, Transport};

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
    transport: TransportArgs,
}

/// The transport's arguments of `serve`.
#[derive(Debug, clap::Args)]
struct TransportArgs {
    /// Serve HTTPS with this certificate chain (PEM, the server's
    /// certificate first). Read again on every reload.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// How long a client has to send a request's head (and, with TLS, to
    /// complete the handshake before it), in milliseconds; also how long
    /// an idle kept-alive connection stays open.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_ms: u64,
    /// How long a client has to send a request's body once its head has
    /// arrived, in milliseconds.
    #[arg(long, default_value_t = 10000, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_ms: u64,
    /// Most connections open at once; more wait in the kernel's accept
    /// queue until one closes.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
}

impl Args {
    /// The library's configuration from the flags.
    fn config(self) -> Config {
        let transport = self.transport;
        Config {
            manifest: self.manifest,
            listen: self.listen,
            token: match self.token_file {
                Some(path) => TokenSource::File(path),
                None => TokenSource::Env(self.token_env),
            },
            limits: BodyLimits {
                max_body_bytes: self.max_body_bytes,
                max_usage_body_bytes: self.max_usage_body_bytes,
            },
            watch_interval: Duration::from_millis(self.watch_interval_ms),
            strict: self.strict,
            reconcile_every: self.reconcile_every_secs.map(Duration::from_secs),
            transport: Transport {
                // clap requires both or neither.
                tls: transport
                    .tls_cert
                    .zip(transport.tls_key)
                    .map(|(cert, key)| TlsFiles { cert, key }),
                header_timeout: Duration::from_millis(transport.header_timeout_ms),
                body_timeout: Duration::from_millis(transport.body_timeout_ms),
                max_connections: transport.max_connections,
            },
        }
    }
}

/// Serves until SIGTERM or Ctrl-C ([`provisioning_serve::run`]). The
/// first stdout line tells scripts and tests where to connect.
pub async fn run(args: Args, options: HostOptions) -> anyhow::Result<ExitCode> {
    provisioning_serve::run(args.config(), options, |address| {
        outln!("listening on {address}")
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
