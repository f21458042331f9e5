//! `provisioning generate-assets DIR` (hidden): the man pages and shell
//! completions, generated from the CLI's own clap definition so that they
//! always describe the binary they ship with. `packaging/deb/build` runs it
//! and puts each file where its tool looks.

use std::path::PathBuf;

use clap::CommandFactory as _;
use clap_complete::Shell;

/// Arguments of `generate-assets`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to write into (created when missing): `provisioning.1`
    /// and one page per subcommand (`provisioning-serve.1`, …), then
    /// `provisioning.bash`, `_provisioning` (zsh) and `provisioning.fish`.
    dir: PathBuf,
}

/// The shells a completion script is written for.
const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// Writes the pages and scripts.
pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    use anyhow::Context as _;

    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let command = crate::Cli::command();
    clap_mangen::generate_to(command.clone(), &args.dir)
        .with_context(|| format!("writing the man pages into {}", args.dir.display()))?;
    for shell in SHELLS {
        clap_complete::generate_to(shell, &mut command.clone(), command.get_name(), &args.dir)
            .with_context(|| format!("writing the {shell} completions"))?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}
