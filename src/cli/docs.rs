//! `cisgate completions` and `cisgate man`: shell completion scripts and man pages,
//! generated from the same argument definitions the commands parse (the package ships
//! them).

use std::path::PathBuf;

use super::CmdResult;

/// Print a shell completion script (bash, zsh, fish, elvish, powershell).
#[derive(clap::Args, Debug)]
pub struct CompletionArgs {
    /// The shell.
    shell: clap_complete::Shell,
}

/// Write man pages: cisgate(1) and cisgate-COMMAND(1) for every command.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// The directory to write them to (created).
    #[arg(long)]
    out: PathBuf,
}

/// Prints the completion script for `command`.
pub fn completions(args: CompletionArgs, mut command: clap::Command) -> CmdResult {
    let name = command.get_name().to_string();
    // Into memory first: the generator panics on a failed write (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
    Ok(0)
}

/// Writes the man pages of `command` and its subcommands.
pub fn man(args: ManArgs, command: clap::Command) -> CmdResult {
    std::fs::create_dir_all(&args.out)?;
    clap_mangen::generate_to(command, &args.out)?;
    let written = std::fs::read_dir(&args.out)?.count();
    outln!("wrote {written} man pages to {}", args.out.display());
    Ok(0)
}
