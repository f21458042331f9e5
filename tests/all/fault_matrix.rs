//! The fault matrix: every provider module against every way a provider or
//! the network can misbehave, on a mutating call (never retried by the
//! host). Each cell must be a typed error of an expected kind (never a
//! success, never `trap` or `host`), come back within the deadline plus a
//! small margin, leave the simulator's state as it was, and leave the
//! module able to answer the next call.
//!
//! `cargo test --test all fault_matrix -- --nocapture` prints the matrix.

use std::time::{Duration, Instant};

use provisioning_host::types::{Error as ModuleError, RateLimit, Service};
use provisioning_host::{CallError, Host, Limits, ModuleConfig, Request, Response};
use provisioning_sandbox::fault::{Fault, FaultInjector};
use provisioning_sandbox::{Sandbox, blesta, hostmenow, logicboxes, webline};
use serde_json::{Value, json};

/// The modules' deadline: short, so that the slow row is quick.
const DEADLINE: Duration = Duration::from_secs(3);

/// How late past the deadline an answer may come back.
const MARGIN: Duration = Duration::from_millis(1500);

/// How long the slow provider takes to answer: well past the deadline.
const SLOW: Duration = Duration::from_secs(5);

/// The `Retry-After` of the 429 row.
const RETRY_AFTER: u32 = 7;

/// What the oversized row sends: far more than the guest's 1 MiB cap.
const OVERSIZED_BYTES: u64 = 50 << 20;

/// Where the redirect row points: an origin no module is granted (and
/// `.invalid` never resolves, so nothing can reach it).
const UNGRANTED: &str = "http://ungranted.invalid/steal";

/// Kinds that mean the host, not the module, had to step in: never
/// acceptable for a provider's misbehaviour.
const FORBIDDEN: &[&str] = &["trap", "host", "memory-exhausted"];

/// One way to misbehave.
#[derive(Clone, Debug)]
enum Misbehaviour {
    /// The simulator answers the next request with this fault.
    Inject(Fault),
    /// The endpoint is a loopback port with nothing listening.
    Refused,
}

/// One row of the matrix: a misbehaviour and the kinds it may become.
struct Row {
    label: &'static str,
    misbehaviour: Misbehaviour,
    accept: &'static [&'static str],
    /// Words the error's message must hold (ASCII case ignored), if any.
    says: &'static [&'static str],
}

fn rows() -> Vec<Row> {
    use Misbehaviour::{Inject, Refused};
    vec![
        Row {
            label: "HTTP 500 JSON",
            misbehaviour: Inject(Fault::ServerErrorJson),
            accept: &["provider"],
            // The provider's own message, from the JSON body.
            says: &["internal server error"],
        },
        Row {
            label: "HTTP 500 HTML",
            misbehaviour: Inject(Fault::ServerErrorHtml),
            accept: &["provider"],
            says: &["500"],
        },
        Row {
            label: "HTML with 200",
            misbehaviour: Inject(Fault::HtmlOk),
            accept: &["bad-response"],
            says: &[],
        },
        Row {
            label: "empty body",
            misbehaviour: Inject(Fault::EmptyBody),
            accept: &["bad-response"],
            says: &[],
        },
        Row {
            label: "truncated JSON",
            misbehaviour: Inject(Fault::TruncatedJson),
            accept: &["bad-response"],
            says: &[],
        },
        Row {
            label: "429 + Retry-After",
            misbehaviour: Inject(Fault::TooManyRequests {
                retry_after_secs: RETRY_AFTER,
            }),
            accept: &["rate-limited"],
            says: &["429"],
        },
        Row {
            label: "disconnect mid-body",
            misbehaviour: Inject(Fault::DisconnectMidBody),
            accept: &["transport", "bad-response"],
            says: &[],
        },
        Row {
            label: "slower than deadline",
            misbehaviour: Inject(Fault::Slow(SLOW)),
            // The host ends the guest's network waits a little before its
            // own deadline, so the guest answers with its typed timeout.
            accept: &["timeout"],
            says: &[],
        },
        Row {
            label: "body over the cap",
            misbehaviour: Inject(Fault::OversizedBody {
                bytes: OVERSIZED_BYTES,
            }),
            accept: &["bad-response"],
            says: &["larger than"],
        },
        Row {
            label: "redirect, ungranted",
            misbehaviour: Inject(Fault::RedirectTo {
                location: UNGRANTED.into(),
            }),
            accept: &["bad-response", "transport"],
            says: &["redirects to http://ungranted.invalid"],
        },
        Row {
            label: "connection refused",
            misbehaviour: Refused,
            accept: &["transport"],
            says: &["refused"],
        },
    ]
}

/// The four provider modules.
#[derive(Clone, Copy, Debug)]
enum Provider {
    HostMeNow,
    Blesta,
    Webline,
    LogicBoxes,
}

const PROVIDERS: [Provider; 4] = [
    Provider::HostMeNow,
    Provider::Blesta,
    Provider::Webline,
    Provider::LogicBoxes,
];

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::HostMeNow => "hostmenow",
            Provider::Blesta => "blesta",
            Provider::Webline => "webline",
            Provider::LogicBoxes => "logicboxes",
        }
    }

    /// The `endpoint` setting that points the module at this sandbox.
    fn endpoint(self, sandbox: &Sandbox) -> String {
        match self {
            Provider::HostMeNow => sandbox.hostmenow().endpoint(),
            Provider::Blesta => sandbox.blesta().endpoint(),
            Provider::Webline => sandbox.webline().endpoint(),
            Provider::LogicBoxes => sandbox.logicboxes().origin().to_owned(),
        }
    }

    /// The module as `name`, granted the sandbox and `closed` (the refused
    /// port), with the short deadline, its `endpoint` setting `endpoint`.
    fn config(self, name: &str, endpoint: &str, sandbox: &Sandbox, closed: &str) -> ModuleConfig {
        let component = match self {
            Provider::HostMeNow => provisioning_components::HOSTMENOW,
            Provider::Blesta => provisioning_components::BLESTA,
            Provider::Webline => provisioning_components::WEBLINE,
            Provider::LogicBoxes => provisioning_components::LOGICBOXES,
        };
        let config = ModuleConfig::new(name, component)
            .allow_hosts(&[sandbox.origin(), closed.to_owned()])
            .expect("origins parse")
            .setting("endpoint", endpoint)
            .limits(Limits {
                deadline: DEADLINE,
                ..Limits::default()
            });
        match self {
            Provider::HostMeNow => config.setting("api-key", hostmenow::API_KEY),
            Provider::Blesta => config
                .setting("uid", blesta::UID)
                .setting("password", blesta::PASSWORD),
            Provider::Webline => config
                .setting("api-key", webline::API_KEY)
                .setting("activation-wait-seconds", "0"),
            Provider::LogicBoxes => config
                .setting("auth-userid", logicboxes::AUTH_USERID)
                .setting("api-key", logicboxes::API_KEY)
                .setting("order-id", logicboxes::ORDER_ID),
        }
    }

    fn faults(self, sandbox: &Sandbox) -> &FaultInjector {
        match self {
            Provider::HostMeNow => sandbox.hostmenow().faults(),
            Provider::Blesta => sandbox.blesta().faults(),
            Provider::Webline => sandbox.webline().faults(),
            Provider::LogicBoxes => sandbox.logicboxes().faults(),
        }
    }

    /// Everything the simulator holds, and how many requests reached it.
    fn state(self, sandbox: &Sandbox) -> Value {
        match self {
            Provider::HostMeNow => {
                let sim = sandbox.hostmenow();
                json!({"services": sim.services(), "credit": sim.credit(),
                       "requests": sim.requests().len()})
            }
            Provider::Blesta => {
                let sim = sandbox.blesta();
                json!({"licenses": sim.licenses(), "credit": sim.credit_cents(),
                       "requests": sim.requests().len()})
            }
            Provider::Webline => {
                let sim = sandbox.webline();
                json!({"accounts": sim.accounts(), "credit": sim.credit(),
                       "requests": sim.requests().len()})
            }
            Provider::LogicBoxes => {
                let sim = sandbox.logicboxes();
                json!({"mailboxes": sim.mailboxes(), "requests": sim.requests().len()})
            }
        }
    }

    /// Sets up what row `n` acts on (without faults) and returns its
    /// mutating call: suspend a fresh service, or (Webline, which cannot
    /// suspend) create a fresh account.
    async fn prepare(self, host: &Host, n: usize) -> Request {
        let created = |result: Result<Response, CallError>| match result {
            Ok(Response::Created(created)) => created,
            other => panic!("{}: setting up row {n}: {other:?}", self.name()),
        };
        let service = match self {
            Provider::HostMeNow => {
                let service = provisioning_test_support::service(&format!("fm-{n}"));
                created(
                    host.call(
                        self.name(),
                        &Request::CreateAccount {
                            service: service.clone(),
                        },
                    )
                    .await,
                );
                service
            }
            Provider::Blesta => {
                let mut service = license(&format!("fm{n}.example.com"));
                let license = created(
                    host.call(
                        self.name(),
                        &Request::CreateAccount {
                            service: service.clone(),
                        },
                    )
                    .await,
                );
                service.remote_id = Some(license.remote_id);
                service
            }
            Provider::Webline => {
                return Request::CreateAccount {
                    service: provisioning_test_support::webline::service(
                        &format!("fm{n}.co.tz"),
                        "1",
                    ),
                };
            }
            Provider::LogicBoxes => {
                let mut service = mailbox(&format!("fm{n}"));
                let account = created(
                    host.call(
                        self.name(),
                        &Request::CreateAccount {
                            service: service.clone(),
                        },
                    )
                    .await,
                );
                service.remote_id = Some(account.remote_id);
                service
            }
        };
        Request::Suspend {
            service,
            reason: Some("fault matrix".into()),
        }
    }
}

/// A Blesta license service on `domain`.
fn license(domain: &str) -> Service {
    Service {
        domain: Some(domain.into()),
        package: Some("monthly".into()),
        billing_cycle: Some("monthly".into()),
        ..provisioning_test_support::bare_service(&format!("svc-{domain}"))
    }
}

/// A LogicBoxes mailbox `<user>@` the simulator's order domain.
fn mailbox(user: &str) -> Service {
    let mut service = provisioning_test_support::service(user);
    service.username = Some(user.to_owned());
    service.domain = Some(logicboxes::ORDER_DOMAIN.to_owned());
    service.package = None;
    service
}

/// An origin on loopback with nothing listening, and the socket that
/// keeps its port from being taken while the test runs.
fn closed_origin() -> (tokio::net::TcpSocket, String) {
    let (held, port) = provisioning_test_support::refused_port();
    (held, format!("http://127.0.0.1:{port}"))
}

/// What one cell came to: the kind (or `OK` for a success) and whatever
/// was wrong with it.
struct Cell {
    kind: String,
    millis: u128,
    problems: Vec<String>,
}

/// Runs every row against one provider, in its own sandbox and host.
async fn run_provider(provider: Provider) -> Vec<Cell> {
    let sandbox = Sandbox::start().await.expect("sandbox starts");
    let host = provisioning_test_support::host();
    let (_held, closed) = closed_origin();
    let closed_endpoint = provider
        .endpoint(&sandbox)
        .replacen(&sandbox.origin(), &closed, 1);
    // The same module a second time, its endpoint on the refused port (an
    // endpoint is the operator's setting: a call cannot move it).
    let refused = format!("{}-refused", provider.name());
    for (name, endpoint) in [
        (provider.name(), provider.endpoint(&sandbox)),
        (refused.as_str(), closed_endpoint),
    ] {
        host.load(provider.config(name, &endpoint, &sandbox, &closed))
            .await
            .unwrap_or_else(|e| panic!("{name} loads: {e}"));
    }

    let mut cells = Vec::new();
    for (n, row) in rows().into_iter().enumerate() {
        let request = provider.prepare(&host, n).await;
        let before = provider.state(&sandbox);
        let injected = Instant::now();
        let module = match &row.misbehaviour {
            Misbehaviour::Inject(fault) => {
                provider.faults(&sandbox).inject(fault.clone(), 1);
                provider.name()
            }
            Misbehaviour::Refused => refused.as_str(),
        };
        let result = host.call(module, &request).await;
        let elapsed = injected.elapsed();
        let mut problems = Vec::new();
        let kind = match &result {
            Ok(response) => {
                problems.push(format!("succeeded: {response:?}"));
                "OK".to_owned()
            }
            Err(error) => {
                let kind = error.kind();
                if FORBIDDEN.contains(&kind) || !row.accept.contains(&kind) {
                    problems.push(format!(
                        "{kind} (expected one of {:?}): {error}",
                        row.accept
                    ));
                }
                let message = error.to_string().to_lowercase();
                for word in row.says {
                    if !message.contains(&word.to_lowercase()) {
                        problems.push(format!("the message does not say `{word}`: {error}"));
                    }
                }
                // Only the origin of a redirect is told, never its path.
                if message.contains("/steal") {
                    problems.push(format!("the message echoes the redirect's path: {error}"));
                }
                kind.to_owned()
            }
        };
        if let Misbehaviour::Inject(Fault::TooManyRequests { retry_after_secs }) = row.misbehaviour
        {
            match result.as_ref().err().and_then(CallError::module_error) {
                Some(ModuleError::RateLimited(RateLimit {
                    retry_after_seconds,
                    ..
                })) if *retry_after_seconds == Some(retry_after_secs) => {}
                other => problems.push(format!(
                    "expected rate-limited with Retry-After {retry_after_secs}, got {other:?}"
                )),
            }
        }
        if elapsed > DEADLINE + MARGIN {
            problems.push(format!("answered after {elapsed:?}, deadline {DEADLINE:?}"));
        }
        if provider.faults(&sandbox).pending() != 0 {
            problems.push("the fault was not used by the call".into());
        }
        if let Misbehaviour::Inject(Fault::Slow(delay)) = row.misbehaviour {
            // Had the request been let through after its delay, it would
            // show by now.
            tokio::time::sleep(
                (delay + Duration::from_millis(300)).saturating_sub(injected.elapsed()),
            )
            .await;
        }
        let after = provider.state(&sandbox);
        if after != before {
            problems.push(format!(
                "the faulted call changed the simulator's state:\n  before {before}\n  after  {after}"
            ));
        }
        // The same call, no fault: the module answers normally.
        if let Err(error) = host.call(provider.name(), &request).await {
            problems.push(format!("the next call failed: {} ({error})", error.kind()));
        } else if provider.state(&sandbox) == before {
            problems.push("the next call succeeded but changed nothing".into());
        }
        cells.push(Cell {
            kind,
            millis: elapsed.as_millis(),
            problems,
        });
    }
    sandbox.shutdown().await;
    cells
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_on_every_provider_is_a_typed_error_within_the_deadline() {
    let started = Instant::now();
    let tasks: Vec<_> = PROVIDERS
        .iter()
        .map(|&provider| tokio::spawn(run_provider(provider)))
        .collect();
    let mut columns = Vec::new();
    for task in tasks {
        columns.push(task.await.expect("a provider's run panicked"));
    }

    let rows = rows();
    let label_width = rows.iter().map(|r| r.label.len()).max().unwrap_or(0);
    let cell_width = 28;
    let mut table = format!("{:label_width$}", "fault \\ provider");
    for provider in PROVIDERS {
        table.push_str(&format!(" | {:cell_width$}", provider.name()));
    }
    table.push('\n');
    table.push_str(&"-".repeat(label_width + PROVIDERS.len() * (cell_width + 3)));
    table.push('\n');
    let mut failures = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        table.push_str(&format!("{:label_width$}", row.label));
        for (provider, column) in PROVIDERS.iter().zip(&columns) {
            let cell = &column[n];
            let mark = if cell.problems.is_empty() { "" } else { " !!" };
            let text = format!("{} ({} ms){mark}", cell.kind, cell.millis);
            table.push_str(&format!(" | {text:cell_width$}"));
            for problem in &cell.problems {
                failures.push(format!("{} / {}: {problem}", provider.name(), row.label));
            }
        }
        table.push('\n');
    }
    println!("\n{table}");
    println!("(whole matrix in {:?})", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} cell(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
