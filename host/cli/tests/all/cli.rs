//! The `provisioning` command as an operator runs it: the real binary, the
//! real components, the sandbox over loopback.

use crate::common;

use std::path::PathBuf;

use common::{provisioning, text};
use provisioning_host::SettingSource;
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_test_support::manifest::{Module, TestManifest, env};

// The demo exists only with the `demo` feature (on by default).
#[cfg(feature = "demo")]
#[test]
fn demo_runs_the_whole_lifecycle_and_shows_no_secret() {
    let output = provisioning(&["demo"], &[]);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    for function in [
        "test-connection",
        "list-packages",
        "create-account",
        "suspend",
        "unsuspend",
        "change-password",
        "change-package",
        "usage-data",
        "single-sign-on",
        "terminate",
    ] {
        let row: Vec<&str> = stdout
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .find(|cells| cells.len() > 2 && cells[0] == "hostmenow" && cells[1] == function)
            .unwrap_or_else(|| panic!("no row for {function} in\n{stdout}"));
        assert_eq!(row[2], "ok", "{function} did not succeed: {row:?}");
    }
    assert!(
        stdout.contains("unsupported"),
        "service-status is shown unsupported"
    );
    assert!(!stdout.contains(hostmenow::API_KEY));
    assert!(!text(&output.stderr).contains(hostmenow::API_KEY));
}

#[cfg(feature = "demo")]
#[test]
fn demo_speaks_json_lines() {
    let output = provisioning(&["demo", "--json"], &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    let step = |name: &str| {
        lines
            .iter()
            .find(|l| l["provider"] == "hostmenow" && l["step"] == name)
            .unwrap()
    };
    assert!(step("create-account")["ok"].is_object());
    assert_eq!(step("service-status")["error"]["kind"], "unsupported");
    assert_eq!(
        step("terminate")["sandbox_state"]
            .as_str()
            .unwrap()
            .split(',')
            .next(),
        Some("Terminated")
    );
}

#[test]
fn inspect_shows_the_functions_and_imports() {
    let output = provisioning(
        &["inspect", provisioning_components::HOSTMENOW, "--json"],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let inspection: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(inspection["info"]["id"], "hostmenow");
    assert_eq!(
        inspection["info"]["functions"].as_array().unwrap().len(),
        10
    );
    let imports: Vec<&str> = inspection["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi:http/outgoing-handler"))
    );
    assert!(
        !imports
            .iter()
            .any(|i| i.starts_with("wasi:sockets") || i.starts_with("wasi:filesystem"))
    );
    assert_eq!(inspection["digest"].as_str().unwrap().len(), 64);
}

/// A component importing sockets (as JavaScript's and Python's runtimes
/// do) loads, and `inspect` says beside each such import that it grants
/// nothing.
#[test]
fn inspect_marks_sockets_as_linked_granting_nothing() {
    let output = provisioning(&["inspect", provisioning_components::OVERREACHING], &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let sockets: Vec<&str> = stdout
        .lines()
        .filter(|line| line.trim_start().starts_with("wasi:sockets/"))
        .collect();
    assert!(!sockets.is_empty(), "{stdout}");
    for line in sockets {
        assert!(line.ends_with(" (linked, grants nothing)"), "{line}");
    }
    let stdout_import = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("wasi:cli/stdout"))
        .unwrap_or_else(|| panic!("no wasi:cli/stdout import in\n{stdout}"));
    assert!(!stdout_import.contains("grants nothing"), "{stdout_import}");
}

#[test]
fn inspect_names_setting_kinds_and_scopes_in_the_contracts_words() {
    let output = provisioning(&["inspect", provisioning_components::HOSTMENOW], &[]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let setting = |name: &str| {
        stdout
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{name} (")))
            .unwrap_or_else(|| panic!("no setting {name} in\n{stdout}"))
    };
    assert!(setting("endpoint").contains("(text, server"), "{stdout}");
    assert!(setting("api-key").contains("(secret, server"), "{stdout}");
    assert!(setting("ip-address").contains("(text, product"), "{stdout}");
    assert!(
        !stdout.contains("SettingKind::") && !stdout.contains("SettingScope::"),
        "{stdout}"
    );
}

/// A manifest for the sandbox in a fresh directory; `api_key` is where the
/// key comes from.
fn manifest(sandbox: &Sandbox, api_key: SettingSource) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provisioning-cli-{}-{}",
        std::process::id(),
        sandbox.addr().port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TestManifest::new()
        .module(
            "hostmenow",
            Module::hostmenow(sandbox).source("api-key", api_key),
        )
        .write(dir.join("provisioning.toml"))
}

#[tokio::test(flavor = "multi_thread")]
async fn call_runs_one_function_from_a_manifest() {
    let sandbox = Sandbox::start().await.unwrap();
    let path = manifest(&sandbox, env("TEST_HMN_KEY"));
    let path = path.to_str().unwrap().to_string();
    let envs = [
        ("TEST_HMN_KEY", hostmenow::API_KEY),
        ("TEST_PW", "Cli-Pa55word!"),
    ];

    let output = tokio::task::spawn_blocking(move || {
        let create = provisioning(
            &[
                "call",
                "--manifest",
                &path,
                "hostmenow",
                "create-account",
                "--service-id",
                "cli-1",
                "--domain",
                "cli.example.com",
                "--username",
                "cliuser",
                "--password-env",
                "TEST_PW",
                "--package",
                "101",
                "--billing-cycle",
                "monthly",
                "--json",
            ],
            &envs,
        );
        let unknown = provisioning(
            &[
                "call",
                "--manifest",
                &path,
                "hostmenow",
                "suspend",
                "--service-id",
                "nope",
            ],
            &envs,
        );
        // A call's own settings are product settings only: the key is the
        // manifest's.
        let own_key = provisioning(
            &[
                "call",
                "--manifest",
                &path,
                "hostmenow",
                "test-connection",
                "--setting",
                "api-key=someone-elses-key",
            ],
            &envs,
        );
        (create, unknown, own_key)
    })
    .await
    .unwrap();
    let (create, unknown, own_key) = output;

    let stdout = text(&create.stdout);
    assert!(
        create.status.success(),
        "{stdout}\n{}",
        text(&create.stderr)
    );
    let answer: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(answer["ok"]["kind"], "created");
    assert!(!stdout.contains("Cli-Pa55word!"));
    let record = sandbox
        .hostmenow()
        .service("cli-1")
        .expect("created at the provider");
    assert_eq!(record.password, "Cli-Pa55word!");

    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stdout).starts_with("not-found"),
        "{}",
        text(&unknown.stdout)
    );

    assert_eq!(own_key.status.code(), Some(1));
    let refused = text(&own_key.stdout);
    assert!(
        refused.starts_with("invalid-input") && refused.contains("\"api-key\""),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inline_secret_in_the_manifest_is_refused() {
    let sandbox = Sandbox::start().await.unwrap();
    let path = manifest(&sandbox, SettingSource::Inline(hostmenow::API_KEY.into()));
    let path = path.to_str().unwrap().to_string();
    let output = tokio::task::spawn_blocking(move || {
        provisioning(
            &["call", "--manifest", &path, "hostmenow", "test-connection"],
            &[],
        )
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("secret"), "{stderr}");
    assert!(!stderr.contains(hostmenow::API_KEY));
}

#[test]
fn journal_pending_cuts_a_huge_cell_to_one_line() {
    // An idempotency key is the caller's text: nothing bounds its length.
    let key = "k".repeat(70_000);
    let manifest = common::journal_manifest("huge-key", &[format!("{key}\nsecond line")]);
    let journal_key = common::journal_key();
    let envs = [(common::JOURNAL_KEY_VAR, journal_key.as_str())];
    let manifest = manifest.to_str().unwrap();

    let output = provisioning(&["journal", "pending", "--manifest", manifest], &envs);
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // A header, the rule under it, and the row: one line, cut short.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let row = lines[2];
    assert!(row.starts_with("1 "), "{row}");
    assert!(row.contains("unknown"), "{row}");
    assert!(row.contains("create-account"), "{row}");
    assert!(row.contains("kkkk…"), "{row}");
    assert!(!row.contains("second line"), "{row}");
    assert!(row.chars().count() < 300, "{} characters", row.len());
    assert!(stderr.contains("--json prints them whole"), "{stderr}");

    // JSON keeps the whole key.
    let output = provisioning(
        &["--json", "journal", "pending", "--manifest", manifest],
        &envs,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let entry: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        entry["intent"]["idempotency_key"].as_str().unwrap(),
        format!("{key}\nsecond line")
    );
}

/// A manifest (written as `provisioning.toml` in a fresh directory) with a
/// good HostMeNow module and a Blesta module whose password variable is
/// not set.
fn manifest_with_a_broken_module(sandbox: &Sandbox) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provisioning-cli-broken-{}-{}",
        std::process::id(),
        sandbox.addr().port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    common::hostmenow_and_blesta(sandbox, env("TEST_BLESTA_PASSWORD_SURELY_UNSET"))
        .write(dir.join("provisioning.toml"))
}

#[tokio::test(flavor = "multi_thread")]
async fn call_loads_only_the_module_it_calls() {
    let sandbox = Sandbox::start().await.unwrap();
    let path = manifest_with_a_broken_module(&sandbox);
    let outputs = tokio::task::spawn_blocking(move || {
        let manifest = path.to_str().unwrap();
        let call = |module: &str| {
            provisioning(
                &["call", "--manifest", manifest, module, "test-connection"],
                &[("TEST_HMN_KEY", hostmenow::API_KEY)],
            )
        };
        // inspect reads the component file only: the broken manifest in
        // the working directory (its default) is not looked at.
        let inspect = std::process::Command::new(env!("CARGO_BIN_EXE_provisioning"))
            .args(["inspect", provisioning_components::BLESTA])
            .current_dir(path.parent().unwrap())
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        (call("hostmenow"), call("blesta"), inspect)
    })
    .await
    .unwrap();
    let (good, broken, inspect) = outputs;
    assert!(
        good.status.success(),
        "{}\n{}",
        text(&good.stdout),
        text(&good.stderr)
    );
    assert!(
        text(&good.stdout).starts_with("ok"),
        "{}",
        text(&good.stdout)
    );
    assert_eq!(broken.status.code(), Some(2), "{}", text(&broken.stdout));
    let stderr = text(&broken.stderr);
    assert!(
        stderr.contains("module `blesta`") && stderr.contains("TEST_BLESTA_PASSWORD_SURELY_UNSET"),
        "{stderr}"
    );
    assert!(inspect.status.success(), "{}", text(&inspect.stderr));
    assert!(
        text(&inspect.stdout).contains("(blesta)"),
        "{}",
        text(&inspect.stdout)
    );
}
