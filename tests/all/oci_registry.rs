//! Components from an OCI registry, through the library, against a real
//! registry on loopback (Debian's docker-registry, test-support/registry):
//! push and pull in the wasm OCI artifact layout; a manifest's
//! `oci://…@sha256:…` component pulled once into the module cache, served,
//! and loaded again from the cache with the registry gone; a reload
//! pulling a new pinned digest; a tampered blob, a wrong digest and a
//! missing one refused with typed errors, the old version serving on; basic
//! auth refused without credentials and taken with them.

use std::path::{Path, PathBuf};

use provisioning_host::oci::{
    self, CONFIG_MEDIA_TYPE, LAYER_MEDIA_TYPE, OciError, OciReference, RegistryCredentials,
};
use provisioning_host::{
    CallOptions, Host, HostOptions, LoadErrorKind, Manifest, Request, file_sha256,
};
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_test_registry::Registry;
use provisioning_test_support::TEST_DEADLINE;
use provisioning_test_support::manifest::{Module, TestManifest};

use crate::reload::rebuilt;

/// A fresh directory for one test (a manifest and a module cache).
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("provisioning-oci-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    /// A host whose module cache is `cache` in this directory.
    fn host(&self, manifest: &Manifest, cache: &str) -> Host {
        Host::from_manifest(
            manifest,
            HostOptions {
                module_cache: Some(self.0.join(cache)),
                ..provisioning_test_support::host_options()
            },
        )
        .unwrap()
    }

    /// The manifest of one HostMeNow module named by `component` (its key
    /// in a file beside it).
    fn manifest(&self, sandbox: &Sandbox, component: &str) -> Manifest {
        std::fs::write(self.path("hostmenow.key"), hostmenow::API_KEY).unwrap();
        let path = TestManifest::new()
            .module(
                "hostmenow",
                Module::new(component)
                    .allow(&sandbox.origin())
                    .deadline(TEST_DEADLINE)
                    .setting("endpoint", &sandbox.hostmenow().endpoint())
                    .secret_file("api-key", "hostmenow.key"),
            )
            .write(self.0.join("provisioning.toml"));
        Manifest::from_file(&path).unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn reference(registry: &Registry, repository: &str) -> OciReference {
    OciReference::parse(&format!("oci://{}/{repository}", registry.address())).unwrap()
}

/// `sha256:HEX` of `bytes`.
fn digest_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(bytes);
    format!(
        "sha256:{}",
        hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Test-connection on the manifest's module: whether it answered, and the
/// digest of the version that did.
async fn connect(host: &Host) -> (bool, Option<String>) {
    let answer = host
        .execute(
            "hostmenow",
            &Request::TestConnection,
            &CallOptions::default(),
        )
        .await;
    (answer.result.is_ok(), answer.module_digest)
}

fn hostmenow_bytes() -> Vec<u8> {
    std::fs::read(provisioning_components::HOSTMENOW).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn push_then_pull_by_digest_gives_the_same_bytes_in_the_wasm_artifact_layout() {
    let registry = Registry::start();
    let component = hostmenow_bytes();
    let tagged = reference(&registry, "provisioning/hostmenow:1.0.0");
    let digest = oci::push(&tagged, component.clone(), None).await.unwrap();

    let pulled = oci::pull(&tagged.with_digest(&digest), None).await.unwrap();
    assert_eq!(pulled.manifest_digest, digest);
    assert_eq!(pulled.component_digest, digest_of(&component));
    assert!(
        pulled.component == component,
        "the bytes pulled are the bytes pushed"
    );
    // By tag too: the tag names the same manifest.
    assert_eq!(
        oci::pull(&tagged, None).await.unwrap().manifest_digest,
        digest
    );

    // The layout, read from the registry's own storage: an OCI image
    // manifest, the wasm config, one application/wasm layer.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(registry.blob_file(&digest)).unwrap()).unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(manifest["config"]["mediaType"], CONFIG_MEDIA_TYPE);
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    assert_eq!(manifest["layers"][0]["mediaType"], LAYER_MEDIA_TYPE);
    assert_eq!(manifest["layers"][0]["digest"], pulled.component_digest);
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(registry.blob_file(config_digest)).unwrap()).unwrap();
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert_eq!(
        config["layerDigests"],
        serde_json::json!([pulled.component_digest])
    );
    let listed = |what: &str| -> Vec<String> {
        serde_json::from_value(config["component"][what].clone()).unwrap()
    };
    assert!(
        listed("imports")
            .iter()
            .any(|name| name.starts_with("wasi:http/outgoing-handler@")),
        "{config}"
    );
    assert!(
        listed("exports")
            .iter()
            .any(|name| name.starts_with("billing:provisioning/")),
        "{config}"
    );
    assert!(
        config["created"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{config}"
    );
}

/// wkg pushes and pulls through oci-wasm, a thin layer over oci-client:
/// its push is `Client::push` of one `application/wasm` layer and the
/// wasm config, with the manifest `OciImageManifest::build` makes (its
/// media type set); its pull is `Client::pull` accepting
/// `application/wasm`, then one layer and the config's media type checked.
/// Both are done here the same way against what this host pushes and
/// pulls.
#[tokio::test(flavor = "multi_thread")]
async fn components_pushed_and_pulled_as_wkg_does_cross_over() {
    use oci_client::client::{Config, ImageLayer};
    use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciImageManifest};
    use oci_client::secrets::RegistryAuth;
    use oci_client::{Client, Reference};

    let registry = Registry::start();
    let component = hostmenow_bytes();

    // Pushed here, pulled as wkg pulls.
    let ours = reference(&registry, "ours/hostmenow:1");
    oci::push(&ours, component.clone(), None).await.unwrap();
    // Made after the host's push, which installed the process's crypto
    // provider (ring) that oci-client's reqwest takes.
    let client = Client::new(oci_client::client::ClientConfig {
        protocol: oci_client::client::ClientProtocol::Http,
        ..Default::default()
    });
    let image = Reference::with_tag(registry.address(), "ours/hostmenow".into(), "1".into());
    let pulled = client
        .pull(&image, &RegistryAuth::Anonymous, vec![LAYER_MEDIA_TYPE])
        .await
        .unwrap();
    assert_eq!(pulled.layers.len(), 1);
    assert!(pulled.layers[0].data.as_ref() == component.as_slice());
    assert_eq!(pulled.config.media_type, CONFIG_MEDIA_TYPE);
    let (manifest, _) = client
        .pull_image_manifest(&image, &RegistryAuth::Anonymous)
        .await
        .unwrap();
    assert_eq!(manifest.media_type.as_deref(), Some(OCI_IMAGE_MEDIA_TYPE));

    // Pushed as wkg pushes, pulled here.
    let config = Config {
        data: serde_json::to_vec(&serde_json::json!({
            "created": "2026-01-01T00:00:00Z",
            "author": null,
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [digest_of(&component)],
            "component": { "exports": [], "imports": [], "target": null },
        }))
        .unwrap()
        .into(),
        media_type: CONFIG_MEDIA_TYPE.into(),
        annotations: None,
    };
    let layers = [ImageLayer {
        data: component.clone().into(),
        media_type: LAYER_MEDIA_TYPE.into(),
        annotations: None,
    }];
    let mut manifest = OciImageManifest::build(&layers, &config, None);
    manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.into());
    let theirs = Reference::with_tag(registry.address(), "theirs/hostmenow".into(), "1".into());
    client
        .push(
            &theirs,
            &layers,
            config,
            &RegistryAuth::Anonymous,
            Some(manifest),
        )
        .await
        .unwrap();
    let digest = client
        .fetch_manifest_digest(&theirs, &RegistryAuth::Anonymous)
        .await
        .unwrap();
    let pinned = reference(&registry, "theirs/hostmenow:1").with_digest(&digest);
    let pulled = oci::pull(&pinned, None).await.unwrap();
    assert_eq!(pulled.manifest_digest, digest);
    assert!(pulled.component == component);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pinned_component_is_pulled_once_served_and_loaded_again_with_the_registry_gone() {
    let sandbox = Sandbox::start().await.unwrap();
    let mut registry = Registry::start();
    let dir = Dir::new("offline");
    let component = hostmenow_bytes();
    let digest = oci::push(
        &reference(&registry, "team/hostmenow:1"),
        component.clone(),
        None,
    )
    .await
    .unwrap();
    let pinned = format!("oci://{}/team/hostmenow:1@{digest}", registry.address());
    let manifest = dir.manifest(&sandbox, &pinned);
    assert_eq!(
        manifest.referenced_files(),
        [dir.path("hostmenow.key")],
        "a pinned component is no file to watch"
    );

    let host = dir.host(&manifest, "modules");
    host.load_manifest(&manifest).await.unwrap();
    let served = connect(&host).await;
    assert_eq!(
        served,
        (
            true,
            Some(file_sha256(provisioning_components::HOSTMENOW.as_ref()).unwrap())
        )
    );
    // Content-addressed: the manifest and the layer, each under its digest.
    for blob in [&digest, &digest_of(&component)] {
        assert!(
            cached(&dir.path("modules"), blob).is_file(),
            "{blob} cached"
        );
    }

    // The registry gone, a new host (a restart) loads it from the cache.
    registry.stop();
    drop(host);
    let restarted = dir.host(&manifest, "modules");
    restarted.load_manifest(&manifest).await.unwrap();
    assert_eq!(connect(&restarted).await, served);

    // A host with an empty cache cannot: the registry is what it lacks.
    let cold = dir.host(&manifest, "another-cache");
    let failures = cold.load_manifest_lenient(&manifest).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    let unreachable = format!("registry {}: ", registry.address());
    assert!(
        failures[0].message.contains(&unreachable),
        "{}",
        failures[0].message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_pulls_a_new_pinned_digest_and_refuses_a_bad_one_keeping_the_old() {
    let sandbox = Sandbox::start().await.unwrap();
    let registry = Registry::start();
    let dir = Dir::new("reload");
    let repository = reference(&registry, "team/hostmenow:latest");
    let (v1, v2) = (rebuilt("oci-v1"), rebuilt("oci-v2"));
    let first = oci::push(&repository, v1.clone(), None).await.unwrap();
    let second = oci::push(&repository, v2.clone(), None).await.unwrap();
    let pin = |digest: &str| repository.with_digest(digest).to_string();
    let host = dir.host(&dir.manifest(&sandbox, &pin(&first)), "modules");
    host.load_manifest(&dir.manifest(&sandbox, &pin(&first)))
        .await
        .unwrap();
    let v1_digest = digest_of(&v1)["sha256:".len()..].to_string();
    assert_eq!(connect(&host).await, (true, Some(v1_digest)));

    let report = host
        .apply_manifest(&dir.manifest(&sandbox, &pin(&second)))
        .await;
    assert_eq!(report.swapped.len(), 1, "{report:?}");
    assert_eq!(report.swapped[0].changes, ["manifest entry changed"]);
    let v2_digest = digest_of(&v2)["sha256:".len()..].to_string();
    assert_eq!(report.swapped[0].new_digest, v2_digest);
    assert_eq!(connect(&host).await, (true, Some(v2_digest.clone())));

    // A digest the registry does not have: refused, v2 serves on.
    let missing = digest_of(b"no such manifest");
    let report = host
        .apply_manifest(&dir.manifest(&sandbox, &pin(&missing)))
        .await;
    assert!(report.swapped.is_empty(), "{report:?}");
    assert_eq!(report.refused.len(), 1, "{report:?}");
    let refused = &report.refused[0];
    assert_eq!(refused.serving_digest, v2_digest);
    assert_eq!(refused.error.kind, LoadErrorKind::LoadFailed);
    assert!(
        refused.error.message.contains("has no"),
        "{}",
        refused.error.message
    );
    assert_eq!(connect(&host).await, (true, Some(v2_digest)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_blob_is_refused_at_pull_and_at_load_and_never_cached() {
    let sandbox = Sandbox::start().await.unwrap();
    let registry = Registry::start();
    let dir = Dir::new("tampered");
    let component = hostmenow_bytes();
    let repository = reference(&registry, "team/hostmenow");
    let digest = oci::push(&repository, component.clone(), None)
        .await
        .unwrap();
    let layer = digest_of(&component);
    // The layer's bytes changed in the registry's storage: another build.
    std::fs::write(registry.blob_file(&layer), rebuilt("tampered")).unwrap();

    let error = oci::pull(&repository.with_digest(&digest), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, OciError::LayerDigestMismatch { expected, .. } if *expected == layer),
        "{error:?}"
    );

    let manifest = dir.manifest(&sandbox, &repository.with_digest(&digest).to_string());
    let host = dir.host(&manifest, "modules");
    let failures = host.load_manifest_lenient(&manifest).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].kind, LoadErrorKind::LoadFailed);
    assert!(
        failures[0].message.contains(&error.to_string()),
        "{}",
        failures[0].message
    );
    assert!(host.module("hostmenow").is_none());
    let cache = dir.path("modules");
    assert!(
        !cached(&cache, &layer).exists() && !cached(&cache, &digest).exists(),
        "nothing refused is cached"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_whose_digest_is_not_the_pinned_one_is_refused() {
    let registry = Registry::start();
    let repository = reference(&registry, "team/hostmenow");
    let pinned = oci::push(&repository, rebuilt("pinned"), None)
        .await
        .unwrap();
    let other = oci::push(&repository, rebuilt("other"), None)
        .await
        .unwrap();
    // The registry answers the pinned digest with another manifest.
    std::fs::copy(registry.blob_file(&other), registry.blob_file(&pinned)).unwrap();

    let error = oci::pull(&repository.with_digest(&pinned), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, OciError::ManifestDigestMismatch { expected, actual, .. }
            if *expected == pinned && *actual == other),
        "{error:?}"
    );
    // A digest it does not have at all.
    let missing = digest_of(b"nothing");
    let error = oci::pull(&repository.with_digest(&missing), None)
        .await
        .unwrap_err();
    assert!(matches!(error, OciError::NotFound { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_alone_in_a_manifest_is_refused_when_it_is_read() {
    let dir = Dir::new("tag-alone");
    let path = TestManifest::new()
        .module(
            "hostmenow",
            Module::new("oci://registry.example/team/hostmenow:1.0"),
        )
        .write(dir.path("provisioning.toml"));
    let error = Manifest::from_file(&path).unwrap_err();
    let oci_error = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<OciError>());
    assert!(
        matches!(oci_error, Some(OciError::DigestNotPinned { .. })),
        "{error:#}"
    );
    assert!(format!("{error:#}").contains("pin a digest"), "{error:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_refuses_without_credentials_and_takes_them() {
    let registry = Registry::start_with_basic_auth();
    let (user, password) = registry.credentials().unwrap();
    let repository = reference(&registry, "private/hostmenow:1");
    let component = hostmenow_bytes();

    let error = oci::push(&repository, component.clone(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, OciError::Unauthorized { .. }), "{error:?}");
    let wrong = RegistryCredentials::new(user, "not-the-password");
    let error = oci::push(&repository, component.clone(), Some(&wrong))
        .await
        .unwrap_err();
    assert!(matches!(error, OciError::Unauthorized { .. }), "{error:?}");

    let credentials = RegistryCredentials::new(user, password);
    let digest = oci::push(&repository, component.clone(), Some(&credentials))
        .await
        .unwrap();
    let pinned = repository.with_digest(&digest);
    let error = oci::pull(&pinned, None).await.unwrap_err();
    assert!(matches!(error, OciError::Unauthorized { .. }), "{error:?}");
    let shown = format!("{error} {error:?} {credentials:?}");
    assert!(!shown.contains(password), "{shown}");
    let pulled = oci::pull(&pinned, Some(&credentials)).await.unwrap();
    assert!(pulled.component == component);
}

/// The module cache's copy of `digest` under `cache`.
fn cached(cache: &Path, digest: &str) -> PathBuf {
    cache.join("blobs/sha256").join(&digest["sha256:".len()..])
}
