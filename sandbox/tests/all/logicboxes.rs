//! The LogicBoxes simulator against the provider's document and notes:
//! paths, methods, parameter names, auth in the query, both answer shapes,
//! and real state across calls.

use crate::common;

use axum::Router;
use axum::http::{Method, StatusCode};
use common::{Answer, send};
use provisioning_sandbox::logicboxes::{
    self, API_KEY, AUTH_USERID, LogicBoxes, MailboxStatus, ORDER_ID,
};
use serde_json::{Value, json};

const FORM: &str = "application/x-www-form-urlencoded";

fn simulator() -> (LogicBoxes, Router) {
    let sim = LogicBoxes::new("http://sandbox.test");
    let router = sim.router();
    (sim, router)
}

fn auth() -> String {
    format!("auth-userid={AUTH_USERID}&api-key={API_KEY}")
}

/// POSTs `form` to `/api/<path>.json` with the credentials in the query.
async fn post(router: &Router, path: &str, form: &str) -> Answer {
    let uri = format!("/api/{path}.json?{}", auth());
    send(router, Method::POST, &uri, Some(FORM), form.to_owned()).await
}

fn add_form(email: &str) -> String {
    format!(
        "order-id={ORDER_ID}&email={email}&passwd=Secret-1&notification-email=n%40example.org\
         &first-name=Jane&last-name=Doe&country-code=KE&language-code=en"
    )
}

fn status_of(answer: &Answer) -> Value {
    answer.json()["response"]["status"].clone()
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_an_error_with_http_500() {
    let (sim, router) = simulator();
    for query in [
        format!("auth-userid={AUTH_USERID}&api-key=wrong"),
        format!("api-key={API_KEY}"),
        String::new(),
    ] {
        let uri = format!("/api/mail/user/add.json?{query}");
        let answer = send(
            &router,
            Method::POST,
            &uri,
            Some(FORM),
            add_form("a@example.com"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            answer.json(),
            json!({"status": "ERROR", "message": logicboxes::AUTH_FAILED})
        );
    }
    // Credentials in the form body do not count: they belong in the query.
    let form = format!("{}&{}", auth(), add_form("a@example.com"));
    let answer = send(
        &router,
        Method::POST,
        "/api/mail/user/add.json",
        Some(FORM),
        form,
    )
    .await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(sim.mailboxes().is_empty());
}

#[tokio::test]
async fn a_wrong_parameter_name_fails_and_changes_nothing() {
    let (sim, router) = simulator();
    let form = add_form("a@example.com").replace("passwd=", "password=");
    let answer = post(&router, "mail/user/add", &form).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        answer.json(),
        json!({"status": "ERROR", "message": "Required parameter missing: passwd"})
    );
    assert!(sim.mailboxes().is_empty());
}

#[tokio::test]
async fn wrong_method_path_or_content_type_are_refused() {
    let (_, router) = simulator();
    let uri = format!(
        "/api/mail/user/add.json?{}&{}",
        auth(),
        add_form("a@example.com")
    );
    let answer = send(&router, Method::GET, &uri, None, "").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.json()["status"], "ERROR");

    let uri = format!("/api/mail/user/add?{}", auth());
    let answer = send(
        &router,
        Method::POST,
        &uri,
        Some(FORM),
        add_form("a@example.com"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    let uri = format!("/api/mail/user/add.json?{}", auth());
    let answer = send(&router, Method::POST, &uri, Some("application/json"), "{}").await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn parameters_may_travel_in_the_query_too() {
    let (sim, router) = simulator();
    let uri = format!(
        "/api/mail/user/add.json?{}&{}",
        auth(),
        add_form("q@example.com")
    );
    let answer = send(&router, Method::POST, &uri, None, "").await;
    assert_eq!(status_of(&answer), "SUCCESS");
    assert!(sim.mailbox("q@example.com").is_some());
}

#[tokio::test]
async fn reseller_pricing_needs_only_the_credentials() {
    let (_, router) = simulator();
    let uri = format!("/api/mock/products/reseller-price.json?{}", auth());
    let answer = send(&router, Method::GET, &uri, None, "").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.json()["hosting"]["email_plan"].is_object());
}

#[tokio::test]
async fn a_mailbox_lives_its_life_in_state() {
    let (sim, router) = simulator();
    let target = format!("order-id={ORDER_ID}&email=jane%40example.com");
    assert_eq!(
        status_of(&post(&router, "mail/user/add", &add_form("jane%40example.com")).await),
        "SUCCESS"
    );
    let mailbox = sim.mailbox("jane@example.com").unwrap();
    assert_eq!(mailbox.password.as_deref(), Some("Secret-1"));
    assert_eq!(mailbox.country_code, "KE");

    let again = post(&router, "mail/user/add", &add_form("jane%40example.com")).await;
    assert_eq!(
        again.json()["response"]["errorcode"],
        logicboxes::MAILUSER_EXISTS
    );

    assert_eq!(
        status_of(&post(&router, "mail/user/suspend", &target).await),
        "SUCCESS"
    );
    assert_eq!(
        sim.mailbox("jane@example.com").unwrap().status,
        MailboxStatus::Suspended
    );
    assert_eq!(
        status_of(&post(&router, "mail/user/unsuspend", &target).await),
        "SUCCESS"
    );
    assert_eq!(
        sim.mailbox("jane@example.com").unwrap().status,
        MailboxStatus::Active
    );

    let wrong_old = format!("{target}&old-passwd=nope&new-passwd=N3w");
    let answer = post(&router, "mail/user/change-password", &wrong_old).await;
    assert_eq!(
        answer.json()["response"]["errorcode"],
        logicboxes::INVALID_PASSWORD
    );
    let right_old = format!("{target}&old-passwd=Secret-1&new-passwd=N3w");
    assert_eq!(
        status_of(&post(&router, "mail/user/change-password", &right_old).await),
        "SUCCESS"
    );
    assert_eq!(
        sim.mailbox("jane@example.com").unwrap().password.as_deref(),
        Some("N3w")
    );

    let reset = post(&router, "mail/user/reset-password", &target)
        .await
        .json();
    let generated = reset["response"]["password"].as_str().unwrap().to_owned();
    assert_eq!(
        sim.mailbox("jane@example.com").unwrap().password,
        Some(generated)
    );

    assert_eq!(
        status_of(&post(&router, "mail/user/delete", &target).await),
        "SUCCESS"
    );
    assert!(sim.mailbox("jane@example.com").is_none());
    let gone = post(&router, "mail/user/suspend", &target).await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(status_of(&gone), "FAILURE");
    assert_eq!(
        gone.json()["response"]["errorcode"],
        logicboxes::MAILUSER_NOT_FOUND
    );
}

#[tokio::test]
async fn an_unknown_order_or_foreign_domain_fails() {
    let (sim, router) = simulator();
    let form = add_form("a%40example.com").replace(ORDER_ID, "1");
    let answer = post(&router, "mail/user/add", &form).await;
    assert_eq!(
        answer.json()["response"]["errorcode"],
        logicboxes::ORDER_NOT_FOUND
    );
    let answer = post(&router, "mail/user/add", &add_form("a%40elsewhere.org")).await;
    assert_eq!(
        answer.json()["response"]["errorcode"],
        logicboxes::INVALID_PARAMETER
    );
    assert!(sim.mailboxes().is_empty());
}

#[tokio::test]
async fn faults_and_state_are_driven_over_http_too() {
    let (_, router) = simulator();
    let faults = format!("{}/faults", logicboxes::CONTROL_PREFIX);
    let queued = send(
        &router,
        Method::POST,
        &faults,
        Some("application/json"),
        r#"{"fault":"server_error_html"}"#,
    )
    .await;
    assert_eq!(queued.json(), json!({"pending": 1}));
    let uri = format!("/api/mock/products/reseller-price.json?{}", auth());
    let faulted = send(&router, Method::GET, &uri, None, "").await;
    assert_eq!(faulted.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(faulted.content_type().starts_with("text/html"));

    post(&router, "mail/user/add", &add_form("h%40example.com")).await;
    let uri = format!("{}/mailboxes", logicboxes::CONTROL_PREFIX);
    let listed = send(&router, Method::GET, &uri, None, "").await.json();
    assert_eq!(listed[0]["email"], "h@example.com");
    assert_eq!(listed[0]["status"], "active");
}
