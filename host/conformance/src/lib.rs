//! The conformance kit: checks what every provisioning module must do,
//! whatever its provider, by running it in the host behind a reverse proxy
//! that records every request and plays the provider's faults.
//!
//! [`run`] loads the component with the kit's [`Kit`] settings, every
//! http(s) URL among them pointed at a proxy on loopback (the module is
//! granted only the proxies' origins), a small memory cap and a deadline;
//! then it runs the checks and returns a [`Report`]:
//!
//! - `info-settings`, `info-outbound-hosts`: a setting named or labelled
//!   as a key, password, secret or token is declared `secret`; defaults
//!   fit their kinds; the declared origins parse;
//! - `info-functions-answer`: every declared function answers something
//!   other than `unsupported` against the healthy provider;
//! - `info-undeclared-unsupported`: every other function answers
//!   `unsupported` and sends nothing (the proxy blocks and records);
//! - `fault-<name>` (one per [`fault::FAULTS`]): the provider's fault
//!   becomes one of the contract's typed errors, never a success or a trap;
//! - `create-retry`, `lifecycle` (only with [`Kit::allow_changes`]): the
//!   changing functions in order, and a create retried with the same
//!   service answering `already-existed` (same remote id) or refused,
//!   never a second account;
//! - `reads-change-nothing`: no read sends the operation a changing
//!   function sent, or a `DELETE`/`PUT`/`PATCH`; the provider's
//!   `list-accounts` and `service-status` answer the same before and
//!   after the reads;
//! - `secrets`: no secret setting's value (nor the host's mask of one) in
//!   any answer, error or line the module printed;
//! - `limits`: no trap, deadline, memory or output overrun against the
//!   healthy provider.
//!
//! The kit knows no provider; the host knows nothing of the kit.

#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod fault;
mod guest_output;
mod proxy;
mod report;
mod run;

use std::path::PathBuf;
use std::time::Duration;

use provisioning_host::HostOptions;
use provisioning_host::types::{Contact, Service};
use rustls::pki_types::CertificateDer;

pub use guest_output::{GuestOutput, GuestOutputLayer};
pub use report::{Check, ModuleSummary, Outcome, Report};
pub use run::run;

/// What to check and how.
#[derive(Debug, Clone)]
pub struct Kit {
    /// The component file.
    pub component: PathBuf,
    /// The module's settings, name and value (server and product settings
    /// alike). Every value that is an http(s) URL is pointed at the kit's
    /// proxy, which forwards to the URL's origin.
    pub settings: Vec<(String, String)>,
    /// The service the functions that take one act on; its `package`, when
    /// absent, is the first the module's `list-packages` offers.
    pub service: Service,
    /// The package `change-package` moves to; by default another one of
    /// `list-packages`.
    pub new_package: Option<String>,
    /// Whether the functions that change things at the provider run
    /// (create, suspend, unsuspend, change-*, terminate). Point the module
    /// at a test endpoint.
    pub allow_changes: bool,
    /// Each call's memory cap.
    pub memory_bytes: usize,
    /// Each call's deadline; the slow fault answers after it.
    pub deadline: Duration,
    /// The host's options (its compile cache, say).
    pub host_options: HostOptions,
    /// Certificate authorities the proxy trusts for an https endpoint,
    /// besides the webpki roots the host trusts: a provider's test
    /// endpoint may use a private one.
    pub upstream_roots: Vec<CertificateDer<'static>>,
}

/// The certificates of a PEM file, for [`Kit::upstream_roots`]; a file
/// that holds none is refused.
pub fn read_certificate_authorities(
    file: &std::path::Path,
) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    use anyhow::Context as _;
    use rustls::pki_types::pem::PemObject as _;
    let certificates = CertificateDer::pem_file_iter(file)
        .with_context(|| format!("reading {}", file.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not PEM", file.display()))?;
    if certificates.is_empty() {
        anyhow::bail!("{} holds no certificate", file.display());
    }
    Ok(certificates)
}

/// The default memory cap of a call: 64 MiB.
pub const DEFAULT_MEMORY_BYTES: usize = 64 << 20;

/// The default deadline of a call: 10 s.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// A service record complete enough for a create at most providers: a
/// generated service id (`conformance-<hex>`), a domain under
/// `example.test`, a username, a password, the `monthly` cycle and a
/// client; no package (see [`Kit::service`]).
pub fn default_service() -> Service {
    let tag = unique_tag();
    let id = format!("conformance-{tag}");
    Service {
        domain: Some(format!("{id}.example.test")),
        username: Some(format!("ck{}", &tag[..tag.len().min(6)])),
        password: Some(format!("Ck-{tag}-pw9!")),
        service_id: id,
        remote_id: None,
        package: None,
        billing_cycle: Some("monthly".to_owned()),
        client: Some(Contact {
            first_name: "Conformance".to_owned(),
            last_name: "Kit".to_owned(),
            company: None,
            email: "conformance-kit@example.test".to_owned(),
            phone: Some("+15555550100".to_owned()),
            address: Some("1 Test Street".to_owned()),
            city: Some("Testville".to_owned()),
            state: None,
            postcode: Some("00000".to_owned()),
            country: Some("US".to_owned()),
            language: Some("en".to_owned()),
        }),
        custom_fields: Vec::new(),
    }
}

/// Hex of the time and a counter: different for every service a process
/// makes, and across runs.
fn unique_tag() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    // The low bits change fastest: they make the short forms unique too.
    format!(
        "{:x}",
        (nanos as u64) ^ u64::from(count) ^ (u64::from(std::process::id()) << 40)
    )
    .chars()
    .rev()
    .collect()
}
