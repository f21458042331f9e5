//! One component per provider, three billing platforms: the same four
//! provider components, behind one `provisioning serve` with a journal,
//! driven through the WHMCS module (`examples/whmcs`), the FOSSBilling server
//! manager (`examples/fossbilling`) and the Blesta module (`examples/blesta`),
//! each by real php-cli playing that platform's calling side
//! (`tests/drive.php`, `tests/platform.php`), one step per PHP process. What
//! each module supports is read from serve's `GET /v1/modules/{module}`;
//! after every step the test checks the provider's state in the sandbox:
//! every lifecycle step the provider supports took effect, every one it does
//! not was answered `unsupported` and changed nothing.

use crate::common;

use std::path::{Path, PathBuf};

use common::php::{
    Record, Seen, ensure_php, functions, harness_step, kebab, seen, serve_all_providers,
};
use common::{Serve, fresh_dir};
use provisioning_sandbox::blesta::LicenseStatus;
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::logicboxes;
use provisioning_sandbox::{Sandbox, blesta, hostmenow, webline};
use serde_json::{Value, json};

const TOKEN: &str = "platforms-php-test-token-5d93e2";
const TOKEN_VAR: &str = "TEST_PLATFORMS_SERVE_TOKEN";

const MODULES: [&str; 4] = ["hostmenow", "blesta", "webline", "logicboxes"];

/// The three platforms, each with its harness and its products' settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Platform {
    Whmcs,
    FossBilling,
    Blesta,
}

impl Platform {
    fn name(self) -> &'static str {
        match self {
            Platform::Whmcs => "whmcs",
            Platform::FossBilling => "fossbilling",
            Platform::Blesta => "blesta",
        }
    }

    fn script(self) -> PathBuf {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        match self {
            Platform::Whmcs => examples.join("whmcs/tests/drive.php"),
            Platform::FossBilling => examples.join("fossbilling/tests/platform.php"),
            Platform::Blesta => examples.join("blesta/tests/platform.php"),
        }
    }

    /// Each module's product (hosting plan, package) and a second one to
    /// move to, in the shape the platform's harness takes: WHMCS's Module
    /// Settings by label, FOSSBilling's plan custom values, Blesta's
    /// package meta.
    fn plans(self) -> Value {
        let settings = |module: &str, next: bool| -> Value {
            match (self, module) {
                (Platform::Whmcs, "hostmenow") => {
                    json!({ "Package": if next { "102" } else { "101" } })
                }
                (Platform::Whmcs, "blesta") => {
                    json!({ "Package": "monthly", "License term": "monthly" })
                }
                (Platform::Whmcs, "webline") => {
                    json!({ "Package": "1", "Wait for activation (seconds)": "0" })
                }
                (Platform::Whmcs, _) => {
                    json!({ "Email order ID": logicboxes::ORDER_ID, "Account type": "mailbox" })
                }
                // Blesta's billing cycle is the service's pricing term;
                // FOSSBilling passes its managers none: the plan says it.
                (Platform::Blesta, "hostmenow") => {
                    json!({ "package": if next { "102" } else { "101" } })
                }
                (_, "hostmenow") => {
                    json!({ "package": if next { "102" } else { "101" }, "billing_cycle": "monthly" })
                }
                (_, "blesta") => json!({ "package": "monthly", "term": "monthly" }),
                (_, "webline") => json!({ "package": "1", "activation-wait-seconds": "0" }),
                (_, _) => json!({ "order-id": logicboxes::ORDER_ID, "account-type": "mailbox" }),
            }
        };
        let key = match self {
            Platform::Whmcs => "options",
            Platform::FossBilling => "config",
            Platform::Blesta => "meta",
        };
        let mut plans = serde_json::Map::new();
        for module in MODULES {
            for next in [false, true] {
                let name = if next {
                    format!("{module}-next")
                } else {
                    module.to_string()
                };
                plans.insert(
                    name,
                    json!({ "module": module, key: settings(module, next) }),
                );
            }
        }
        Value::Object(plans)
    }
}

/// One platform's harness: its script, its database file, serve's address.
struct Harness {
    platform: Platform,
    state: PathBuf,
    base: String,
}

/// What a step came to, as the platform saw it.
#[derive(Debug)]
enum Outcome {
    /// Success, with what the platform shows (and keeps).
    Done(Value),
    /// Refused: the platform's error, as text.
    Refused(String),
}

impl Harness {
    /// Runs one step in a PHP process of its own.
    fn run(&self, args: &[&str]) -> (Outcome, Value) {
        let plans = self.platform.plans().to_string();
        let answer = harness_step(
            self.platform.name(),
            &self.platform.script(),
            &self.state,
            args,
            &[
                ("SANDBOXED_URL", self.base.as_str()),
                ("SANDBOXED_TOKEN", TOKEN),
                ("PLANS_JSON", &plans),
            ],
        );
        println!(
            "{:<12} {:<40} {}",
            self.platform.name(),
            args.join(" "),
            summary(&answer)
        );
        let outcome = match (&answer.get("ok"), &answer.get("error")) {
            (Some(ok), None) => Outcome::Done((*ok).clone()),
            (None, Some(Value::String(error))) => Outcome::Refused(error.clone()),
            (None, Some(error)) => Outcome::Refused(error.to_string()),
            _ => panic!("{args:?}: neither ok nor error: {answer}"),
        };
        (outcome, answer)
    }

    fn done(&self, args: &[&str]) -> Value {
        match self.run(args) {
            (Outcome::Done(_), answer) => answer,
            (Outcome::Refused(error), _) => {
                panic!("{} {args:?} was refused: {error}", self.platform.name())
            }
        }
    }
}

fn summary(answer: &Value) -> String {
    let text = answer
        .get("ok")
        .or(answer.get("error"))
        .unwrap_or(answer)
        .to_string();
    text.chars().take(110).collect()
}

/// The credentials a pending create or password reset of `service_id` in
/// `module` holds in the journal (FOSSBilling's), with its entry.
fn pending_credentials(
    server: &Serve,
    module: &str,
    service_id: &str,
    function: &str,
) -> Option<(i64, Value)> {
    let (_, pending) = server.get("/v1/journal/pending");
    pending["pending"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find_map(|entry| {
            let intent = &entry["intent"];
            (intent["module"] == module
                && intent["service_id"] == service_id
                && intent["function"] == function)
                .then(|| (entry["id"].as_i64().unwrap(), entry["credentials"].clone()))
        })
}

fn credential(credentials: &Value, name: &str) -> Option<String> {
    credentials
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["value"].as_str())
        .map(str::to_string)
}

/// One platform's service of one module through its whole life.
struct Lifecycle<'a> {
    sandbox: &'a Sandbox,
    server: &'a Serve,
    harness: &'a Harness,
    module: &'static str,
    supports: Vec<String>,
}

impl Lifecycle<'_> {
    fn platform(&self) -> Platform {
        self.harness.platform
    }

    fn supports(&self, function: &str) -> bool {
        self.supports.iter().any(|f| f == function)
    }

    /// Runs a step of contract function `function`: a success that leaves
    /// the provider's record as `expect` makes of the record before (given
    /// the record after, for what the provider chose itself) where the
    /// module supports it, else an `unsupported` refusal that leaves the
    /// record as it was.
    fn step(
        &self,
        record: &Record,
        function: &str,
        args: &[&str],
        expect: impl FnOnce(&mut Seen, &Seen),
    ) -> Option<Value> {
        let before = seen(self.sandbox, record);
        let (outcome, answer) = self.harness.run(args);
        let after = seen(self.sandbox, record);
        let who = format!("{} {} {function}", self.platform().name(), self.module);
        if self.supports(function) {
            if let Outcome::Refused(error) = outcome {
                panic!("{who}: the module supports it, but it was refused: {error}");
            }
            let mut expected = before;
            expect(&mut expected, &after);
            assert_eq!(
                after, expected,
                "{who}: the provider's state after the step"
            );
            Some(answer)
        } else {
            match outcome {
                Outcome::Refused(error) => assert!(
                    error.contains("unsupported"),
                    "{who}: refused, but not as unsupported: {error}"
                ),
                Outcome::Done(ok) => {
                    panic!("{who}: the module does not support it, yet it succeeded: {ok}")
                }
            }
            assert_eq!(
                after, before,
                "{who}: an unsupported step changed the provider's state"
            );
            None
        }
    }

    /// Creates the service, checks the provider's record of it and where
    /// the password went (the platform, or for FOSSBilling the operator),
    /// and answers how to find that record.
    fn create(&self) -> Record {
        let p = self.platform().name();
        let domain = match self.module {
            "hostmenow" => format!("{p}-site.co.tz"),
            "blesta" => format!("{p}-licensed.com"),
            "webline" => format!("{p}-duka.co.tz"),
            _ => logicboxes::ORDER_DOMAIN.to_string(),
        };
        let mailbox_user = format!("{}jane", &p[..2]);
        let (sld, tld) = domain
            .split_once('.')
            .map(|(s, t)| (s.to_string(), format!(".{t}")))
            .unwrap();
        let answer = match self.platform() {
            Platform::Whmcs => self.harness.done(&[
                "create",
                self.module,
                &domain,
                &mailbox_user,
                "Platform-Pw-1!",
            ]),
            Platform::FossBilling => self.harness.done(&["create", self.module, &sld, &tld]),
            Platform::Blesta => {
                let username = if self.module == "logicboxes" {
                    mailbox_user.as_str()
                } else {
                    ""
                };
                self.harness
                    .done(&["create", self.module, &domain, username])
            }
        };
        // The contract's service_id and what the platform kept of the account.
        let (service_id, username, password) = match self.platform() {
            Platform::Whmcs => (
                answer["service"]["id"].to_string(),
                answer["service"]["username"].as_str().unwrap().to_string(),
                answer["service"]["password"].as_str().map(str::to_string),
            ),
            Platform::FossBilling => {
                // The contract's service id is FOSSBilling's order (the harness names it by module).
                let username = answer["ok"]["username"].as_str().unwrap().to_string();
                (format!("fossbilling-order-{}", self.module), username, None)
            }
            Platform::Blesta => (
                answer["fields"]["sandboxed_service_id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                answer["fields"]["sandboxed_username"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                answer["fields"]["sandboxed_password"]
                    .as_str()
                    .map(str::to_string),
            ),
        };
        let remote = |answer: &Value| -> String {
            match self.platform() {
                Platform::Whmcs => answer["remote_id"].as_str().unwrap().to_string(),
                Platform::Blesta => answer["fields"]["sandboxed_remote_id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                Platform::FossBilling => {
                    let (_, body) = self.server.get(&format!(
                        "/v1/modules/{}/services/{service_id}/remote-id",
                        self.module
                    ));
                    body["remote_id"]
                        .as_str()
                        .expect("the journal holds the remote id")
                        .to_string()
                }
            }
        };
        let record = match self.module {
            "hostmenow" => Record::HostMeNow(service_id.clone()),
            "blesta" => Record::License(remote(&answer)),
            "webline" => Record::Account(remote(&answer).parse().unwrap()),
            _ => Record::Mailbox(format!("{username}@{}", logicboxes::ORDER_DOMAIN)),
        };
        let created = seen(self.sandbox, &record);
        assert_eq!(
            created.state, "active",
            "{p} {}: created {created:?}",
            self.module
        );
        assert_eq!(created.domain.as_deref(), Some(domain.as_str()));
        match (self.module, self.platform()) {
            // Webline generated the credentials: they reached the operator.
            ("webline", Platform::FossBilling) => {
                let (entry, credentials) =
                    pending_credentials(self.server, "webline", &service_id, "create-account")
                        .expect(
                            "FOSSBilling discards them: the journal entry stays pending with them",
                        );
                let account = self
                    .sandbox
                    .webline()
                    .accounts()
                    .into_iter()
                    .find(|a| a.domain == domain)
                    .unwrap();
                assert_eq!(
                    credential(&credentials, "username").as_deref(),
                    Some(account.username.as_str())
                );
                assert_eq!(credential(&credentials, "password"), created.password);
                assert_eq!(
                    harness_service(self.harness, "webline")["pass"],
                    "********",
                    "FOSSBilling keeps asterisks, not the provider's password"
                );
                let log = answer["log"].to_string();
                assert!(
                    log.contains(&format!("journal entry {entry}"))
                        && !log.contains(account.password.as_str()),
                    "{log}"
                );
                // The operator hands them over, then acknowledges.
                assert_eq!(
                    self.server
                        .post(&format!("/v1/journal/{entry}/ack"), &json!({}))
                        .0,
                    200
                );
            }
            ("webline", _) => assert_eq!(
                password, created.password,
                "the platform keeps Webline's generated password"
            ),
            ("hostmenow" | "logicboxes", Platform::Whmcs | Platform::Blesta) => {
                assert_eq!(
                    password, created.password,
                    "the provider has the platform's password"
                )
            }
            _ => {}
        }
        record
    }

    /// The whole lifecycle: create, suspend, unsuspend, change the password,
    /// change the package, change the domain (where the platform can ask),
    /// terminate.
    fn run(&self) {
        let record = self.create();
        self.step(&record, "suspend", &["suspend", self.module], |s, _| {
            s.state = "suspended"
        });
        self.step(&record, "unsuspend", &["unsuspend", self.module], |s, _| {
            s.state = "active"
        });
        let new_password = format!("{}-New-Pw9!", self.platform().name());
        if let Some(answer) = self.step(
            &record,
            "change-password",
            &["password", self.module, &new_password],
            |s, after| s.password = after.password.clone(),
        ) {
            let now = seen(self.sandbox, &record);
            if self.module == "logicboxes" {
                // LogicBoxes can only reset without the old password: its
                // generated password reaches the platform, or the operator.
                let kept = match self.platform() {
                    Platform::Whmcs => answer["service"]["password"].as_str().map(str::to_string),
                    Platform::Blesta => answer["fields"]["sandboxed_password"]
                        .as_str()
                        .map(str::to_string),
                    Platform::FossBilling => {
                        let service_id = format!("fossbilling-order-{}", self.module);
                        let (entry, credentials) = pending_credentials(
                            self.server,
                            "logicboxes",
                            &service_id,
                            "change-password",
                        )
                        .expect("left for the operator");
                        assert_eq!(
                            self.server
                                .post(&format!("/v1/journal/{entry}/ack"), &json!({}))
                                .0,
                            200
                        );
                        credential(&credentials, "password")
                    }
                };
                assert_eq!(
                    kept,
                    now.password,
                    "{:?}: the reset password was kept",
                    self.platform()
                );
            } else {
                assert_eq!(now.password.as_deref(), Some(new_password.as_str()));
            }
        }
        let next = format!("{}-next", self.module);
        self.step(
            &record,
            "change-package",
            &["plan", self.module, &next],
            |s, _| s.package = Some("102".into()),
        );
        let new_domain = format!("{}-moved.com", self.platform().name());
        let domain_step: Option<Vec<&str>> = match self.platform() {
            Platform::Whmcs => None,
            Platform::FossBilling => Some(vec![
                "domain",
                self.module,
                new_domain.split_once('.').unwrap().0,
                ".com",
            ]),
            Platform::Blesta => Some(vec!["domain", self.module, &new_domain]),
        };
        if let Some(args) = domain_step {
            self.step(&record, "change-domain", &args, |s, _| {
                s.domain = Some(new_domain.clone())
            });
        }
        let terminate = if self.platform() == Platform::Whmcs {
            "terminate"
        } else {
            "cancel"
        };
        // LogicBoxes deletes a mailbox; the others keep a terminated record.
        let removed = self.module == "logicboxes";
        self.step(&record, "terminate", &[terminate, self.module], |s, _| {
            if removed {
                *s = Seen::absent();
            } else {
                s.state = "terminated";
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_components_serve_whmcs_fossbilling_and_blesta() {
    tokio::task::spawn_blocking(ensure_php).await.unwrap();
    let sandbox = Sandbox::start().await.unwrap();
    let dir = fresh_dir("php-platforms");
    tokio::task::block_in_place(|| {
        let server = serve_all_providers(&sandbox, &dir, (TOKEN_VAR, TOKEN));
        for platform in [Platform::Whmcs, Platform::FossBilling, Platform::Blesta] {
            let harness = Harness {
                platform,
                state: dir.join(format!("{}.json", platform.name())),
                base: server.base.clone(),
            };
            harness.done(&["setup"]);
            for module in MODULES {
                Lifecycle {
                    sandbox: &sandbox,
                    server: &server,
                    harness: &harness,
                    module,
                    supports: functions(&server, module),
                }
                .run();
            }
            platform_specifics(&sandbox, &server, &harness);
        }

        journal_discipline(&sandbox, &server, &dir);

        // Every answer was kept by its platform (or handed over by the
        // operator) and acknowledged.
        let (_, pending) = server.get("/v1/journal/pending");
        assert_eq!(pending["pending"], json!([]), "{pending:#}");
        let log = server.log();
        for secret in [
            hostmenow::API_KEY,
            blesta::PASSWORD,
            webline::API_KEY,
            logicboxes::API_KEY,
            TOKEN,
        ] {
            assert!(!log.contains(secret), "serve's log shows a secret:\n{log}");
        }
        for account in sandbox.webline().accounts() {
            assert!(
                !log.contains(&account.password),
                "serve's log shows a generated password"
            );
        }
    });
}

/// What one platform has beyond the lifecycle: FOSSBilling's server form
/// from the modules' info, its refusals of what the contract lacks, its
/// sync and login; Blesta's package fields from the modules' info.
fn platform_specifics(sandbox: &Sandbox, server: &Serve, harness: &Harness) {
    let described: Vec<Value> = MODULES
        .iter()
        .map(|m| server.get(&format!("/v1/modules/{m}")).1["info"].clone())
        .collect();
    let settings = |scope: &str, secret: bool| -> Vec<String> {
        let mut names: Vec<String> = described
            .iter()
            .flat_map(|info| info["settings"].as_array().unwrap().clone())
            .filter(|s| {
                kebab(s["scope"].as_str().unwrap()) == scope
                    && (kebab(s["kind"].as_str().unwrap()) == "secret") == secret
            })
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    match harness.platform {
        Platform::FossBilling => {
            let form = harness.done(&["form"]);
            let names: Vec<&str> = form["ok"]["form"]["credentials"]["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap())
                .collect();
            // Server settings are serve's manifest's alone (serve refuses a
            // call that brings one): the form asks for none.
            for setting in settings("server", false)
                .into_iter()
                .chain(settings("server", true))
            {
                assert!(
                    !names.contains(&format!("config[{setting}]").as_str()),
                    "getForm asks for the server setting {setting}: {names:?}"
                );
            }
            // A new order to sync, sign into, and change what the contract cannot.
            harness.done(&["create", "webline-second", "fb-second", ".co.tz", "webline"]);
            // FOSSBilling's sync keeps only username and IP: the state goes to the order's log.
            let (outcome, answer) = harness.run(&["sync", "webline-second"]);
            assert!(
                matches!(&outcome, Outcome::Done(ok) if ok == true),
                "{outcome:?}"
            );
            assert!(
                answer["log"]
                    .to_string()
                    .contains("the provider reports the account active"),
                "{answer}"
            );
            for (step, what) in [("username", "username"), ("ip", "IP address")] {
                match harness.run(&[step, "webline-second", "10.9.8.7"]).0 {
                    Outcome::Refused(error) => assert!(
                        error.contains(what) && error.contains("contract has no such function"),
                        "{error}"
                    ),
                    Outcome::Done(ok) => panic!("{step} succeeded: {ok}"),
                }
            }
            let account = sandbox
                .webline()
                .accounts()
                .into_iter()
                .find(|a| a.domain == "fb-second.co.tz")
                .unwrap();
            let service_id = "fossbilling-order-webline-second";
            let (entry, credentials) =
                pending_credentials(server, "webline", service_id, "create-account").unwrap();
            assert_eq!(
                credential(&credentials, "password").as_deref(),
                Some(account.password.as_str())
            );
            assert_eq!(
                server
                    .post(&format!("/v1/journal/{entry}/ack"), &json!({}))
                    .0,
                200
            );
            harness.done(&["create", "hostmenow-sso", "fb-sso", ".co.tz", "hostmenow"]);
            match harness.run(&["login", "hostmenow-sso"]).0 {
                Outcome::Done(url) => assert!(
                    url.as_str().is_some_and(|u| u.starts_with("https://")),
                    "{url}"
                ),
                Outcome::Refused(error) => panic!("single sign-on refused: {error}"),
            }
            harness.done(&["cancel", "hostmenow-sso"]);
        }
        Platform::Blesta => {
            for module in MODULES {
                let shown = harness.done(&["fields", module]);
                let names: Vec<String> = shown["ok"]
                    .as_object()
                    .unwrap()
                    .values()
                    .map(|f| f["name"].as_str().unwrap().to_string())
                    .collect();
                let info = &described[MODULES.iter().position(|m| *m == module).unwrap()];
                for spec in info["settings"].as_array().unwrap() {
                    let field = format!("meta[{}]", spec["name"].as_str().unwrap());
                    let product = kebab(spec["scope"].as_str().unwrap()) == "product";
                    assert_eq!(
                        names.contains(&field),
                        product,
                        "{module}: {field} among {names:?}"
                    );
                }
                assert!(names.contains(&"meta[package]".to_string()));
            }
        }
        Platform::Whmcs => {}
    }
}

/// FOSSBilling's hosting service of an order (named by module), from its database.
fn harness_service(harness: &Harness, order: &str) -> Value {
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(&harness.state).unwrap()).unwrap();
    state["services"][order].clone()
}

/// The journal entry an error names ("... resolve journal entry 42 ...").
fn named_entry(error: &str) -> i64 {
    let tail = error
        .split("journal entry ")
        .nth(1)
        .unwrap_or_else(|| panic!("no journal entry named in: {error}"));
    tail.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

fn licenses_for(
    sandbox: &Sandbox,
    domain: &str,
) -> Vec<provisioning_sandbox::blesta::LicenseRecord> {
    sandbox
        .blesta()
        .licenses()
        .into_iter()
        .filter(|l| l.domain == domain)
        .collect()
}

/// The journal's discipline through the FOSSBilling and Blesta adapters: a
/// Blesta create's entry stays pending until Blesta has stored its answer,
/// and a retry after Blesta lost that answer is answered from the journal
/// (one account, the same credentials); a create cut off at the provider is
/// left to the operator on both, refused until resolved, then run again.
fn journal_discipline(sandbox: &Sandbox, server: &Serve, dir: &Path) {
    let blesta = Harness {
        platform: Platform::Blesta,
        state: dir.join("blesta.json"),
        base: server.base.clone(),
    };
    let fossbilling = Harness {
        platform: Platform::FossBilling,
        state: dir.join("fossbilling.json"),
        base: server.base.clone(),
    };
    let pending_create = |service_id: &str| {
        let (_, pending) = server.get("/v1/journal/pending");
        pending["pending"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| {
                e["intent"]["service_id"] == service_id
                    && e["intent"]["function"] == "create-account"
            })
            .map(|e| {
                (
                    e["id"].as_i64().unwrap(),
                    e["state"].as_str().unwrap().to_string(),
                )
            })
    };

    // Blesta dies after the module answered a create, before storing it.
    let lost = blesta.done(&["create-lost", "webline", "bl-lost.co.tz"]);
    assert_eq!(lost["ok"], "lost");
    let service_id = "blesta-c1-bl-lost.co.tz";
    let (entry, state) =
        pending_create(service_id).expect("the unstored answer's entry stays pending");
    assert_eq!(state, "answered");
    let again = blesta.done(&["create", "webline", "bl-lost.co.tz"]);
    let accounts: Vec<_> = sandbox
        .webline()
        .accounts()
        .into_iter()
        .filter(|a| a.domain == "bl-lost.co.tz")
        .collect();
    assert_eq!(
        accounts.len(),
        1,
        "the retry made no second account: {accounts:?}"
    );
    assert_eq!(
        again["fields"]["sandboxed_password"].as_str(),
        Some(accounts[0].password.as_str()),
        "the recorded credentials were stored"
    );
    assert_eq!(
        again["fields"]["sandboxed_journal_entry"],
        entry.to_string(),
        "the retry got the same entry's answer"
    );
    assert_eq!(
        pending_create(service_id).map(|(id, _)| id),
        Some(entry),
        "still pending until Blesta is seen to have stored it"
    );
    blesta.done(&["view", "webline"]);
    assert_eq!(
        pending_create(service_id),
        None,
        "acknowledged once Blesta had stored the answer"
    );

    // A create cut off at the provider, on each platform.
    for harness in [&blesta, &fossbilling] {
        let p = harness.platform.name();
        let domain = format!("{p}-unsure.com");
        sandbox.blesta().faults().inject(Fault::ServerErrorJson, 1);
        let args: Vec<String> = match harness.platform {
            Platform::FossBilling => vec![
                "create".into(),
                "blesta".into(),
                format!("{p}-unsure"),
                ".com".into(),
            ],
            _ => vec!["create".into(), "blesta".into(), domain.clone()],
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let Outcome::Refused(error) = harness.run(&args).0 else {
            panic!("{p}: a cut-off create succeeded");
        };
        let entry = named_entry(&error);
        assert!(
            error.contains("found-not-done"),
            "{p}: the error says what to do: {error}"
        );
        assert!(
            licenses_for(sandbox, &domain).is_empty(),
            "{p}: the cut-off create made no license"
        );
        if harness.platform == Platform::Blesta {
            // The same service again is refused until the operator decides.
            let Outcome::Refused(again) = harness.run(&args).0 else {
                panic!("a retry of an unknown outcome ran");
            };
            assert!(again.contains("outcome-unknown"), "{again}");
        }
        // The operator finds nothing at the provider, looking once the
        // call's deadline has passed (until then it might still act there,
        // and a finding is refused).
        server.wait_until("the cut-off create's deadline passed", || {
            server.get("/v1/journal/pending").1["pending"]
                .as_array()
                .is_some_and(|p| {
                    p.iter()
                        .any(|e| e["id"] == entry && e["attempt_over"] == true)
                })
        });
        let resolved = server.post(
            &format!("/v1/journal/{entry}/ack"),
            &json!({ "finding": "not-done" }),
        );
        assert_eq!(resolved.0, 200, "{}", resolved.1);
        harness.done(&args);
        let made = licenses_for(sandbox, &domain);
        assert_eq!(made.len(), 1, "{p}: one license after the retry: {made:?}");
        assert_eq!(made[0].status, LicenseStatus::Active);
        harness.done(&["cancel", "blesta"]);
        assert_eq!(
            licenses_for(sandbox, &domain)[0].status,
            LicenseStatus::Cancelled
        );
    }
}
