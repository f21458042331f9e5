//! Installs the pinned toolchains of the JavaScript and Python modules into
//! `<target>/polyglot` and builds each module into a component, so that a
//! plain `cargo test` needs no step of its own (node with npm, and python3
//! with venv, must be on the PATH).
//!
//! Both steps are cached: a toolchain is installed again only when its
//! lockfile changed (a stamp beside it holds the lockfile it was installed
//! from), a module built again only when its sources, the contract or its
//! toolchain changed (a digest of them beside the component). Cargo reruns
//! this script when a module's sources, the contract or this script
//! change, and for each profile or driver (a check, clippy) on its own.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One module written in another language.
struct Module {
    /// The constant naming its component.
    constant: &'static str,
    /// Its directory under `guest/`.
    dir: &'static str,
    /// The toolchain that builds it.
    toolchain: Toolchain,
}

#[derive(Clone, Copy)]
enum Toolchain {
    /// componentize-js, from the module's `package.json` and
    /// `package-lock.json` (see [`build_js`]).
    JavaScript,
    /// componentize-py, from the module's `requirements.txt`.
    Python,
}

const MODULES: &[Module] = &[
    Module {
        constant: "HOSTMENOW_JS",
        dir: "hostmenow-js",
        toolchain: Toolchain::JavaScript,
    },
    Module {
        constant: "HOSTMENOW_PY",
        dir: "hostmenow-py",
        toolchain: Toolchain::Python,
    },
];

/// The contract's world for toolchains that generate every import from
/// the world: the JavaScript and Python modules call the wasi:http
/// bindings it names.
const WORLD: &str = "provider-http";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .join("../..")
        .canonicalize()
        .expect("workspace root exists");
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let polyglot = target_dir.join("polyglot");
    fs::create_dir_all(&polyglot).expect("create <target>/polyglot");

    println!("cargo:rerun-if-changed={}", workspace.join("wit").display());
    for module in MODULES {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join("guest").join(module.dir).display()
        );
    }

    let mut timings = String::new();
    let mut constants = String::new();
    for module in MODULES {
        let source = workspace.join("guest").join(module.dir);
        let output = polyglot.join(format!("{}.wasm", module.dir.replace('-', "_")));
        let tools = polyglot.join(module.dir);
        let started = Instant::now();
        let installed = match module.toolchain {
            Toolchain::JavaScript => install_js(&source, &tools),
            Toolchain::Python => install_py(&source, &tools),
        };
        let install_time = started.elapsed();
        // Built from exactly these inputs already (the same sources and
        // contract, the same toolchain): nothing to do. A plain check, a
        // clippy run and a test build each run this script, and a
        // component built again would differ in its bytes (the JavaScript
        // snapshot does), costing the tests a cold compile of it.
        let inputs = inputs_digest(&[&source, &workspace.join("wit"), &tools.join(STAMP)]);
        let built_from = polyglot.join(format!("{}.built-from", module.dir));
        let started = Instant::now();
        let built =
            !(output.is_file() && fs::read_to_string(&built_from).is_ok_and(|d| d == inputs));
        if built {
            match module.toolchain {
                Toolchain::JavaScript => build_js(&workspace, &source, &tools, module.dir, &output),
                Toolchain::Python => build_py(&workspace, &source, &tools, &output),
            }
            fs::write(&built_from, &inputs).expect("write the inputs' digest");
        }
        let build_time = started.elapsed();
        let size = fs::metadata(&output)
            .unwrap_or_else(|e| panic!("{} was not produced: {e}", output.display()))
            .len();
        writeln!(
            timings,
            "{}: install {} ({:.1} s), build {} ({:.1} s), {size} bytes",
            module.dir,
            if installed { "ran" } else { "cached" },
            install_time.as_secs_f64(),
            if built { "ran" } else { "cached" },
            build_time.as_secs_f64()
        )
        .expect("writing to a String");
        writeln!(
            constants,
            "/// The `{}` component.\npub const {}: &str = {output:?};",
            module.dir, module.constant
        )
        .expect("writing to a String");
    }
    // What the last run took, for BENCHMARKS.md and a curious reader.
    fs::write(polyglot.join("last-build.txt"), timings).expect("write last-build.txt");
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("components.rs");
    fs::write(&out, constants).expect("write components.rs");
}

/// Runs `command`, failing the build with `what` when it does not succeed.
fn run(command: &mut Command, what: &str) {
    let status = command.status().unwrap_or_else(|e| {
        panic!("could not start {what}: {e} (is it installed and on the PATH?)")
    });
    assert!(status.success(), "{what} failed (see the output above)");
}

/// A toolchain's copy of the lockfile it was installed from.
const STAMP: &str = "installed-from.lock";

/// A digest of every file under `paths` (names and contents), in hex.
fn inputs_digest(paths: &[&Path]) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    fn walk(path: &Path, hasher: &mut DefaultHasher) {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = fs::read_dir(path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
                .map(|entry| entry.expect("a directory entry").path())
                .collect();
            entries.sort();
            for entry in entries {
                walk(&entry, hasher);
            }
        } else if let Ok(bytes) = fs::read(path) {
            path.hash(hasher);
            bytes.hash(hasher);
        }
    }
    let mut hasher = DefaultHasher::new();
    for path in paths {
        walk(path, &mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

/// Whether `tools` was installed from `lockfile` as it is now; if not,
/// `install` runs and the stamp is written. Returns whether it ran.
fn install_once(lockfile: &Path, tools: &Path, install: impl FnOnce()) -> bool {
    let wanted =
        fs::read(lockfile).unwrap_or_else(|e| panic!("reading {}: {e}", lockfile.display()));
    let stamp = tools.join(STAMP);
    if fs::read(&stamp).is_ok_and(|had| had == wanted) {
        return false;
    }
    fs::create_dir_all(tools).expect("create the toolchain directory");
    install();
    fs::write(&stamp, wanted).expect("write the toolchain's stamp");
    true
}

/// `npm ci` of the module's lockfile into `tools` (a copy of `package.json`
/// and `package-lock.json`, so that `node_modules` stays out of the source
/// tree).
fn install_js(source: &Path, tools: &Path) -> bool {
    install_once(&source.join("package-lock.json"), tools, || {
        for file in ["package.json", "package-lock.json"] {
            fs::copy(source.join(file), tools.join(file))
                .unwrap_or_else(|e| panic!("copying {file}: {e}"));
        }
        run(
            Command::new("npm").current_dir(tools).args([
                "ci",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ]),
            "`npm ci` (installing componentize-js)",
        );
    })
}

/// componentize-js on `src/<name>.js` against the contract's world. The
/// `fetch-event` feature is left out: it would export an HTTP handler no
/// provider module has.
fn build_js(workspace: &Path, source: &Path, tools: &Path, name: &str, output: &Path) {
    let module_name = name.trim_end_matches("-js");
    let cli = tools.join("node_modules/@bytecodealliance/componentize-js/src/cli.js");
    run(
        Command::new("node")
            .arg(cli)
            .arg(source.join("src").join(format!("{module_name}.js")))
            .arg("--wit")
            .arg(workspace.join("wit"))
            .args(["--world-name", WORLD, "--disable", "fetch-event", "--out"])
            .arg(output),
        "componentize-js",
    );
}

/// A virtual environment in `tools` with the module's `requirements.txt`
/// installed, every package pinned by hash.
fn install_py(source: &Path, tools: &Path) -> bool {
    install_once(&source.join("requirements.txt"), tools, || {
        let venv = tools.join("venv");
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "`python3 -m venv`",
        );
        run(
            Command::new(venv.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--require-hashes",
                    "--only-binary=:all:",
                    "-r",
                ])
                .arg(source.join("requirements.txt")),
            "`pip install` (installing componentize-py)",
        );
    })
}

/// componentize-py on the module's `src/app.py` against the contract
/// package (`wit/` of the workspace, with the WASI packages it vendors).
fn build_py(workspace: &Path, source: &Path, tools: &Path, output: &Path) {
    // componentize-py writes compiled bytecode beside the sources it reads
    // (whatever PYTHONDONTWRITEBYTECODE says): it reads a copy, so that
    // the source tree, which cargo watches, stays as it is.
    let sources = tools.join("src");
    if sources.exists() {
        fs::remove_dir_all(&sources).expect("clear the copied sources");
    }
    copy_files(&source.join("src"), &sources, "py");
    run(
        Command::new(tools.join("venv/bin/componentize-py"))
            .arg("--wit-path")
            .arg(workspace.join("wit"))
            .args(["--world", WORLD, "--quiet", "componentize", "app"])
            .arg("--python-path")
            .arg(&sources)
            .arg("--output")
            .arg(output),
        "componentize-py",
    );
}

/// Copies the files ending in `.<extension>` directly in `from` into `to`.
fn copy_files(from: &Path, to: &Path, extension: &str) {
    fs::create_dir_all(to).expect("create a directory");
    let entries = fs::read_dir(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|ext| ext == extension) {
            let name = path.file_name().expect("a file name");
            fs::copy(&path, to.join(name))
                .unwrap_or_else(|e| panic!("copying {}: {e}", path.display()));
        }
    }
}
