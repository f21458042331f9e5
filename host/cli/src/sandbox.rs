//! `provisioning sandbox`: the provider simulators on a local port, for
//! pointing any client at them.

use std::net::SocketAddr;
use std::process::ExitCode;

use provisioning_sandbox::{Sandbox, blesta, hostmenow, logicboxes, webline};

use crate::output::outln;

/// Arguments of `sandbox`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
}

/// Serves until Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sandbox = Sandbox::start_on(args.listen).await?;
    outln!("sandbox listening on {}", sandbox.origin())?;
    outln!(
        "  HostMeNow:  {} (API key {})",
        sandbox.hostmenow().endpoint(),
        hostmenow::API_KEY
    )?;
    outln!(
        "  Blesta:     {} (uid {}, password {})",
        sandbox.blesta().endpoint(),
        blesta::UID,
        blesta::PASSWORD
    )?;
    outln!(
        "  Webline:    {} (X-API-KEY {})",
        sandbox.webline().endpoint(),
        webline::API_KEY
    )?;
    outln!(
        "  LogicBoxes: {}/api/... (auth-userid {}, api-key {}, order {})",
        sandbox.origin(),
        logicboxes::AUTH_USERID,
        logicboxes::API_KEY,
        logicboxes::ORDER_ID
    )?;
    outln!("press Ctrl-C to stop")?;
    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
