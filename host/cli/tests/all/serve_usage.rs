//! `POST /v1/usage` on the real `provisioning serve` binary, with the real
//! components, against the sandbox over loopback: 500 services over two
//! providers in one request, each answered with its own figures (or, for
//! the provider without usage-data, `unsupported`) in the order given; a
//! service of an unknown module, and one of a module that did not load,
//! answered as that service's error; more services than a request may name
//! refused with a typed 400 before anything is read. All of it with a
//! fresh instance per read and with the request's opt-in instance reuse.

use crate::common;

use std::sync::Arc;
use std::time::Instant;

use common::Serve;
use provisioning_host::types::Service;
use provisioning_sandbox::{Sandbox, blesta, hostmenow};
use provisioning_test_support::manifest::{Module, env};
use provisioning_test_support::service_json;
use serde_json::{Value, json};

const TOKEN: &str = "serve-usage-test-token-0123456789";
const TOKEN_VAR: &str = "TEST_SERVE_USAGE_TOKEN";

/// HostMeNow services in the batch; the rest of the 500 are Blesta's.
const HOSTMENOW_SERVICES: usize = 450;
const SERVICES: usize = 500;

/// A service as a usage run knows it: no credentials, no client.
fn service(id: &str) -> Value {
    service_json(&Service {
        username: None,
        password: None,
        client: None,
        ..provisioning_test_support::service(id)
    })
}

/// The figure `name` of a result's usage: (used, limit).
fn figure(result: &Value, name: &str) -> (f64, Value) {
    let figure = result["ok"]["figures"]
        .as_array()
        .unwrap_or_else(|| panic!("no figures in {result}"))
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no {name} figure in {result}"));
    (figure["used"].as_f64().unwrap(), figure["limit"].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn five_hundred_services_in_one_request_each_get_their_own_figures_in_order() {
    five_hundred_services(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn five_hundred_services_in_one_request_reusing_instances() {
    five_hundred_services(Some(json!({ "max_calls": 8 }))).await;
}

/// `body` with the request's `reuse` field, when there is one.
fn with_reuse(mut body: Value, reuse: &Option<Value>) -> Value {
    if let Some(reuse) = reuse {
        body["reuse"] = reuse.clone();
    }
    body
}

async fn five_hundred_services(reuse: Option<Value>) {
    let sandbox = Arc::new(Sandbox::start().await.expect("sandbox starts"));
    let sim = sandbox.hostmenow();
    // A directory per mode: the two run at once.
    let dir = common::fresh_dir(if reuse.is_some() {
        "cli-serve-usage-reuse"
    } else {
        "cli-serve-usage"
    });
    let manifest = common::hostmenow_and_blesta(&sandbox, env("TEST_BLESTA_PASSWORD"))
        .module("broken", Module::new("no-such-component.wasm"))
        .write(dir.join("provisioning.toml"));

    // Interleaved, so that the answer's order cannot follow the modules'.
    let mut services = Vec::new();
    for i in 0..SERVICES {
        if i % 10 == 9 {
            services.push(json!({ "module": "blesta", "service": service(&format!("b-{i:04}")) }));
            continue;
        }
        let id = format!("svc-{i:04}");
        assert!(sim.seed_service(
            &id,
            &format!("{id}.example.com"),
            &format!("u{i}"),
            "Pw-seeded-1",
            "101"
        ));
        // Two decimals, as the provider prints them; every service its own.
        assert!(sim.set_usage(
            &id,
            i as f64 + 0.25,
            5000 + i as u64,
            2.0 * i as f64 + 0.5,
            10000
        ));
        services.push(json!({ "module": "hostmenow", "service": service(&id) }));
    }
    assert_eq!(services.len() - HOSTMENOW_SERVICES, SERVICES / 10);
    let requests_before = sim.requests().len();

    let sandbox = sandbox.clone();
    tokio::task::spawn_blocking(move || {
        let sim = sandbox.hostmenow();
        let server = Serve::start(
            &manifest,
            (TOKEN_VAR, TOKEN),
            &[
                ("TEST_HMN_KEY", hostmenow::API_KEY),
                ("TEST_BLESTA_PASSWORD", blesta::PASSWORD),
            ],
            &[],
        );

        let started = Instant::now();
        let (status, body) = server.post(
            "/v1/usage",
            &with_reuse(json!({ "services": services, "concurrency": 32 }), &reuse),
        );
        let took = started.elapsed();
        assert_eq!(status, 200, "{body}");
        eprintln!(
            "{SERVICES} services in one request: {} ms ({} ms in the sync)",
            took.as_millis(),
            body["summary"]["elapsed_ms"]
        );
        let results = body["results"].as_array().expect("results");
        assert_eq!(results.len(), SERVICES);
        for (i, (result, asked)) in results.iter().zip(&services).enumerate() {
            assert_eq!(result["module"], asked["module"], "result {i}");
            assert_eq!(
                result["service_id"], asked["service"]["service_id"],
                "result {i}"
            );
            if asked["module"] == "blesta" {
                assert_eq!(result["error"]["kind"], "unsupported", "{result}");
                assert_eq!(result["attempts"], 0, "{result}");
                continue;
            }
            let id = result["service_id"].as_str().unwrap();
            let record = sim.service(id).expect("a seeded service");
            assert_eq!(
                figure(result, "disk"),
                (
                    record.disk_used_mb,
                    json!({ "value": record.disk_limit_mb as f64 })
                ),
                "{result}"
            );
            assert_eq!(
                figure(result, "bandwidth"),
                (
                    record.bandwidth_used_mb,
                    json!({ "value": record.bandwidth_limit_mb as f64 })
                ),
                "{result}"
            );
            assert_eq!(record.disk_used_mb, i as f64 + 0.25, "the figures seeded");
            assert_eq!(result["attempts"], 1, "{result}");
        }
        let summary = &body["summary"];
        assert_eq!(summary["services"], SERVICES);
        assert_eq!(summary["outcomes"]["ok"], HOSTMENOW_SERVICES);
        assert_eq!(
            summary["outcomes"]["unsupported"],
            SERVICES - HOSTMENOW_SERVICES
        );
        assert_eq!(summary["calls"], HOSTMENOW_SERVICES);
        assert!(
            sim.requests().len() - requests_before >= HOSTMENOW_SERVICES,
            "every HostMeNow service was read at the provider"
        );

        // A service of an unknown module, and one of a module that did not
        // load, are those services' errors; the others are read.
        let (status, body) = server.post(
            "/v1/usage",
            &with_reuse(
                json!({ "services": [
                    { "module": "nowhere", "service": { "service_id": "n-1" } },
                    { "module": "hostmenow", "service": service("svc-0000") },
                    { "module": "broken", "service": { "service_id": "x-1" } },
                ] }),
                &reuse,
            ),
        );
        assert_eq!(status, 200, "{body}");
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), 3, "{body}");
        assert_eq!(results[0]["service_id"], "n-1");
        assert_eq!(results[0]["error"]["kind"], "unknown-module", "{body}");
        assert_eq!(results[1]["service_id"], "svc-0000");
        assert_eq!(figure(&results[1], "disk").0, 0.25, "{body}");
        assert_eq!(results[2]["service_id"], "x-1");
        assert_eq!(results[2]["error"]["kind"], "module-not-ready", "{body}");
        assert_eq!(body["summary"]["services"], 3);
        assert_eq!(body["summary"]["outcomes"]["ok"], 1);

        // Over the cap: refused whole, nothing read.
        let before = sim.requests().len();
        let too_many: Vec<Value> = (0..10_001)
            .map(|i| json!({ "module": "hostmenow", "service": { "service_id": format!("c{i}") } }))
            .collect();
        let (status, body) = server.post(
            "/v1/usage",
            &with_reuse(json!({ "services": too_many }), &reuse),
        );
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["kind"], "too-many-services", "{body}");
        assert_eq!(sim.requests().len(), before, "nothing was read");

        // A job that is not one is named by its index.
        let (status, body) = server.post(
            "/v1/usage",
            &json!({ "services": [
                { "module": "hostmenow", "service": service("svc-0000") },
                { "module": "hostmenow", "service": {} },
            ] }),
        );
        assert_malformed(status, &body, "services[1]");

        // A reuse out of range is refused whole, nothing read.
        let before = sim.requests().len();
        let (status, body) = server.post(
            "/v1/usage",
            &json!({ "services": [{ "module": "hostmenow", "service": service("svc-0000") }],
                     "reuse": { "max_calls": 0 } }),
        );
        assert_malformed(status, &body, "reuse.max_calls");
        assert_eq!(sim.requests().len(), before, "nothing was read");

        // Behind the token like every other route.
        let unauthorized = common::answer(
            ureq::post(&format!("{}/v1/usage", server.base)).send_json(json!({ "services": [] })),
        );
        assert_eq!(unauthorized.0, 401);
    })
    .await
    .unwrap();
}

/// A 400 `malformed-request` whose message names `field`.
fn assert_malformed(status: u16, body: &serde_json::Value, field: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["kind"], "malformed-request", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(field), "{body}");
}
