//! Fault injection in front of the HostMeNow simulator.

use crate::common;

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode, header};
use common::{Answer, call, create_params, post_json, send, simulator};
use http_body_util::BodyExt;
use provisioning_sandbox::fault::Fault;
use provisioning_sandbox::hostmenow::{self, HostMeNow};
use serde_json::json;
use tower::ServiceExt;

/// Sends a CreateAccount for service "1" and returns the raw answer.
async fn create_raw(router: &axum::Router) -> Answer {
    post_json(
        router,
        &json!({"api_key": hostmenow::API_KEY, "action": "CreateAccount", "params": create_params("1", "101")}),
    )
    .await
}

/// Sends a CreateAccount for service "1" through tower, for answers whose
/// body is read (or fails) afterwards.
async fn create_response(router: &axum::Router) -> axum::response::Response {
    router
        .clone()
        .oneshot(
            axum::http::Request::post(hostmenow::PATH)
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(
                    json!({"api_key": hostmenow::API_KEY, "action": "CreateAccount", "params": create_params("1", "101")}).to_string(),
                ))
                .unwrap(),
        )
        .await
        .unwrap()
}

/// The faulted request reached nothing: no service, no charge, no record.
fn assert_untouched(hmn: &HostMeNow) {
    assert!(hmn.services().is_empty());
    assert_eq!(hmn.credit(), 500.0);
    assert!(hmn.requests().is_empty());
}

/// After the fault is used up, the same request is answered normally.
async fn assert_next_is_normal(hmn: &HostMeNow, router: &axum::Router) {
    assert_eq!(hmn.faults().pending(), 0);
    let answer = create_raw(router).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["status"], "success");
    assert!(hmn.service("1").is_some());
}

#[tokio::test]
async fn server_error_json_is_500_with_an_error_body() {
    let (hmn, router) = simulator();
    hmn.faults().inject(Fault::ServerErrorJson, 1);
    let answer = create_raw(&router).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.content_type(), "application/json");
    assert_eq!(
        answer.json(),
        json!({"status": "error", "message": "Internal server error"})
    );
    assert_untouched(&hmn);
    assert_next_is_normal(&hmn, &router).await;
}

#[tokio::test]
async fn server_error_html_is_500_with_an_html_page() {
    let (hmn, router) = simulator();
    hmn.faults().inject(Fault::ServerErrorHtml, 1);
    let answer = create_raw(&router).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(answer.content_type().starts_with("text/html"));
    assert!(answer.body.starts_with(b"<!DOCTYPE html>"));
    assert!(serde_json::from_slice::<serde_json::Value>(&answer.body).is_err());
    assert_untouched(&hmn);
    assert_next_is_normal(&hmn, &router).await;
}

#[tokio::test]
async fn html_ok_is_200_with_an_html_page() {
    let (hmn, router) = simulator();
    hmn.faults().inject(Fault::HtmlOk, 1);
    let answer = create_raw(&router).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.content_type().starts_with("text/html"));
    assert!(String::from_utf8_lossy(&answer.body).contains("maintenance"));
    assert_untouched(&hmn);
    assert_next_is_normal(&hmn, &router).await;
}

#[tokio::test]
async fn empty_body_is_200_json_with_no_bytes() {
    let (hmn, router) = simulator();
    hmn.faults().inject(Fault::EmptyBody, 1);
    let answer = create_raw(&router).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type(), "application/json");
    assert!(answer.body.is_empty());
    assert_untouched(&hmn);
    assert_next_is_normal(&hmn, &router).await;
}

#[tokio::test]
async fn truncated_json_is_200_json_that_does_not_parse() {
    let (hmn, router) = simulator();
    hmn.faults().inject(Fault::TruncatedJson, 1);
    let answer = create_raw(&router).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type(), "application/json");
    assert!(answer.body.starts_with(b"{\"status\":\"success\""));
    let error = serde_json::from_slice::<serde_json::Value>(&answer.body).unwrap_err();
    assert!(error.is_eof(), "{error}");
    assert_untouched(&hmn);
    assert_next_is_normal(&hmn, &router).await;
}

#[tokio::test]
async fn too_many_requests_is_429_with_retry_after() {
    let (hmn, router) = simulator();
    hmn.faults().inject(
        Fault::TooManyRequests {
            retry_after_secs: 7,
        },
        1,
    );
    let answer = create_raw(&router).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.headers[header::RETRY_AFTER], "7");
    assert_untouched(&hmn);
    assert_next_is_normal(&hmn, &router).await;
}

#[tokio::test]
async fn slow_waits_then_answers_normally() {
    let (hmn, router) = simulator();
    let delay = Duration::from_millis(300);
    hmn.faults().inject(Fault::Slow(delay), 1);
    let started = Instant::now();
    let answer = create_raw(&router).await;
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["status"], "success");
    // Unlike the other faults, the request did reach the simulator.
    assert!(hmn.service("1").is_some());
    assert_eq!(hmn.requests().len(), 1);
    assert_eq!(hmn.faults().pending(), 0);
}

#[tokio::test]
async fn redirect_to_is_a_302_to_the_location() {
    let (hmn, router) = simulator();
    hmn.faults().inject(
        Fault::RedirectTo {
            location: "http://ungranted.invalid/steal".into(),
        },
        1,
    );
    let answer = create_raw(&router).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(
        answer.headers[header::LOCATION],
        "http://ungranted.invalid/steal"
    );
    assert!(answer.content_type().starts_with("text/html"));
    assert_untouched(&hmn);
    assert_next_is_normal(&hmn, &router).await;
}

#[tokio::test]
async fn oversized_and_disconnecting_answers_change_nothing() {
    let (hmn, router) = simulator();
    // The disconnect is read through tower here, where it shows as a body
    // error (see tests/server.rs for the dropped connection).
    hmn.faults().inject(Fault::DisconnectMidBody, 1);
    let response = create_response(&router).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_LENGTH], "512");
    assert!(response.into_body().collect().await.is_err());
    assert_untouched(&hmn);

    hmn.faults()
        .inject(Fault::OversizedBody { bytes: 2 << 20 }, 1);
    let answer = create_raw(&router).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type(), "application/json");
    assert_eq!(answer.body.len(), 2 << 20);
    assert_eq!(
        answer.json()["data"].as_str().unwrap().len(),
        (2 << 20) - 11
    );
    assert_untouched(&hmn);
    assert_next_is_normal(&hmn, &router).await;
}

#[tokio::test]
async fn a_lost_answer_leaves_the_simulator_acted_and_the_client_cut_off() {
    let (hmn, router) = simulator();
    hmn.faults().inject(Fault::AnswerLost, 1);
    let response = create_response(&router).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.into_body().collect().await.is_err());
    // Unlike every other answering fault, the provider did act.
    assert!(hmn.service("1").is_some());
    assert!(hmn.credit() < 500.0);
    assert_eq!(hmn.requests().len(), 1);
    assert_eq!(hmn.faults().pending(), 0);
}

#[tokio::test]
async fn faults_apply_in_order_for_the_given_number_of_requests() {
    let (hmn, router) = simulator();
    hmn.faults().inject(Fault::ServerErrorJson, 2);
    hmn.faults().inject(Fault::EmptyBody, 1);
    assert_eq!(hmn.faults().pending(), 3);
    let statuses = [
        create_raw(&router).await,
        create_raw(&router).await,
        create_raw(&router).await,
    ]
    .map(|a| (a.status, a.body.is_empty()));
    assert_eq!(
        statuses,
        [
            (StatusCode::INTERNAL_SERVER_ERROR, false),
            (StatusCode::INTERNAL_SERVER_ERROR, false),
            (StatusCode::OK, true),
        ]
    );
    assert_untouched(&hmn);
    assert_next_is_normal(&hmn, &router).await;
}

#[tokio::test]
async fn clear_drops_pending_faults() {
    let (hmn, router) = simulator();
    hmn.faults().inject(Fault::HtmlOk, 4);
    hmn.faults().clear();
    assert_eq!(hmn.faults().pending(), 0);
    assert_next_is_normal(&hmn, &router).await;
}

#[tokio::test]
async fn faults_do_not_apply_to_control_routes() {
    let (hmn, router) = simulator();
    hmn.faults().inject(Fault::ServerErrorHtml, 1);
    let answer = send(
        &router,
        Method::GET,
        "/_sandbox/hostmenow/services",
        None,
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(hmn.faults().pending(), 1);
}

// ---- Over HTTP ----

async fn post_fault(router: &axum::Router, body: serde_json::Value) -> Answer {
    send(
        router,
        Method::POST,
        "/_sandbox/hostmenow/faults",
        Some("application/json"),
        body.to_string(),
    )
    .await
}

#[tokio::test]
async fn faults_can_be_queued_and_cleared_over_http() {
    let (hmn, router) = simulator();
    let answer = post_fault(&router, json!({"fault": "server_error_html", "times": 2})).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"pending": 2}));
    let answer = post_fault(
        &router,
        json!({"fault": "too_many_requests", "retry_after_secs": 7}),
    )
    .await;
    assert_eq!(answer.json(), json!({"pending": 3}));
    let answer = post_fault(&router, json!({"fault": "slow", "millis": 3000})).await;
    assert_eq!(answer.json(), json!({"pending": 4}));

    let answer = create_raw(&router).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(answer.content_type().starts_with("text/html"));

    let answer = send(&router, Method::GET, "/_sandbox/hostmenow/faults", None, "").await;
    assert_eq!(answer.json(), json!({"pending": 3}));
    let answer = send(
        &router,
        Method::DELETE,
        "/_sandbox/hostmenow/faults",
        None,
        "",
    )
    .await;
    assert_eq!(answer.json(), json!({"pending": 0}));
    assert_eq!(hmn.faults().pending(), 0);
}

#[tokio::test]
async fn every_fault_kind_parses_over_http() {
    let (hmn, router) = simulator();
    for kind in [
        "server_error_json",
        "server_error_html",
        "html_ok",
        "empty_body",
        "truncated_json",
    ] {
        let answer = post_fault(&router, json!({"fault": kind})).await;
        assert_eq!(answer.status, StatusCode::OK, "{kind}");
    }
    assert_eq!(hmn.faults().pending(), 5);
    let expected = [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::OK,
    ];
    for status in expected {
        assert_eq!(create_raw(&router).await.status, status);
    }
    assert_untouched(&hmn);
}

#[tokio::test]
async fn transport_faults_parse_over_http() {
    let (hmn, router) = simulator();
    for body in [
        json!({"fault": "disconnect_mid_body"}),
        json!({"fault": "oversized_body", "bytes": 52_428_800}),
        json!({"fault": "redirect_to", "location": "http://ungranted.invalid/steal"}),
    ] {
        let answer = post_fault(&router, body.clone()).await;
        assert_eq!(answer.status, StatusCode::OK, "{body}");
    }
    assert_eq!(hmn.faults().pending(), 3);
    hmn.faults().clear();
    // The oversized body is not read here: only the redirect is checked.
    post_fault(
        &router,
        json!({"fault": "redirect_to", "location": "http://ungranted.invalid/steal"}),
    )
    .await;
    let answer = create_raw(&router).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_untouched(&hmn);
}

#[tokio::test]
async fn a_bad_fault_request_is_400() {
    let (hmn, router) = simulator();
    for body in [
        json!({"fault": "explode"}),
        json!({"fault": "too_many_requests"}),
        json!({"fault": "oversized_body"}),
        json!({"fault": "redirect_to"}),
        json!({"fault": "redirect_to", "location": "http://x.invalid/\nSet-Cookie: a=b"}),
        json!({"times": 1}),
    ] {
        let answer = post_fault(&router, body.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer.json()["error"].is_string());
    }
    assert_eq!(hmn.faults().pending(), 0);
}

#[tokio::test]
async fn state_is_visible_over_http() {
    let (hmn, router) = simulator();
    let (_, body) = call(&router, "CreateAccount", create_params("1", "101")).await;
    assert_eq!(body["status"], "success");
    call(
        &router,
        "SuspendAccount",
        json!({"serviceid": "1", "suspendreason": "Abuse"}),
    )
    .await;
    hmn.deny_permission("TerminateAccount");
    let answer = send(
        &router,
        Method::GET,
        "/_sandbox/hostmenow/services",
        None,
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let state = answer.json();
    assert_eq!(state["credit"], json!(490.01));
    assert_eq!(state["ip_whitelisted"], json!(true));
    assert_eq!(state["denied_actions"], json!(["TerminateAccount"]));
    let services = state["services"].as_array().unwrap();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0]["service_id"], "1");
    assert_eq!(services[0]["status"], "Suspended");
    assert_eq!(services[0]["suspend_reason"], "Abuse");
    assert_eq!(services[0]["product_id"], "101");

    let answer = send(
        &router,
        Method::GET,
        "/_sandbox/hostmenow/requests",
        None,
        "",
    )
    .await;
    let requests = answer.json();
    assert_eq!(requests[0]["action"], "CreateAccount");
    assert_eq!(requests[1]["action"], "SuspendAccount");
    assert_eq!(requests[1]["params"]["suspendreason"], "Abuse");
    assert!(
        !answer
            .body
            .windows(hostmenow::API_KEY.len())
            .any(|w| w == hostmenow::API_KEY.as_bytes())
    );
}
