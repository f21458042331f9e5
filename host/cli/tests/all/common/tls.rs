//! Certificates for the tests that speak TLS, made by the `openssl`
//! command (Debian's `openssl`, installed when missing): a throwaway CA and
//! a server certificate it signed for 127.0.0.1 and localhost.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::text;

/// Whether the `openssl` command runs.
fn openssl_runs() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Installs Debian's openssl unless the command is there.
pub fn ensure_openssl() {
    if openssl_runs() {
        return;
    }
    println!("the openssl command is missing: installing Debian's openssl");
    for args in [
        &["update"][..],
        &["install", "-y", "--no-install-recommends", "openssl"][..],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .expect("apt-get runs; otherwise install openssl yourself");
        assert!(status.success(), "apt-get {args:?} failed: {status}");
    }
    assert!(openssl_runs(), "openssl was installed but does not run");
}

/// Runs `openssl args` in `dir`; panics with what it said when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        text(&output.stderr)
    );
}

/// A CA's certificate, and a server certificate and its key.
pub struct Pair {
    /// The CA's certificate.
    pub ca: PathBuf,
    /// The server's certificate.
    pub cert: PathBuf,
    /// The server's key.
    pub key: PathBuf,
}

/// A throwaway CA (`NAME-ca.pem`, `NAME-ca.key`) and a server certificate
/// it signed for 127.0.0.1 and localhost (`NAME.pem`, `NAME.key`), P-256
/// keys, valid two days.
pub fn make_pair(dir: &Path, name: &str, serial: u32) -> Pair {
    let ca_config = format!("{name}-ca.cnf");
    std::fs::write(
        dir.join(&ca_config),
        format!(
            "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\nprompt = no\n\
             [dn]\nCN = provisioning serve test CA {name}\n\
             [v3_ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n\
             subjectKeyIdentifier = hash\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1, DNS:localhost\n",
    )
    .unwrap();
    let (ca, ca_key) = (format!("{name}-ca.pem"), format!("{name}-ca.key"));
    let (cert, key, csr) = (
        format!("{name}.pem"),
        format!("{name}.key"),
        format!("{name}.csr"),
    );
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509", "-config", &ca_config, "-days", "2"];
    args.extend(ec);
    args.extend(["-keyout", &ca_key, "-out", &ca]);
    openssl(dir, &args);
    let mut args = vec!["req", "-new", "-subj", "/CN=localhost"];
    args.extend(ec);
    args.extend(["-keyout", &key, "-out", &csr]);
    openssl(dir, &args);
    let serial = serial.to_string();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-set_serial",
            &serial,
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            &cert,
        ],
    );
    Pair {
        ca: dir.join(ca),
        cert: dir.join(cert),
        key: dir.join(key),
    }
}
