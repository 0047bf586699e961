//! Errors setting up the online adapter.

use crate::live::LiveError;

/// Errors setting up the adapter. Checks themselves never fail: they fall back offline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnlineError {
    /// The configuration file cannot be read or parsed.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A configuration value is unusable.
    #[error("online configuration: {0}")]
    Invalid(String),
    /// The offline side cannot be used.
    #[error(transparent)]
    Offline(#[from] LiveError),
    /// The background runtime could not start.
    #[error("cannot start the online adapter's runtime: {0}")]
    Runtime(#[source] std::io::Error),
}
