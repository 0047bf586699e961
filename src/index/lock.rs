//! The one writer of an index directory.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use super::error::IndexError;

/// Exclusive right to write to an index directory (`LOCK`, an advisory file lock held by
/// the writer's open file), released on drop.
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the lock on `dir/LOCK`, waiting at most half a second: a holder that just
    /// finished may still be visible for a moment (a forked child keeps a copy of the lock
    /// until it execs).
    pub fn acquire(dir: &Path) -> Result<WriterLock, IndexError> {
        WriterLock::acquire_within(dir, Duration::from_millis(500))
    }

    /// Takes the lock, waiting at most `wait` for another writer to finish.
    pub fn acquire_within(dir: &Path, wait: Duration) -> Result<WriterLock, IndexError> {
        let path = dir.join("LOCK");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(IndexError::io(&path))?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(WriterLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(IndexError::Locked {
                        dir: dir.to_path_buf(),
                    });
                }
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(IndexError::Io { path, source });
                }
            }
        }
    }
}
