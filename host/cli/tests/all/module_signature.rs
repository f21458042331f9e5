//! Signatures of components in a registry (test-support/registry, a real
//! registry on loopback), in cosign's format: `provisioning module sign`
//! and `verify`; a signature made by openssl (an independent signer, as
//! cosign's own "sign with OpenSSL, verify with cosign" example does) and
//! written in cosign's layout by this test, not by the host's code; a
//! signature copied onto another artifact; and a manifest's
//! `signature = { public_key = … }` policy at load (`call`), offline from
//! the module cache, and at reload (`serve`), where a refused version
//! leaves the old one serving and the log and the reload metric say why.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use provisioning_host::oci::{self, OciReference};
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_test_registry::Registry;
use provisioning_test_support::manifest::{Module, TestManifest};

use crate::common::tls::ensure_openssl;
use crate::common::{Serve, fresh_dir, provisioning, text};
use crate::module_registry::sha256_hex;
use crate::serve::rebuilt;

/// The media type of an OCI image manifest.
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A P-256 key pair made by openssl: the PKCS#8 private key and the
/// public key, as PEM files in `dir`.
fn key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (private, public) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pub")),
    );
    run_openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        private.to_str().unwrap(),
    ]);
    run_openssl(&[
        "pkey",
        "-in",
        private.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    (private, public)
}

fn run_openssl(args: &[&str]) {
    let output = Command::new("openssl").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        text(&output.stderr)
    );
}

fn module(args: &[&str]) -> Output {
    let mut all = vec!["module"];
    all.extend(args);
    provisioning(&all, &[])
}

/// Pushes `bytes` to the registry by its HTTP API (a monolithic upload)
/// and returns its digest.
fn upload_blob(registry: &Registry, repository: &str, bytes: &[u8]) -> String {
    let digest = format!("sha256:{}", sha256_hex(bytes));
    let started = ureq::post(&format!(
        "http://{}/v2/{repository}/blobs/uploads/",
        registry.address()
    ))
    .call()
    .unwrap();
    let location = started.header("location").unwrap().to_string();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("http://{}{location}", registry.address())
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    ureq::put(&format!("{location}{separator}digest={digest}"))
        .set("content-type", "application/octet-stream")
        .send_bytes(bytes)
        .unwrap();
    digest
}

fn put_manifest(registry: &Registry, repository: &str, tag: &str, manifest: &[u8]) {
    ureq::put(&format!(
        "http://{}/v2/{repository}/manifests/{tag}",
        registry.address()
    ))
    .set("content-type", OCI_MANIFEST)
    .send_bytes(manifest)
    .unwrap();
}

fn get_manifest(registry: &Registry, repository: &str, tag: &str) -> Vec<u8> {
    let response = ureq::get(&format!(
        "http://{}/v2/{repository}/manifests/{tag}",
        registry.address()
    ))
    .set("accept", OCI_MANIFEST)
    .call()
    .unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).unwrap();
    bytes
}

/// The tag cosign keeps the signatures of `digest` under.
fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// Signs `digest` of `repository` as cosign's documentation does with
/// openssl (`openssl dgst -sha256 -sign` over cosign's payload), and
/// writes the signature where and how cosign keeps it, through the
/// registry's HTTP API.
fn sign_with_openssl(registry: &Registry, repository: &str, digest: &str, key: &Path, dir: &Path) {
    let payload = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{}/{repository}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#,
        registry.address()
    );
    let (payload_file, signature_file) = (dir.join("payload.json"), dir.join("payload.sig"));
    std::fs::write(&payload_file, &payload).unwrap();
    run_openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        key.to_str().unwrap(),
        "-out",
        signature_file.to_str().unwrap(),
        payload_file.to_str().unwrap(),
    ]);
    let signature =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&signature_file).unwrap());
    let payload_digest = upload_blob(registry, repository, payload.as_bytes());
    let config =
        br#"{"architecture":"","config":{},"os":"","rootfs":{"diff_ids":[],"type":"layers"}}"#;
    let config_digest = upload_blob(registry, repository, config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": payload_digest,
            "size": payload.len(),
            "annotations": { "dev.cosignproject.cosign/signature": signature },
        }],
    });
    put_manifest(
        registry,
        repository,
        &signature_tag(digest),
        manifest.to_string().as_bytes(),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn module_sign_and_verify_speak_cosigns_format_and_refuse_what_does_not_hold() {
    ensure_openssl();
    let registry = Registry::start();
    let dir = fresh_dir("module-signature");
    let repository = "team/hostmenow";
    let at = |tag: &str| {
        OciReference::parse(&format!("oci://{}/{repository}:{tag}", registry.address())).unwrap()
    };
    let component = Path::new(provisioning_components::HOSTMENOW);
    let mut pinned = Vec::new();
    for label in ["ours", "openssls", "copied"] {
        let reference = at(label);
        let digest = oci::push(&reference, rebuilt(component, label), None)
            .await
            .unwrap();
        pinned.push((reference.with_digest(&digest).to_string(), digest));
    }
    let [
        (ours, ours_digest),
        (openssls, openssls_digest),
        (copied, copied_digest),
    ] = <[(String, String); 3]>::try_from(pinned).unwrap();

    tokio::task::spawn_blocking(move || {
        let (key, public) = key_pair(&dir, "acme");
        let (other_key, other_public) = key_pair(&dir, "other");
        let verify = |reference: &str, public: &Path| {
            module(&["verify", "--key", public.to_str().unwrap(), reference])
        };

        let unsigned = verify(&ours, &public);
        assert_eq!(
            unsigned.status.code(),
            Some(1),
            "{}",
            text(&unsigned.stderr)
        );
        assert!(
            text(&unsigned.stdout).contains("is not signed"),
            "{}",
            text(&unsigned.stdout)
        );

        let signed = module(&["sign", "--key", key.to_str().unwrap(), &ours]);
        assert!(signed.status.success(), "{}", text(&signed.stderr));
        assert!(
            text(&signed.stdout).contains(&signature_tag(&ours_digest)),
            "{}",
            text(&signed.stdout)
        );
        let verified = verify(&ours, &public);
        assert_eq!(
            verified.status.code(),
            Some(0),
            "{}",
            text(&verified.stdout)
        );

        let by_another = verify(&ours, &other_public);
        assert_eq!(by_another.status.code(), Some(1));
        assert!(
            text(&by_another.stdout).contains("does not verify with"),
            "{}",
            text(&by_another.stdout)
        );

        // A second signer adds a signature beside the first, as cosign does.
        let second = module(&["sign", "--key", other_key.to_str().unwrap(), &ours]);
        assert!(second.status.success(), "{}", text(&second.stderr));
        for public in [&public, &other_public] {
            assert_eq!(verify(&ours, public).status.code(), Some(0));
        }

        // openssl's signature, in cosign's layout as this test writes it.
        sign_with_openssl(&registry, repository, &openssls_digest, &other_key, &dir);
        let independent = verify(&openssls, &other_public);
        assert_eq!(
            independent.status.code(),
            Some(0),
            "{}",
            text(&independent.stdout)
        );

        // The first artifact's signatures, copied onto another one.
        let theirs = get_manifest(&registry, repository, &signature_tag(&ours_digest));
        put_manifest(
            &registry,
            repository,
            &signature_tag(&copied_digest),
            &theirs,
        );
        let copy = verify(&copied, &public);
        assert_eq!(copy.status.code(), Some(1));
        assert!(
            text(&copy.stdout).contains("another artifact"),
            "{}",
            text(&copy.stdout)
        );

        // A key that is not one is a usage error, said plainly.
        let not_a_key = verify(&ours, &key);
        assert_eq!(not_a_key.status.code(), Some(2));
        assert!(
            text(&not_a_key.stderr).contains("PUBLIC KEY"),
            "{}",
            text(&not_a_key.stderr)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await
    .unwrap();
}

/// A manifest requiring a signature: the signed component loads, again
/// with the registry gone (its signature kept in the module cache); an
/// unsigned one and one signed by another key are refused at load; and a
/// reload to an unsigned version is refused, the signed one serving on.
#[tokio::test(flavor = "multi_thread")]
async fn a_manifests_signature_policy_loads_what_its_key_signed_and_nothing_else() {
    ensure_openssl();
    let sandbox = Sandbox::start().await.unwrap();
    let mut registry = Registry::start();
    let dir = fresh_dir("module-signature-policy");
    let repository =
        OciReference::parse(&format!("oci://{}/team/hostmenow:1", registry.address())).unwrap();
    let component = Path::new(provisioning_components::HOSTMENOW);
    let (signed_bytes, unsigned_bytes) = (
        rebuilt(component, "policy-signed"),
        rebuilt(component, "policy-unsigned"),
    );
    let signed = repository.with_digest(
        &oci::push(&repository, signed_bytes.clone(), None)
            .await
            .unwrap(),
    );
    let unsigned =
        repository.with_digest(&oci::push(&repository, unsigned_bytes, None).await.unwrap());
    let (origin, endpoint) = (sandbox.origin(), sandbox.hostmenow().endpoint());
    let cache = dir.join("modules");

    tokio::task::spawn_blocking(move || {
        let (key, public) = key_pair(&dir, "acme");
        let (_, other_public) = key_pair(&dir, "other");
        let signing = module(&["sign", "--key", key.to_str().unwrap(), &signed.to_string()]);
        assert!(signing.status.success(), "{}", text(&signing.stderr));

        let write = |component: &OciReference, public: &Path| {
            let entry = Module::new(component.to_string())
                .allow(&origin)
                .setting("endpoint", &endpoint)
                .secret_env("api-key", "TEST_HMN_KEY")
                .signed_by(public);
            TestManifest::new()
                .module("hostmenow", entry)
                .write(dir.join("provisioning.toml"))
        };
        let call = |manifest: &Path| {
            provisioning(
                &[
                    "--module-cache",
                    cache.to_str().unwrap(),
                    "call",
                    "--manifest",
                    manifest.to_str().unwrap(),
                    "hostmenow",
                    "test-connection",
                ],
                &[("TEST_HMN_KEY", hostmenow::API_KEY)],
            )
        };

        let refused = call(&write(&unsigned, &public));
        assert!(!refused.status.success());
        assert!(
            text(&refused.stderr).contains("is not signed"),
            "{}",
            text(&refused.stderr)
        );
        let refused = call(&write(&signed, &other_public));
        assert!(!refused.status.success());
        assert!(
            text(&refused.stderr).contains("does not verify with"),
            "{}",
            text(&refused.stderr)
        );
        let manifest = write(&signed, &public);
        let loaded = call(&manifest);
        assert!(loaded.status.success(), "{}", text(&loaded.stderr));

        // The registry gone: the signature kept in the cache is checked.
        registry.stop();
        let offline = call(&manifest);
        assert!(offline.status.success(), "{}", text(&offline.stderr));
        registry.start_again();

        let server = Serve::start(
            &manifest,
            ("TEST_SERVE_TOKEN", "signature-serve-token-0123456789"),
            &[("TEST_HMN_KEY", hostmenow::API_KEY)],
            &[
                "--module-cache",
                cache.to_str().unwrap(),
                "--watch-interval-ms",
                "3600000",
            ],
        );
        let digest = || server.digest("hostmenow");
        assert_eq!(digest(), sha256_hex(&signed_bytes));
        write(&unsigned, &public);
        server.sighup();
        server.wait_until("the refusal", || {
            server.log().contains("new version refused")
        });
        assert!(server.log().contains("is not signed"), "{}", server.log());
        assert_eq!(
            digest(),
            sha256_hex(&signed_bytes),
            "the signed version serves on"
        );
        let scrape = ureq::get(&format!("{}/metrics", server.base))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        assert!(
            scrape.lines().any(|line| line
                .starts_with("provisioning_reloads_total{result=\"refused\"}")
                && !line.ends_with(" 0")),
            "{scrape}"
        );
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await
    .unwrap();
}
