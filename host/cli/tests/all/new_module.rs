//! `provisioning new-module` as an author outside this repository uses it:
//! the real binary writes a project in each language into a directory
//! outside the workspace, the language's own toolchain builds it there on
//! its own, and the host loads the component it made and runs it against a
//! provider on loopback.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use common::{fresh_dir, provisioning, text};
use provisioning_test_support::manifest::{Module, TestManifest};
use serde_json::Value;

/// The id of the module the tests generate.
const MODULE_ID: &str = "example-provider";
/// The variable the tests' manifests read the module's API key from.
const KEY_VAR: &str = "TEST_NEW_MODULE_API_KEY";
/// The API key the tests' provider accepts.
const API_KEY: &str = "nm-key-5f1c9a";

/// Writes the project of `MODULE_ID` in `lang` into a fresh directory
/// outside the workspace, checks that every file it lists is written, and
/// returns the directory and what `new-module --json` answered.
fn generate(lang: &str) -> (PathBuf, Value) {
    let project = fresh_dir(&format!("new-module-{lang}")).join(MODULE_ID);
    let output = provisioning(
        &[
            "new-module",
            MODULE_ID,
            "--lang",
            lang,
            "--out",
            project.to_str().unwrap(),
            "--json",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let written: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        written["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|file| project.join(file.as_str().unwrap()).is_file()),
        "every file it lists is written: {written}"
    );
    (project, written)
}

/// The generated project's directory, and its component once built: one
/// generation and one build for every test of this module.
fn built_module() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let (project, written) = generate("rust");
        assert_eq!(
            written["component"],
            "target/wasm32-wasip2/release/example_provider.wasm"
        );
        let component = build_outside_the_workspace(&project);
        (project, component)
    })
}

/// Builds the project at `project` for wasm32-wasip2 as its author would,
/// offline, and returns its component. The build shares the guests' target
/// directory, so the dependencies the workspace's guests built are reused.
fn build_outside_the_workspace(project: &Path) -> PathBuf {
    // `<target>/guests/wasm32-wasip2/release/hostmenow_module.wasm`.
    let guests_target = Path::new(provisioning_components::HOSTMENOW)
        .ancestors()
        .nth(3)
        .expect("the guests' target directory")
        .to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(project)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--offline",
        ])
        .arg("--target-dir")
        .arg(&guests_target);
    // The outer cargo's flags and wrappers are for the host target, as in
    // guest/components/build.rs, which builds the guests the same way.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        build.env_remove(var);
    }
    let started = Instant::now();
    let output = build.output().expect("cargo runs");
    eprintln!(
        "new-module: the generated Rust project built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let stderr = text(&output.stderr);
    assert!(
        output.status.success(),
        "the generated project did not build:\n{stderr}"
    );
    // The template is an author's first sight of the kit: no warning,
    // from cargo or from the compiler.
    assert!(
        !stderr.contains("warning"),
        "the generated project built with warnings:\n{stderr}"
    );
    let component = guests_target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", MODULE_ID.replace('-', "_")));
    assert!(component.is_file(), "{} was not built", component.display());
    component
}

/// The generated JavaScript project's directory, and its component once
/// built: one generation and one build for every test of this module.
fn built_js() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| generate_and_build("js"))
}

/// The generated Python project's directory, and its component once built.
fn built_python() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| generate_and_build("python"))
}

/// Generates the project in `lang` and builds it there with the command
/// `new-module` tells its author (installing the pinned toolchain, then
/// building); returns the project's directory and its component.
fn generate_and_build(lang: &str) -> (PathBuf, PathBuf) {
    let (project, written) = generate(lang);
    let build = written["build"].as_str().unwrap();
    assert!(
        !build.contains("{{"),
        "the build command is filled: {build}"
    );
    let started = Instant::now();
    let output = Command::new("sh")
        .current_dir(&project)
        .args(["-c", build])
        // The packages the workspace's own JavaScript module installed are
        // in npm's cache (~/.npm): take them from there without asking the
        // registry again. pip's download cache is used as it is.
        .env("npm_config_prefer_offline", "true")
        .env("npm_config_audit", "false")
        .env("npm_config_fund", "false")
        .output()
        .expect("sh runs");
    eprintln!(
        "new-module: the generated {lang} project installed and built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        output.status.success(),
        "the generated {lang} project did not build:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let component = project.join(written["component"].as_str().unwrap());
    assert!(component.is_file(), "{} was not built", component.display());
    (project, component)
}

/// One request the provider received: its request line and its
/// `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    request_line: String,
    authorization: Option<String>,
}

/// A provider on loopback: `GET …/status` with the right bearer key
/// answers 200 with a JSON message, anything else 401 with a JSON error.
/// Returns its origin and what it has received.
fn start_provider() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut authorization = None;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim() != "" {
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("authorization")
                {
                    authorization = Some(value.trim().to_owned());
                }
                line.clear();
            }
            let accepted = request_line.starts_with("GET ")
                && request_line.contains("/status ")
                && authorization.as_deref() == Some(&format!("Bearer {API_KEY}"));
            let (status, body) = if accepted {
                ("200 OK", r#"{"message":"hello from the provider"}"#)
            } else {
                ("401 Unauthorized", r#"{"message":"unknown key"}"#)
            };
            log.lock().unwrap().push(Seen {
                request_line: request_line.trim_end().to_owned(),
                authorization,
            });
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (origin, seen)
}

/// A manifest naming the built module, granted `origin`, its endpoint
/// `origin/v1` and its key from [`KEY_VAR`].
fn manifest(component: &Path, origin: &str, label: &str) -> PathBuf {
    TestManifest::new()
        .module(
            MODULE_ID,
            Module::new(component)
                .allow(origin)
                .setting("endpoint", &format!("{origin}/v1"))
                .secret_env("api-key", KEY_VAR),
        )
        .write(fresh_dir(label).join("provisioning.toml"))
}

/// Every file under `dir`, by its path relative to `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.push((path.strip_prefix(dir).unwrap().to_owned(), bytes));
            }
        }
    }
    files.sort();
    files
}

/// This repository's root.
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_generated_rust_project_carries_the_whole_contract_and_support_crate() {
    let (project, _) = built_module();
    assert_eq!(
        files_under(&project.join("wit")),
        files_under(&repository().join("wit")),
        "the project's wit/ is the repository's"
    );
    for dir in ["src", "examples"] {
        assert_eq!(
            files_under(&project.join("vendor/provisioning-guest").join(dir)),
            files_under(&repository().join("guest/support").join(dir)),
            "the project's vendored support crate has the repository's {dir}/"
        );
    }
    assert_eq!(
        std::fs::read_to_string(project.join("src/lib.rs")).unwrap(),
        std::fs::read_to_string(repository().join("guest/support/examples/module.rs")).unwrap(),
        "the module's source is the support crate's example"
    );
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(&format!("name = \"{MODULE_ID}\"")),
        "{manifest}"
    );
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    assert!(
        readme.contains(
            "provisioning conformance target/wasm32-wasip2/release/example_provider.wasm"
        ),
        "{readme}"
    );
    assert!(
        !readme.contains("{{"),
        "every placeholder is filled:\n{readme}"
    );
}

/// A file of `project` as JSON.
fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The README of `project` has every placeholder filled and shows how to
/// run the conformance kit on the component `new-module` named.
fn assert_readme_is_filled(project: &Path) {
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("provisioning conformance {MODULE_ID}.wasm")),
        "{readme}"
    );
    assert!(
        !readme.contains("{{"),
        "every placeholder is filled:\n{readme}"
    );
}

#[test]
fn the_generated_js_project_carries_the_contract_and_hostmenows_pinned_toolchain() {
    let (project, _) = built_js();
    assert_eq!(
        files_under(&project.join("wit")),
        files_under(&repository().join("wit")),
        "the project's wit/ is the repository's"
    );
    let hostmenow = repository().join("guest/hostmenow-js");
    let package = json_file(&project.join("package.json"));
    assert_eq!(package["name"], MODULE_ID);
    assert_eq!(
        package["devDependencies"],
        json_file(&hostmenow.join("package.json"))["devDependencies"]
    );
    // The lockfile is HostMeNow's but for the root package's name (npm ci
    // has just installed from it, and left it as it was).
    let mut lock = json_file(&project.join("package-lock.json"));
    let mut expected = json_file(&hostmenow.join("package-lock.json"));
    for lock in [&mut lock, &mut expected] {
        lock["name"] = Value::Null;
        lock["packages"][""]["name"] = Value::Null;
    }
    assert_eq!(lock, expected);
    assert_readme_is_filled(project);
}

#[test]
fn the_generated_python_project_carries_the_contract_and_hostmenows_pinned_toolchain() {
    let (project, _) = built_python();
    assert_eq!(
        files_under(&project.join("wit")),
        files_under(&repository().join("wit")),
        "the project's wit/ is the repository's"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("requirements.txt")).unwrap(),
        std::fs::read_to_string(repository().join("guest/hostmenow-py/requirements.txt")).unwrap(),
        "the project pins HostMeNow's toolchain, by hash"
    );
    assert_readme_is_filled(project);
}

/// `component`'s `info`, as `provisioning inspect` shows it, declares the
/// module's id, `test-connection` alone, and its two settings.
fn assert_declares_its_id_settings_and_one_function(component: &Path) {
    let output = provisioning(&["inspect", component.to_str().unwrap(), "--json"], &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let inspection: Value = serde_json::from_slice(&output.stdout).unwrap();
    let info = &inspection["info"];
    assert_eq!(info["id"], MODULE_ID);
    assert_eq!(info["functions"], serde_json::json!(["test-connection"]));
    let kinds: Vec<(&str, &str)> = info["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("endpoint", "text"), ("api-key", "secret")]);
}

/// `component`'s test-connection sends one `GET <endpoint>/status` with
/// the bearer key, reports the provider's message and never shows the key.
fn assert_tests_the_connection_at_its_endpoint(component: &Path, lang: &str) {
    let (origin, seen) = start_provider();
    let manifest = manifest(component, &origin, &format!("new-module-call-{lang}"));
    let output = provisioning(
        &[
            "call",
            "--manifest",
            manifest.to_str().unwrap(),
            MODULE_ID,
            "test-connection",
            "--json",
        ],
        &[(KEY_VAR, API_KEY)],
    );
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        answer["ok"]["value"]["message"], "hello from the provider",
        "{answer}"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [Seen {
            request_line: "GET /v1/status HTTP/1.1".to_owned(),
            authorization: Some(format!("Bearer {API_KEY}")),
        }]
    );
    assert!(!stdout.contains(API_KEY), "the key is not in the answer");
}

/// `component` answers `unsupported` for a function it does not list,
/// sending nothing.
fn assert_answers_unsupported_for_every_other_function(component: &Path, lang: &str) {
    let (origin, seen) = start_provider();
    let manifest = manifest(
        component,
        &origin,
        &format!("new-module-unsupported-{lang}"),
    );
    let output = provisioning(
        &[
            "call",
            "--manifest",
            manifest.to_str().unwrap(),
            MODULE_ID,
            "suspend",
            "--service-id",
            "svc-1",
            "--json",
        ],
        &[(KEY_VAR, API_KEY)],
    );
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["error"]["kind"], "unsupported", "{answer}");
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}

/// `component` passes the conformance kit as generated, before its author
/// has mapped anything: its one function turns every fault of the kit's
/// proxy into the contract's typed error (a provider that never answers
/// into `timeout`) and keeps the key out of everything it says.
fn assert_passes_the_conformance_kit(component: &Path, lang: &str) {
    let (origin, _) = start_provider();
    let manifest = manifest(component, &origin, &format!("new-module-kit-{lang}"));
    let output = provisioning(
        &[
            "conformance",
            component.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "--module",
            MODULE_ID,
            "--deadline-secs",
            "3",
            "--json",
        ],
        &[(KEY_VAR, API_KEY)],
    );
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert!(
        checks.iter().any(|check| check["name"] == "fault-slow"),
        "{report:#}"
    );
    for check in checks {
        // What needs a function the module does not declare yet is skipped.
        assert_ne!(check["result"], "fail", "{check:#}");
    }
    assert!(!stdout.contains(API_KEY), "the key is not in the report");
}

#[test]
fn the_generated_rust_module_passes_the_conformance_kit() {
    assert_passes_the_conformance_kit(&built_module().1, "rust");
}

#[test]
fn the_generated_js_module_passes_the_conformance_kit() {
    assert_passes_the_conformance_kit(&built_js().1, "js");
}

#[test]
fn the_generated_python_module_passes_the_conformance_kit() {
    assert_passes_the_conformance_kit(&built_python().1, "python");
}

#[test]
fn the_generated_rust_module_declares_its_id_settings_and_one_function() {
    assert_declares_its_id_settings_and_one_function(&built_module().1);
}

#[test]
fn the_generated_rust_module_tests_the_connection_at_its_endpoint() {
    assert_tests_the_connection_at_its_endpoint(&built_module().1, "rust");
}

#[test]
fn the_generated_rust_module_answers_unsupported_for_every_other_function() {
    assert_answers_unsupported_for_every_other_function(&built_module().1, "rust");
}

#[test]
fn the_generated_js_module_declares_its_id_settings_and_one_function() {
    assert_declares_its_id_settings_and_one_function(&built_js().1);
}

#[test]
fn the_generated_js_module_tests_the_connection_at_its_endpoint() {
    assert_tests_the_connection_at_its_endpoint(&built_js().1, "js");
}

#[test]
fn the_generated_js_module_answers_unsupported_for_every_other_function() {
    assert_answers_unsupported_for_every_other_function(&built_js().1, "js");
}

#[test]
fn the_generated_python_module_declares_its_id_settings_and_one_function() {
    assert_declares_its_id_settings_and_one_function(&built_python().1);
}

#[test]
fn the_generated_python_module_tests_the_connection_at_its_endpoint() {
    assert_tests_the_connection_at_its_endpoint(&built_python().1, "python");
}

#[test]
fn the_generated_python_module_answers_unsupported_for_every_other_function() {
    assert_answers_unsupported_for_every_other_function(&built_python().1, "python");
}

#[test]
fn new_module_refuses_a_name_that_is_not_a_module_id() {
    let out = fresh_dir("new-module-bad-name");
    for name in [
        "Example",
        "1provider",
        "my_provider",
        "provider-",
        "a b",
        "provisioning-guest",
    ] {
        let target = out.join("project");
        let output = provisioning(
            &[
                "new-module",
                name,
                "--lang",
                "rust",
                "--out",
                target.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(output.status.code(), Some(2), "{name} was accepted");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(name), "the error names `{name}`: {stderr}");
        assert!(!target.exists(), "nothing was written for `{name}`");
    }
}

#[test]
fn new_module_never_writes_into_a_directory_that_holds_something() {
    let out = fresh_dir("new-module-occupied");
    std::fs::write(out.join("notes.txt"), "the author's").unwrap();
    let output = provisioning(
        &[
            "new-module",
            MODULE_ID,
            "--lang",
            "rust",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("is not empty"),
        "{}",
        text(&output.stderr)
    );
    let names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["notes.txt"]);
}

#[test]
fn new_module_refuses_a_language_it_has_no_template_for() {
    let target = fresh_dir("new-module-languages").join("project");
    let output = provisioning(
        &[
            "new-module",
            MODULE_ID,
            "--lang",
            "cobol",
            "--out",
            target.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("invalid value 'cobol'")
            && stderr.contains("[possible values: rust, js, python]"),
        "{stderr}"
    );
    assert!(!target.exists());
}
