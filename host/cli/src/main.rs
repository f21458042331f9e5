//! `provisioning`: the command line of the provisioning host.
//!
//! A thin layer over the `provisioning-host` library (and, for `serve`,
//! the `provisioning-serve` library): argument parsing and output
//! formatting only.
//!
//! The `demo` and `sandbox` subcommands, which embed the provider
//! simulators and the guest components, exist only with the `demo` cargo
//! feature (on by default); the `cfg` lines here, on the `mod` lines, on
//! [`Command`] and on its dispatch in `main`, are the only ones.

mod assets;
mod call;
mod conformance;
#[cfg(feature = "demo")]
mod demo;
mod host_options;
mod inspect;
mod journal;
mod module;
mod new_module;
mod output;
#[cfg(feature = "demo")]
mod sandbox;
mod serve;
mod usage;

use std::path::PathBuf;
use std::sync::LazyLock;

use clap::{Parser, Subcommand};
use provisioning_host::BuildInfo;

/// mimalloc, not the system's allocator: the host side of a call allocates
/// a great deal on many threads; with it a usage read takes 27,000 fewer
/// instructions (378,226 against 405,263 under callgrind) and bulk reads
/// ran 16% faster (BENCHMARKS.md, "Levers of the call path"). The library
/// leaves the choice to its embedder.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What `--version` prints after `provisioning `: the version alone on the
/// first line (tools parse it), then one `name: value` line per other fact
/// of [`BuildInfo`], as `rustc -vV` does.
static LONG_VERSION: LazyLock<String> = LazyLock::new(|| {
    let build = BuildInfo::CURRENT;
    let mut text = build.version.to_string();
    for (name, value) in build.fields() {
        if name != "version" {
            text.push_str(&format!("\n{name}: {value}"));
        }
    }
    text
});

/// Runs billing-platform provisioning modules as sandboxed WebAssembly
/// components.
#[derive(Debug, Parser)]
#[command(
    name = "provisioning",
    version = BuildInfo::CURRENT.version,
    long_version = LONG_VERSION.as_str()
)]
struct Cli {
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Where compiled components are kept between runs, so that a module
    /// loads without compiling (default: the user's cache directory;
    /// `off` compiles every time).
    #[arg(long, global = true, env = "PROVISIONING_COMPILE_CACHE")]
    compile_cache: Option<String>,
    /// Where components pulled from OCI registries are kept, by digest, so
    /// that later loads need no registry (default: the user's cache
    /// directory).
    #[arg(long, global = true, env = "PROVISIONING_MODULE_CACHE")]
    module_cache: Option<PathBuf>,
    /// How log lines (on stderr) are written: `text` for a person, `json`
    /// (one object per line: timestamp, level, target, message, fields and
    /// the spans' correlation fields) for a log shipper.
    #[arg(long, global = true, env = "PROVISIONING_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// See [`Cli::log_format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs go to stderr so stdout stays a clean table or JSON, through the
/// host's redacting writer: at TRACE, wasi-http quotes whole request URLs,
/// and some providers take their API key in the query string. `RUST_LOG`
/// sets the level; by default a one-shot command logs warnings only and
/// `serve`, a daemon, logs each call and request at `info`. With
/// `guest_output` (the conformance kit's), the guests' output lines the
/// host logs are kept there too, whatever the level printed.
fn init_logging(
    format: LogFormat,
    daemon: bool,
    guest_output: Option<&provisioning_conformance::GuestOutput>,
) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let default = if daemon {
        "warn,provisioning=info,provisioning_host=info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let writer = provisioning_host::logging::redacting(std::io::stderr);
    // Colours only for a person at a terminal, never into a file or journald.
    let printed = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer);
    let printed = match format {
        LogFormat::Text => printed.boxed(),
        LogFormat::Json => printed
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .boxed(),
    };
    let kept = guest_output.map(|output| {
        output.layer().with_filter(
            tracing_subscriber::filter::Targets::new()
                .with_target("provisioning_host", tracing::Level::INFO),
        )
    });
    tracing_subscriber::registry()
        .with(printed.with_filter(filter))
        .with(kept)
        .init();
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the sandbox in-process and run a whole service lifecycle
    /// through each provider's component (HostMeNow, Blesta, Webline,
    /// LogicBoxes).
    #[cfg(feature = "demo")]
    Demo(demo::Args),
    /// Run one function of one module from a manifest.
    Call(Box<call::Args>),
    /// Check that a module does what every module must, whatever its
    /// provider, through a fault-injecting proxy: exit 0 only when every
    /// check holds.
    Conformance(Box<conformance::Args>),
    /// Print a component's info and imports.
    Inspect(inspect::Args),
    /// Serve the provider simulators on a local port until interrupted.
    #[cfg(feature = "demo")]
    Sandbox(sandbox::Args),
    /// Read, acknowledge and reconcile the journal of mutating calls.
    Journal(journal::Args),
    /// Push components to and pull them from an OCI registry.
    Module(module::Args),
    /// Write a new module project, which builds on its own, from the
    /// language's template.
    NewModule(new_module::Args),
    /// Serve the manifest's modules over a local JSON API (for PHP and other
    /// platforms), reloading on SIGHUP and file changes.
    Serve(Box<serve::Args>),
    /// Read usage for many services at once, paced under each provider's
    /// rate limit: one JSON line per service as the answers come.
    Usage(usage::Args),
    /// Write the man pages and shell completions (for packaging).
    #[command(hide = true)]
    GenerateAssets(assets::Args),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let guest_output = matches!(cli.command, Command::Conformance(_))
        .then(provisioning_conformance::GuestOutput::new);
    init_logging(
        cli.log_format,
        matches!(cli.command, Command::Serve(_)),
        guest_output.as_ref(),
    );
    let options = host_options::from_args(cli.compile_cache.as_deref(), cli.module_cache);
    let result = match cli.command {
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(args, options, cli.json).await,
        Command::Call(args) => call::run(*args, options, cli.json).await,
        Command::Conformance(args) => {
            conformance::run(*args, options, cli.json, guest_output).await
        }
        Command::Inspect(args) => inspect::run(args, options, cli.json).await,
        #[cfg(feature = "demo")]
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Journal(args) => journal::run(args, options, cli.json).await,
        Command::Module(args) => module::run(args, cli.json).await,
        Command::NewModule(args) => new_module::run(args, cli.json),
        Command::Serve(args) => serve::run(*args, options).await,
        Command::Usage(args) => usage::run(args, options, cli.json).await,
        Command::GenerateAssets(args) => assets::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            output::errln!("error: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
