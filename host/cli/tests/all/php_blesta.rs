//! The Blesta module `examples/blesta/components/modules/sandboxed` where
//! Blesta's own code paths differ from a plain add and lifecycle: real
//! php-cli plays Blesta in `examples/blesta/tests/platform.php` (its
//! Services::add and Services::edit, the cron's activation of a pending
//! service, the client's service tabs, Clients::get with its settings), one
//! step per PHP process, against the real `provisioning serve` and the
//! in-process sandbox; after each step the test checks the provider's
//! state. The whole lifecycle of every provider through Blesta is in
//! `php_platforms.rs`.

use crate::common;

use std::path::{Path, PathBuf};

use common::php::{ensure_php, harness_step, serve_all_providers};
use common::{Serve, fresh_dir};
use provisioning_sandbox::Sandbox;
use provisioning_sandbox::blesta::LicenseStatus;
use provisioning_sandbox::hostmenow::ServiceStatus;
use provisioning_sandbox::logicboxes;
use provisioning_sandbox::webline::AccountStatus;
use serde_json::{Value, json};

const TOKEN: &str = "blesta-php-test-token-6a17c9";
const TOKEN_VAR: &str = "TEST_BLESTA_SERVE_TOKEN";

/// Blesta's packages: each module's meta, and HostMeNow's second package.
fn plans() -> Value {
    json!({
        "hostmenow": { "module": "hostmenow", "meta": { "package": "101" } },
        "hostmenow-next": { "module": "hostmenow", "meta": { "package": "102" } },
        "blesta": { "module": "blesta", "meta": { "package": "monthly", "term": "monthly" } },
        "webline": { "module": "webline", "meta": { "package": "1", "activation-wait-seconds": "0" } },
        "logicboxes": { "module": "logicboxes",
            "meta": { "order-id": logicboxes::ORDER_ID, "account-type": "mailbox" } },
    })
}

/// One Blesta installation: its database file and serve's address.
struct Blesta {
    state: PathBuf,
    base: String,
}

impl Blesta {
    /// A fresh installation, set up (module rows and packages).
    fn new(server: &Serve, dir: &Path, name: &str) -> Blesta {
        let blesta = Blesta {
            state: dir.join(format!("{name}.json")),
            base: server.base.clone(),
        };
        blesta.done(&["setup"]);
        blesta
    }

    /// Runs one step in a PHP process of its own: its JSON answer.
    fn run(&self, args: &[&str]) -> Value {
        let plans = plans().to_string();
        let answer = harness_step(
            "blesta",
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/blesta/tests/platform.php"),
            &self.state,
            args,
            &[
                ("SANDBOXED_URL", self.base.as_str()),
                ("SANDBOXED_TOKEN", TOKEN),
                ("PLANS_JSON", &plans),
            ],
        );
        let shown: String = answer.to_string().chars().take(160).collect();
        println!("blesta {:<50} {shown}", args.join(" "));
        answer
    }

    /// A step that must succeed.
    fn done(&self, args: &[&str]) -> Value {
        let answer = self.run(args);
        assert!(
            answer.get("error").is_none(),
            "blesta {args:?} was refused: {answer}"
        );
        answer
    }

    /// A step that must be refused: Blesta's errors.
    fn refused(&self, args: &[&str]) -> Value {
        let answer = self.run(args);
        answer
            .get("error")
            .cloned()
            .unwrap_or_else(|| panic!("blesta {args:?} succeeded: {answer}"))
    }

    /// Blesta's database as the harness keeps it.
    fn database(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.state).unwrap()).unwrap()
    }

    /// The contract requests of `function` the module sent, from its module
    /// log (Module::log), oldest first.
    fn logged_requests(&self, function: &str) -> Vec<Value> {
        self.database()["log"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["direction"] == "input"
                    && e["url"]
                        .as_str()
                        .is_some_and(|u| u.ends_with(&format!("|{function}")))
            })
            .map(|e| serde_json::from_str(e["data"].as_str().unwrap()).unwrap())
            .collect()
    }
}

/// The journal entries still pending for a service id.
fn pending_for(server: &Serve, service_id: &str) -> Vec<Value> {
    let (_, pending) = server.get("/v1/journal/pending");
    pending["pending"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["intent"]["service_id"] == service_id)
        .cloned()
        .collect()
}

/// Runs `scenario` against a fresh sandbox and serve, then checks that every
/// answer was kept and acknowledged and that serve's log shows no token.
async fn with_serve(label: &str, scenario: fn(&Sandbox, &Serve, &Path)) {
    tokio::task::spawn_blocking(ensure_php).await.unwrap();
    let sandbox = Sandbox::start().await.unwrap();
    let dir = fresh_dir(label);
    tokio::task::block_in_place(|| {
        let server = serve_all_providers(&sandbox, &dir, (TOKEN_VAR, TOKEN));
        scenario(&sandbox, &server, &dir);
        let (_, pending) = server.get("/v1/journal/pending");
        assert_eq!(pending["pending"], json!([]), "{pending:#}");
        assert!(!server.log().contains(TOKEN), "serve's log shows its token");
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_language_reaches_the_provider() {
    with_serve("php-blesta-language", client_language_reaches_the_provider).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_are_validated_before_the_provider_sees_them() {
    with_serve("php-blesta-validated", edits_validated).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_package_change_sends_the_service_s_billing_cycle() {
    with_serve("php-blesta-cycle", a_package_change_sends_the_billing_cycle).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cron_activates_pending_services_once() {
    with_serve("php-blesta-cron", the_cron_activates_pending_services).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_tab_shows_status_usage_and_signs_on() {
    with_serve("php-blesta-tab", client_tab).await;
}

/// The client's language is one of Blesta's client settings, which
/// Clients::get loads only when asked ($get_settings): the module asks, and
/// the mailbox LogicBoxes creates has the client's language (sw from
/// Blesta's sw_tz), not the default en.
fn client_language_reaches_the_provider(sandbox: &Sandbox, server: &Serve, dir: &Path) {
    let blesta = Blesta::new(server, dir, "language");
    blesta.done(&["create", "logicboxes", logicboxes::ORDER_DOMAIN, "lugha"]);
    let email = format!("lugha@{}", logicboxes::ORDER_DOMAIN);
    let mailbox = sandbox
        .logicboxes()
        .mailbox(&email)
        .expect("the mailbox exists");
    assert_eq!(mailbox.language_code, "sw", "{mailbox:?}");
    assert_eq!(
        (mailbox.first_name.as_str(), mailbox.country_code.as_str()),
        ("Neema", "TZ")
    );
    blesta.done(&["view", "logicboxes"]);
    blesta.done(&["cancel", "logicboxes"]);
    assert!(sandbox.logicboxes().mailbox(&email).is_none());
}

/// Services::edit asks the module's validateServiceEdit before anything
/// reaches the provider: a domain that is no host name is refused on the
/// field, the license keeps its domain and no updatedomain reached the
/// provider; a good domain then goes through.
fn edits_validated(sandbox: &Sandbox, server: &Serve, dir: &Path) {
    let blesta = Blesta::new(server, dir, "validated");
    let created = blesta.done(&["create", "blesta", "valid-license.com"]);
    let key = created["fields"]["sandboxed_remote_id"]
        .as_str()
        .unwrap()
        .to_string();
    let updates = || {
        sandbox
            .blesta()
            .requests()
            .iter()
            .filter(|r| r.field("action") == Some("updatedomain"))
            .count()
    };
    let before = updates();
    let error = blesta.refused(&["domain", "blesta", "not a domain!"]);
    assert!(
        error["sandboxed_domain"]["format"].is_string(),
        "refused on the domain field by the module's validation: {error}"
    );
    assert_eq!(updates(), before, "no updatedomain reached the provider");
    let license = sandbox.blesta().license(&key).unwrap();
    assert_eq!(license.domain, "valid-license.com");
    assert_eq!(
        blesta.database()["services"]["blesta"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == "sandboxed_domain")
            .unwrap()["value"],
        "valid-license.com",
        "Blesta kept the service as it was"
    );
    blesta.done(&["domain", "blesta", "moved-license.com"]);
    assert_eq!(
        sandbox.blesta().license(&key).unwrap().domain,
        "moved-license.com"
    );
    blesta.done(&["cancel", "blesta"]);
    assert_eq!(
        sandbox.blesta().license(&key).unwrap().status,
        LicenseStatus::Cancelled
    );
}

/// Blesta hands changeServicePackage the service as it was, its pricing one
/// of the old package's: the billing cycle the module sends with the
/// change is the service's term (monthly), not empty. HostMeNow moves the
/// service to package 102.
fn a_package_change_sends_the_billing_cycle(sandbox: &Sandbox, server: &Serve, dir: &Path) {
    let blesta = Blesta::new(server, dir, "cycle");
    let created = blesta.done(&["create", "hostmenow", "cycle-site.co.tz"]);
    let service_id = created["fields"]["sandboxed_service_id"]
        .as_str()
        .unwrap()
        .to_string();
    blesta.done(&["plan", "hostmenow", "hostmenow-next"]);
    let service = sandbox.hostmenow().service(&service_id).unwrap();
    assert_eq!(service.product_id, "102");
    let sent = blesta.logged_requests("change-package");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0]["request"]["service"]["billing_cycle"], "monthly",
        "{}",
        sent[0]
    );
    assert_eq!(sent[0]["request"]["new_package"], "102");
    blesta.done(&["cancel", "hostmenow"]);
    assert_eq!(
        sandbox.hostmenow().service(&service_id).unwrap().status,
        ServiceStatus::Terminated
    );
}

/// A client's order is a pending service: nothing at the provider. The
/// cron's provision_pending_services task activates it through
/// Services::edit with its stored fields merged in; the module creates the
/// account then. A cron run that dies after the module's answer leaves the
/// service pending and the entry in the journal; the next run gets the
/// recorded answer (one account, its credentials stored).
fn the_cron_activates_pending_services(sandbox: &Sandbox, server: &Serve, dir: &Path) {
    let blesta = Blesta::new(server, dir, "cron");
    let webline_domain = "order-duka.co.tz";
    let hostmenow_domain = "order-site.co.tz";
    let accounts = |domain: &str| {
        sandbox
            .webline()
            .accounts()
            .into_iter()
            .filter(|a| a.domain == domain)
            .collect::<Vec<_>>()
    };
    let ordered = blesta.done(&["order", "webline", webline_domain]);
    assert_eq!(ordered["fields"]["sandboxed_domain"], webline_domain);
    blesta.done(&["order", "hostmenow", hostmenow_domain]);
    let status = |module: &str| blesta.database()["services"][module]["status"].clone();
    assert_eq!(status("webline"), "pending");
    assert!(
        accounts(webline_domain).is_empty(),
        "an order provisions nothing"
    );
    let hostmenow_id = "blesta-c1-order-site.co.tz";
    assert!(sandbox.hostmenow().service(hostmenow_id).is_none());

    // The cron dies after the module answered for the first service.
    assert_eq!(blesta.done(&["cron-lost"])["ok"], "lost");
    assert_eq!(accounts(webline_domain).len(), 1);
    assert_eq!(status("webline"), "pending", "Blesta stored nothing");
    let webline_id = format!("blesta-c1-{webline_domain}");
    assert_eq!(pending_for(server, &webline_id).len(), 1);

    let run = blesta.done(&["cron"]);
    assert_eq!(run["ok"], json!({ "webline": true, "hostmenow": true }));
    let made = accounts(webline_domain);
    assert_eq!(made.len(), 1, "the rerun made no second account: {made:?}");
    assert_eq!(status("webline"), "active");
    assert_eq!(status("hostmenow"), "active");
    let webline = blesta.run(&["view", "webline"]);
    assert_eq!(
        webline["fields"]["sandboxed_remote_id"],
        made[0].id.to_string()
    );
    assert_eq!(
        webline["fields"]["sandboxed_password"].as_str(),
        Some(made[0].password.as_str()),
        "Webline's generated password was stored"
    );
    assert!(pending_for(server, &webline_id).is_empty());
    let service = sandbox.hostmenow().service(hostmenow_id).unwrap();
    assert_eq!(
        (
            service.status,
            service.domain.as_str(),
            service.billing_cycle.as_str()
        ),
        (ServiceStatus::Active, hostmenow_domain, "monthly")
    );
    blesta.done(&["view", "hostmenow"]);
    assert!(pending_for(server, hostmenow_id).is_empty());
    blesta.done(&["cancel", "hostmenow"]);
}

/// The client's tab (getClientTabs, tabClientService, its view): HostMeNow's
/// usage with its limits and a sign-on that reaches the provider; Webline's
/// status as the provider reports it.
fn client_tab(sandbox: &Sandbox, server: &Serve, dir: &Path) {
    let blesta = Blesta::new(server, dir, "tab");
    let created = blesta.done(&["create", "hostmenow", "tab-site.co.tz"]);
    let service_id = created["fields"]["sandboxed_service_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        sandbox
            .hostmenow()
            .set_usage(&service_id, 1250.5, 5000, 3500.75, 0)
    );
    let tab = blesta.done(&["tab", "hostmenow", "tabClientService"]);
    let html = tab["ok"].as_str().unwrap();
    for shown in [
        "HostMeNow",
        "<strong class=\"sandboxed-status\">active</strong>",
        "<td>Disk</td>",
        "<td>1250.5 MB</td>",
        "5000 MB",
        "<td>Bandwidth</td>",
        "<td>3500.75 MB</td>",
        "Unlimited",
        "name=\"sandboxed_action\" value=\"sign_on\"",
    ] {
        assert!(html.contains(shown), "the tab shows {shown:?}:\n{html}");
    }
    let sessions = || {
        sandbox
            .hostmenow()
            .requests()
            .iter()
            .filter(|r| r.action == "CreateSSOSession")
            .count()
    };
    assert_eq!(sessions(), 0, "no session before the client asks");
    let signed = blesta.done(&[
        "tab",
        "hostmenow",
        "tabClientService",
        "sandboxed_action=sign_on",
    ]);
    let html = signed["ok"].as_str().unwrap();
    assert!(
        html.contains(
            "class=\"sandboxed-sign-on\" href=\"https://cpanel.hostmenow.org:2083/login/?session="
        ),
        "{html}"
    );
    assert_eq!(sessions(), 1);
    let log = blesta.database()["log"].to_string();
    assert!(
        !log.contains("cpanel.hostmenow.org:2083/login"),
        "the module log keeps no sign-on link"
    );
    blesta.done(&["cancel", "hostmenow"]);

    let created = blesta.done(&["create", "webline", "tab-duka.co.tz"]);
    let id: u64 = created["fields"]["sandboxed_remote_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(sandbox.webline().set_status(id, AccountStatus::Suspended));
    let tab = blesta.done(&["tab", "webline", "tabClientService"]);
    let html = tab["ok"].as_str().unwrap();
    assert!(
        html.contains("<strong class=\"sandboxed-status\">suspended</strong>")
            && html.contains("(as the provider reports it)"),
        "{html}"
    );
    assert!(!html.contains("sandboxed_action"), "Webline has no sign-on");
    assert!(sandbox.webline().set_status(id, AccountStatus::Active));
    blesta.done(&["view", "webline"]);
}
