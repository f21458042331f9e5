//! The WHMCS server module `examples/whmcs/modules/servers/sandboxed` as a
//! platform runs it: PHP (Debian's `php-cli` and `php-curl`, installed when
//! missing) plays WHMCS in `examples/whmcs/tests/platform.php` and drives
//! every provider's lifecycle through the module, which calls the real
//! `provisioning serve` binary, whose real components reach the in-process
//! sandbox and nothing else. The PHP script checks what WHMCS sees (results,
//! stored credentials, usage, the module log); this test checks the
//! providers' state and the journal.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::php::{all_providers_manifest, ensure_php, start_serve};
use common::text;
use provisioning_sandbox::hostmenow::ServiceStatus;
use provisioning_sandbox::logicboxes;
use provisioning_sandbox::{Sandbox, blesta, hostmenow, webline};

const TOKEN: &str = "whmcs-php-test-token-8f2c41";
const TOKEN_VAR: &str = "TEST_WHMCS_SERVE_TOKEN";

/// A HostMeNow service the provider already has, with usage, that
/// UsageUpdate must import (its WHMCS row is made by the PHP script).
const SEEDED_SERVICE: &str = "4010";

/// HostMeNow services the provider already has, on a WHMCS server of their
/// own, whose UsageUpdate must import them all in one request: ids from
/// 5000.
const BULK_SERVICES: u64 = 500;

/// A fresh directory with a manifest (journal, the four modules, each
/// granted only the sandbox) and beside it the same manifest with
/// HostMeNow's next release in place of its module, for the PHP side to
/// swap in.
fn setup(sandbox: &Sandbox) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("provisioning-whmcs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("provisioning.toml");
    let next = dir.join("provisioning.next.toml");
    std::fs::write(
        &manifest,
        all_providers_manifest(sandbox, provisioning_components::HOSTMENOW),
    )
    .unwrap();
    std::fs::write(
        &next,
        all_providers_manifest(sandbox, provisioning_components::HOSTMENOW_NEXT),
    )
    .unwrap();
    (manifest, next)
}

#[tokio::test(flavor = "multi_thread")]
async fn whmcs_drives_every_provider_through_the_sandboxed_php_module() {
    tokio::task::spawn_blocking(ensure_php).await.unwrap();
    let sandbox = Sandbox::start().await.unwrap();
    let hmn = sandbox.hostmenow();
    assert!(hmn.seed_service(
        SEEDED_SERVICE,
        "seeded.example.com",
        "seededex",
        "Seeded-Pw-1!",
        "101"
    ));
    assert!(hmn.set_usage(SEEDED_SERVICE, 1250.5, 5000, 3500.75, 0));
    // Each its own figures; the PHP side expects them rounded to whole MB.
    let bulk: Vec<serde_json::Value> = (0..BULK_SERVICES)
        .map(|i| {
            let id = (5000 + i).to_string();
            let domain = format!("bulk{i}.example.com");
            let username = format!("bulk{i}");
            assert!(hmn.seed_service(&id, &domain, &username, "Bulk-Pw-1!", "101"));
            let (disk, disk_limit, bandwidth, bandwidth_limit) = (
                i as f64 + 0.25,
                5000 + i,
                2.0 * i as f64 + 0.75,
                if i % 2 == 0 { 0 } else { 9000 + i },
            );
            assert!(hmn.set_usage(&id, disk, disk_limit, bandwidth, bandwidth_limit));
            serde_json::json!([
                5000 + i,
                domain,
                username,
                disk.round() as u64,
                disk_limit,
                bandwidth.round() as u64,
                bandwidth_limit
            ])
        })
        .collect();
    // A license made outside WHMCS, without a domain: server sync must
    // import it once, keeping its key as the service's provider id.
    let license = sandbox.blesta().seed_license("", "yearly");
    let (manifest, next_manifest) = setup(&sandbox);
    let origin = sandbox.origin();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/whmcs/tests/platform.php");

    let (output, pending, server_log) = tokio::task::spawn_blocking(move || {
        let server = start_serve(&manifest, (TOKEN_VAR, TOKEN));
        let seeded = serde_json::json!({
            "service": 4010, "domain": "seeded.example.com", "username": "seededex",
            "diskusage": 1251, "disklimit": 5000, "bwusage": 3501, "bwlimit": 0,
        });
        let output = Command::new("php")
            .arg(&script)
            .env("SANDBOXED_URL", &server.base)
            .env("SANDBOXED_TOKEN", TOKEN)
            .env("SANDBOX_ORIGIN", &origin)
            .env("WHMCS_MANIFEST", &manifest)
            .env("WHMCS_NEXT_MANIFEST", &next_manifest)
            .env("WHMCS_SEEDED_USAGE", seeded.to_string())
            .env("WHMCS_SEEDED_LICENSE", &license)
            .env(
                "WHMCS_BULK_USAGE",
                serde_json::Value::from(bulk).to_string(),
            )
            .output()
            .expect("php runs");
        let pending: serde_json::Value = ureq::get(&format!("{}/v1/journal/pending", server.base))
            .set("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .expect("the journal answers")
            .into_json()
            .unwrap();
        (output, pending, server.log())
    })
    .await
    .unwrap();

    let stdout = text(&output.stdout);
    print!("{stdout}");
    assert!(
        output.status.success(),
        "the PHP platform test failed ({}):\n{}\nserve said:\n{server_log}",
        output.status,
        text(&output.stderr)
    );
    assert!(stdout.contains("ok: the WHMCS platform test passed"));

    // UsageUpdate made one request to the host per server it ran for (the
    // first server, then the large one), not one per service.
    let access: Vec<&str> = server_log
        .lines()
        .filter(|line| line.contains("provisioning::access"))
        .collect();
    let batches = access
        .iter()
        .filter(|line| line.contains("route=/v1/usage"))
        .count();
    assert_eq!(
        batches,
        2,
        "one POST /v1/usage per UsageUpdate:\n{}",
        access.join("\n")
    );
    let single_reads = access
        .iter()
        .filter(|line| {
            line.contains("function=\"usage-data\"") || line.contains("function=usage-data")
        })
        .count();
    assert!(
        single_reads < 10,
        "{single_reads} usage-data calls one by one: UsageUpdate read services singly"
    );
    let bulk_reads = hmn
        .requests()
        .iter()
        .filter(|r| {
            r.action == "get_Bandwidth_Disk_Usage"
                && r.params["serviceid"]
                    .as_str()
                    .is_some_and(|id| id.len() == 4 && id.starts_with('5'))
        })
        .count();
    assert_eq!(
        bulk_reads as u64, BULK_SERVICES,
        "each of the large server's services read once"
    );

    // One admin page of a service (its buttons and its tab, between the
    // PHP side's two GET /v1/health marks) asked serve for that service's
    // pending entries once, and never for the whole pending list.
    let marks: Vec<usize> = access
        .iter()
        .enumerate()
        .filter(|(_, line)| line.contains("route=/v1/health "))
        .map(|(index, _)| index)
        .collect();
    assert_eq!(marks.len(), 2, "the two marks:\n{}", access.join("\n"));
    let page = &access[marks[0] + 1..marks[1]];
    let count = |route: &str| {
        page.iter()
            .filter(|line| line.contains(&format!("route={route} ")))
            .count()
    };
    assert_eq!(
        (
            count("/v1/modules/{module}/services/{service}/pending"),
            count("/v1/journal/pending")
        ),
        (1, 0),
        "one service page asked for its entries once, and for no other's:\n{}",
        page.join("\n")
    );

    // HostMeNow: the service went through its whole life, in order.
    let record = hmn.service("4001").expect("HostMeNow has service 4001");
    assert_eq!(record.status, ServiceStatus::Terminated);
    assert_eq!(record.product_id, "102");
    assert_eq!(record.password, "New-Hostmenow-Pw9!");
    let actions: Vec<String> = hmn
        .requests()
        .into_iter()
        .filter(|r| r.params["serviceid"] == "4001")
        .map(|r| r.action)
        .collect();
    let lifecycle = [
        "CreateAccount",
        "SuspendAccount",
        "UnsuspendAccount",
        "ChangePassword",
        "ChangePackage",
        "get_Bandwidth_Disk_Usage",
        "CreateSSOSession",
        "TerminateAccount",
    ];
    let mut seen = actions.iter();
    for action in lifecycle {
        assert!(
            seen.any(|a| a == action),
            "{action} missing or out of order in {actions:?}"
        );
    }
    let suspend = hmn
        .requests()
        .into_iter()
        .find(|r| r.action == "SuspendAccount" && r.params["serviceid"] == "4001")
        .unwrap();
    assert_eq!(suspend.params["suspendreason"], "Overdue on Payment");
    assert!(
        !hmn.requests()
            .iter()
            .any(|r| r.params["serviceid"] == "4011" || r.params["serviceid"] == "4012"),
        "UsageUpdate asked only for the server's active services"
    );

    // Blesta: one license, cancelled.
    let licenses: Vec<_> = sandbox
        .blesta()
        .licenses()
        .into_iter()
        .filter(|l| l.domain == "licensed.example.com")
        .collect();
    assert_eq!(licenses.len(), 1);
    assert_eq!(
        licenses[0].status,
        provisioning_sandbox::blesta::LicenseStatus::Cancelled
    );

    assert_eq!(
        sandbox
            .blesta()
            .licenses()
            .iter()
            .filter(|l| l.domain == "unsure.example.com")
            .count(),
        1,
        "the create cut off by a fault made no license; the retry after the operator found it not done made one"
    );

    // Webline: exactly one account, though the platform "died" once.
    let accounts: Vec<_> = sandbox
        .webline()
        .accounts()
        .into_iter()
        .filter(|a| a.domain == "duka.co.tz")
        .collect();
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(
        accounts[0].status,
        provisioning_sandbox::webline::AccountStatus::Active
    );

    // LogicBoxes: created in the product's email order, then removed.
    let created = sandbox
        .logicboxes()
        .requests()
        .into_iter()
        .find(|r| r.path == "mail/user/add.json")
        .expect("the mailbox was added");
    assert!(
        created
            .query
            .iter()
            .chain(created.form.iter())
            .any(|(k, v)| k == "order-id" && v == logicboxes::ORDER_ID),
        "the order id came from the WHMCS product"
    );
    assert!(
        sandbox
            .logicboxes()
            .mailbox(&format!("jane@{}", logicboxes::ORDER_DOMAIN))
            .is_none()
    );

    // Every answer was kept by WHMCS and acknowledged.
    assert_eq!(pending["pending"], serde_json::json!([]), "{pending:#}");

    // serve's own log holds no provider secret and no service password.
    for secret in [
        hostmenow::API_KEY,
        blesta::PASSWORD,
        webline::API_KEY,
        logicboxes::API_KEY,
        TOKEN,
        "New-Hostmenow-Pw9!",
        "Hmn-Initial-Pw1!",
    ] {
        assert!(
            !server_log.contains(secret),
            "serve's log shows a secret:\n{server_log}"
        );
    }
}
