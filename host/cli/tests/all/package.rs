//! The Debian package an operator installs, built by `packaging/deb/build`
//! and unpacked into a throwaway root: its files where Debian's tools look
//! for them, the unpacked binary's `--version`, `--help`, man page and
//! completions, and the unpacked binary serving a manifest.
//!
//! The package is built once per test binary, from the dev profile: a
//! release build of wasmtime costs minutes, and nothing checked here
//! depends on the profile. The build shares the workspace's build
//! directory, so it compiles only the CLI without its `demo` feature, and
//! puts that binary in a target directory of its own: the tests' binary
//! (with the demo) stays where the other tests run it.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use common::{Serve, text};
use provisioning_sandbox::{Sandbox, hostmenow};
use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::json;

/// The package's name, as its control file gives it.
const PACKAGE: &str = "provisioning";
/// Where the package puts the example manifest, its one conffile.
const CONFFILE: &str = "/etc/provisioning/provisioning.toml";

/// The repository's root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The package built and unpacked.
struct Unpacked {
    /// The `.deb` file.
    deb: PathBuf,
    /// The files as `dpkg-deb -x` laid them out, and the control files
    /// under `DEBIAN/`.
    root: PathBuf,
}

impl Unpacked {
    /// A file of the package, by its installed path.
    fn path(&self, installed: &str) -> PathBuf {
        self.root.join(installed.trim_start_matches('/'))
    }

    /// The unpacked binary.
    fn binary(&self) -> PathBuf {
        self.path("/usr/bin/provisioning")
    }

    /// Runs the unpacked binary with `args`; its stdout, after checking
    /// that it succeeded.
    fn run(&self, args: &[&str]) -> String {
        let output = Command::new(self.binary())
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "provisioning {args:?}: {}",
            text(&output.stderr)
        );
        text(&output.stdout)
    }
}

/// Whether `program` runs here.
fn installed(program: &str, version_flag: &str) -> bool {
    Command::new(program)
        .arg(version_flag)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The package, built and unpacked once for every test here; `None` (each
/// test then says it skipped) where Debian's dpkg tools are missing.
static UNPACKED: LazyLock<Option<Unpacked>> = LazyLock::new(|| {
    if !installed("dpkg-deb", "--version") || !installed("dpkg-shlibdeps", "--version") {
        return None;
    }
    let dir = common::fresh_dir("package");
    // The workspace's build directory is the one holding the tests' binary.
    let build_dir = Path::new(env!("CARGO_BIN_EXE_provisioning"))
        .parent()
        .and_then(Path::parent)
        .unwrap();
    let mut build = Command::new(workspace().join("packaging/deb/build"));
    // Not the variables cargo describes this test crate with: ring's and
    // rustix's build scripts rerun when they change, and the next cargo
    // command, without them, would rebuild ring and everything above it.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let describes_this_crate = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_BIN_",
            "CARGO_CRATE_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
            || [
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&&*name);
        if describes_this_crate {
            build.env_remove(&*name);
        }
    }
    let output = build
        .args(["--dev", "--out"])
        .arg(dir.join("out"))
        .env("CARGO", env!("CARGO"))
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env("CARGO_BUILD_BUILD_DIR", build_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "packaging/deb/build failed:\n{}",
        text(&output.stderr)
    );
    // Only the binary is in it (the build's files are the workspace's).
    std::fs::remove_dir_all(dir.join("target")).unwrap();
    let deb = PathBuf::from(text(&output.stdout).lines().last().unwrap().trim());
    assert!(
        deb.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&format!("{PACKAGE}_{}_", env!("CARGO_PKG_VERSION"))),
        "{}",
        deb.display()
    );
    let root = dir.join("root");
    for (action, into) in [("-x", root.clone()), ("-e", root.join("DEBIAN"))] {
        let status = Command::new("dpkg-deb")
            .arg(action)
            .arg(&deb)
            .arg(&into)
            .status()
            .unwrap();
        assert!(status.success(), "dpkg-deb {action}");
    }
    Some(Unpacked { deb, root })
});

/// The unpacked package, or `None` after saying why the test skips.
fn unpacked() -> Option<&'static Unpacked> {
    let unpacked = UNPACKED.as_ref();
    if unpacked.is_none() {
        println!("skipped: dpkg-deb and dpkg-shlibdeps (dpkg-dev) are not on PATH");
    }
    unpacked
}

/// The subcommands the unpacked binary's `--help` lists (but `help`).
fn subcommands(package: &Unpacked) -> Vec<String> {
    let help = package.run(&["--help"]);
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// The `name: value` lines of `--version` after the first, as a map.
fn version_fields(version: &str) -> BTreeMap<String, String> {
    version
        .lines()
        .skip(1)
        .map(|line| {
            let (name, value) = line.split_once(": ").expect("a `name: value` line");
            (name.to_string(), value.to_string())
        })
        .collect()
}

#[test]
fn the_package_puts_each_file_where_debian_looks_for_it_and_enables_nothing() {
    let Some(package) = unpacked() else { return };
    let shipped = |from: &str| std::fs::read_to_string(workspace().join(from)).unwrap();
    let installed = |at: &str| {
        std::fs::read_to_string(package.path(at)).unwrap_or_else(|error| panic!("{at}: {error}"))
    };

    assert_eq!(
        installed("/lib/systemd/system/provisioning.service"),
        shipped("packaging/systemd/provisioning.service")
    );
    assert_eq!(
        installed(CONFFILE),
        shipped("packaging/systemd/provisioning.toml.example")
    );
    assert_eq!(
        installed("/DEBIAN/conffiles").lines().collect::<Vec<_>>(),
        [CONFFILE]
    );
    // The unit starts the binary the package installs.
    let unit = installed("/lib/systemd/system/provisioning.service");
    let exec_start = unit
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart="))
        .unwrap();
    let program = exec_start.split_whitespace().next().unwrap();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(package.path(program))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o755, "{program}");

    for completion in [
        "/usr/share/bash-completion/completions/provisioning",
        "/usr/share/zsh/vendor-completions/_provisioning",
        "/usr/share/fish/vendor_completions.d/provisioning.fish",
    ] {
        let script = installed(completion);
        for subcommand in subcommands(package) {
            assert!(
                script.contains(&subcommand),
                "{completion} lacks {subcommand}"
            );
        }
    }
    // Bash loads the script and completes `provisioning` with it.
    let bash = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p provisioning",
            package
                .path("/usr/share/bash-completion/completions/provisioning")
                .display()
        ))
        .output()
        .unwrap();
    assert!(bash.status.success(), "{}", text(&bash.stderr));
    assert!(
        text(&bash.stdout).contains("-F _provisioning"),
        "{}",
        text(&bash.stdout)
    );

    // No maintainer script: nothing enables or starts the unit, which
    // needs its credentials first.
    for script in ["preinst", "postinst", "prerm", "postrm"] {
        assert!(
            !package.path(&format!("/DEBIAN/{script}")).exists(),
            "the package has a {script}"
        );
    }
    let control = installed("/DEBIAN/control");
    for field in [
        format!("Package: {PACKAGE}"),
        format!("Version: {}", env!("CARGO_PKG_VERSION")),
    ] {
        assert!(control.lines().any(|line| line == field), "{control}");
    }
    assert!(
        control.contains("neither enabled\n nor started"),
        "{control}"
    );
    let depends = control
        .lines()
        .find_map(|line| line.strip_prefix("Depends: "))
        .unwrap_or_else(|| panic!("no Depends: {control}"));
    assert!(depends.contains("libc6 (>= "), "{depends}");

    // Every file belongs to root, whoever built the package.
    let listing = Command::new("dpkg-deb")
        .arg("--contents")
        .arg(&package.deb)
        .output()
        .unwrap();
    let listing = text(&listing.stdout);
    assert!(listing.lines().count() > 10, "{listing}");
    for line in listing.lines() {
        assert_eq!(line.split_whitespace().nth(1), Some("root/root"), "{line}");
    }
}

#[test]
fn the_packaged_binary_tells_its_build_and_leaves_the_demo_out() {
    let Some(package) = unpacked() else { return };
    let version = package.run(&["--version"]);
    assert_eq!(
        version.lines().next(),
        Some(format!("provisioning {}", env!("CARGO_PKG_VERSION")).as_str()),
        "{version}"
    );
    let fields = version_fields(&version);
    let names: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(names, ["commit", "contract", "wasmtime"], "{version}");

    // Each from its own source, read here independently of the build script.
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(workspace())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| text(&output.stdout).trim().to_string());
    match head {
        Some(head) => assert!(
            fields["commit"].len() >= 7 && head.starts_with(&fields["commit"]),
            "commit {} is not HEAD {head}",
            fields["commit"]
        ),
        None => assert_eq!(fields["commit"], "unknown"),
    }
    let lock: toml::Table = std::fs::read_to_string(workspace().join("Cargo.lock"))
        .unwrap()
        .parse()
        .unwrap();
    let wasmtime = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .find(|package| package["name"].as_str() == Some("wasmtime"))
        .unwrap();
    assert_eq!(
        Some(fields["wasmtime"].as_str()),
        wasmtime["version"].as_str()
    );
    let mut resolve = wit_parser::Resolve::default();
    let (contract, _) = resolve.push_dir(workspace().join("wit")).unwrap();
    assert_eq!(
        fields["contract"],
        resolve.packages[contract].name.to_string()
    );

    // The operator's binary: the commands, no test bench.
    let commands = subcommands(package);
    for wanted in ["call", "serve", "journal", "inspect"] {
        assert!(commands.iter().any(|c| c == wanted), "{commands:?}");
    }
    for demo in ["demo", "sandbox"] {
        assert!(!commands.iter().any(|c| c == demo), "{commands:?}");
    }
}

#[test]
fn the_packaged_man_pages_render_with_every_subcommand() {
    let Some(package) = unpacked() else { return };
    let commands = subcommands(package);
    for command in &commands {
        let page = package.path(&format!("/usr/share/man/man1/provisioning-{command}.1.gz"));
        assert!(page.exists(), "no page {}", page.display());
    }
    let page = package.path("/usr/share/man/man1/provisioning.1.gz");
    let rendered = if installed("man", "--version") {
        // Rendered as `man` shows it, with groff's warnings on stderr.
        let output = Command::new("man")
            .arg("--warnings")
            .arg("-l")
            .arg(&page)
            .env("MANWIDTH", "100")
            .env_remove("MANPAGER")
            .env_remove("PAGER")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        let stderr = text(&output.stderr);
        assert!(!stderr.contains("warning"), "groff warns:\n{stderr}");
        text(&output.stdout)
    } else {
        println!("`man` is not on PATH: checking the roff source only");
        let output = Command::new("gzip").arg("-dc").arg(&page).output().unwrap();
        let source = text(&output.stdout);
        assert!(source.contains(".TH provisioning 1"), "{source}");
        source
    };
    assert!(rendered.contains("SUBCOMMANDS"), "{rendered}");
    for command in &commands {
        assert!(
            rendered.contains(&format!("provisioning-{command}(1)")),
            "the page does not name {command}:\n{rendered}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_packaged_binary_serves_a_manifest_and_scrapes_its_build() {
    let Some(package) = unpacked() else { return };
    let sandbox = Sandbox::start().await.unwrap();
    let dir = common::fresh_dir("package-serve");
    let manifest = TestManifest::new()
        .module(
            "hostmenow",
            Module::hostmenow(&sandbox).secret_env("api-key", "TEST_HMN_KEY"),
        )
        .write(dir.join("provisioning.toml"));
    let server = Serve::start_program(
        &package.binary(),
        &manifest,
        ("TEST_PACKAGE_TOKEN", "package-test-token-0123456789"),
        &[("TEST_HMN_KEY", hostmenow::API_KEY)],
        &[],
    );

    let ready = ureq::get(&format!("{}/v1/health/ready", server.base)).call();
    assert_eq!(common::answer(ready).0, 200);
    let (status, body) = server.post(
        "/v1/modules/hostmenow/call",
        &json!({ "request": { "function": "test-connection" }, "settings": [] }),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["ok"].is_object(), "{body}");

    let scrape = ureq::get(&format!("{}/metrics", server.base))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let parsed = prometheus_parse::Scrape::parse(scrape.lines().map(|l| Ok(l.to_string())))
        .expect("the exposition parses");
    let build: Vec<_> = parsed
        .samples
        .iter()
        .filter(|sample| sample.metric == "provisioning_build_info")
        .collect();
    assert_eq!(build.len(), 1, "{scrape}");
    assert!(
        matches!(build[0].value, prometheus_parse::Value::Gauge(v) if v == 1.0),
        "{scrape}"
    );
    // The labels are what --version says, the version included.
    let mut said = version_fields(&package.run(&["--version"]));
    said.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    let labels: BTreeMap<String, String> = build[0]
        .labels
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    assert_eq!(labels, said, "{scrape}");
}
