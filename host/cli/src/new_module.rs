//! `provisioning new-module`: writes a module project that an author builds
//! on their own machine, outside this repository: the language's template,
//! the contract package (`wit/`, with the WASI interfaces under
//! `wit/deps/`) and, for Rust, the support crate it depends on; for
//! JavaScript and Python, the toolchain pins of HostMeNow's module in that
//! language.
//!
//! Every file comes from this repository, embedded at build time: the
//! templates under `host/cli/templates/<language>/` (real files, built by
//! the tests), `wit/`, `guest/support/` and the pins of
//! `guest/hostmenow-js/` and `guest/hostmenow-py/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;

use crate::output::outln;

/// Arguments of `new-module`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The module's id: lowercase letters, digits and `-`, starting with a
    /// letter. Its package and its component file are named after it.
    #[arg(value_parser = ModuleId::parse)]
    name: ModuleId,
    /// The language the module is written in.
    #[arg(long, value_enum)]
    lang: Language,
    /// The directory to write the project to, which must be empty or not
    /// exist yet (default: NAME, in the current directory).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A module's id as `new-module` accepts it: what every tool downstream
/// takes as a name (a cargo package, an npm package, a file name, a
/// manifest key) without quoting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleId(String);

/// The longest id accepted: a platform shows it in narrow columns.
const MAX_ID_CHARS: usize = 64;

impl ModuleId {
    /// Checks `text`: 1 to [`MAX_ID_CHARS`] lowercase ASCII letters, digits
    /// and `-`, starting with a letter and not ending with `-`.
    pub fn parse(text: &str) -> Result<ModuleId, String> {
        let rule = "a module id is lowercase letters, digits and '-', starting with a letter";
        let valid_chars = text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_chars || !text.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(format!(
                "`{}` is not a module id: {rule}",
                text.escape_debug()
            ));
        }
        if text.ends_with('-') {
            return Err(format!("`{text}` is not a module id: it ends with '-'"));
        }
        if text.len() > MAX_ID_CHARS {
            return Err(format!(
                "`{text}` is not a module id: it is longer than {MAX_ID_CHARS} characters"
            ));
        }
        if text == SUPPORT_PACKAGE {
            return Err(format!(
                "`{text}` is the support crate's name, which the project depends on"
            ));
        }
        Ok(ModuleId(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The languages a module project can be written in, each with its
/// template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Rust, on the `provisioning-guest` support crate.
    Rust,
    /// JavaScript, built with componentize-js.
    Js,
    /// Python, built with componentize-py.
    Python,
}

impl Language {
    /// The language's template.
    fn template(self) -> &'static Template {
        match self {
            Language::Rust => &RUST,
            Language::Js => &JS,
            Language::Python => &PYTHON,
        }
    }

    /// The language's word on the command line (clap's, from the variant).
    fn word(self) -> String {
        use clap::ValueEnum;
        self.to_possible_value()
            .map(|value| value.get_name().to_owned())
            .unwrap_or_default()
    }
}

/// A file of a project: its path in the project, and its contents.
type ProjectFile = (String, String);

/// What a language's project is made of.
struct Template {
    /// Files of this repository, copied into the project.
    files: &'static [Embedded],
    /// Files made when the project is written, for a module of the id
    /// given: (path in the project, contents).
    made: fn(&ModuleId) -> anyhow::Result<Vec<ProjectFile>>,
    /// Where the built component is, relative to the project, for a
    /// module of the id given.
    component: fn(&ModuleId) -> String,
    /// The command that builds the component, run in the project (with
    /// `{{component}}` replaced, as in a rendered file).
    build: &'static str,
}

/// Files embedded from one directory of this repository (named where the
/// set is declared, with [`embed!`]), copied under one directory of the
/// project.
struct Embedded {
    /// The directory in the project ("" for its root).
    to: &'static str,
    /// Each file: its path under `to`, and its contents.
    files: &'static [(&'static str, &'static str)],
    /// Whether `{{name}}` and `{{component}}` in the files are replaced by
    /// the module's id and its component's path.
    rendered: bool,
}

/// An [`Embedded`] set: `embed!("dir" => "to", rendered, ["file", "other"
/// as "renamed"])`, each file read at build time from `dir/file` of the
/// repository and written to `to/file` (or `to/renamed`) of the project.
macro_rules! embed {
    ($from:literal => $to:literal, $rendered:expr, [$($file:literal $(as $name:literal)?),* $(,)?]) => {
        Embedded {
            to: $to,
            files: &[$((
                embed!(@name $file $(, $name)?),
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../", $from, "/", $file)),
            )),*],
            rendered: $rendered,
        }
    };
    (@name $file:literal) => { $file };
    (@name $file:literal, $name:literal) => { $name };
}

/// The contract package, which every project carries whole in `wit/`.
const CONTRACT: Embedded = embed!("wit" => "wit", false, [
    "provisioning.wit",
    "deps/README.md",
    "deps/cli/command.wit",
    "deps/cli/environment.wit",
    "deps/cli/exit.wit",
    "deps/cli/imports.wit",
    "deps/cli/run.wit",
    "deps/cli/stdio.wit",
    "deps/cli/terminal.wit",
    "deps/clocks/monotonic-clock.wit",
    "deps/clocks/timezone.wit",
    "deps/clocks/wall-clock.wit",
    "deps/clocks/world.wit",
    "deps/filesystem/preopens.wit",
    "deps/filesystem/types.wit",
    "deps/filesystem/world.wit",
    "deps/http/handler.wit",
    "deps/http/proxy.wit",
    "deps/http/types.wit",
    "deps/io/error.wit",
    "deps/io/poll.wit",
    "deps/io/streams.wit",
    "deps/io/world.wit",
    "deps/random/insecure-seed.wit",
    "deps/random/insecure.wit",
    "deps/random/random.wit",
    "deps/random/world.wit",
    "deps/sockets/instance-network.wit",
    "deps/sockets/ip-name-lookup.wit",
    "deps/sockets/network.wit",
    "deps/sockets/tcp-create-socket.wit",
    "deps/sockets/tcp.wit",
    "deps/sockets/udp-create-socket.wit",
    "deps/sockets/udp.wit",
    "deps/sockets/world.wit",
]);

/// The support crate's package name: the Rust project's dependency.
const SUPPORT_PACKAGE: &str = "provisioning-guest";
/// Where the Rust project carries the support crate (its bindings find the
/// contract at `../../wit`, the project's own `wit/`).
const SUPPORT_DIR: &str = "vendor/provisioning-guest";

/// The Rust template: the module's crate, the support crate's source
/// beside it (its manifest made stand-alone: see [`support_manifest`]) and
/// the dependency versions this repository is tested with.
const RUST: Template = Template {
    files: &[
        embed!("host/cli/templates/rust" => "", true, ["Cargo.toml", "README.md", ".gitignore"]),
        // The support crate's example is the module's starting point.
        embed!("guest/support/examples" => "src", false, ["module.rs" as "lib.rs"]),
        embed!("guest/support" => "vendor/provisioning-guest", false, [
            "src/bindings.rs",
            "src/http.rs",
            "src/input.rs",
            "src/json.rs",
            "src/lib.rs",
            "src/response.rs",
            "src/settings.rs",
            "src/spec.rs",
            "src/text.rs",
            "src/url.rs",
            // Its manifest names it.
            "examples/module.rs",
        ]),
        // Cargo keeps these versions and drops the entries the project
        // does not use at its first build.
        embed!("" => "", false, ["Cargo.lock"]),
    ],
    made: |_| {
        Ok(vec![(
            format!("{SUPPORT_DIR}/Cargo.toml"),
            support_manifest()?,
        )])
    },
    component: |id| {
        format!(
            "target/wasm32-wasip2/release/{}.wasm",
            id.as_str().replace('-', "_")
        )
    },
    build: "cargo build --release --target wasm32-wasip2",
};

/// The JavaScript template: one ES module, built by componentize-js with
/// the toolchain HostMeNow's JavaScript module pins (see [`npm_files`]).
const JS: Template = Template {
    files: &[embed!("host/cli/templates/js" => "", true, [
        "README.md",
        ".gitignore",
        "src/module.js",
    ])],
    made: npm_files,
    component: |id| format!("{}.wasm", id.as_str()),
    build: "npm ci && npm run build",
};

/// The Python template: one `app.py`, built by componentize-py against
/// the contract's `provider-http` world, from a virtual environment with
/// the toolchain HostMeNow's Python module pins by hash.
const PYTHON: Template = Template {
    files: &[
        embed!("host/cli/templates/python" => "", true, [
            "README.md",
            ".gitignore",
            "src/app.py",
        ]),
        embed!("guest/hostmenow-py" => "", false, ["requirements.txt"]),
    ],
    made: |_| Ok(Vec::new()),
    component: |id| format!("{}.wasm", id.as_str()),
    build: "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && \
            .venv/bin/componentize-py --wit-path wit --world provider-http \
            componentize app --python-path src --output {{component}}",
};

/// HostMeNow's JavaScript module's `package.json`, whose toolchain pins
/// the JavaScript project takes.
const HOSTMENOW_JS_PACKAGE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../guest/hostmenow-js/package.json"
));
/// Its `package-lock.json`: every package of the toolchain, by version and
/// integrity hash.
const HOSTMENOW_JS_LOCK: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../guest/hostmenow-js/package-lock.json"
));

/// The JavaScript project's `package.json` and `package-lock.json`:
/// HostMeNow's, named after the module, with a `build` script. The lockfile
/// is HostMeNow's as it is but for the name, so `npm ci` installs exactly
/// the toolchain this repository builds and tests with.
fn npm_files(id: &ModuleId) -> anyhow::Result<Vec<ProjectFile>> {
    let mut package: serde_json::Value =
        serde_json::from_str(HOSTMENOW_JS_PACKAGE).context("parsing HostMeNow's package.json")?;
    let mut lock: serde_json::Value =
        serde_json::from_str(HOSTMENOW_JS_LOCK).context("parsing HostMeNow's package-lock.json")?;
    let component = (JS.component)(id);
    let Some(manifest) = package.as_object_mut() else {
        bail!("HostMeNow's package.json is not an object");
    };
    manifest.insert("name".into(), json!(id.as_str()));
    manifest.insert(
        "description".into(),
        json!(format!(
            "The {} provisioning module, built into {component} by componentize-js",
            id.as_str()
        )),
    );
    manifest.insert(
        "scripts".into(),
        json!({
            "build": format!(
                "componentize-js src/module.js --wit wit --world-name provider-http \
                 --disable fetch-event --out {component}"
            )
        }),
    );
    // The lockfile names its package twice: at its top and as the root
    // package ("" under `packages`).
    for pointer in ["/name", "/packages//name"] {
        match lock.pointer_mut(pointer) {
            Some(name) if name.is_string() => *name = json!(id.as_str()),
            _ => bail!("HostMeNow's package-lock.json has no `{pointer}`"),
        }
    }
    Ok(vec![
        (
            "package.json".into(),
            serde_json::to_string_pretty(&package)? + "\n",
        ),
        (
            "package-lock.json".into(),
            serde_json::to_string_pretty(&lock)? + "\n",
        ),
    ])
}

/// The workspace's manifest, whose `[workspace.package]` and
/// `[workspace.dependencies]` the support crate inherits from.
const WORKSPACE_MANIFEST: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"));
/// The support crate's manifest, as it is in the workspace.
const SUPPORT_MANIFEST: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../guest/support/Cargo.toml"
));

/// The support crate's manifest made stand-alone: each `key.workspace =
/// true` line becomes the workspace's value for that key, written inline;
/// its comments stay.
fn support_manifest() -> anyhow::Result<String> {
    let workspace: toml::Table = WORKSPACE_MANIFEST
        .parse()
        .context("parsing the workspace's Cargo.toml")?;
    let inherited = |section: &str, key: &str| -> anyhow::Result<toml::Value> {
        workspace
            .get("workspace")
            .and_then(|w| w.get(section))
            .and_then(|s| s.get(key))
            .cloned()
            .with_context(|| format!("the workspace's Cargo.toml has no {section}.{key}"))
    };
    let mut manifest = String::from(
        "# provisioning-guest's manifest, written by `provisioning new-module`\n\
         # with the values it inherits from the provisioning workspace.\n",
    );
    let mut section = "";
    for line in SUPPORT_MANIFEST.lines() {
        if let Some(header) = line.strip_prefix('[') {
            section = header.trim_end_matches(']');
        }
        let Some(key) = line.strip_suffix(".workspace = true") else {
            writeln!(manifest, "{line}")?;
            continue;
        };
        let value = match section {
            "package" => inherited("package", key)?,
            "dependencies" | "dev-dependencies" | "build-dependencies" => {
                inherited("dependencies", key)?
            }
            other => bail!("the support crate inherits `{key}` in [{other}], which is not handled"),
        };
        writeln!(manifest, "{key} = {value}")?;
    }
    // A dependency the workspace declares by path would point back into
    // this repository, which the project must not need.
    if manifest.contains("path =") {
        bail!("the support crate depends on a crate by path; it cannot be written stand-alone");
    }
    Ok(manifest)
}

/// Writes the project and says what to do next.
pub fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let template = args.lang.template();
    let dir = args
        .out
        .unwrap_or_else(|| PathBuf::from(args.name.as_str()));
    let files = project_files(template, &args.name)?;
    write_project(&dir, &files)?;
    let component = (template.component)(&args.name);
    let build = render(template.build, &args.name, &component);
    if json {
        let paths: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
        let answer = json!({
            "id": args.name.as_str(),
            "language": args.lang.word(),
            "dir": dir,
            "files": paths,
            "build": build,
            "component": component,
        });
        outln!("{}", serde_json::to_string_pretty(&answer)?)?;
    } else {
        outln!(
            "wrote module `{}` ({}) in {}: {} files",
            args.name.as_str(),
            args.lang.word(),
            dir.display(),
            files.len()
        )?;
        outln!("build it:   cd {} && {}", dir.display(), build)?;
        outln!(
            "inspect it: provisioning inspect {}",
            dir.join(&component).display()
        )?;
        outln!("its README says how to call it, check it and publish it")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Every file of the project: (path in the project, contents).
fn project_files(template: &Template, id: &ModuleId) -> anyhow::Result<Vec<ProjectFile>> {
    let component = (template.component)(id);
    let mut files = Vec::new();
    for set in std::iter::once(&CONTRACT).chain(template.files) {
        for (path, contents) in set.files {
            let to = Path::new(set.to).join(path);
            let contents = if set.rendered {
                render(contents, id, &component)
            } else {
                (*contents).to_owned()
            };
            files.push((to.to_string_lossy().into_owned(), contents));
        }
    }
    files.extend((template.made)(id)?);
    Ok(files)
}

/// `text` with `{{name}}` and `{{component}}` replaced by the module's id
/// and its component's path.
fn render(text: &str, id: &ModuleId, component: &str) -> String {
    text.replace("{{name}}", id.as_str())
        .replace("{{component}}", component)
}

/// Writes `files` under `dir`, which must not exist or be empty: an
/// author's work is never overwritten.
fn write_project(dir: &Path, files: &[ProjectFile]) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!("{} exists and is not empty: nothing written", dir.display());
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("reading {}", dir.display()));
        }
    }
    for (path, contents) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
