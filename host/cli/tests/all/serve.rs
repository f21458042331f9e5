//! `provisioning serve` as a platform uses it: the real binary, the real
//! components, the sandbox over loopback. Token, body cap, malformed input,
//! calls and the journal, reload on file change and SIGHUP (a bad version
//! refused), graceful shutdown with a call in flight, and the OpenAPI
//! document checked against the running server.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Serve, answer};
use provisioning_host::SettingSource;
use provisioning_host::types::Service;
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_test_support::manifest::{Module, TestManifest};
use provisioning_test_support::openapi::{answer_schema, conforms, fits};
use provisioning_test_support::service_json;
use serde_json::{Value, json};

const TOKEN: &str = "serve-test-token-0123456789";
const TOKEN_VAR: &str = "TEST_SERVE_TOKEN";

/// A running server of this test's token and manifest variables, with
/// the calls the tests make often.
struct Server(Serve);

impl std::ops::Deref for Server {
    type Target = Serve;
    fn deref(&self) -> &Serve {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Serve {
        &mut self.0
    }
}

impl Server {
    fn start(manifest: &Path, extra: &[&str]) -> Server {
        let journal_key = "ab".repeat(32);
        Server(Serve::start(
            manifest,
            (TOKEN_VAR, TOKEN),
            &[
                ("TEST_JOURNAL_KEY", &journal_key),
                ("TEST_HMN_KEY", hostmenow::API_KEY),
            ],
            extra,
        ))
    }

    fn call(&self, module: &str, request: Value) -> Value {
        let (status, body) = self.post(
            &format!("/v1/modules/{module}/call"),
            &json!({ "request": request }),
        );
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// A fresh directory with a copy of the HostMeNow component and a manifest
/// (with a journal) granting only the sandbox.
fn setup(sandbox: &Sandbox, name: &str) -> (PathBuf, PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("provisioning-serve-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let component = dir.join("hostmenow.wasm");
    std::fs::copy(provisioning_components::HOSTMENOW, &component).unwrap();
    let manifest = TestManifest::new()
        .sqlite_journal("journal.sqlite3", "TEST_JOURNAL_KEY")
        .module(
            "hostmenow",
            Module::new("hostmenow.wasm")
                .allow(&sandbox.origin())
                .deadline(Duration::from_secs(5))
                .setting("endpoint", &sandbox.hostmenow().endpoint())
                .secret_env("api-key", "TEST_HMN_KEY"),
        )
        .write(dir.join("provisioning.toml"));
    (manifest, component)
}

/// The component with a custom section: same code, another digest.
pub(crate) fn rebuilt(component: &Path, label: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(provisioning_components::HOSTMENOW).unwrap();
    let name = b"serve-test";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(label.as_bytes());
    assert!(section.len() < 128);
    bytes.push(0);
    bytes.push(section.len() as u8);
    bytes.extend(section);
    let _ = component;
    bytes
}

/// The password of every [`service`]: never in an answer or a log.
const PASSWORD: &str = "Serve-Pa55word!";

fn service(id: &str) -> Value {
    service_json(&Service {
        password: Some(PASSWORD.into()),
        ..provisioning_test_support::service(id)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_needs_the_token_and_bad_requests_get_typed_4xx() {
    let sandbox = Sandbox::start().await.unwrap();
    let (manifest, _) = setup(&sandbox, "auth");
    let base_requests = sandbox.hostmenow().requests().len();
    let checks = tokio::task::spawn_blocking(move || {
        let server = Server::start(&manifest, &["--max-body-bytes", "4096"]);
        let url = format!("{}/v1/modules/hostmenow/call", server.base);
        let body = json!({ "request": { "function": "test-connection" } });

        let missing = answer(ureq::post(&url).send_json(body.clone()));
        let wrong = answer(
            ureq::post(&url)
                .set("Authorization", "Bearer serve-test-token-0123456780")
                .send_json(body.clone()),
        );
        let big = server.post(
            "/v1/modules/hostmenow/call",
            &json!({ "request": { "function": "test-connection" }, "idempotency_key": "x".repeat(8000) }),
        );
        let malformed = answer(
            ureq::post(&url)
                .set("Authorization", &format!("Bearer {TOKEN}"))
                .set("Content-Type", "application/json")
                .send_string("{\"request\": "),
        );
        let unknown_module = server.post("/v1/modules/nope/call", &body);
        let unknown_function = server.post(
            "/v1/modules/hostmenow/call",
            &json!({ "request": { "function": "format-disk" } }),
        );
        let unknown_route = server.get("/v1/nothing-here");
        (missing, wrong, big, malformed, unknown_module, unknown_function, unknown_route)
    })
    .await
    .unwrap();
    let (missing, wrong, big, malformed, unknown_module, unknown_function, unknown_route) = checks;
    assert_eq!(missing.0, 401);
    assert_eq!(missing.1["error"]["kind"], "unauthorized");
    assert_eq!(wrong.0, 401);
    assert_eq!(
        sandbox.hostmenow().requests().len(),
        base_requests,
        "a refused request touches nothing"
    );
    assert_eq!(big.0, 413, "{}", big.1);
    assert_eq!(big.1["error"]["kind"], "body-too-large");
    assert_eq!(malformed.0, 400);
    assert_eq!(malformed.1["error"]["kind"], "malformed-request");
    assert_eq!(unknown_module.0, 404);
    assert_eq!(unknown_module.1["error"]["kind"], "unknown-module");
    assert_eq!(unknown_function.0, 400);
    assert!(
        unknown_function.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("format-disk"),
        "{}",
        unknown_function.1
    );
    assert_eq!(unknown_route.0, 404);
    assert_eq!(unknown_route.1["error"]["kind"], "unknown-route");
}

/// Sends `head` (request line and headers, no blank line) and `body` over
/// a plain socket, for what a client library will not send (a header
/// twice): the status and the body, as JSON when it parses.
fn raw_request(server: &Server, head: &str, body: &str) -> (u16, Value) {
    use std::io::{Read, Write};
    let address = server.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "{head}\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1;
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.to_string())),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refused_body_is_a_typed_400_and_two_authorization_headers_are_refused() {
    let document = document();
    let sandbox = Sandbox::start().await.unwrap();
    let (manifest, _) = setup(&sandbox, "bodies");
    let base_requests = sandbox.hostmenow().requests().len();
    tokio::task::spawn_blocking(move || {
        let server = Server::start(&manifest, &[]);
        let created = server.call(
            "hostmenow",
            json!({ "function": "create-account", "service": service("b1") }),
        );
        let entry = created["journal_entry"].as_i64().unwrap();
        let ack = format!("/v1/journal/{entry}/ack");
        // A body of the wrong shape on every route that reads one.
        for (path, body) in [
            (ack.as_str(), json!({ "finding": "maybe" })),
            (ack.as_str(), json!({ "findings": "done" })),
            (ack.as_str(), json!({ "note": 7 })),
            (
                "/v1/modules/hostmenow/call",
                json!({ "request": {}, "extra": 1 }),
            ),
            ("/v1/modules/hostmenow/call", json!({ "settings": "x" })),
            ("/v1/usage", json!({ "services": [], "speed": 1 })),
            ("/v1/usage", json!({ "services": {} })),
        ] {
            let (status, refused) = server.post(path, &body);
            assert_eq!(status, 400, "{path} {body}: {refused}");
            fits(&document, "/components/schemas/ErrorBody", &refused)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(refused["error"]["kind"], "malformed-request", "{refused}");
        }
        let (status, refused) = server.post(&ack, &json!({ "finding": "maybe" }));
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("maybe"),
            "the refusal says what was wrong: {status} {refused}"
        );
        // Still pending: nothing was acknowledged by a refused body.
        let (_, pending) = server.get("/v1/journal/pending");
        assert!(
            pending.to_string().contains(&format!("\"id\":{entry}")),
            "{pending}"
        );

        // Two Authorization headers, the right token first: refused.
        let right = format!("Authorization: Bearer {TOKEN}");
        let wrong = "Authorization: Bearer someone-elses-token-000";
        for (first, second) in [
            (right.as_str(), wrong),
            (wrong, right.as_str()),
            (right.as_str(), right.as_str()),
        ] {
            let (status, refused) = raw_request(
                &server,
                &format!("POST /v1/modules/hostmenow/call HTTP/1.1\r\n{first}\r\n{second}"),
                &json!({ "request": { "function": "test-connection" } }).to_string(),
            );
            assert_eq!(status, 401, "{refused}");
            assert_eq!(refused["error"]["kind"], "unauthorized", "{refused}");
        }
        // The same request with one header passes.
        let (status, _) = raw_request(
            &server,
            &format!("POST /v1/modules/hostmenow/call HTTP/1.1\r\n{right}"),
            &json!({ "request": { "function": "test-connection" } }).to_string(),
        );
        assert_eq!(status, 200);
    })
    .await
    .unwrap();
    assert_eq!(
        sandbox.hostmenow().requests().len(),
        base_requests + 2,
        "the create and the one test-connection with one token reached the provider"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_brings_only_the_modules_product_settings() {
    let sandbox = Sandbox::start().await.unwrap();
    let (manifest, _) = setup(&sandbox, "call-settings");
    let other_origin = format!("{}/elsewhere", sandbox.hostmenow().endpoint());
    let answers = tokio::task::spawn_blocking(move || {
        let server = Server::start(&manifest, &[]);
        let call = |settings: Value| {
            let (status, body) = server.post(
                "/v1/modules/hostmenow/call",
                &json!({
                    "request": { "function": "create-account", "service": service("cs-1") },
                    "settings": settings,
                    "idempotency_key": "create-cs-1",
                }),
            );
            assert_eq!(status, 200, "{body}");
            body
        };
        let refused: Vec<Value> = [
            json!([{ "name": "api-key", "value": "someone-elses-key-1" }]),
            json!([{ "name": "endpoint", "value": other_origin }]),
            json!([{ "name": "product-note", "value": "x" }]),
        ]
        .into_iter()
        .map(call)
        .collect();
        let (_, usage) = server.post(
            "/v1/usage",
            &json!({ "services": [{
                "module": "hostmenow",
                "service": service("cs-1"),
                "settings": [{ "name": "api-key", "value": "someone-elses-key-1" }],
            }] }),
        );
        let (_, pending) = server.get("/v1/journal/pending");
        let accepted = call(json!([{ "name": "ip-address", "value": "10.1.2.3" }]));
        (refused, usage, pending, accepted, server.log())
    })
    .await
    .unwrap();
    let (refused, usage, pending, accepted, log) = answers;
    for (answer, named) in refused.iter().zip(["api-key", "endpoint", "product-note"]) {
        assert_eq!(answer["error"]["kind"], "invalid-input", "{answer}");
        assert_eq!(answer["error"]["uncertain"], false, "{answer}");
        assert_eq!(answer["journal_entry"], Value::Null, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("\"{named}\"")),
            "{answer}"
        );
    }
    assert_eq!(
        usage["results"][0]["error"]["kind"], "invalid-input",
        "{usage}"
    );
    assert_eq!(pending["pending"], json!([]), "nothing journaled");
    // The refusals left the key free: the product setting's call ran
    // under it, the one create the provider saw.
    assert_eq!(accepted["ok"]["kind"], "created", "{accepted}");
    assert_eq!(accepted["replayed"], false, "{accepted}");
    let requests = sandbox.hostmenow().requests();
    assert!(
        !format!("{requests:?}").contains("someone-elses-key-1"),
        "{requests:?}"
    );
    assert_eq!(
        sandbox.hostmenow().services().len(),
        1,
        "one account, the accepted call's"
    );
    assert!(!log.contains("someone-elses-key-1"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_answer_typed_results_and_the_journal_is_read_and_acknowledged() {
    let sandbox = Sandbox::start().await.unwrap();
    let (manifest, _) = setup(&sandbox, "calls");
    tokio::task::spawn_blocking(move || {
        let server = Server::start(&manifest, &[]);
        let connected = server.call("hostmenow", json!({ "function": "test-connection" }));
        assert_eq!(connected["ok"]["kind"], "connection");
        assert_eq!(connected["journal_entry"], Value::Null);

        let create = json!({
            "request": { "function": "create-account", "service": service("s1") },
            "idempotency_key": "whmcs-s1-create"
        });
        let (status, created) = server.post("/v1/modules/hostmenow/call", &create);
        assert_eq!(status, 200);
        assert_eq!(created["ok"]["kind"], "created", "{created}");
        let entry = created["journal_entry"].as_i64().unwrap();
        let (_, again) = server.post("/v1/modules/hostmenow/call", &create);
        assert_eq!(again["replayed"], true);
        assert_eq!(again["ok"], created["ok"]);

        let missing = server.call(
            "hostmenow",
            json!({ "function": "suspend", "service": service("never") }),
        );
        assert_eq!(missing["error"]["kind"], "not-found", "{missing}");

        // What the contract makes optional may be left out, as in `call
        // --service` and a usage services file: here `custom_fields`.
        let mut bare = service("s2");
        bare.as_object_mut().unwrap().remove("custom_fields");
        let created_bare = server.call(
            "hostmenow",
            json!({ "function": "create-account", "service": bare }),
        );
        assert_eq!(created_bare["ok"]["kind"], "created", "{created_bare}");

        let (_, pending) = server.get("/v1/journal/pending");
        let ids: Vec<i64> = pending["pending"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect();
        assert!(ids.contains(&entry), "{pending}");
        assert!(!pending.to_string().contains(PASSWORD));
        let (status, acked) = server.post(&format!("/v1/journal/{entry}/ack"), &json!({}));
        assert_eq!((status, acked["acknowledged"].as_i64()), (200, Some(entry)));
        let (status, again) = server.post(&format!("/v1/journal/{entry}/ack"), &json!({}));
        assert_eq!(status, 404);
        assert_eq!(again["error"]["kind"], "not-pending");
    })
    .await
    .unwrap();
    assert!(sandbox.hostmenow().service("s1").is_some());
    assert!(sandbox.hostmenow().service("s2").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_component_is_swapped_in_and_a_broken_one_refused() {
    let sandbox = Sandbox::start().await.unwrap();
    let (manifest, component) = setup(&sandbox, "reload");
    tokio::task::spawn_blocking(move || {
        let server = Server::start(&manifest, &["--watch-interval-ms", "100"]);
        let first = server.digest("hostmenow");

        std::fs::write(&component, rebuilt(&component, "v2")).unwrap();
        server.wait_until("the new version", || server.digest("hostmenow") != first);
        let second = server.digest("hostmenow");
        let log = server.log();
        assert!(
            log.contains(&first) && log.contains(&second),
            "the reload is logged with both digests:\n{log}"
        );

        std::fs::write(&component, b"\0asm not a component").unwrap();
        server.wait_until("the refusal", || {
            server.log().contains("new version refused")
        });
        assert_eq!(
            server.digest("hostmenow"),
            second,
            "the old version keeps serving"
        );
        let connected = server.call("hostmenow", json!({ "function": "test-connection" }));
        assert_eq!(connected["ok"]["kind"], "connection");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads() {
    let sandbox = Sandbox::start().await.unwrap();
    let (manifest, component) = setup(&sandbox, "hup");
    tokio::task::spawn_blocking(move || {
        // Files are not watched in practice (an hour between checks).
        let server = Server::start(&manifest, &["--watch-interval-ms", "3600000"]);
        let first = server.digest("hostmenow");
        std::fs::write(&component, rebuilt(&component, "hup")).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            server.digest("hostmenow"),
            first,
            "no reload without a signal"
        );
        server.sighup();
        server.wait_until("the reload", || server.digest("hostmenow") != first);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_the_call_in_flight_finish_then_exits() {
    let sandbox = Sandbox::start().await.unwrap();
    let (manifest, _) = setup(&sandbox, "term");
    sandbox
        .hostmenow()
        .faults()
        .inject(Fault::Slow(Duration::from_millis(1500)), 1);
    tokio::task::spawn_blocking(move || {
        let mut server = Server::start(&manifest, &[]);
        let base = server.base.clone();
        let in_flight = std::thread::spawn(move || {
            answer(
                ureq::post(&format!("{base}/v1/modules/hostmenow/call"))
                    .set("Authorization", &format!("Bearer {TOKEN}"))
                    .send_json(json!({ "request": { "function": "list-packages" } })),
            )
        });
        std::thread::sleep(Duration::from_millis(400));
        let status = Command::new("kill")
            .args(["-TERM", &server.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let (code, body) = in_flight.join().unwrap();
        assert_eq!(code, 200);
        assert_eq!(body["ok"]["kind"], "packages", "{body}");
        let exit = server.child.wait().unwrap();
        assert!(exit.success(), "{exit:?}");
        let after = ureq::get(&format!("{}/v1/health", server.base)).call();
        assert!(
            matches!(after, Err(ureq::Error::Transport(_))),
            "no connection after shutdown"
        );
    })
    .await
    .unwrap();
}

/// The OpenAPI document the repository keeps (the serve library's tests
/// hold it equal to the one its code generates), as JSON.
fn document() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_the_running_server() {
    let document = document();
    let sandbox = Sandbox::start().await.unwrap();
    let (manifest, _) = setup(&sandbox, "openapi");
    tokio::task::spawn_blocking(move || {
        let server = Server::start(&manifest, &[]);
        // An entry to acknowledge, and a pending list that is not empty.
        let created = server.post(
            "/v1/modules/hostmenow/call",
            &json!({ "request": { "function": "create-account", "service": service("o1") } }),
        );
        let suspended = server.call("hostmenow", json!({ "function": "suspend", "service": service("o1") }));
        let entry = created.1["journal_entry"].as_i64().unwrap();
        assert!(suspended["journal_entry"].is_i64());
        // The journal tells the remote id of a service it saw created, and
        // null for one it did not.
        let remote = server.get("/v1/modules/hostmenow/services/o1/remote-id");
        assert_eq!(remote.0, 200, "{}", remote.1);
        assert!(created.1["ok"]["value"]["remote_id"].is_string(), "{}", created.1);
        assert_eq!(remote.1["remote_id"], created.1["ok"]["value"]["remote_id"]);
        assert_eq!(remote.1["domain"], "o1.example.com", "the create's domain: {}", remote.1);
        let unknown = server.get("/v1/modules/hostmenow/services/never-made/remote-id");
        assert_eq!(unknown.1["remote_id"], Value::Null, "{}", unknown.1);
        assert_eq!(unknown.1["domain"], Value::Null, "{}", unknown.1);
        // A service's pending entries are its own: not another service's,
        // not an addon's whose id begins like it, not another module's.
        server.call("hostmenow", json!({ "function": "create-account", "service": service("o1-a7") }));
        server.call("hostmenow", json!({ "function": "create-account", "service": service("o2") }));
        let all = server.get("/v1/journal/pending").1["pending"].as_array().unwrap().len();
        let own = server.get("/v1/modules/hostmenow/services/o1/pending");
        assert_eq!(own.0, 200, "{}", own.1);
        let ids: Vec<i64> = own.1["pending"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, vec![entry, suspended["journal_entry"].as_i64().unwrap()], "{:#}", own.1);
        assert_eq!((own.1["module"].as_str(), own.1["service_id"].as_str()), (Some("hostmenow"), Some("o1")));
        assert!(all >= 4, "the whole pending list is longer: {all}");
        let elsewhere = server.get("/v1/modules/blesta/services/o1/pending");
        assert_eq!((elsewhere.0, &elsewhere.1["pending"]), (200, &json!([])), "{}", elsewhere.1);
        // A terminate after the create: the account the create made is gone.
        assert_eq!(remote.1["terminated"], false, "{}", remote.1);
        server.call("hostmenow", json!({ "function": "terminate", "service": service("o2") }));
        let gone = server.get("/v1/modules/hostmenow/services/o2/remote-id").1;
        assert_eq!((gone["remote_id"].is_string(), &gone["terminated"]), (true, &json!(true)), "{gone}");

        let mut checked = 0;
        for (path, operations) in document["paths"].as_object().unwrap() {
            for (method, operation) in operations.as_object().unwrap() {
                let url = path
                    .replace("{module}", "hostmenow")
                    .replace("{service}", "o1")
                    .replace("{entry}", &entry.to_string());
                let (status, body) = match method.as_str() {
                    "get" => server.get(&url),
                    "post" if url.ends_with("/call") => server.post(
                        &url,
                        &json!({ "request": { "function": "usage-data", "service": service("o1") } }),
                    ),
                    // One service read, one whose module is unknown: a
                    // result each, the second its error.
                    "post" if url == "/v1/usage" => server.post(
                        &url,
                        &json!({ "services": [
                            { "module": "hostmenow", "service": service("o1") },
                            { "module": "nowhere", "service": { "service_id": "x" } },
                        ] }),
                    ),
                    "post" => server.post(&url, &json!({})),
                    other => panic!("undocumented method {other}"),
                };
                assert_eq!(status, 200, "{method} {path}: {body}");
                // The scrape is text; every other answer JSON of its schema.
                match answer_schema(&document, method, path, status, "text/plain") {
                    Ok(text) => fits(&document, &text, &body),
                    Err(_) => conforms(&document, method, path, status, &body),
                }
                .unwrap_or_else(|e| panic!("{e}"));
                // An operation documented as open answers without the token.
                if operation["security"] == json!([]) {
                    let open = answer(ureq::get(&format!("{}{url}", server.base)).call());
                    assert_eq!(open.0, 200, "{method} {path} without the token");
                    checked += 1;
                    continue;
                }
                // The documented refusals answer as documented too.
                let unauthorized = answer(match method.as_str() {
                    "get" => ureq::get(&format!("{}{url}", server.base)).call(),
                    _ => ureq::post(&format!("{}{url}", server.base)).send_json(json!({})),
                });
                assert_eq!(unauthorized.0, 401, "{method} {path}");
                conforms(&document, method, path, 401, &unauthorized.1).unwrap();
                checked += 1;
            }
        }
        assert_eq!(checked, 13, "every operation was exercised");
        // A call's typed error fits the documented shape as well.
        let failed = server.call("hostmenow", json!({ "function": "suspend", "service": service("nope") }));
        assert!(failed["error"]["kind"].is_string(), "{failed}");
        conforms(&document, "post", "/v1/modules/{module}/call", 200, &failed).unwrap();
    })
    .await
    .unwrap();
}

/// A fresh directory for one test with a manifest of `modules` (TOML
/// sections, relative paths resolving in the directory).
fn manifest_dir(name: &str, modules: &str) -> (PathBuf, PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("provisioning-serve-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("provisioning.toml");
    std::fs::write(&manifest, modules).unwrap();
    (dir, manifest)
}

/// A HostMeNow module whose api-key is read from `hostmenow.key`.
fn hostmenow_with_key_file(sandbox: &Sandbox) -> String {
    TestManifest::new()
        .module(
            "hostmenow",
            Module::hostmenow(sandbox)
                .deadline(Duration::from_secs(5))
                .secret_file("api-key", "hostmenow.key"),
        )
        .toml()
}

/// The kind of the answer to test-connection: `ok` or the error's kind.
fn connection(server: &Server, module: &str) -> String {
    let answer = server.call(module, json!({ "function": "test-connection" }));
    match answer["error"]["kind"].as_str() {
        Some(kind) => kind.to_string(),
        None => "ok".to_string(),
    }
}

const WRONG_KEY: &str = "hmn_wrong_key_0000";

#[tokio::test(flavor = "multi_thread")]
async fn sighup_applies_a_rotated_secret_file() {
    let sandbox = Sandbox::start().await.unwrap();
    let (dir, manifest) = manifest_dir("rotate-hup", &hostmenow_with_key_file(&sandbox));
    std::fs::write(dir.join("hostmenow.key"), format!("{WRONG_KEY}\n")).unwrap();
    tokio::task::spawn_blocking(move || {
        // Files are not watched in practice (an hour between checks).
        let server = Server::start(&manifest, &["--watch-interval-ms", "3600000"]);
        assert_eq!(connection(&server, "hostmenow"), "auth-failed");
        let digest = server.digest("hostmenow");

        std::fs::write(
            dir.join("hostmenow.key"),
            format!("{}\n", hostmenow::API_KEY),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            connection(&server, "hostmenow"),
            "auth-failed",
            "no reload without a signal"
        );
        server.sighup();
        server.wait_until("the rotated key in service", || {
            connection(&server, "hostmenow") == "ok"
        });
        assert_eq!(
            server.digest("hostmenow"),
            digest,
            "the same component, swapped in for its settings"
        );
        let log = server.log();
        assert!(
            log.contains("reload: settings changed: api-key"),
            "the reload names the setting:\n{log}"
        );
        assert!(
            !log.contains(hostmenow::API_KEY) && !log.contains(WRONG_KEY),
            "no key's value in the log:\n{log}"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_secret_file_is_picked_up_by_the_watcher() {
    let sandbox = Sandbox::start().await.unwrap();
    let (dir, manifest) = manifest_dir("rotate-watch", &hostmenow_with_key_file(&sandbox));
    std::fs::write(dir.join("hostmenow.key"), WRONG_KEY).unwrap();
    tokio::task::spawn_blocking(move || {
        let server = Server::start(&manifest, &["--watch-interval-ms", "100"]);
        assert_eq!(connection(&server, "hostmenow"), "auth-failed");
        std::fs::write(dir.join("hostmenow.key"), hostmenow::API_KEY).unwrap();
        server.wait_until("the rotated key in service", || {
            connection(&server, "hostmenow") == "ok"
        });
        let log = server.log();
        assert!(log.contains("settings changed: api-key"), "{log}");
        assert!(
            !log.contains(hostmenow::API_KEY) && !log.contains(WRONG_KEY),
            "{log}"
        );
    })
    .await
    .unwrap();
}

/// A good HostMeNow module (key from `TEST_HMN_KEY`) and a Blesta module
/// whose password is read from `blesta.password`.
fn hostmenow_and_blesta(sandbox: &Sandbox) -> String {
    common::hostmenow_and_blesta(
        sandbox,
        SettingSource::File {
            file: "blesta.password".into(),
        },
    )
    .toml()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_that_does_not_load_is_not_ready_and_the_others_serve() {
    let document = document();
    let sandbox = Sandbox::start().await.unwrap();
    let (dir, manifest) = manifest_dir("not-ready", &hostmenow_and_blesta(&sandbox));
    tokio::task::spawn_blocking(move || {
        let server = Server::start(&manifest, &["--watch-interval-ms", "3600000"]);

        let (status, list) = server.get("/v1/modules");
        assert_eq!(status, 200);
        conforms(&document, "get", "/v1/modules", 200, &list).unwrap();
        let modules = list["modules"].as_array().unwrap();
        let entry = |name: &str| modules.iter().find(|m| m["name"] == name).unwrap().clone();
        assert_eq!(entry("hostmenow")["ready"], true, "{list}");
        let blesta = entry("blesta");
        assert_eq!(blesta["ready"], false, "{list}");
        assert_eq!(blesta["error"]["kind"], "invalid-config", "{list}");
        let reason = blesta["error"]["message"].as_str().unwrap();
        assert!(
            reason.contains("module `blesta`")
                && reason.contains("setting `password`")
                && reason.contains("blesta.password"),
            "{reason}"
        );

        let (status, health) = server.get("/v1/health");
        assert_eq!(status, 200);
        conforms(&document, "get", "/v1/health", 200, &health).unwrap();
        assert_eq!(
            (&health["status"], &health["modules"], &health["not_ready"]),
            (&json!("degraded"), &json!(1), &json!(1)),
            "{health}"
        );

        let test_connection = json!({ "request": { "function": "test-connection" } });
        let (status, refused) = server.post("/v1/modules/blesta/call", &test_connection);
        assert_eq!(status, 503, "{refused}");
        conforms(
            &document,
            "post",
            "/v1/modules/{module}/call",
            503,
            &refused,
        )
        .unwrap();
        assert_eq!(refused["error"]["kind"], "module-not-ready");
        assert_eq!(refused["error"]["reason"]["kind"], "invalid-config");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("blesta.password"),
            "{refused}"
        );
        let (status, described) = server.get("/v1/modules/blesta");
        assert_eq!(
            (status, &described["error"]["kind"]),
            (503, &json!("module-not-ready"))
        );
        assert_eq!(connection(&server, "hostmenow"), "ok");

        // The operator puts the password in place and reloads.
        std::fs::write(
            dir.join("blesta.password"),
            provisioning_sandbox::blesta::PASSWORD,
        )
        .unwrap();
        server.sighup();
        server.wait_until("blesta ready", || server.get("/v1/modules/blesta").0 == 200);
        assert_eq!(connection(&server, "blesta"), "ok");
        assert_eq!(connection(&server, "hostmenow"), "ok");
        let (_, health) = server.get("/v1/health");
        assert_eq!(
            (&health["status"], &health["modules"], &health["not_ready"]),
            (&json!("ok"), &json!(2), &json!(0)),
            "{health}"
        );
        let (_, list) = server.get("/v1/modules");
        conforms(&document, "get", "/v1/modules", 200, &list).unwrap();
        assert!(
            list["modules"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["ready"] == true),
            "{list}"
        );
        assert!(
            !server
                .log()
                .contains(provisioning_sandbox::blesta::PASSWORD)
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_strict_refuses_to_start_when_a_module_does_not_load() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_dir, manifest) = manifest_dir("strict", &hostmenow_and_blesta(&sandbox));
    let output = tokio::task::spawn_blocking(move || {
        common::provisioning(
            &[
                "serve",
                "--strict",
                "--manifest",
                manifest.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--token-env",
                TOKEN_VAR,
            ],
            &[(TOKEN_VAR, TOKEN), ("TEST_HMN_KEY", hostmenow::API_KEY)],
        )
    })
    .await
    .unwrap();
    let stderr = common::text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("module `blesta`") && stderr.contains("blesta.password"),
        "{stderr}"
    );
    assert!(
        !common::text(&output.stdout).contains("listening"),
        "it never listened"
    );
}
