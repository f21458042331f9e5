//! Components from an OCI registry.
//!
//! A manifest may name a component as `oci://REGISTRY/REPOSITORY@sha256:HEX`
//! (or `oci://REGISTRY/REPOSITORY:TAG@sha256:HEX`): the digest is the OCI
//! manifest's, so it pins the component's bytes too (the manifest names
//! its layer by digest). A tag alone is refused: it may move.
//!
//! The host pulls such a component once into its module cache
//! ([`crate::HostOptions::module_cache`]), a content-addressed directory
//! (`blobs/sha256/HEX`, as an OCI image layout keeps blobs): the manifest
//! is kept only once its digest is the pinned one, the layer only once its
//! digest is the one the manifest names. Every later load reads both from
//! the cache, checking both digests again, and needs no registry.
//!
//! The artifact's layout is the wasm OCI artifact's (CNCF TAG Runtime), as
//! wkg and wasmCloud push it: an OCI image manifest whose config has media
//! type [`CONFIG_MEDIA_TYPE`] (architecture `wasm`, os `wasip2`, the
//! layers' digests and the component's imports and exports) and one layer
//! of media type [`LAYER_MEDIA_TYPE`], the component itself.
//!
//! Credentials come from the host's environment ([`RegistryCredentials`]),
//! never from the manifest; registries on loopback are spoken to over
//! plain HTTP (a registry a test or a developer runs), every other one
//! over HTTPS.

pub mod signature;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{DigestError, OciDistributionError, OciErrorCode};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

/// The scheme of a component named by registry reference.
pub const SCHEME: &str = "oci://";
/// The media type of the artifact's config (the wasm OCI artifact layout).
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The media type of the one layer, the component.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The variable holding the registry user's name.
pub const USERNAME_ENV: &str = "PROVISIONING_REGISTRY_USERNAME";
/// The variable holding the registry user's password (or token).
pub const PASSWORD_ENV: &str = "PROVISIONING_REGISTRY_PASSWORD";
/// The variable naming a docker-style `config.json` whose `auths` entry
/// for the registry holds the credentials (read when the two above are
/// not set).
pub const AUTH_FILE_ENV: &str = "PROVISIONING_REGISTRY_AUTH_FILE";

/// Why a component could not be had from a registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OciError {
    /// The text is not an `oci://REGISTRY/REPOSITORY[:TAG][@sha256:HEX]`
    /// reference.
    #[error(
        "`{reference}` is not a registry reference (oci://REGISTRY/REPOSITORY[:TAG]@sha256:HEX): {reason}"
    )]
    InvalidReference {
        /// The text given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The reference names no digest, where one must be pinned (a
    /// manifest's component).
    #[error(
        "`{reference}` names no digest: pin a digest (oci://REGISTRY/REPOSITORY[:TAG]@sha256:HEX), a tag alone may move"
    )]
    DigestNotPinned {
        /// The reference given.
        reference: String,
    },
    /// The registry's manifest does not have the pinned digest.
    #[error(
        "the manifest of {reference} has digest {actual}, not the pinned {expected}: refusing it"
    )]
    ManifestDigestMismatch {
        /// The reference pulled.
        reference: String,
        /// The pinned digest.
        expected: String,
        /// The digest of what the registry sent.
        actual: String,
    },
    /// The component's bytes do not have the digest its manifest names
    /// (a tampered or corrupted blob).
    #[error(
        "the component of {reference} has digest {actual}, not the {expected} its manifest names: refusing it"
    )]
    LayerDigestMismatch {
        /// The reference pulled.
        reference: String,
        /// The digest the manifest names.
        expected: String,
        /// The digest of what the registry sent.
        actual: String,
    },
    /// The manifest is not a wasm OCI artifact (one `application/wasm`
    /// layer, config `application/vnd.wasm.config.v0+json`).
    #[error("{reference} is not a wasm component artifact: {reason}")]
    NotAComponent {
        /// The reference pulled.
        reference: String,
        /// What is wrong with the manifest.
        reason: String,
    },
    /// The registry refused the credentials (or their absence).
    #[error(
        "registry {registry} refused access to {reference} ({credentials}): set {USERNAME_ENV} and {PASSWORD_ENV}, or {AUTH_FILE_ENV}"
    )]
    Unauthorized {
        /// The registry.
        registry: String,
        /// The reference.
        reference: String,
        /// Which credentials were offered (their source, never their value).
        credentials: String,
    },
    /// The registry has no such manifest or blob.
    #[error("registry {registry} has no {reference}")]
    NotFound {
        /// The registry.
        registry: String,
        /// The reference.
        reference: String,
    },
    /// The registry could not be reached or answered otherwise.
    #[error("registry {registry}: {message}")]
    Registry {
        /// The registry.
        registry: String,
        /// What happened.
        message: String,
    },
    /// The credentials could not be read from the environment.
    #[error("registry credentials: {0}")]
    Credentials(String),
    /// The module cache could not be read or written.
    #[error("module cache {path}: {message}")]
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// What happened.
        message: String,
    },
}

/// A registry reference: `oci://REGISTRY/REPOSITORY[:TAG][@sha256:HEX]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OciReference {
    registry: String,
    repository: String,
    tag: Option<String>,
    /// `sha256:` and 64 lower-case hex digits.
    digest: Option<String>,
}

impl OciReference {
    /// Parses a reference with or without a digest (what `module push` and
    /// `module pull` take).
    pub fn parse(text: &str) -> Result<OciReference, OciError> {
        let invalid = |reason: &str| OciError::InvalidReference {
            reference: text.to_string(),
            reason: reason.to_string(),
        };
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| invalid("it does not start with oci://"))?;
        let (name, digest) = match rest.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (rest, None),
        };
        let digest = digest
            .map(|digest| {
                let hex = digest
                    .strip_prefix("sha256:")
                    .ok_or_else(|| invalid("the digest must be sha256:HEX"))?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(invalid("a sha256 digest is 64 hex digits"));
                }
                Ok(format!("sha256:{}", hex.to_ascii_lowercase()))
            })
            .transpose()?;
        let (registry, path) = name
            .split_once('/')
            .ok_or_else(|| invalid("it names no repository after the registry"))?;
        if registry.is_empty()
            || !registry
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        {
            return Err(invalid(
                "the registry must be a host name or address, with an optional port",
            ));
        }
        // A colon after the last slash starts the tag.
        let last_slash = path.rfind('/').map_or(0, |at| at + 1);
        let (repository, tag) = match path[last_slash..].find(':') {
            Some(at) => (&path[..last_slash + at], Some(&path[last_slash + at + 1..])),
            None => (path, None),
        };
        let repository_ok = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !repository_ok {
            return Err(invalid(
                "the repository must be lower-case letters, digits and . _ - between slashes",
            ));
        }
        if let Some(tag) = tag {
            let tag_ok = (1..=128).contains(&tag.len())
                && !tag.starts_with(['.', '-'])
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !tag_ok {
                return Err(invalid("a tag is up to 128 letters, digits and . _ -"));
            }
        }
        Ok(OciReference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// Parses a reference that must pin a digest (a manifest's component):
    /// a tag alone is refused with [`OciError::DigestNotPinned`].
    pub fn parse_pinned(text: &str) -> Result<OciReference, OciError> {
        let reference = OciReference::parse(text)?;
        if reference.digest.is_none() {
            return Err(OciError::DigestNotPinned {
                reference: text.to_string(),
            });
        }
        Ok(reference)
    }

    /// The registry (`host[:port]`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The manifest's pinned digest (`sha256:HEX`), when there is one.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// A file name for the component: the repository's last part, `.wasm`.
    pub fn file_name(&self) -> String {
        let last = self
            .repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository);
        format!("{last}.wasm")
    }

    /// The same reference pinned to `digest` (`sha256:HEX`), the tag kept.
    pub fn with_digest(&self, digest: &str) -> OciReference {
        OciReference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The client's form: by digest when there is one (the tag is then
    /// only a name for people), else by tag (`latest` when none).
    fn client_reference(&self) -> Reference {
        match &self.digest {
            Some(digest) => Reference::with_digest(
                self.registry.clone(),
                self.repository.clone(),
                digest.clone(),
            ),
            None => Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                self.tag.clone().unwrap_or_else(|| "latest".to_string()),
            ),
        }
    }
}

impl fmt::Display for OciReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Whether a manifest's component text names a registry reference.
pub(crate) fn is_reference(component: &Path) -> bool {
    component
        .to_str()
        .is_some_and(|text| text.starts_with(SCHEME))
}

/// A registry user's name and password, read from the host's environment.
/// The password never reaches a `Debug` dump, a log line or an error.
#[derive(Clone)]
pub struct RegistryCredentials {
    username: String,
    password: String,
    /// Where they came from, for messages.
    source: String,
}

impl fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl RegistryCredentials {
    /// A name and password given by the embedding program.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> RegistryCredentials {
        RegistryCredentials {
            username: username.into(),
            password: password.into(),
            source: "given by the program".to_string(),
        }
    }

    /// The credentials for `registry` from the environment:
    /// [`USERNAME_ENV`] and [`PASSWORD_ENV`], else the `auths` entry for
    /// the registry in the docker-style `config.json` that
    /// [`AUTH_FILE_ENV`] names (its `auth`, base64 of `user:password`, or
    /// its `username` and `password`); `None` when neither is set
    /// (anonymous access).
    pub fn from_env(registry: &str) -> Result<Option<RegistryCredentials>, OciError> {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        match (var(USERNAME_ENV), var(PASSWORD_ENV)) {
            (Some(username), Some(password)) => {
                return Ok(Some(RegistryCredentials {
                    username,
                    password,
                    source: format!("{USERNAME_ENV} and {PASSWORD_ENV}"),
                }));
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(OciError::Credentials(format!(
                    "set both {USERNAME_ENV} and {PASSWORD_ENV}, or neither"
                )));
            }
            (None, None) => {}
        }
        let Some(file) = var(AUTH_FILE_ENV) else {
            return Ok(None);
        };
        from_auth_file(Path::new(&file), registry)
    }

    fn auth(&self) -> RegistryAuth {
        RegistryAuth::Basic(self.username.clone(), self.password.clone())
    }
}

/// The `auths` entry for `registry` in a docker-style `config.json`.
fn from_auth_file(file: &Path, registry: &str) -> Result<Option<RegistryCredentials>, OciError> {
    use base64::Engine as _;
    #[derive(serde::Deserialize)]
    struct AuthFile {
        #[serde(default)]
        auths: std::collections::BTreeMap<String, AuthEntry>,
    }
    #[derive(serde::Deserialize)]
    struct AuthEntry {
        auth: Option<String>,
        username: Option<String>,
        password: Option<String>,
    }
    let failed = |message: String| OciError::Credentials(format!("{}: {message}", file.display()));
    let text = std::fs::read_to_string(file).map_err(|error| failed(error.to_string()))?;
    // serde_json's messages quote no input, so no secret leaks through one.
    let parsed: AuthFile = serde_json::from_str(&text)
        .map_err(|error| failed(format!("not a config.json: {error}")))?;
    let entry = parsed.auths.iter().find_map(|(key, entry)| {
        let host = key
            .strip_prefix("https://")
            .or_else(|| key.strip_prefix("http://"))
            .unwrap_or(key);
        (host.trim_end_matches('/') == registry).then_some(entry)
    });
    let Some(entry) = entry else {
        return Ok(None);
    };
    let source = format!("{} (auths entry for {registry})", file.display());
    if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
        return Ok(Some(RegistryCredentials {
            username: username.clone(),
            password: password.clone(),
            source,
        }));
    }
    let decoded = entry
        .auth
        .as_deref()
        .and_then(|auth| base64::engine::general_purpose::STANDARD.decode(auth).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            failed(format!(
                "the entry for {registry} has neither username and password nor a base64 `auth`"
            ))
        })?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or_else(|| failed(format!("the `auth` of {registry} is not user:password")))?;
    Ok(Some(RegistryCredentials {
        username: username.to_string(),
        password: password.to_string(),
        source,
    }))
}

/// A component pulled from a registry, its digests checked.
#[derive(Debug, Clone)]
pub struct PulledComponent {
    /// The manifest's digest (`sha256:HEX`).
    pub manifest_digest: String,
    /// The component's digest (`sha256:HEX`), the manifest's layer.
    pub component_digest: String,
    /// The component.
    pub component: Vec<u8>,
}

/// A client for `registry`: plain HTTP on loopback, HTTPS elsewhere, TLS
/// through rustls with ring (the provider the host links).
fn client(registry: &str) -> Client {
    // reqwest is built without a crypto provider of its own and takes the
    // process's default: ring, the only one linked. Installed once; a
    // second install finding it there is no error.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let protocol = if is_loopback(registry) {
        ClientProtocol::Http
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        // A registry that does not answer fails the load (or the reload,
        // the old version serving on) instead of holding it for ever.
        connect_timeout: Some(Duration::from_secs(10)),
        read_timeout: Some(Duration::from_secs(60)),
        ..ClientConfig::default()
    })
}

fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => registry.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// The credentials to offer `registry` and a description of them.
fn offered_credentials(
    registry: &str,
    given: Option<&RegistryCredentials>,
) -> Result<(RegistryAuth, String), OciError> {
    let credentials = match given {
        Some(given) => Some(given.clone()),
        None => RegistryCredentials::from_env(registry)?,
    };
    Ok(match credentials {
        Some(credentials) => (
            credentials.auth(),
            format!("credentials from {}", credentials.source),
        ),
        None => (RegistryAuth::Anonymous, "no credentials".to_string()),
    })
}

/// Pulls the component `reference` names, checking the manifest's digest
/// against the reference's (when it pins one), the artifact's layout, and
/// the component's digest against the manifest's layer. `credentials`:
/// `None` reads them from the environment ([`RegistryCredentials::from_env`]).
pub async fn pull(
    reference: &OciReference,
    credentials: Option<&RegistryCredentials>,
) -> Result<PulledComponent, OciError> {
    let (_manifest, pulled) = pull_parts(reference, credentials).await?;
    Ok(pulled)
}

/// [`pull`], with the manifest's bytes.
async fn pull_parts(
    reference: &OciReference,
    credentials: Option<&RegistryCredentials>,
) -> Result<(Vec<u8>, PulledComponent), OciError> {
    let (auth, offered) = offered_credentials(&reference.registry, credentials)?;
    let client = client(&reference.registry);
    let image = reference.client_reference();
    let failed = |error| registry_error(reference, &offered, error);
    let manifest_bytes = client
        .pull_manifest_raw(&image, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .map_err(|error| match error {
            OciDistributionError::DigestError(DigestError::VerificationError {
                actual, ..
            }) => manifest_mismatch(reference, &actual),
            other => failed(other),
        })
        .map(|(bytes, _)| bytes.to_vec())?;
    // Checked here as well as by the client: the pin is the host's promise.
    let actual = format!("sha256:{}", crate::hex::sha256(&manifest_bytes));
    if let Some(expected) = reference.digest()
        && actual != expected
    {
        return Err(manifest_mismatch(reference, &actual));
    }
    let layer = component_layer(reference, &manifest_bytes)?;
    let mut component = Vec::new();
    client
        .pull_blob(&image, &layer, &mut component)
        .await
        .map_err(|error| match error {
            OciDistributionError::DigestError(DigestError::VerificationError {
                actual, ..
            }) => OciError::LayerDigestMismatch {
                reference: reference.to_string(),
                expected: layer.digest.clone(),
                actual,
            },
            other => failed(other),
        })?;
    let component_digest = format!("sha256:{}", crate::hex::sha256(&component));
    if component_digest != layer.digest {
        return Err(OciError::LayerDigestMismatch {
            reference: reference.to_string(),
            expected: layer.digest,
            actual: component_digest,
        });
    }
    Ok((
        manifest_bytes,
        PulledComponent {
            manifest_digest: actual,
            component_digest,
            component,
        },
    ))
}

fn manifest_mismatch(reference: &OciReference, actual: &str) -> OciError {
    OciError::ManifestDigestMismatch {
        reference: reference.to_string(),
        expected: reference.digest().unwrap_or_default().to_string(),
        actual: actual.to_string(),
    }
}

/// The client's error as ours; `offered` says which credentials were
/// offered (their source, never their value).
fn registry_error(
    reference: &OciReference,
    offered: &str,
    error: OciDistributionError,
) -> OciError {
    let registry_says = |codes: &[OciErrorCode]| match &error {
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().any(|e| codes.contains(&e.code))
        }
        _ => false,
    };
    let refused = matches!(
        error,
        OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_)
            | OciDistributionError::ServerError {
                code: 401 | 403,
                ..
            }
    ) || registry_says(&[OciErrorCode::Unauthorized, OciErrorCode::Denied]);
    let missing = matches!(
        error,
        OciDistributionError::ImageManifestNotFoundError(_)
            | OciDistributionError::ServerError { code: 404, .. }
    ) || registry_says(&[
        OciErrorCode::ManifestUnknown,
        OciErrorCode::BlobUnknown,
        OciErrorCode::NameUnknown,
    ]);
    let registry = reference.registry.clone();
    if refused {
        OciError::Unauthorized {
            registry,
            reference: reference.to_string(),
            credentials: offered.to_string(),
        }
    } else if missing {
        OciError::NotFound {
            registry,
            reference: reference.to_string(),
        }
    } else {
        OciError::Registry {
            registry,
            message: error_chain(&error),
        }
    }
}

/// An error with its causes (reqwest's top message alone says only
/// "error sending request").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// The manifest's one component layer, its layout checked.
fn component_layer(reference: &OciReference, manifest: &[u8]) -> Result<OciDescriptor, OciError> {
    let not_a_component = |reason: String| OciError::NotAComponent {
        reference: reference.to_string(),
        reason,
    };
    let manifest: OciImageManifest = serde_json::from_slice(manifest)
        .map_err(|error| not_a_component(format!("not an OCI image manifest: {error}")))?;
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(not_a_component(format!(
            "its config is {}, not {CONFIG_MEDIA_TYPE}",
            manifest.config.media_type
        )));
    }
    let mut layers = manifest
        .layers
        .into_iter()
        .filter(|layer| layer.media_type == LAYER_MEDIA_TYPE);
    match (layers.next(), layers.next()) {
        (Some(layer), None) => Ok(layer),
        (None, _) => Err(not_a_component(format!(
            "it has no {LAYER_MEDIA_TYPE} layer"
        ))),
        (Some(_), Some(_)) => Err(not_a_component(format!(
            "it has more than one {LAYER_MEDIA_TYPE} layer"
        ))),
    }
}

/// Pushes `component` to `reference` in the wasm OCI artifact layout and
/// returns the manifest's digest (`sha256:HEX`), what a manifest pins.
/// The reference's tag, if any, is set to it; a digest in the reference is
/// refused (the digest is what the push makes).
pub async fn push(
    reference: &OciReference,
    component: Vec<u8>,
    credentials: Option<&RegistryCredentials>,
) -> Result<String, OciError> {
    if reference.digest.is_some() {
        return Err(OciError::InvalidReference {
            reference: reference.to_string(),
            reason: "a push names a repository and tag, not a digest (the push makes it)".into(),
        });
    }
    let (imports, exports) =
        crate::grant::imports_and_exports(&component).map_err(|error| OciError::NotAComponent {
            reference: reference.to_string(),
            reason: format!("not a WebAssembly component: {error:#}"),
        })?;
    let component_digest = format!("sha256:{}", crate::hex::sha256(&component));
    // The config of the wasm OCI artifact layout, as wkg and wasmCloud
    // write it.
    let config = serde_json::to_vec(&serde_json::json!({
        "created": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "author": null,
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [component_digest],
        "component": { "exports": exports, "imports": imports, "target": null },
    }))
    .expect("a JSON value serializes");
    let manifest = image_manifest(
        CONFIG_MEDIA_TYPE,
        &config,
        serde_json::json!([
            { "mediaType": LAYER_MEDIA_TYPE, "digest": component_digest, "size": component.len() }
        ]),
    );
    let manifest_digest = format!("sha256:{}", crate::hex::sha256(&manifest));
    let (auth, offered) = offered_credentials(&reference.registry, credentials)?;
    let failed = |error| registry_error(reference, &offered, error);
    let client = client(&reference.registry);
    // Tagged when a tag is named, else pushed by its digest alone.
    let image = match &reference.tag {
        Some(_) => reference.client_reference(),
        None => reference.with_digest(&manifest_digest).client_reference(),
    };
    client
        .auth(&image, &auth, oci_client::RegistryOperation::Push)
        .await
        .map_err(failed)?;
    push_artifact(&client, &image, [component, config], manifest)
        .await
        .map_err(failed)?;
    Ok(manifest_digest)
}

/// An OCI image manifest of `config` (of media type `config_media_type`)
/// and `layers` (their descriptors), as the bytes pushed and digested.
fn image_manifest(config_media_type: &str, config: &[u8], layers: serde_json::Value) -> Vec<u8> {
    let config_digest = format!("sha256:{}", crate::hex::sha256(config));
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_MEDIA_TYPE,
        "config": { "mediaType": config_media_type, "digest": config_digest, "size": config.len() },
        "layers": layers,
    }))
    .expect("a JSON value serializes")
}

/// Pushes an artifact to `image`: its blobs (each under its own digest),
/// then the manifest that names them, so that no reader of the manifest
/// finds a blob missing.
async fn push_artifact<const BLOBS: usize>(
    client: &Client,
    image: &Reference,
    blobs: [Vec<u8>; BLOBS],
    manifest: Vec<u8>,
) -> Result<(), OciDistributionError> {
    for blob in blobs {
        let digest = format!("sha256:{}", crate::hex::sha256(&blob));
        client.push_blob(image, blob, &digest).await?;
    }
    client
        .push_manifest_raw(
            image,
            manifest,
            http::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE),
        )
        .await?;
    Ok(())
}

/// The component `reference` (pinned) names, from the module cache at
/// `cache`, pulled into it first when it is not there: its file and its
/// sha256 (hex).
pub(crate) async fn cached_component(
    cache: &Path,
    reference: &OciReference,
) -> Result<(PathBuf, String), OciError> {
    let expected = reference
        .digest()
        .ok_or_else(|| OciError::DigestNotPinned {
            reference: reference.to_string(),
        })?;
    if let Some(found) = from_cache(cache, reference, expected) {
        return Ok(found);
    }
    let (manifest, pulled) = pull_parts(reference, None).await?;
    let layer_hex = hex_of(&pulled.component_digest).to_string();
    // The layer first: a manifest in the cache means its layer is there.
    let layer_path = write_blob(cache, &layer_hex, &pulled.component)?;
    write_blob(cache, hex_of(&pulled.manifest_digest), &manifest)?;
    tracing::info!(reference = %reference, component = %layer_hex, "pulled into the module cache");
    Ok((layer_path, layer_hex))
}

/// The cached component of `reference`, when the cache has its manifest
/// and layer, each with its digest (anything else is pulled again).
fn from_cache(
    cache: &Path,
    reference: &OciReference,
    manifest_digest: &str,
) -> Option<(PathBuf, String)> {
    let manifest = std::fs::read(blob_path(cache, hex_of(manifest_digest))).ok()?;
    if crate::hex::sha256(&manifest) != hex_of(manifest_digest) {
        tracing::warn!(reference = %reference, "the cached manifest does not match its digest: pulling it again");
        return None;
    }
    let layer = component_layer(reference, &manifest).ok()?;
    let layer_hex = hex_of(&layer.digest).to_string();
    let path = blob_path(cache, &layer_hex);
    let bytes = std::fs::read(&path).ok()?;
    if crate::hex::sha256(&bytes) != layer_hex {
        tracing::warn!(reference = %reference, "the cached component does not match its digest: pulling it again");
        return None;
    }
    Some((path, layer_hex))
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

fn blob_path(cache: &Path, hex: &str) -> PathBuf {
    cache.join("blobs").join("sha256").join(hex)
}

/// Writes a blob whole under another name and renames it into place, so
/// that no reader sees half of one.
fn write_blob(cache: &Path, hex: &str, bytes: &[u8]) -> Result<PathBuf, OciError> {
    let path = blob_path(cache, hex);
    write_file(&path, bytes)?;
    Ok(path)
}

/// Writes `path` whole under another name first and renames it into
/// place, so that no reader sees half of it; creates its directory.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), OciError> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let failed = |path: &Path, error: std::io::Error| OciError::Cache {
        path: path.to_path_buf(),
        message: error.to_string(),
    };
    let dir = path.parent().expect("a cached file has a directory");
    std::fs::create_dir_all(dir).map_err(|error| failed(dir, error))?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = dir.join(format!(
        ".{name}.{}.{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&partial, bytes).map_err(|error| failed(&partial, error))?;
    std::fs::rename(&partial, path).map_err(|error| {
        let _ = std::fs::remove_file(&partial);
        failed(path, error)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_parse_with_registry_port_repository_tag_and_digest() {
        let text = format!("oci://127.0.0.1:5000/team/hostmenow:1.2.0@sha256:{HEX}");
        let reference = OciReference::parse_pinned(&text).unwrap();
        assert_eq!(reference.registry(), "127.0.0.1:5000");
        assert_eq!(reference.repository, "team/hostmenow");
        assert_eq!(reference.tag.as_deref(), Some("1.2.0"));
        assert_eq!(reference.digest(), Some(format!("sha256:{HEX}").as_str()));
        assert_eq!(reference.to_string(), text);
        let untagged =
            OciReference::parse(&format!("oci://ghcr.io/acme/mod@sha256:{HEX}")).unwrap();
        assert_eq!(untagged.tag, None);
        assert!(
            is_loopback("127.0.0.1:5000") && is_loopback("localhost") && is_loopback("[::1]:80")
        );
        assert!(!is_loopback("ghcr.io"));
    }

    #[test]
    fn a_tag_alone_is_refused_where_a_digest_must_be_pinned() {
        let error = OciReference::parse_pinned("oci://ghcr.io/acme/mod:1.0").unwrap_err();
        assert!(
            matches!(error, OciError::DigestNotPinned { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("pin a digest"), "{error}");
        assert!(OciReference::parse("oci://ghcr.io/acme/mod:1.0").is_ok());
    }

    #[test]
    fn malformed_references_are_refused_saying_why() {
        for (text, why) in [
            ("ghcr.io/acme/mod:1", "oci://"),
            ("oci://ghcr.io", "no repository"),
            ("oci://ghcr.io/Acme/mod", "lower-case"),
            ("oci://ghcr.io/acme/mod@sha256:abc", "64 hex"),
            ("oci://ghcr.io/acme/mod@md5:abc", "sha256:HEX"),
            ("oci://ghcr.io/acme/mod:-x", "tag"),
        ] {
            let error = OciReference::parse(text).unwrap_err();
            assert!(
                matches!(error, OciError::InvalidReference { .. })
                    && error.to_string().contains(why),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn credentials_come_from_a_docker_config_and_never_show_in_debug() {
        let dir = std::env::temp_dir().join(format!("oci-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.json");
        // "alice:pa55word" in base64.
        std::fs::write(
            &file,
            r#"{"auths":{"https://registry.example":{"auth":"YWxpY2U6cGE1NXdvcmQ="},"other.example":{"username":"bob","password":"hunter2"}}}"#,
        )
        .unwrap();
        let alice = from_auth_file(&file, "registry.example").unwrap().unwrap();
        assert_eq!(
            (alice.username.as_str(), alice.password.as_str()),
            ("alice", "pa55word")
        );
        let bob = from_auth_file(&file, "other.example").unwrap().unwrap();
        assert_eq!(bob.password, "hunter2");
        assert!(
            from_auth_file(&file, "elsewhere.example")
                .unwrap()
                .is_none()
        );
        let shown = format!("{alice:?} {bob:?}");
        assert!(
            !shown.contains("pa55word") && !shown.contains("hunter2"),
            "{shown}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_manifest_that_is_not_a_wasm_artifact_is_refused() {
        let reference = OciReference::parse(&format!("oci://r.example/a@sha256:{HEX}")).unwrap();
        let manifest = |config: &str, layer: &str| {
            serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "config": { "mediaType": config, "digest": format!("sha256:{HEX}"), "size": 1 },
                "layers": [{ "mediaType": layer, "digest": format!("sha256:{HEX}"), "size": 1 }],
            }))
            .unwrap()
        };
        assert!(
            component_layer(&reference, &manifest(CONFIG_MEDIA_TYPE, LAYER_MEDIA_TYPE)).is_ok()
        );
        for bad in [
            manifest("application/vnd.oci.image.config.v1+json", LAYER_MEDIA_TYPE),
            manifest(
                CONFIG_MEDIA_TYPE,
                "application/vnd.oci.image.layer.v1.tar+gzip",
            ),
            b"{}".to_vec(),
        ] {
            let error = component_layer(&reference, &bad).unwrap_err();
            assert!(matches!(error, OciError::NotAComponent { .. }), "{error:?}");
        }
    }
}
