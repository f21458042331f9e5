//! Keeping a host in step with its manifest through the library, as a
//! server does on SIGHUP: `Host::apply_manifest` swaps in a module whose
//! component or secret changed, refuses a broken version while the old one
//! keeps serving, unloads a module the manifest dropped, loads a module once
//! it can, and reports each; a manifest that did not change changes nothing.

use std::path::PathBuf;

use provisioning_host::{
    CallOptions, Host, JournalSection, LoadErrorKind, Manifest, ReloadReport, Request,
    SettingSource,
};
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_test_support::manifest::{Module, TestManifest};
use provisioning_test_support::{TEST_DEADLINE, error_kind};

/// The HostMeNow component with a custom section naming `label`: the same
/// code, another file and digest, as a rebuilt module would be.
pub(crate) fn rebuilt(label: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(provisioning_components::HOSTMENOW).unwrap();
    let name = b"reload-test";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(label.as_bytes());
    assert!(section.len() < 128);
    bytes.push(0); // custom section id
    bytes.push(section.len() as u8);
    bytes.extend(section);
    bytes
}

/// A HostMeNow module of the manifest: its component and its api-key file,
/// relative to the manifest's directory.
fn module(sandbox: &Sandbox, name: &str, component: &str, key_file: &str) -> TestManifest {
    TestManifest::new().module(
        name,
        Module::new(component)
            .allow(&sandbox.origin())
            .deadline(TEST_DEADLINE)
            .setting("endpoint", &sandbox.hostmenow().endpoint())
            .secret_file("api-key", key_file),
    )
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("provisioning-reload-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn write(&self, file: &str, contents: impl AsRef<[u8]>) {
        std::fs::write(self.0.join(file), contents).unwrap();
    }

    fn manifest(&self, parts: &[TestManifest]) -> Manifest {
        let manifest = parts
            .iter()
            .cloned()
            .fold(TestManifest::new(), TestManifest::merge);
        Manifest::from_file(&manifest.write(self.0.join("provisioning.toml"))).unwrap()
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Test-connection on `module`: its result and the digest that answered.
async fn connect(host: &Host, module: &str) -> (Result<(), &'static str>, Option<String>) {
    let answer = host
        .execute(module, &Request::TestConnection, &CallOptions::default())
        .await;
    let result = match &answer.result {
        Ok(_) => Ok(()),
        Err(_) => Err(error_kind(&answer.result)),
    };
    (result, answer.module_digest)
}

fn digest(host: &Host, module: &str) -> String {
    host.module(module).unwrap().digest().to_string()
}

fn names<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<&str> {
    items.iter().map(name).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_manifest_swaps_refuses_unloads_and_reports_each() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = Dir::new("apply");
    dir.write("hostmenow.wasm", rebuilt("v1"));
    dir.write("hostmenow.key", format!("{}\n", hostmenow::API_KEY));
    let hostmenow = module(&sandbox, "hostmenow", "hostmenow.wasm", "hostmenow.key");
    let spare = module(
        &sandbox,
        "spare",
        provisioning_components::HOSTMENOW,
        "hostmenow.key",
    );
    let manifest = dir.manifest(&[hostmenow.clone(), spare.clone()]);
    let host = Host::from_manifest(&manifest, provisioning_test_support::host_options()).unwrap();
    assert!(host.journal().is_none(), "the manifest has no journal");
    assert!(host.modules().is_empty(), "from_manifest loads nothing");
    host.load_manifest(&manifest).await.unwrap();
    let first = digest(&host, "hostmenow");
    assert_eq!(
        first,
        provisioning_host::file_sha256(&dir.path("hostmenow.wasm")).unwrap()
    );

    // Nothing changed: nothing is done.
    let report = host.apply_manifest(&manifest).await;
    assert_eq!(report, ReloadReport::default());
    assert_eq!(digest(&host, "hostmenow"), first);

    // A rebuilt component is swapped in and reported with both digests.
    dir.write("hostmenow.wasm", rebuilt("v2"));
    let report = host.apply_manifest(&manifest).await;
    assert_eq!(names(&report.swapped, |s| &s.module), ["hostmenow"]);
    let swapped = &report.swapped[0];
    let second = digest(&host, "hostmenow");
    assert_ne!(second, first);
    assert_eq!(swapped.old_digest.as_deref(), Some(first.as_str()));
    assert_eq!(swapped.new_digest, second);
    assert_eq!(swapped.changes, ["component changed"]);
    assert!(report.refused.is_empty() && report.removed.is_empty() && report.not_ready.is_empty());
    assert_eq!(
        connect(&host, "hostmenow").await,
        (Ok(()), Some(second.clone()))
    );

    // A broken component is refused; the version in service keeps serving.
    dir.write("hostmenow.wasm", b"\0asm not a component");
    let report = host.apply_manifest(&manifest).await;
    assert!(report.swapped.is_empty(), "{report:?}");
    assert_eq!(names(&report.refused, |r| &r.module), ["hostmenow"]);
    let refused = &report.refused[0];
    assert_eq!(refused.serving_digest, second);
    assert_eq!(refused.error.kind, LoadErrorKind::LoadFailed);
    assert!(
        refused.error.message.contains("hostmenow.wasm"),
        "{}",
        refused.error.message
    );
    assert!(report.not_ready.is_empty(), "a refused module still serves");
    assert!(host.not_ready().is_empty());
    assert_eq!(
        connect(&host, "hostmenow").await,
        (Ok(()), Some(second.clone()))
    );

    // A rotated secret swaps the same component in again, naming the
    // setting and never its value.
    dir.write("hostmenow.wasm", rebuilt("v2"));
    dir.write("hostmenow.key", "hmn_wrong_key_0000");
    let report = host.apply_manifest(&manifest).await;
    assert_eq!(
        names(&report.swapped, |s| &s.module),
        ["hostmenow", "spare"]
    );
    for swapped in &report.swapped {
        assert_eq!(swapped.changes, ["settings changed: api-key"]);
        assert_eq!(
            swapped.old_digest.as_deref(),
            Some(swapped.new_digest.as_str())
        );
    }
    assert!(!format!("{report:?}").contains("hmn_wrong_key_0000"));
    assert_eq!(connect(&host, "hostmenow").await.0, Err("auth-failed"));
    dir.write("hostmenow.key", hostmenow::API_KEY);
    let report = host.apply_manifest(&manifest).await;
    assert_eq!(
        names(&report.swapped, |s| &s.module),
        ["hostmenow", "spare"]
    );
    assert_eq!(
        connect(&host, "hostmenow").await,
        (Ok(()), Some(second.clone()))
    );

    // A module the manifest dropped is unloaded; one it adds whose secret
    // is missing is not ready, and loads once the secret is there.
    let late = module(
        &sandbox,
        "late",
        provisioning_components::HOSTMENOW,
        "late.key",
    );
    let manifest = dir.manifest(&[hostmenow.clone(), late]);
    let spare_digest = digest(&host, "spare");
    let report = host.apply_manifest(&manifest).await;
    assert!(
        report.swapped.is_empty() && report.refused.is_empty(),
        "{report:?}"
    );
    assert_eq!(names(&report.removed, |r| &r.module), ["spare"]);
    assert_eq!(report.removed[0].digest, spare_digest);
    assert!(host.module("spare").is_none());
    assert_eq!(connect(&host, "spare").await, (Err("unknown-module"), None));
    assert_eq!(names(&report.not_ready, |f| &f.module), ["late"]);
    let failure = &report.not_ready[0];
    assert_eq!(failure.kind, LoadErrorKind::InvalidConfig);
    assert!(
        failure.message.contains("setting `api-key`") && failure.message.contains("late.key"),
        "{}",
        failure.message
    );
    assert_eq!(host.not_ready(), report.not_ready);
    assert_eq!(host.not_ready_module("late").as_ref(), Some(failure));
    assert_eq!(
        connect(&host, "hostmenow").await,
        (Ok(()), Some(second.clone()))
    );

    dir.write("late.key", hostmenow::API_KEY);
    let report = host.apply_manifest(&manifest).await;
    assert_eq!(names(&report.swapped, |s| &s.module), ["late"]);
    assert_eq!(report.swapped[0].old_digest, None);
    assert_eq!(report.swapped[0].changes, ["not ready, trying again"]);
    assert!(report.not_ready.is_empty() && host.not_ready().is_empty());
    assert_eq!(connect(&host, "late").await.0, Ok(()));

    // Dropping a module that is not ready forgets it.
    std::fs::remove_file(dir.path("late.key")).unwrap();
    let broken_late = module(
        &sandbox,
        "later",
        provisioning_components::HOSTMENOW,
        "none.key",
    );
    let manifest = dir.manifest(&[hostmenow.clone(), broken_late]);
    let report = host.apply_manifest(&manifest).await;
    assert_eq!(names(&report.removed, |r| &r.module), ["late"]);
    assert_eq!(names(&report.not_ready, |f| &f.module), ["later"]);
    let manifest = dir.manifest(&[hostmenow]);
    let report = host.apply_manifest(&manifest).await;
    assert_eq!(report, ReloadReport::default());
    assert!(host.not_ready().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn from_manifest_opens_the_manifest_journal() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = Dir::new("journal");
    dir.write("journal.key", "ab".repeat(32));
    dir.write("hostmenow.key", hostmenow::API_KEY);
    let journal = TestManifest::new().journal(JournalSection {
        path: Some("journal.sqlite3".into()),
        url: None,
        key: SettingSource::File {
            file: "journal.key".into(),
        },
        lease_seconds: None,
        retain_acknowledged_days: None,
    });
    let manifest = dir.manifest(&[
        journal,
        module(
            &sandbox,
            "hostmenow",
            provisioning_components::HOSTMENOW,
            "hostmenow.key",
        ),
    ]);
    let host = Host::from_manifest(&manifest, provisioning_test_support::host_options()).unwrap();
    assert!(host.modules().is_empty(), "from_manifest loads nothing");
    let journal = host.journal().expect("the manifest's journal");
    assert!(journal.pending().await.unwrap().is_empty());
    assert!(dir.path("journal.sqlite3").exists());
    host.load_from_manifest(&manifest, "hostmenow")
        .await
        .unwrap();
    assert_eq!(connect(&host, "hostmenow").await.0, Ok(()));
    // Re-applying the same manifest (same journal key) changes nothing.
    assert_eq!(
        host.apply_manifest(&manifest).await,
        ReloadReport::default()
    );

    // A journal key that cannot be read keeps the host from starting.
    std::fs::remove_file(dir.path("journal.key")).unwrap();
    let Err(error) = Host::from_manifest(&manifest, provisioning_test_support::host_options())
    else {
        panic!("a host started without its journal key");
    };
    assert!(format!("{error:#}").contains("journal.key"), "{error:#}");
}
