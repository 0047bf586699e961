//! The `cisgate` binary: parses arguments and calls the library.

mod cli;

// The service and batch checks allocate a few small strings per code from many threads;
// mimalloc's thread-local free lists cost a fraction of glibc malloc's there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Offline checks of Russian marking codes (Честный ЗНАК) against compiled indexes.
#[derive(Parser)]
#[command(name = "cisgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Normalise codes (arguments, else one per line on stdin) and print them as JSON.
    Parse(cli::parse::Args),
    /// Compile snapshot list files into an index directory and publish it.
    Build(cli::build::Args),
    /// Check codes (arguments, else one per line on stdin) and print verdicts as JSON.
    Check(cli::check::Args),
    /// Apply delta lists in order as one new layer and generation (all or nothing).
    Apply(cli::apply::Args),
    /// Fold delta layers and the sold journal into a new base.
    Compact(cli::compact::Args),
    /// Register sales (codes from arguments, else one per line on stdin); durable before each output line.
    Sell(cli::sell::Args),
    /// Register returns of sold codes (arguments, else one per line on stdin).
    Return(cli::sell::Args),
    /// Serve the index through the Local Module's HTTP API (v2 and v1), a streaming bulk
    /// endpoint and /metrics; picks up new generations without a restart.
    Serve(cli::serve::Args),
    /// Run as the Windows service `cisgate` (started by the Service Control Manager).
    #[cfg(windows)]
    Service(cli::service::Args),
    /// Write a key pair for signing published generations.
    Keygen(cli::keygen::Args),
    /// Publish the index's current generation to an S3-compatible store, signed.
    Publish(cli::publish::Args),
    /// Pull a channel's signed generation from an S3-compatible store into the index.
    Pull(cli::pull::Args),
    /// The builder as a service: take list files from an inbox as they arrive, apply and
    /// publish each within a second, tell the stores (NATS), alert on bad files.
    Ingest(cli::ingest::Args),
    /// Show which nodes run which generation, and which are stale, frozen or silent.
    Fleet(cli::fleet::Args),
    /// Describe an index: version, age of its data, counts, files.
    Info(cli::info::Args),
    /// Check every byte of an index; exits non-zero naming the damaged file.
    Verify(cli::verify::Args),
    /// Write realistic synthetic lists (and optionally a scan stream).
    Gen(cli::generate::GenArgs),
    /// Write a synthetic blocked_cis delta against the lists `gen` wrote.
    GenDelta(cli::generate::DeltaArgs),
    /// Build the bundled sample index and check the hand-made codes against it.
    Demo(cli::demo::Args),
    /// Print a shell completion script.
    Completions(cli::docs::CompletionArgs),
    /// Write the man pages.
    Man(cli::docs::ManArgs),
}

fn run(cli: Cli) -> cli::CmdResult {
    match cli.command {
        Command::Parse(args) => cli::parse::run(args),
        Command::Build(args) => cli::build::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Apply(args) => cli::apply::run(args),
        Command::Compact(args) => cli::compact::run(args),
        Command::Sell(args) => cli::sell::run(args, false),
        Command::Return(args) => cli::sell::run(args, true),
        Command::Serve(args) => cli::serve::run(args),
        #[cfg(windows)]
        Command::Service(args) => cli::service::run(args),
        Command::Keygen(args) => cli::keygen::run(args),
        Command::Publish(args) => cli::publish::run(args),
        Command::Pull(args) => cli::pull::run(args),
        Command::Ingest(args) => cli::ingest::run(args),
        Command::Fleet(args) => cli::fleet::run(args),
        Command::Info(args) => cli::info::run(args),
        Command::Verify(args) => cli::verify::run(args),
        Command::Gen(args) => cli::generate::run(args),
        Command::GenDelta(args) => cli::generate::run_delta(args),
        Command::Demo(args) => cli::demo::run(args),
        Command::Completions(args) => cli::docs::completions(args, Cli::command()),
        Command::Man(args) => cli::docs::man(args, Cli::command()),
    }
}

fn main() -> ExitCode {
    cli::mark_process_start();
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code as u8),
        // The reader of our output went away (`| head`): it has what it wanted.
        Err(e) if cli::is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cisgate: error: {e}");
            ExitCode::from(cli::exit_code(e.as_ref()))
        }
    }
}
