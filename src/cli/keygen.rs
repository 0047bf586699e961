//! `cisgate keygen`: a minisign key pair for signing published pointers.

use std::path::PathBuf;

use super::CmdResult;

/// Write a new Ed25519 key pair (minisign format) for `publish` and `pull`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The secret key file to write (mode 0600; keep it on the builder only).
    #[arg(long)]
    secret_key: PathBuf,
    /// The public key file to write (give it to every node).
    #[arg(long)]
    public_key: PathBuf,
    /// Encrypt the secret key with the password in CISGATE_KEY_PASSWORD.
    #[arg(long)]
    encrypt: bool,
}

/// Writes the pair and prints the public key.
pub fn run(args: Args) -> CmdResult {
    let password = if args.encrypt {
        Some(
            std::env::var(cisgate::distribute::PASSWORD_VAR).map_err(|_| {
                format!(
                    "--encrypt takes the password from {}",
                    cisgate::distribute::PASSWORD_VAR
                )
            })?,
        )
    } else {
        None
    };
    let public = cisgate::distribute::keygen(&args.secret_key, &args.public_key, password)?;
    outln!(
        "wrote {} (secret) and {} (public):\n{}",
        args.secret_key.display(),
        args.public_key.display(),
        public.trim_end()
    );
    Ok(0)
}
