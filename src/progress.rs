//! Progress reporting for long operations, so the library can drive a terminal bar
//! without knowing about terminals.

/// Receives progress of a long operation. Implementations must be cheap: `advance` is
/// called every 65,536 entries.
pub trait Progress: Sync {
    /// A new stage begins; `total` is its number of units, or 0 if unknown.
    fn stage(&self, name: &str, total: u64);
    /// `n` more units of the current stage are done.
    fn advance(&self, n: u64);
    /// The operation is over.
    fn finish(&self);
    /// Whether the user asked to stop: a build then ends with
    /// [`IndexError::Interrupted`](crate::index::IndexError::Interrupted), publishing nothing.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}
