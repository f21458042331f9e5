//! Signatures of components in a registry, in the format cosign writes for
//! an OCI artifact signed with a key, so that an operator signs with
//! `cosign sign --key` or `provisioning module sign` and verifies with
//! either.
//!
//! Cosign keeps the signatures of the manifest `sha256:HEX` in the same
//! repository, under the tag `sha256-HEX.sig`: an OCI image manifest with
//! one layer per signature, each layer a "simple signing" payload (media
//! type [`SIMPLE_SIGNING_MEDIA_TYPE`]: JSON naming the signed manifest's
//! digest) whose ECDSA P-256 / SHA-256 signature, base64, is the layer's
//! annotation [`SIGNATURE_ANNOTATION`]. A signature holds for a component
//! when it verifies with the operator's public key *and* its payload names
//! the pinned digest: a signature copied onto another artifact, one by
//! another key, and an unsigned artifact are refused alike.
//!
//! The keys are what cosign and openssl write: the public key as a PEM
//! `PUBLIC KEY` (cosign's `cosign.pub`), the private key as a PEM PKCS#8
//! `PRIVATE KEY` (`openssl genpkey -algorithm EC -pkeyopt
//! ec_paramgen_curve:P-256`; `cosign import-key-pair` turns the same key
//! into cosign's own encrypted format). The cryptography is ring's, the
//! library the host's TLS already links.
//!
//! Verified signatures are kept in the module cache beside the component,
//! so a host whose registry is gone checks them again at its next start.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, UnparsedPublicKey,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};

use super::{OciError, OciReference, RegistryCredentials};

/// The media type of a signature's payload layer (cosign's).
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the payload's signature, base64 (cosign's).
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The payload's `critical.type` (cosign's).
const SIGNATURE_TYPE: &str = "cosign container image signature";
/// The config of a signature manifest: an empty OCI image config, as cosign
/// writes it.
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// The DER prefix of a P-256 public key's SubjectPublicKeyInfo (the
/// id-ecPublicKey and prime256v1 object identifiers, then the bit string's
/// header): what follows is the uncompressed point ring verifies with.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Why a component's signature does not hold, or could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The key is not a P-256 key in the expected PEM form.
    #[error("signing key {source_name}: {reason}")]
    InvalidKey {
        /// Where the key came from (a file's path).
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No signature is kept for the component.
    #[error(
        "{reference} is not signed: the registry has no {tag}, and the module's policy requires a signature by {key}"
    )]
    Unsigned {
        /// The component.
        reference: String,
        /// The tag cosign keeps its signatures under.
        tag: String,
        /// The key the policy names.
        key: String,
    },
    /// Signatures exist, but none verifies with the key for this digest.
    #[error("{reference} has {count} signature(s), none by {key} for {digest}: {reasons}")]
    NotVerified {
        /// The component.
        reference: String,
        /// Its pinned digest.
        digest: String,
        /// The key the policy names.
        key: String,
        /// How many signatures were found.
        count: usize,
        /// Why each failed.
        reasons: String,
    },
    /// The registry or the cache failed.
    #[error(transparent)]
    Oci(#[from] OciError),
}

/// The public key a module's signatures must verify with.
#[derive(Clone)]
pub struct PublicKey {
    point: Vec<u8>,
    source_name: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("source", &self.source_name)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// A key from PEM text (`-----BEGIN PUBLIC KEY-----`, as in cosign's
    /// `cosign.pub`); `source_name` names it in messages.
    pub fn from_pem(pem: &[u8], source_name: &str) -> Result<PublicKey, SignatureError> {
        let invalid = |reason: &str| SignatureError::InvalidKey {
            source_name: source_name.to_string(),
            reason: reason.to_string(),
        };
        let spki = SubjectPublicKeyInfoDer::from_pem_slice(pem)
            .map_err(|_| invalid("not a PEM PUBLIC KEY"))?;
        let point = spki
            .strip_prefix(&P256_SPKI_PREFIX[..])
            .filter(|point| point.len() == 65 && point[0] == 0x04)
            .ok_or_else(|| invalid("not an ECDSA P-256 public key (the kind cosign makes)"))?;
        Ok(PublicKey {
            point: point.to_vec(),
            source_name: source_name.to_string(),
        })
    }

    /// A key from a PEM file.
    pub fn read(path: &Path) -> Result<PublicKey, SignatureError> {
        let pem = std::fs::read(path).map_err(|error| SignatureError::InvalidKey {
            source_name: path.display().to_string(),
            reason: error.to_string(),
        })?;
        PublicKey::from_pem(&pem, &path.display().to_string())
    }

    /// Whether `signature` (ASN.1 DER, as cosign and openssl write it) is
    /// this key's over `payload`.
    fn verifies(&self, payload: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.point)
            .verify(payload, signature)
            .is_ok()
    }
}

/// A private key that signs components.
pub struct SigningKey {
    pair: EcdsaKeyPair,
}

impl SigningKey {
    /// A key from a PEM PKCS#8 file (`-----BEGIN PRIVATE KEY-----`, e.g.
    /// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`).
    pub fn read(path: &Path) -> Result<SigningKey, SignatureError> {
        let invalid = |reason: String| SignatureError::InvalidKey {
            source_name: path.display().to_string(),
            reason,
        };
        let der = PrivatePkcs8KeyDer::from_pem_file(path).map_err(|error| {
            invalid(format!(
                "not a PEM PKCS#8 PRIVATE KEY ({error}); an encrypted cosign.key must be exported first"
            ))
        })?;
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            der.secret_pkcs8_der(),
            &SystemRandom::new(),
        )
        .map_err(|error| invalid(format!("not an ECDSA P-256 key ({error})")))?;
        Ok(SigningKey { pair })
    }

    fn sign(&self, payload: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&SystemRandom::new(), payload)
            .expect("signing with a valid key and the system's randomness")
            .as_ref()
            .to_vec()
    }
}

/// One signature as cosign stores it: the payload and its signature.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Signature {
    /// The simple-signing payload, the bytes signed.
    #[serde(with = "base64_bytes")]
    pub payload: Vec<u8>,
    /// The signature, base64 (the layer's annotation).
    pub signature: String,
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;

    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'d, D: serde::Deserializer<'d>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        BASE64.decode(text).map_err(serde::de::Error::custom)
    }
}

/// The payload cosign signs for `reference` at `digest`.
pub fn payload(reference: &OciReference, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": { "docker-reference": format!("{}/{}", reference.registry, reference.repository) },
            "image": { "docker-manifest-digest": digest },
            "type": SIGNATURE_TYPE,
        },
        "optional": null,
    }))
    .expect("a JSON value serializes")
}

/// Checks one signature: it verifies with `key`, and its payload is a
/// cosign image signature naming `digest`. `Err` says why not.
pub fn check(key: &PublicKey, signature: &Signature, digest: &str) -> Result<(), String> {
    let raw = BASE64
        .decode(signature.signature.trim())
        .map_err(|_| "its signature is not base64".to_string())?;
    if !key.verifies(&signature.payload, &raw) {
        return Err(format!(
            "it does not verify with {} (another key's, or its payload changed)",
            key.source_name
        ));
    }
    let payload: serde_json::Value = serde_json::from_slice(&signature.payload)
        .map_err(|_| "its payload is not JSON".to_string())?;
    if payload["critical"]["type"] != SIGNATURE_TYPE {
        return Err(format!("its payload is not a {SIGNATURE_TYPE}"));
    }
    match payload["critical"]["image"]["docker-manifest-digest"].as_str() {
        Some(signed) if signed == digest => Ok(()),
        Some(signed) => Err(format!("it signs {signed}, another artifact")),
        None => Err("its payload names no digest".to_string()),
    }
}

/// The tag cosign keeps the signatures of `digest` under.
fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// `reference` pointed at the signature tag of its digest.
fn signature_reference(reference: &OciReference, digest: &str) -> OciReference {
    OciReference {
        tag: Some(signature_tag(digest)),
        digest: None,
        ..reference.clone()
    }
}

/// The signatures the registry keeps for `reference` (pinned): empty when
/// there are none.
pub async fn fetch(
    reference: &OciReference,
    credentials: Option<&RegistryCredentials>,
) -> Result<Vec<Signature>, OciError> {
    let digest = pinned(reference)?;
    let at = signature_reference(reference, digest);
    let (auth, offered) = super::offered_credentials(&reference.registry, credentials)?;
    let client = super::client(&reference.registry);
    let image = at.client_reference();
    let manifest = match client
        .pull_manifest_raw(&image, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
    {
        Ok((bytes, _)) => bytes,
        Err(error) => {
            return match super::registry_error(&at, &offered, error) {
                OciError::NotFound { .. } => Ok(Vec::new()),
                other => Err(other),
            };
        }
    };
    let manifest: OciImageManifest =
        serde_json::from_slice(&manifest).map_err(|error| OciError::NotAComponent {
            reference: at.to_string(),
            reason: format!("the signature manifest is not an OCI image manifest: {error}"),
        })?;
    let mut signatures = Vec::new();
    for layer in manifest
        .layers
        .iter()
        .filter(|layer| layer.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
    {
        let Some(signature) = layer
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(SIGNATURE_ANNOTATION))
        else {
            continue;
        };
        let mut payload = Vec::new();
        client
            .pull_blob(&image, layer, &mut payload)
            .await
            .map_err(|error| super::registry_error(&at, &offered, error))?;
        if format!("sha256:{}", crate::hex::sha256(&payload)) != layer.digest {
            continue; // a payload that is not its layer's counts for nothing
        }
        signatures.push(Signature {
            payload,
            signature: signature.clone(),
        });
    }
    Ok(signatures)
}

fn pinned(reference: &OciReference) -> Result<&str, OciError> {
    reference.digest().ok_or_else(|| OciError::DigestNotPinned {
        reference: reference.to_string(),
    })
}

/// Checks that one of `signatures` holds for `reference` (pinned) with
/// `key`.
pub fn verify(
    reference: &OciReference,
    key: &PublicKey,
    signatures: &[Signature],
) -> Result<(), SignatureError> {
    let digest = pinned(reference)?;
    if signatures.is_empty() {
        return Err(SignatureError::Unsigned {
            reference: reference.to_string(),
            tag: signature_tag(digest),
            key: key.source_name.clone(),
        });
    }
    let mut reasons = Vec::new();
    for signature in signatures {
        match check(key, signature, digest) {
            Ok(()) => return Ok(()),
            Err(reason) => reasons.push(reason),
        }
    }
    Err(SignatureError::NotVerified {
        reference: reference.to_string(),
        digest: digest.to_string(),
        key: key.source_name.clone(),
        count: signatures.len(),
        reasons: reasons.join("; "),
    })
}

/// Signs `reference` (pinned) with `key` and pushes the signature where
/// cosign keeps it, beside the signatures already there. Returns the
/// signature tag's reference.
pub async fn sign(
    reference: &OciReference,
    key: &SigningKey,
    credentials: Option<&RegistryCredentials>,
) -> Result<OciReference, SignatureError> {
    let digest = pinned(reference)?;
    let payload = payload(reference, digest);
    let signature = BASE64.encode(key.sign(&payload));
    let at = signature_reference(reference, digest);
    let (auth, offered) = super::offered_credentials(&reference.registry, credentials)?;
    let failed = |error| super::registry_error(&at, &offered, error);
    let client = super::client(&reference.registry);
    let image = at.client_reference();
    client
        .auth(&image, &auth, oci_client::RegistryOperation::Push)
        .await
        .map_err(failed)?;
    // The signatures already there stay: cosign adds a layer per signer.
    let mut layers: Vec<OciDescriptor> = match client
        .pull_manifest_raw(&image, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
    {
        Ok((bytes, _)) => serde_json::from_slice::<OciImageManifest>(&bytes)
            .map(|manifest| manifest.layers)
            .unwrap_or_default(),
        Err(error) => match failed(error) {
            OciError::NotFound { .. } => Vec::new(),
            other => return Err(other.into()),
        },
    };
    let payload_digest = format!("sha256:{}", crate::hex::sha256(&payload));
    layers.push(OciDescriptor {
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
        digest: payload_digest,
        size: payload.len() as i64,
        annotations: Some([(SIGNATURE_ANNOTATION.to_string(), signature)].into()),
        ..OciDescriptor::default()
    });
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "os": "",
        "config": {},
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|layer| layer.digest.clone()).collect::<Vec<_>>(),
        },
    }))
    .expect("a JSON value serializes");
    let manifest = super::image_manifest(
        CONFIG_MEDIA_TYPE,
        &config,
        serde_json::to_value(&layers).expect("descriptors serialize"),
    );
    super::push_artifact(&client, &image, [payload, config], manifest)
        .await
        .map_err(failed)?;
    Ok(at)
}

/// Where the verified signatures of a manifest digest are kept in the
/// module cache.
fn cached_path(cache: &Path, digest: &str) -> PathBuf {
    cache
        .join("signatures")
        .join(format!("{}.json", super::hex_of(digest)))
}

/// Checks `reference` (pinned) against `key` before its component loads:
/// with the signatures kept in the module cache when one of them holds,
/// else with the registry's (kept in the cache once one holds). A host
/// whose registry is gone thus loads a component it verified before, and
/// refuses one it never did.
pub(crate) async fn verified(
    cache: &Path,
    reference: &OciReference,
    key: &PublicKey,
) -> Result<(), SignatureError> {
    let digest = pinned(reference)?;
    let path = cached_path(cache, digest);
    if let Some(kept) = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Vec<Signature>>(&bytes).ok())
        && verify(reference, key, &kept).is_ok()
    {
        return Ok(());
    }
    let signatures = fetch(reference, None).await?;
    verify(reference, key, &signatures)?;
    let bytes = serde_json::to_vec(&signatures).expect("signatures serialize");
    super::write_file(&path, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signature cosign made, published with the sigstore-rs sources
    /// (src/cosign/signature_layers.rs,
    /// `build_correct_signature_layer_without_bundle`): its key, payload
    /// and signature, which `openssl dgst -sha256 -verify` accepts too.
    const COSIGN_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENptdY/l3nB0yqkXLBWkZWQwo6+cu
OSWS1X9vPavpiQOoTTGC0xX57OojUadxF1cdQmrsiReWg2Wn4FneJfa8xw==
-----END PUBLIC KEY-----
";
    const COSIGN_DIGEST: &str =
        "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";
    const COSIGN_PAYLOAD: &str = r#"{"critical":{"identity":{"docker-reference":"registry-testing.svc.lan/busybox"},"image":{"docker-manifest-digest":"sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b"},"type":"cosign container image signature"},"optional":null}"#;
    const COSIGN_SIGNATURE: &str = "MEUCIQD6q/COgzOyW0YH1Dk+CCYSt4uAhm3FDHUwvPI55zwnlwIgE0ZK58ZOWpZw8YVmBapJhBqCfdPekIknimuO0xH8Jh8=";

    fn cosign_signature() -> Signature {
        Signature {
            payload: COSIGN_PAYLOAD.as_bytes().to_vec(),
            signature: COSIGN_SIGNATURE.to_string(),
        }
    }

    #[test]
    fn a_signature_cosign_made_verifies() {
        let key = PublicKey::from_pem(COSIGN_PUBLIC_KEY.as_bytes(), "cosign.pub").unwrap();
        assert_eq!(check(&key, &cosign_signature(), COSIGN_DIGEST), Ok(()));
    }

    #[test]
    fn the_cosign_signature_holds_for_no_other_digest_payload_or_key() {
        let key = PublicKey::from_pem(COSIGN_PUBLIC_KEY.as_bytes(), "cosign.pub").unwrap();
        let other_digest = format!("sha256:{}", "0".repeat(64));
        let error = check(&key, &cosign_signature(), &other_digest).unwrap_err();
        assert!(error.contains("another artifact"), "{error}");

        let mut changed = cosign_signature();
        changed.payload = COSIGN_PAYLOAD.replace("busybox", "busyb0x").into_bytes();
        let error = check(&key, &changed, COSIGN_DIGEST).unwrap_err();
        assert!(error.contains("does not verify"), "{error}");

        // Another P-256 key (the public half of a key sigstore-rs's tests
        // sign with).
        let other = PublicKey::from_pem(
            b"-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAELKhD7F5OKy77Z582Y6h0u1J3GNA+
kvUsh4eKpd1lwkDAzfFDs7yXEExsEkPPuiQJBelDT68n7PDIWB/QEY7mrA==
-----END PUBLIC KEY-----
",
            "other.pub",
        )
        .unwrap();
        let error = check(&other, &cosign_signature(), COSIGN_DIGEST).unwrap_err();
        assert!(error.contains("other.pub"), "{error}");
    }

    #[test]
    fn a_key_that_is_not_p256_pem_is_refused_saying_why() {
        let error = PublicKey::from_pem(b"not a key", "k.pub").unwrap_err();
        assert!(error.to_string().contains("PEM PUBLIC KEY"), "{error}");
        // An Ed25519 public key: PEM, but not the kind cosign makes here.
        let ed25519 = b"-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----
";
        let error = PublicKey::from_pem(ed25519, "k.pub").unwrap_err();
        assert!(error.to_string().contains("P-256"), "{error}");
    }

    #[test]
    fn the_payload_is_cosigns_and_the_tag_is_where_cosign_looks() {
        let reference = OciReference::parse_pinned(&format!(
            "oci://registry-testing.svc.lan/busybox@{COSIGN_DIGEST}"
        ))
        .unwrap();
        assert_eq!(
            String::from_utf8(payload(&reference, COSIGN_DIGEST)).unwrap(),
            COSIGN_PAYLOAD
        );
        assert_eq!(
            signature_tag(COSIGN_DIGEST),
            "sha256-f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b.sig"
        );
    }
}
