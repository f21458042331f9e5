//! `provisioning module push` and `pull` against a real registry with
//! basic auth (test-support/registry), and a manifest naming its component
//! by registry reference, called with `provisioning call`: credentials from
//! the environment or a docker-style auth file, refused without them, the
//! module loaded from the cache once the registry is gone, and the
//! password in no output; `serve` pulling a new pin on SIGHUP and serving
//! on through a refused one.

use std::process::Output;

use base64::Engine as _;

use provisioning_host::oci::{self, AUTH_FILE_ENV, PASSWORD_ENV, USERNAME_ENV};
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_test_registry::Registry;
use provisioning_test_support::manifest::{Module, TestManifest};

use crate::common::{Serve, fresh_dir, provisioning, text};
use crate::serve::rebuilt;

fn succeeded(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what}: {}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn push_pull_and_call_a_module_from_a_registry_with_basic_auth() {
    let sandbox = Sandbox::start().await.unwrap();
    let mut registry = Registry::start_with_basic_auth();
    let (user, password) = registry
        .credentials()
        .map(|(user, password)| (user.to_string(), password.to_string()))
        .unwrap();
    let dir = fresh_dir("module-registry");
    let reference = format!("oci://{}/team/hostmenow:1.0", registry.address());
    let cache = dir.join("modules");
    let cache = cache.to_str().unwrap().to_string();
    let origin = sandbox.origin();
    let endpoint = sandbox.hostmenow().endpoint();

    tokio::task::spawn_blocking(move || {
        let credentials = [(USERNAME_ENV, user.as_str()), (PASSWORD_ENV, password.as_str())];
        let mut outputs = Vec::new();
        let component = provisioning_components::HOSTMENOW;

        let refused = provisioning(&["module", "push", component, &reference], &[]);
        assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stdout));
        assert!(
            text(&refused.stderr).contains("refused access") && text(&refused.stderr).contains(USERNAME_ENV),
            "{}",
            text(&refused.stderr)
        );
        outputs.push(refused);

        let push = provisioning(&["module", "push", component, &reference], &credentials);
        succeeded("push", &push);
        let digest = text(&push.stdout).lines().next().unwrap().to_string();
        assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
        let pinned = format!("{reference}@{digest}");
        assert!(text(&push.stdout).contains(&pinned), "{}", text(&push.stdout));
        outputs.push(push);

        // Traced to the last line: still no password, nor the header
        // carrying it.
        let pulled = dir.join("pulled.wasm");
        let mut traced = credentials.to_vec();
        traced.push(("RUST_LOG", "trace"));
        let pull = provisioning(
            &["module", "pull", &pinned, "-o", pulled.to_str().unwrap()],
            &traced,
        );
        succeeded("pull", &pull);
        assert!(text(&pull.stderr).contains("DEBUG"), "traced: {}", text(&pull.stderr));
        assert_eq!(text(&pull.stdout).lines().next(), Some(digest.as_str()));
        assert!(std::fs::read(&pulled).unwrap() == std::fs::read(component).unwrap());
        outputs.push(pull);

        // The same credentials from a docker-style config.json.
        let auth_file = dir.join("config.json");
        std::fs::write(
            &auth_file,
            serde_json::json!({ "auths": { registry.address(): { "username": user, "password": password } } })
                .to_string(),
        )
        .unwrap();
        let from_file = provisioning(
            &["--json", "module", "pull", &pinned, "-o", pulled.to_str().unwrap()],
            &[(AUTH_FILE_ENV, auth_file.to_str().unwrap())],
        );
        succeeded("pull with the auth file", &from_file);
        let answer: serde_json::Value = serde_json::from_slice(&from_file.stdout).unwrap();
        assert_eq!(answer["digest"], digest);
        outputs.push(from_file);

        // A manifest naming the pinned component: pulled into the module
        // cache at the first call, from the cache once the registry is gone.
        let manifest = TestManifest::new()
            .module(
                "hostmenow",
                Module::new(&pinned)
                    .allow(&origin)
                    .setting("endpoint", &endpoint)
                    .secret_env("api-key", "TEST_HMN_KEY"),
            )
            .write(dir.join("provisioning.toml"));
        let call = |envs: &[(&str, &str)]| {
            let mut envs = envs.to_vec();
            envs.push(("TEST_HMN_KEY", hostmenow::API_KEY));
            provisioning(
                &[
                    "--module-cache",
                    &cache,
                    "call",
                    "--manifest",
                    manifest.to_str().unwrap(),
                    "hostmenow",
                    "test-connection",
                ],
                &envs,
            )
        };
        let refused = call(&[]);
        assert!(!refused.status.success());
        assert!(text(&refused.stderr).contains("refused access"), "{}", text(&refused.stderr));
        outputs.push(refused);
        let first = call(&credentials);
        succeeded("call", &first);
        outputs.push(first);
        registry.stop();
        let offline = call(&[]);
        succeeded("call with the registry gone", &offline);
        outputs.push(offline);

        let header = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        for output in &outputs {
            for stream in [&output.stdout, &output.stderr] {
                let stream = text(stream);
                assert!(!stream.contains(&password) && !stream.contains(&header), "the password shows: {stream}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await
    .unwrap();
}

#[test]
fn a_manifest_naming_a_tag_alone_is_refused_saying_pin_a_digest() {
    let dir = fresh_dir("module-registry-tag");
    let manifest = TestManifest::new()
        .module(
            "hostmenow",
            Module::new("oci://registry.example/team/hostmenow:1.0"),
        )
        .write(dir.join("provisioning.toml"));
    let output = provisioning(
        &[
            "call",
            "--manifest",
            manifest.to_str().unwrap(),
            "hostmenow",
            "test-connection",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("pin a digest"),
        "{}",
        text(&output.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `serve` on a manifest naming its component by registry reference: a
/// SIGHUP after the pin changed pulls and swaps in the new version; one
/// pinning a digest the registry does not have is refused, logged, and the
/// version in service keeps answering.
#[tokio::test(flavor = "multi_thread")]
async fn serve_pulls_a_new_pin_on_sighup_and_serves_on_through_a_refused_one() {
    let sandbox = Sandbox::start().await.unwrap();
    let registry = Registry::start();
    let repository =
        oci::OciReference::parse(&format!("oci://{}/team/hostmenow:1", registry.address()))
            .unwrap();
    let component = std::path::Path::new(provisioning_components::HOSTMENOW);
    let (v1, v2) = (rebuilt(component, "oci-1"), rebuilt(component, "oci-2"));
    let first = oci::push(&repository, v1.clone(), None).await.unwrap();
    let second = oci::push(&repository, v2.clone(), None).await.unwrap();
    let dir = fresh_dir("module-registry-serve");
    let write_manifest = {
        let (dir, origin, endpoint) = (
            dir.clone(),
            sandbox.origin(),
            sandbox.hostmenow().endpoint(),
        );
        move |digest: &str| {
            TestManifest::new()
                .module(
                    "hostmenow",
                    Module::new(repository.with_digest(digest).to_string())
                        .allow(&origin)
                        .setting("endpoint", &endpoint)
                        .secret_env("api-key", "TEST_HMN_KEY"),
                )
                .write(dir.join("provisioning.toml"))
        }
    };
    let manifest = write_manifest(&first);
    let cache = dir.join("modules");

    tokio::task::spawn_blocking(move || {
        let server = Serve::start(
            &manifest,
            ("TEST_SERVE_TOKEN", "oci-serve-token-0123456789"),
            &[("TEST_HMN_KEY", hostmenow::API_KEY)],
            &[
                "--module-cache",
                cache.to_str().unwrap(),
                "--watch-interval-ms",
                "3600000",
            ],
        );
        let digest = || server.digest("hostmenow");
        assert_eq!(digest(), sha256_hex(&v1));

        write_manifest(&second);
        server.sighup();
        server.wait_until("the new pin swapped in", || digest() == sha256_hex(&v2));

        write_manifest(&format!("sha256:{}", sha256_hex(b"no such manifest")));
        server.sighup();
        server.wait_until("the refusal", || {
            server.log().contains("new version refused")
        });
        assert!(server.log().contains("has no"), "{}", server.log());
        assert_eq!(digest(), sha256_hex(&v2), "the old version keeps serving");
        let (status, body) = server.post(
            "/v1/modules/hostmenow/call",
            &serde_json::json!({ "request": { "function": "test-connection" } }),
        );
        assert_eq!(
            (status, &body["ok"]["kind"]),
            (200, &serde_json::json!("connection")),
            "{body}"
        );
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await
    .unwrap();
}

/// `bytes`' sha256 as hex, as the host names a module's version.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
