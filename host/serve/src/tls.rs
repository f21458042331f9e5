//! HTTPS for serve: the certificate chain and private key from PEM files
//! (`--tls-cert`, `--tls-key`), read again on every reload. The pair in
//! service sits behind a certificate resolver, so a reload swaps it for
//! the handshakes that follow without touching the listener or the
//! connections already open; a new pair that does not parse, or whose key
//! does not match its certificate, is refused and the one in service keeps
//! serving.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::Context;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

/// The certificate and key files, the pair in service and the acceptor
/// that hands it to every handshake.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: Arc<Current>,
    acceptor: TlsAcceptor,
}

/// The pair every new handshake gets.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.0
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

impl Tls {
    /// Reads the pair; fails (and serve refuses to start) when it does not
    /// parse or the key is not the certificate's.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<Tls>> {
        // ring, as everywhere else in the host: named rather than taken
        // from the process default, which another dependency could change.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let pair = read_pair(cert, key, &provider)?;
        tracing::info!(
            certificate = %cert.display(),
            sha256 = %fingerprint(&pair),
            "TLS certificate loaded"
        );
        let current = Arc::new(Current(RwLock::new(Arc::new(pair))));
        let mut config = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        // serve speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(Tls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider,
            current,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }))
    }

    /// Reads the pair again and puts it in service; a pair that does not
    /// load is refused (and logged) and the one in service stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        match read_pair(&self.cert, &self.key, &self.provider) {
            Ok(pair) => {
                let sha256 = fingerprint(&pair);
                let mut current = self
                    .current
                    .0
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                if fingerprint(&current) != sha256 {
                    tracing::info!(certificate = %self.cert.display(), %sha256, "TLS certificate swapped in");
                }
                *current = Arc::new(pair);
                Ok(())
            }
            Err(error) => {
                tracing::error!(
                    certificate = %self.cert.display(),
                    key = %self.key.display(),
                    "TLS certificate refused, the one in service keeps serving: {error:#}"
                );
                Err(error)
            }
        }
    }

    /// The certificate and key files, for the reload watcher.
    pub fn files(&self) -> [PathBuf; 2] {
        [self.cert.clone(), self.key.clone()]
    }

    /// The acceptor that runs a connection's handshake.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }
}

/// The chain of `cert` (end-entity first) with the first private key of
/// `key` (PKCS#8, PKCS#1 or SEC1), checked to belong together.
fn read_pair(cert: &Path, key: &Path, provider: &CryptoProvider) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading the TLS certificate {}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("no certificate in {}", cert.display());
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the TLS key {}", key.display()))?;
    CertifiedKey::from_der(chain, private, provider).with_context(|| {
        format!(
            "the key {} does not go with the certificate {}",
            key.display(),
            cert.display()
        )
    })
}

/// The sha256 of the end-entity certificate in lower-case hex (what
/// `openssl x509 -noout -fingerprint -sha256` shows, without its colons):
/// what the log names a pair by.
fn fingerprint(pair: &CertifiedKey) -> String {
    let digest = Sha256::digest(pair.cert.first().map_or(&[][..], |c| c.as_ref()));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
