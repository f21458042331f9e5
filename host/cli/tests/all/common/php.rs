//! What the PHP platform tests share: Debian's `php-cli` and `php-curl`,
//! installed when missing, and a `provisioning serve` with every provider's
//! module, each granted only the sandbox.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use provisioning_sandbox::blesta::LicenseStatus;
use provisioning_sandbox::hostmenow::ServiceStatus;
use provisioning_sandbox::logicboxes::MailboxStatus;
use provisioning_sandbox::webline::AccountStatus;
use provisioning_sandbox::{Sandbox, blesta, hostmenow, logicboxes, webline};

use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::Value;

use super::{Serve, text};

/// Whether `php` runs and has the curl extension.
fn php_with_curl() -> bool {
    Command::new("php")
        .arg("-m")
        .output()
        .map(|output| {
            output.status.success() && text(&output.stdout).lines().any(|line| line == "curl")
        })
        .unwrap_or(false)
}

/// Runs a command, showing it and what it printed; panics with a clear
/// message when it cannot run or fails.
fn run_shown(program: &str, args: &[&str]) {
    println!("$ {program} {}", args.join(" "));
    let output: Output = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run {program} to install PHP ({error}); install php-cli and php-curl yourself")
        });
    print!("{}", text(&output.stdout));
    eprint!("{}", text(&output.stderr));
    assert!(
        output.status.success(),
        "`{program} {}` failed ({}); install php-cli and php-curl yourself",
        args.join(" "),
        output.status
    );
}

/// Installs Debian's php-cli and php-curl unless `php` with curl is there.
pub fn ensure_php() {
    if php_with_curl() {
        return;
    }
    println!("php with the curl extension is missing: installing Debian's php-cli and php-curl");
    run_shown("apt-get", &["update"]);
    run_shown(
        "apt-get",
        &[
            "install",
            "-y",
            "--no-install-recommends",
            "php-cli",
            "php-curl",
        ],
    );
    assert!(
        php_with_curl(),
        "php-cli and php-curl were installed, but `php -m` still lists no curl"
    );
}

/// `provisioning serve` on `manifest` (an [`all_providers_manifest`]) with
/// the bearer `token` in the variable named first, and every provider's
/// secrets and the journal key in the variables the manifest names.
pub fn start_serve(manifest: &Path, token: (&str, &str)) -> Serve {
    let journal_key = "cd".repeat(32);
    Serve::start(
        manifest,
        token,
        &[
            ("TEST_JOURNAL_KEY", &journal_key),
            ("TEST_HMN_KEY", hostmenow::API_KEY),
            ("TEST_BLESTA_PASSWORD", blesta::PASSWORD),
            ("TEST_WEBLINE_KEY", webline::API_KEY),
            ("TEST_LB_KEY", logicboxes::API_KEY),
        ],
        &[],
    )
}

/// A manifest with a journal and the four provider modules, each granted
/// only the sandbox, `hostmenow` the component of module `hostmenow`.
/// LogicBoxes gets no email order and Webline no activation wait here: the
/// platforms' products give them per call.
pub fn all_providers_manifest(sandbox: &Sandbox, hostmenow: &str) -> String {
    let deadline = Duration::from_secs(10);
    TestManifest::new()
        .sqlite_journal("journal.sqlite3", "TEST_JOURNAL_KEY")
        .module(
            "hostmenow",
            Module::new(hostmenow)
                .allow(&sandbox.origin())
                .deadline(deadline)
                .setting("endpoint", &sandbox.hostmenow().endpoint())
                .secret_env("api-key", "TEST_HMN_KEY"),
        )
        .module(
            "blesta",
            Module::blesta(sandbox)
                .deadline(deadline)
                .secret_env("password", "TEST_BLESTA_PASSWORD"),
        )
        .module(
            "webline",
            Module::webline(sandbox)
                .deadline(deadline)
                .secret_env("api-key", "TEST_WEBLINE_KEY"),
        )
        .module(
            "logicboxes",
            Module::logicboxes(sandbox)
                .deadline(deadline)
                .secret_env("api-key", "TEST_LB_KEY"),
        )
        .toml()
}

/// Where a provider's record of one platform's service stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// active, suspended, terminated or absent.
    pub state: &'static str,
    pub password: Option<String>,
    pub package: Option<String>,
    pub domain: Option<String>,
}

/// How the test finds the provider's record of a service: the key each
/// provider knows it by.
#[derive(Debug, Clone)]
pub enum Record {
    /// HostMeNow's `serviceid`: the contract's service_id.
    HostMeNow(String),
    /// A Blesta license, by its key.
    License(String),
    /// A Webline account, by its id.
    Account(u64),
    /// A LogicBoxes mailbox, by its address.
    Mailbox(String),
}

impl Seen {
    /// No record at all: the provider removed it.
    pub fn absent() -> Seen {
        Seen {
            state: "absent",
            password: None,
            package: None,
            domain: None,
        }
    }
}

/// Where `record` stands at its provider now.
pub fn seen(sandbox: &Sandbox, record: &Record) -> Seen {
    let absent = Seen::absent();
    match record {
        Record::HostMeNow(id) => sandbox.hostmenow().service(id).map_or(absent, |s| Seen {
            state: match s.status {
                ServiceStatus::Active => "active",
                ServiceStatus::Suspended => "suspended",
                ServiceStatus::Terminated => "terminated",
            },
            password: Some(s.password),
            package: Some(s.product_id),
            domain: Some(s.domain),
        }),
        Record::License(key) => sandbox.blesta().license(key).map_or(absent, |l| Seen {
            state: match l.status {
                LicenseStatus::Active => "active",
                LicenseStatus::Suspended => "suspended",
                LicenseStatus::Cancelled => "terminated",
            },
            password: None,
            package: Some(l.term),
            domain: Some(l.domain),
        }),
        Record::Account(id) => sandbox.webline().account(*id).map_or(absent, |a| Seen {
            state: match a.status {
                AccountStatus::Active => "active",
                AccountStatus::Suspended => "suspended",
                AccountStatus::Pending => "pending",
                AccountStatus::Failed => "failed",
            },
            password: Some(a.password),
            package: Some(a.package_id.to_string()),
            domain: Some(a.domain),
        }),
        Record::Mailbox(email) => sandbox
            .logicboxes()
            .mailbox(email)
            .map_or(absent, |m| Seen {
                state: match m.status {
                    MailboxStatus::Active => "active",
                    MailboxStatus::Suspended => "suspended",
                },
                password: m.password,
                package: None,
                domain: m.email.split('@').nth(1).map(str::to_string),
            }),
    }
}

/// The functions a module supports, from serve's description of it.
pub fn functions(server: &Serve, module: &str) -> Vec<String> {
    let (status, described) = server.get(&format!("/v1/modules/{module}"));
    assert_eq!(status, 200, "{described}");
    described["info"]["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| kebab(f.as_str().unwrap()))
        .collect()
}

/// "ChangePassword" → "change-password".
pub fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A `provisioning serve` of every provider's module on `sandbox` (an
/// [`all_providers_manifest`] written into `dir`), started as
/// [`start_serve`] starts it.
pub fn serve_all_providers(sandbox: &Sandbox, dir: &Path, token: (&str, &str)) -> Serve {
    let manifest = dir.join("provisioning.toml");
    std::fs::write(
        &manifest,
        all_providers_manifest(sandbox, provisioning_components::HOSTMENOW),
    )
    .unwrap();
    start_serve(&manifest, token)
}

/// One step of a platform's PHP harness, in a process of its own as each
/// platform request is: `php SCRIPT STATE ARGS...` with `envs`. It must
/// exit 0 and print its answer as JSON on its last line; the answer.
/// `label` names the platform in a failure.
pub fn harness_step(
    label: &str,
    script: &Path,
    state: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Value {
    let output = Command::new("php")
        .arg(script)
        .arg(state)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("php runs");
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{label} {args:?} failed ({}):\n{stdout}\n{}",
        output.status,
        text(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{label} {args:?} printed no JSON ({e}):\n{stdout}"))
}
