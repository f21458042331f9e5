//! `provisioning serve --tls-cert --tls-key`: the real binary serving HTTPS
//! with certificates made for the test by the `openssl` command (Debian's
//! `openssl`, installed when missing), called by a client that verifies
//! the certificate against the test's CA. A client of another CA and a
//! plain-HTTP client fail; a new pair is served after SIGHUP, or after the
//! files change; a key that does not go with its certificate is refused on
//! reload (the pair in service keeps serving) and at start; a handshake
//! never begun is cut off at the header timeout.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::tls::{Pair, ensure_openssl, make_pair};
use common::{Serve, answer, text};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;

const TOKEN: &str = "tls-serve-test-token-90a7c3";
const TOKEN_VAR: &str = "TEST_TLS_SERVE_TOKEN";

/// A fresh directory for one test.
fn fresh_dir(name: &str) -> PathBuf {
    common::fresh_dir(&format!("tls-{name}"))
}

/// A client that trusts only the CA in `ca` and verifies the server's
/// certificate against it (and its name, 127.0.0.1). It keeps no
/// connection: each call is a new full handshake, which sees the pair in
/// service (a connection open across a reload keeps the pair it began
/// with).
fn trusting(ca: &Path) -> ureq::Agent {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    // Nor does it resume a session: a resumed session skips the
    // certificate, and the test is about which certificate is served.
    config.resumption = rustls::client::Resumption::disabled();
    ureq::AgentBuilder::new()
        .tls_config(Arc::new(config))
        .max_idle_connections(0)
        .timeout(Duration::from_secs(10))
        .build()
}

/// `GET /v1/health` with the token through `agent`: the status and body,
/// or the transport error.
fn health(agent: &ureq::Agent, base: &str) -> Result<(u16, Value), String> {
    match agent
        .get(&format!("{base}/v1/health"))
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .call()
    {
        Err(ureq::Error::Transport(error)) => Err(error.to_string()),
        result => Ok(answer(result)),
    }
}

/// The server on an empty manifest (the transport is under test) with the
/// pair's files.
fn start(dir: &Path, pair: &Pair, extra: &[&str]) -> Serve {
    let manifest = dir.join("provisioning.toml");
    std::fs::write(&manifest, "").unwrap();
    let mut args = vec![
        "--tls-cert",
        pair.cert.to_str().unwrap(),
        "--tls-key",
        pair.key.to_str().unwrap(),
    ];
    args.extend(extra);
    Serve::start(&manifest, (TOKEN_VAR, TOKEN), &[], &args)
}

/// Copies the certificate and key of `pair` over the files being served.
fn install(pair: &Pair, served: &Pair) {
    std::fs::copy(&pair.key, &served.key).unwrap();
    std::fs::copy(&pair.cert, &served.cert).unwrap();
}

#[test]
fn https_with_a_verified_certificate_and_a_new_pair_after_sighup() {
    ensure_openssl();
    let dir = fresh_dir("hup");
    let first = make_pair(&dir, "first", 1);
    let second = make_pair(&dir, "second", 2);
    let served = Pair {
        ca: first.ca.clone(),
        cert: dir.join("served.pem"),
        key: dir.join("served.key"),
    };
    install(&first, &served);
    // Files are not watched in practice (an hour between checks).
    let server = start(&dir, &served, &["--watch-interval-ms", "3600000"]);
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let trusts_first = trusting(&first.ca);
    let trusts_second = trusting(&second.ca);

    let (status, body) = health(&trusts_first, &server.base).unwrap();
    assert_eq!(
        (status, &body["status"]),
        (200, &Value::from("ok")),
        "{body}"
    );
    let refused = answer(
        trusts_first
            .get(&format!("{}/v1/health", server.base))
            .call(),
    );
    assert_eq!(refused.0, 401, "the token is still required over TLS");
    let wrong_ca = health(&trusts_second, &server.base).unwrap_err();
    assert!(wrong_ca.contains("UnknownIssuer"), "{wrong_ca}");
    let plain = server.base.replace("https://", "http://");
    let plain = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build()
        .get(&format!("{plain}/v1/health"))
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .call();
    assert!(
        matches!(plain, Err(ureq::Error::Transport(_))),
        "plain HTTP is not served: {plain:?}"
    );

    // A certificate whose key is not the one beside it: refused, the first
    // pair keeps serving.
    std::fs::copy(&second.cert, &served.cert).unwrap();
    server.sighup();
    server.wait_until("the refusal", || {
        server.log().contains("TLS certificate refused")
    });
    assert!(
        server.log().contains("does not go with the certificate"),
        "{}",
        server.log()
    );
    assert_eq!(health(&trusts_first, &server.base).unwrap().0, 200);

    // The whole second pair: served after the next SIGHUP.
    install(&second, &served);
    server.sighup();
    server.wait_until("the second certificate", || {
        health(&trusts_second, &server.base).is_ok()
    });
    assert_eq!(health(&trusts_second, &server.base).unwrap().0, 200);
    let stale = health(&trusts_first, &server.base).unwrap_err();
    assert!(stale.contains("UnknownIssuer"), "{stale}");
    assert!(
        server.log().contains("TLS certificate swapped in"),
        "{}",
        server.log()
    );
}

#[test]
fn a_changed_certificate_file_is_picked_up_by_the_watcher() {
    ensure_openssl();
    let dir = fresh_dir("watch");
    let first = make_pair(&dir, "first", 3);
    let second = make_pair(&dir, "second", 4);
    let served = Pair {
        ca: first.ca.clone(),
        cert: dir.join("served.pem"),
        key: dir.join("served.key"),
    };
    install(&first, &served);
    let server = start(
        &dir,
        &served,
        &["--watch-interval-ms", "100", "--header-timeout-ms", "800"],
    );
    assert_eq!(health(&trusting(&first.ca), &server.base).unwrap().0, 200);

    // A connection that never starts its handshake is closed after the
    // header timeout.
    let mut silent =
        std::net::TcpStream::connect(server.base.trim_start_matches("https://")).unwrap();
    let opened = Instant::now();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let read = std::io::Read::read(&mut silent, &mut [0u8; 64]);
    let after = opened.elapsed();
    assert!(matches!(read, Ok(0)), "{read:?}");
    assert!(
        after >= Duration::from_millis(700) && after < Duration::from_secs(5),
        "closed after {after:?}"
    );
    install(&second, &served);
    let trusts_second = trusting(&second.ca);
    server.wait_until("the second certificate", || {
        health(&trusts_second, &server.base).is_ok()
    });
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused_at_start() {
    ensure_openssl();
    let dir = fresh_dir("mismatch");
    let first = make_pair(&dir, "first", 5);
    let second = make_pair(&dir, "second", 6);
    let manifest = dir.join("provisioning.toml");
    std::fs::write(&manifest, "").unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "serve",
            "--manifest",
            manifest.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--token-env",
            TOKEN_VAR,
        ];
        args.extend(extra);
        common::provisioning(&args, &[(TOKEN_VAR, TOKEN)])
    };
    let mismatched = run(&[
        "--tls-cert",
        second.cert.to_str().unwrap(),
        "--tls-key",
        first.key.to_str().unwrap(),
    ]);
    let stderr = text(&mismatched.stderr);
    assert_eq!(mismatched.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("does not go with the certificate"),
        "{stderr}"
    );
    assert!(text(&mismatched.stdout).is_empty(), "it never listened");

    let cert_alone = run(&["--tls-cert", first.cert.to_str().unwrap()]);
    let stderr = text(&cert_alone.stderr);
    assert_eq!(cert_alone.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
}
