//! `provisioning module push`, `pull`, `sign` and `verify`: components to
//! and from an OCI registry, in the wasm OCI artifact layout wkg and
//! wasmCloud use (see `provisioning_host::oci`), and their signatures in
//! cosign's format (`provisioning_host::oci::signature`). Credentials come
//! from the environment, as for the host's own pulls.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use provisioning_host::oci::signature::{self, PublicKey, SigningKey};
use provisioning_host::oci::{self, OciReference};

use crate::output::outln;

/// Arguments of `module`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Push a component to a registry and print the digest a manifest pins
    /// (`oci://REGISTRY/REPOSITORY:TAG@DIGEST`). Credentials:
    /// PROVISIONING_REGISTRY_USERNAME and PROVISIONING_REGISTRY_PASSWORD,
    /// or PROVISIONING_REGISTRY_AUTH_FILE (a docker-style config.json).
    Push {
        /// The component file (.wasm).
        file: PathBuf,
        /// Where to: oci://REGISTRY/REPOSITORY[:TAG].
        reference: String,
    },
    /// Pull a component from a registry, its digests checked, and print its
    /// manifest's digest.
    Pull {
        /// What: oci://REGISTRY/REPOSITORY[:TAG][@sha256:HEX].
        reference: String,
        /// Where to write it (default: the repository's last part, .wasm).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Sign a pushed component as cosign does (its signature beside it in
    /// the registry, under the tag sha256-HEX.sig), so that a manifest's
    /// `signature = { public_key = … }` accepts it.
    Sign {
        /// The private key: PEM PKCS#8 ECDSA P-256 (`openssl genpkey
        /// -algorithm EC -pkeyopt ec_paramgen_curve:P-256`).
        #[arg(long)]
        key: PathBuf,
        /// What: oci://REGISTRY/REPOSITORY[:TAG]@sha256:HEX.
        reference: String,
    },
    /// Check that a component in a registry carries a cosign signature by
    /// a key, as the host checks it before loading: exit 0 when one holds,
    /// 1 when none does.
    Verify {
        /// The public key: PEM (cosign's cosign.pub).
        #[arg(long)]
        key: PathBuf,
        /// What: oci://REGISTRY/REPOSITORY[:TAG]@sha256:HEX.
        reference: String,
    },
}

/// Runs `module push` or `module pull`.
pub async fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Push { file, reference } => {
            let reference = OciReference::parse(&reference)?;
            let component =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let digest = oci::push(&reference, component, None).await?;
            let pinned = reference.with_digest(&digest);
            if json {
                outln!(
                    "{}",
                    serde_json::json!({ "digest": digest, "reference": pinned.to_string() })
                )?;
            } else {
                outln!("{digest}")?;
                outln!("pin it in the manifest: component = \"{pinned}\"")?;
            }
        }
        Command::Pull { reference, output } => {
            let reference = OciReference::parse(&reference)?;
            let pulled = oci::pull(&reference, None).await?;
            let output = output.unwrap_or_else(|| PathBuf::from(reference.file_name()));
            std::fs::write(&output, &pulled.component)
                .with_context(|| format!("writing {}", output.display()))?;
            if json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "digest": pulled.manifest_digest,
                        "component_digest": pulled.component_digest,
                        "file": output,
                    })
                )?;
            } else {
                outln!("{}", pulled.manifest_digest)?;
                outln!("wrote {} ({})", output.display(), pulled.component_digest)?;
            }
        }
        Command::Sign { key, reference } => {
            let reference = OciReference::parse_pinned(&reference)?;
            let key = SigningKey::read(&key)?;
            let at = signature::sign(&reference, &key, None).await?;
            if json {
                outln!(
                    "{}",
                    serde_json::json!({ "signed": reference.to_string(), "signature": at.to_string() })
                )?;
            } else {
                outln!("signed {reference}: the signature is at {at}")?;
            }
        }
        Command::Verify { key, reference } => {
            let reference = OciReference::parse_pinned(&reference)?;
            let key = PublicKey::read(&key)?;
            let signatures = signature::fetch(&reference, None).await?;
            let verdict = signature::verify(&reference, &key, &signatures);
            if json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "reference": reference.to_string(),
                        "verified": verdict.is_ok(),
                        "reason": verdict.as_ref().err().map(ToString::to_string),
                    })
                )?;
            } else {
                match &verdict {
                    Ok(()) => outln!("verified: {reference} is signed by that key")?,
                    Err(why) => outln!("not verified: {why}")?,
                }
            }
            if verdict.is_err() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
