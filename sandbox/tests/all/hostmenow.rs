//! The HostMeNow simulator against the provider's document and notes.

use crate::common;

use axum::http::{Method, StatusCode, header};
use common::{call, create, create_params, error, post_json, send, simulator};
use provisioning_sandbox::hostmenow::{self, ServiceStatus};
use serde_json::json;

// ---- Envelope, authentication, permissions ----

#[tokio::test]
async fn wrong_or_missing_api_key_is_403_invalid_api_key_and_changes_nothing() {
    let (hmn, router) = simulator();
    for envelope in [
        json!({"api_key": "not-the-key", "action": "CreateAccount", "params": create_params("1", "101")}),
        json!({"action": "CreateAccount", "params": create_params("1", "101")}),
        json!({"api_key": 42, "action": "Get_Products", "params": []}),
    ] {
        let answer = post_json(&router, &envelope).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert_eq!(answer.json(), error("Invalid API Key"));
    }
    assert!(hmn.services().is_empty());
    assert_eq!(hmn.credit(), 500.0);
}

#[tokio::test]
async fn ip_not_whitelisted_rejects_every_request() {
    let (hmn, router) = simulator();
    hmn.set_ip_whitelisted(false);
    for action in ["Get_Products", "CreateAccount", "GetServerName"] {
        let (status, body) = call(&router, action, create_params("1", "101")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body, error("Your IP address is not whitelisted"));
    }
    assert!(hmn.services().is_empty());
    hmn.set_ip_whitelisted(true);
    let (status, _) = call(&router, "Get_Products", json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn denied_permission_is_403_forbidden_for_that_action_only() {
    let (hmn, router) = simulator();
    create(&router, "1", "101").await;
    hmn.deny_permission("SuspendAccount");
    let (status, body) = call(&router, "SuspendAccount", json!({"serviceid": "1"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        error("Forbidden: Your account does not have permission")
    );
    assert_eq!(hmn.service("1").unwrap().status, ServiceStatus::Active);
    let (status, body) = call(&router, "GetServerName", json!({"serviceid": "1"})).await;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::OK, json!("success"))
    );
    hmn.allow_permission("SuspendAccount");
    let (_, body) = call(&router, "SuspendAccount", json!({"serviceid": "1"})).await;
    assert_eq!(body["status"], "success");
}

#[tokio::test]
async fn only_post_is_allowed() {
    let (_, router) = simulator();
    let answer = send(&router, Method::GET, hostmenow::PATH, None, "").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers[header::ALLOW], "POST");
    assert_eq!(answer.json(), error("Method not allowed"));
}

#[tokio::test]
async fn content_type_must_be_json() {
    let (_, router) = simulator();
    let body =
        json!({"api_key": hostmenow::API_KEY, "action": "Get_Products", "params": {}}).to_string();
    for content_type in [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
    ] {
        let answer = send(
            &router,
            Method::POST,
            hostmenow::PATH,
            content_type,
            body.clone(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{content_type:?}");
        assert_eq!(
            answer.json(),
            error("Content-Type must be application/json")
        );
    }
    let answer = send(
        &router,
        Method::POST,
        hostmenow::PATH,
        Some("application/json; charset=utf-8"),
        body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_json_is_400() {
    let (_, router) = simulator();
    for body in ["{\"api_key\": ", "not json", "[1, 2]", ""] {
        let answer = send(
            &router,
            Method::POST,
            hostmenow::PATH,
            Some("application/json"),
            body,
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(answer.json(), error("Invalid JSON"));
    }
}

#[tokio::test]
async fn missing_or_unknown_action_is_400() {
    let (_, router) = simulator();
    let answer = post_json(
        &router,
        &json!({"api_key": hostmenow::API_KEY, "params": {}}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json(), error("Missing required field: action"));
    // Action names are case-sensitive, as in the document.
    for action in ["get_products", "Get_Bandwidth_Disk_Usage", "Suspend"] {
        let (status, body) = call(&router, action, json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, error(&format!("Invalid action: {action}")));
    }
}

#[tokio::test]
async fn params_must_be_present_and_an_object_or_empty_array() {
    let (_, router) = simulator();
    let answer = post_json(
        &router,
        &json!({"api_key": hostmenow::API_KEY, "action": "Get_Products"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json(), error("Missing required field: params"));
    for params in [json!(["101"]), json!("serviceid=1"), json!(5)] {
        let (status, body) = call(&router, "Get_Products", params).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, error("Invalid params: expected a JSON object"));
    }
}

#[tokio::test]
async fn requests_are_recorded_without_the_api_key() {
    let (hmn, router) = simulator();
    call(&router, "Get_Products", json!([])).await;
    post_json(
        &router,
        &json!({"api_key": "bad", "action": "GetServerName", "params": {"serviceid": "9"}}),
    )
    .await;
    let requests = hmn.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].action, "Get_Products");
    assert_eq!(requests[0].params, json!([]));
    assert_eq!(requests[0].http_status, 200);
    assert_eq!(requests[1].action, "GetServerName");
    assert_eq!(requests[1].params, json!({"serviceid": "9"}));
    assert_eq!(requests[1].http_status, 403);
    let dump = format!("{requests:?}");
    assert!(!dump.contains(hostmenow::API_KEY));
}

// ---- Get_Products ----

#[tokio::test]
async fn get_products_accepts_empty_array_and_object_params() {
    let (_, router) = simulator();
    let (status, with_array) = call(&router, "Get_Products", json!([])).await;
    assert_eq!(status, StatusCode::OK);
    let (_, with_object) = call(&router, "Get_Products", json!({})).await;
    assert_eq!(with_array, with_object);
    assert_eq!(with_array["status"], "success");
    assert_eq!(with_array["message"], "Products retrieved successfully");
    let products = with_array["data"].as_array().unwrap();
    assert!(products.len() >= 3);
    assert_eq!(
        products[0],
        json!({
            "product_id": "101",
            "product_name": "Shared Hosting - Basic",
            "description": "Perfect for small websites",
            "billing_cycles": {
                "monthly": {"price": "9.99", "setup_fee": "0.00"},
                "quarterly": {"price": "27.99", "setup_fee": "0.00"},
                "annually": {"price": "99.99", "setup_fee": "0.00"}
            }
        })
    );
    let ids: Vec<&str> = products
        .iter()
        .map(|p| p["product_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["101", "102", "201"]);
}

// ---- CreateAccount ----

#[tokio::test]
async fn create_account_creates_an_active_service_and_deducts_credit() {
    let (hmn, router) = simulator();
    let (status, body) = call(&router, "CreateAccount", create_params("456", "101")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "success");
    assert_eq!(body["message"], "Account created successfully");
    assert_eq!(body["data"]["serviceid"], "456");
    assert!(body["data"]["order_id"].is_string());
    assert!(body["data"]["invoice_id"].is_string());
    assert_eq!(hmn.credit(), 490.01);

    let service = hmn.service("456").unwrap();
    assert_eq!(service.status, ServiceStatus::Active);
    assert_eq!(service.domain, "site456.example");
    assert_eq!(service.username, "user456");
    assert_eq!(service.password, "SecurePassword123!");
    assert_eq!(service.product_id, "101");
    assert_eq!(service.billing_cycle, "monthly");
    assert_eq!(body["data"]["order_id"], service.order_id.as_str());
    assert_eq!((service.disk_used_mb, service.disk_limit_mb), (0.0, 5000));
    assert_eq!(
        (service.bandwidth_used_mb, service.bandwidth_limit_mb),
        (0.0, 10000)
    );
    assert_eq!(service.suspend_reason, None);

    // Ids are unique per order.
    let (_, second) = call(&router, "CreateAccount", create_params("457", "101")).await;
    assert_ne!(second["data"]["order_id"], body["data"]["order_id"]);
    assert_ne!(second["data"]["invoice_id"], body["data"]["invoice_id"]);
}

#[tokio::test]
async fn create_account_charges_setup_fee_and_quantity() {
    let (hmn, router) = simulator();
    // Plesk Starter monthly: 14.99 + 5.00 setup.
    create(&router, "1", "201").await;
    assert_eq!(hmn.credit(), 480.01);
    let mut params = create_params("2", "101");
    params["qty"] = json!(2);
    let (_, body) = call(&router, "CreateAccount", params).await;
    assert_eq!(body["status"], "success", "{body}");
    assert_eq!(hmn.credit(), 460.03);
}

#[tokio::test]
async fn create_account_missing_or_misnamed_required_field_is_400() {
    let (hmn, router) = simulator();
    for field in [
        "serviceid",
        "billingcycle",
        "domain",
        "username",
        "password",
    ] {
        let mut params = create_params("1", "101");
        params.as_object_mut().unwrap().remove(field);
        let (status, body) = call(&router, "CreateAccount", params).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
        assert_eq!(body, error(&format!("Missing required field: {field}")));
    }
    // A client using its own field names fails as with the real service.
    let mut params = create_params("1", "101");
    let id = params.as_object_mut().unwrap().remove("serviceid").unwrap();
    params["service_id"] = id;
    let (status, body) = call(&router, "CreateAccount", params).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, error("Missing required field: serviceid"));
    assert!(hmn.services().is_empty());
    assert_eq!(hmn.credit(), 500.0);
}

#[tokio::test]
async fn create_account_without_a_valid_product_is_no_product_selected() {
    let (hmn, router) = simulator();
    let unknown = create_params("1", "999");
    let mut absent = create_params("1", "101");
    absent.as_object_mut().unwrap().remove("selected_product");
    let mut misnamed = absent.clone();
    misnamed["product_id"] = json!("101");
    for params in [unknown, absent, misnamed] {
        let (status, body) = call(&router, "CreateAccount", params).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, error("No Product Selected"));
    }
    assert!(hmn.services().is_empty());
    assert_eq!(hmn.credit(), 500.0);
}

#[tokio::test]
async fn create_account_with_insufficient_balance_fails_and_charges_nothing() {
    let (hmn, router) = simulator();
    hmn.set_credit(9.98);
    let (status, body) = call(&router, "CreateAccount", create_params("1", "101")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, error("Insufficient balance"));
    assert!(hmn.service("1").is_none());
    assert_eq!(hmn.credit(), 9.98);
    hmn.set_credit(9.99);
    create(&router, "1", "101").await;
    assert_eq!(hmn.credit(), 0.0);
}

#[tokio::test]
async fn create_account_checks_the_billing_cycle() {
    let (hmn, router) = simulator();
    let mut params = create_params("1", "101");
    params["billingcycle"] = json!("weekly");
    let (status, body) = call(&router, "CreateAccount", params).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, error("Invalid billing cycle: weekly"));
    // A documented cycle the product is not sold on.
    let mut params = create_params("1", "101");
    params["billingcycle"] = json!("triennially");
    let (status, body) = call(&router, "CreateAccount", params).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, error("Billing cycle not available for this product"));
    assert!(hmn.services().is_empty());
    let mut params = create_params("1", "102");
    params["billingcycle"] = json!("biennially");
    let (_, body) = call(&router, "CreateAccount", params).await;
    assert_eq!(body["status"], "success");
    assert_eq!(hmn.credit(), 120.01);
}

#[tokio::test]
async fn create_account_for_a_live_service_id_fails_but_reuses_a_terminated_one() {
    let (hmn, router) = simulator();
    create(&router, "1", "101").await;
    let (status, body) = call(&router, "CreateAccount", create_params("1", "102")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, error("Service already exists"));
    assert_eq!(hmn.service("1").unwrap().product_id, "101");
    call(&router, "TerminateAccount", json!({"serviceid": "1"})).await;
    create(&router, "1", "102").await;
    let service = hmn.service("1").unwrap();
    assert_eq!(
        (service.status, service.product_id.as_str()),
        (ServiceStatus::Active, "102")
    );
    assert_eq!(hmn.services().len(), 1);
}

#[tokio::test]
async fn numeric_ids_are_read_like_strings() {
    let (hmn, router) = simulator();
    let mut params = create_params("77", "101");
    params["serviceid"] = json!(77);
    params["selected_product"] = json!(101);
    let (_, body) = call(&router, "CreateAccount", params).await;
    assert_eq!(body["data"]["serviceid"], "77");
    assert!(hmn.service("77").is_some());
    let (_, body) = call(&router, "GetServerName", json!({"serviceid": 77})).await;
    assert_eq!(body["server_name"], "cPanel");
}

// ---- Life cycle ----

#[tokio::test]
async fn suspend_and_unsuspend_change_the_status() {
    let (hmn, router) = simulator();
    create(&router, "1", "101").await;
    let (status, body) = call(
        &router,
        "SuspendAccount",
        json!({"serviceid": "1", "suspendreason": "Non-payment", "domain": "site1.example"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "success", "message": "Account suspended successfully"})
    );
    let service = hmn.service("1").unwrap();
    assert_eq!(service.status, ServiceStatus::Suspended);
    assert_eq!(service.suspend_reason.as_deref(), Some("Non-payment"));

    let (_, body) = call(&router, "UnsuspendAccount", json!({"serviceid": "1"})).await;
    assert_eq!(
        body,
        json!({"status": "success", "message": "Account unsuspended successfully"})
    );
    let service = hmn.service("1").unwrap();
    assert_eq!(service.status, ServiceStatus::Active);
    assert_eq!(service.suspend_reason, None);

    // Without a reason.
    call(&router, "SuspendAccount", json!({"serviceid": "1"})).await;
    let service = hmn.service("1").unwrap();
    assert_eq!(
        (service.status, service.suspend_reason),
        (ServiceStatus::Suspended, None)
    );
}

#[tokio::test]
async fn terminate_keeps_the_record_but_the_service_is_then_not_found() {
    let (hmn, router) = simulator();
    create(&router, "1", "101").await;
    let (_, body) = call(&router, "TerminateAccount", json!({"serviceid": "1"})).await;
    assert_eq!(
        body,
        json!({"status": "success", "message": "Account terminated successfully"})
    );
    assert_eq!(hmn.service("1").unwrap().status, ServiceStatus::Terminated);
    for action in [
        "SuspendAccount",
        "UnsuspendAccount",
        "TerminateAccount",
        "ChangePackage",
        "get_Bandwidth_Disk_Usage",
        "GetServerName",
        "CreateSSOSession",
    ] {
        let (status, body) = call(&router, action, json!({"serviceid": "1"})).await;
        assert_eq!(status, StatusCode::OK, "{action}");
        assert_eq!(body, error("Service not found"), "{action}");
    }
    let (_, body) = call(
        &router,
        "ChangePassword",
        json!({"serviceid": "1", "password": "x"}),
    )
    .await;
    assert_eq!(body, error("Service not found"));
    assert_eq!(hmn.service("1").unwrap().status, ServiceStatus::Terminated);
}

#[tokio::test]
async fn unknown_service_is_not_found_for_every_service_action() {
    let (_, router) = simulator();
    create(&router, "1", "101").await;
    for action in [
        "SuspendAccount",
        "UnsuspendAccount",
        "TerminateAccount",
        "ChangePackage",
        "get_Bandwidth_Disk_Usage",
        "GetServerName",
        "CreateSSOSession",
    ] {
        let (status, body) = call(&router, action, json!({"serviceid": "404"})).await;
        assert_eq!(status, StatusCode::OK, "{action}");
        assert_eq!(body, error("Service not found"), "{action}");
    }
    let (_, body) = call(
        &router,
        "ChangePassword",
        json!({"serviceid": "404", "password": "x"}),
    )
    .await;
    assert_eq!(body, error("Service not found"));
}

#[tokio::test]
async fn service_actions_require_serviceid() {
    let (_, router) = simulator();
    for action in [
        "SuspendAccount",
        "TerminateAccount",
        "GetServerName",
        "get_Bandwidth_Disk_Usage",
    ] {
        let (status, body) = call(&router, action, json!([])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{action}");
        assert_eq!(body, error("Missing required field: serviceid"));
    }
}

#[tokio::test]
async fn change_password_updates_it_and_requires_it() {
    let (hmn, router) = simulator();
    create(&router, "1", "101").await;
    let (status, body) = call(
        &router,
        "ChangePassword",
        json!({"serviceid": "1", "password": "NewSecurePassword456!"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "success", "message": "Password changed successfully"})
    );
    assert_eq!(hmn.service("1").unwrap().password, "NewSecurePassword456!");
    let (status, body) = call(
        &router,
        "ChangePassword",
        json!({"serviceid": "1", "new_password": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, error("Missing required field: password"));
    assert_eq!(hmn.service("1").unwrap().password, "NewSecurePassword456!");
}

#[tokio::test]
async fn change_package_moves_to_selected_product_or_keeps_it() {
    let (hmn, router) = simulator();
    create(&router, "1", "101").await;
    let (status, body) = call(
        &router,
        "ChangePackage",
        json!({"serviceid": "1", "selected_product": "102"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "success", "message": "Package changed successfully"})
    );
    let service = hmn.service("1").unwrap();
    assert_eq!(service.product_id, "102");
    assert_eq!(
        (service.disk_limit_mb, service.bandwidth_limit_mb),
        (20000, 0)
    );
    let recorded = hmn.requests().pop().unwrap();
    assert_eq!(recorded.action, "ChangePackage");
    assert_eq!(recorded.params["selected_product"], "102");

    // The documented request: no product, the service keeps its own.
    let (_, body) = call(&router, "ChangePackage", json!({"serviceid": "1"})).await;
    assert_eq!(body["status"], "success");
    assert_eq!(hmn.service("1").unwrap().product_id, "102");

    let (status, body) = call(
        &router,
        "ChangePackage",
        json!({"serviceid": "1", "selected_product": "999"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, error("No Product Selected"));
    assert_eq!(hmn.service("1").unwrap().product_id, "102");
    // ChangePackage charges nothing.
    assert_eq!(hmn.credit(), 490.01);
}

// ---- Usage, server name, SSO ----

#[tokio::test]
async fn usage_has_the_notes_shape_at_top_level_with_strings() {
    let (hmn, router) = simulator();
    create(&router, "456", "101").await;
    assert!(hmn.set_usage("456", 1250.5, 5000, 3500.75, 10000));
    let (status, body) = call(
        &router,
        "get_Bandwidth_Disk_Usage",
        json!({"serviceid": "456"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let last_updated = body["last_updated"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        json!({
            "status": "success",
            "message": "Usage retrieved successfully",
            "disk_usage": {"used_mb": "1250.50", "limit_mb": "5000", "percentage_used": "25.01"},
            "bandwidth_usage": {"current_month_mb": "3500.75", "limit_mb": "10000", "percentage_used": "35.01"},
            "last_updated": last_updated,
        })
    );
    assert!(body.get("data").is_none());
    assert_timestamp(&last_updated);
}

#[tokio::test]
async fn usage_reads_are_counted_per_service_only_when_figures_are_answered() {
    let (hmn, router) = simulator();
    create(&router, "1", "101").await;
    create(&router, "2", "101").await;
    for id in ["1", "1", "2", "missing"] {
        call(
            &router,
            "get_Bandwidth_Disk_Usage",
            json!({"serviceid": id}),
        )
        .await;
    }
    call(&router, "GetServerName", json!({"serviceid": "2"})).await;
    let reads = hmn.usage_reads();
    assert_eq!(
        reads.into_iter().collect::<Vec<_>>(),
        [("1".to_string(), 2), ("2".to_string(), 1)]
    );
    assert_eq!(hmn.service("1").unwrap().usage_reads, 2);
}

#[tokio::test]
async fn usage_with_unlimited_limits_is_zero_and_zero_percent() {
    let (hmn, router) = simulator();
    // Pro has unlimited bandwidth from its product.
    create(&router, "1", "102").await;
    let (_, body) = call(
        &router,
        "get_Bandwidth_Disk_Usage",
        json!({"serviceid": "1"}),
    )
    .await;
    assert_eq!(
        body["bandwidth_usage"],
        json!({"current_month_mb": "0.00", "limit_mb": "0", "percentage_used": "0.00"})
    );
    assert_eq!(
        body["disk_usage"],
        json!({"used_mb": "0.00", "limit_mb": "20000", "percentage_used": "0.00"})
    );
    hmn.set_usage("1", 812.25, 0, 99999.0, 0);
    let (_, body) = call(
        &router,
        "get_Bandwidth_Disk_Usage",
        json!({"serviceid": "1"}),
    )
    .await;
    assert_eq!(
        body["disk_usage"],
        json!({"used_mb": "812.25", "limit_mb": "0", "percentage_used": "0.00"})
    );
    assert_eq!(
        body["bandwidth_usage"],
        json!({"current_month_mb": "99999.00", "limit_mb": "0", "percentage_used": "0.00"})
    );
    assert!(!hmn.set_usage("nope", 1.0, 1, 1.0, 1));
}

#[tokio::test]
async fn a_seeded_service_is_served_like_an_ordered_one_at_no_charge() {
    let (hmn, router) = simulator();
    assert!(hmn.seed_service("s-1", "s1.example.com", "s1user", "Pw-1", "101"));
    assert!(
        !hmn.seed_service("s-1", "other.example.com", "other", "Pw-2", "101"),
        "a live service keeps its id"
    );
    assert!(!hmn.seed_service("s-2", "s2.example.com", "s2user", "Pw-2", "999"));
    assert_eq!(hmn.credit(), 500.0);
    assert!(hmn.requests().is_empty());
    let record = hmn.service("s-1").unwrap();
    assert_eq!(record.status, ServiceStatus::Active);
    assert_eq!(
        (record.disk_limit_mb, record.bandwidth_limit_mb),
        (5000, 10000)
    );
    assert!(hmn.set_usage("s-1", 10.5, 5000, 20.25, 10000));
    let (status, body) = call(
        &router,
        "get_Bandwidth_Disk_Usage",
        json!({"serviceid": "s-1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["disk_usage"]["used_mb"], "10.50");
    assert_eq!(body["bandwidth_usage"]["current_month_mb"], "20.25");
}

#[tokio::test]
async fn usage_is_for_cpanel_products_only() {
    let (_, router) = simulator();
    create(&router, "1", "201").await;
    let (status, body) = call(
        &router,
        "get_Bandwidth_Disk_Usage",
        json!({"serviceid": "1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        error("Usage data is only available for cPanel products")
    );
}

#[tokio::test]
async fn server_name_follows_the_product() {
    let (_, router) = simulator();
    create(&router, "1", "101").await;
    create(&router, "2", "201").await;
    let (status, body) = call(&router, "GetServerName", json!({"serviceid": "1"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "success", "server_name": "cPanel"}));
    let (_, body) = call(&router, "GetServerName", json!({"serviceid": "2"})).await;
    assert_eq!(body, json!({"status": "success", "server_name": "Plesk"}));
    // Moving to a Plesk product changes it.
    call(
        &router,
        "ChangePackage",
        json!({"serviceid": "1", "selected_product": "201"}),
    )
    .await;
    let (_, body) = call(&router, "GetServerName", json!({"serviceid": "1"})).await;
    assert_eq!(body["server_name"], "Plesk");
}

#[tokio::test]
async fn sso_gives_a_fresh_cpanel_login_url() {
    let (_, router) = simulator();
    create(&router, "1", "101").await;
    let (status, body) = call(&router, "CreateSSOSession", json!({"serviceid": "1"})).await;
    assert_eq!(status, StatusCode::OK);
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 2, "{body}");
    assert_eq!(body["status"], "success");
    let url = body["url"].as_str().unwrap();
    assert!(url.starts_with("https://cpanel."), "{url}");
    assert!(url.contains(":2083/login/?session="), "{url}");
    let (_, again) = call(&router, "CreateSSOSession", json!({"serviceid": "1"})).await;
    assert_ne!(again["url"], body["url"]);

    let (_, body) = call(
        &router,
        "CreateSSOSession",
        json!({"serviceid": "1", "app": "Email_Accounts"}),
    )
    .await;
    let url = body["url"].as_str().unwrap();
    assert!(url.ends_with("&goto_app=Email_Accounts"), "{url}");
}

#[tokio::test]
async fn sso_is_for_cpanel_products_only() {
    let (_, router) = simulator();
    create(&router, "1", "201").await;
    let (status, body) = call(&router, "CreateSSOSession", json!({"serviceid": "1"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, error("SSO is only available for cPanel products"));
}

fn assert_timestamp(text: &str) {
    let bytes = text.as_bytes();
    assert_eq!(bytes.len(), 19, "{text}");
    for (i, byte) in bytes.iter().enumerate() {
        match i {
            4 | 7 => assert_eq!(*byte, b'-', "{text}"),
            10 => assert_eq!(*byte, b' ', "{text}"),
            13 | 16 => assert_eq!(*byte, b':', "{text}"),
            _ => assert!(byte.is_ascii_digit(), "{text}"),
        }
    }
}
