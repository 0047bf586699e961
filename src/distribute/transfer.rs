//! Moving objects over weak links: retries with backoff for as long as something moves,
//! and downloads that resume where they stopped, across attempts and pull rounds.
//!
//! An object is read in ranged requests of [`TransferPolicy::chunk_bytes`] into
//! `NAME.part`; a read that receives nothing for the stall limit is cut. After any failure
//! a retryable one ([`DistributeError::Unreachable`]: no answer, a cut connection, 5xx,
//! 429, a stall) is retried after a pause that starts at `backoff_min` and doubles up to
//! `backoff_max`, from the length the partial file has; the pause starts over whenever
//! bytes arrived. When nothing has moved for `give_up_after` the pull fails, keeping the
//! partial file: the next round resumes it. A finished file is hashed whole and must
//! match the published SHA-256, or it is deleted.

use std::path::Path;
use std::time::Instant;

use super::error::DistributeError;
use super::remote::TransferPolicy;
use super::store::{Store, hex, sha256_file};

/// Retries with backoff while something moves.
pub(crate) struct Retrier<'p> {
    policy: &'p TransferPolicy,
    last_progress: Instant,
    pause: std::time::Duration,
    /// Attempts that failed and were retried.
    pub(crate) interruptions: u64,
}

impl<'p> Retrier<'p> {
    pub(crate) fn new(policy: &'p TransferPolicy) -> Retrier<'p> {
        Retrier {
            policy,
            last_progress: Instant::now(),
            pause: policy.backoff_min,
            interruptions: 0,
        }
    }

    /// Something moved: the give-up clock and the backoff start over.
    pub(crate) fn progressed(&mut self) {
        self.last_progress = Instant::now();
        self.pause = self.policy.backoff_min;
    }

    /// After a failure: pauses and returns `Ok` to try again, or returns the error when it
    /// is not worth retrying or nothing has moved for too long.
    pub(crate) fn after(&mut self, error: DistributeError) -> Result<(), DistributeError> {
        let retryable = matches!(error, DistributeError::Unreachable { .. });
        if !retryable || self.last_progress.elapsed() + self.pause > self.policy.give_up_after {
            return Err(match error {
                DistributeError::Unreachable { url, reason } if retryable => {
                    DistributeError::Unreachable {
                        url,
                        reason: format!(
                            "{reason}; gave up after {:.0} s without progress ({} attempts retried)",
                            self.last_progress.elapsed().as_secs_f64(),
                            self.interruptions
                        ),
                    }
                }
                other => other,
            });
        }
        self.interruptions += 1;
        std::thread::sleep(self.pause);
        self.pause = (self.pause * 2).min(self.policy.backoff_max);
        Ok(())
    }
}

/// Runs a small request, retrying as the policy says.
pub(crate) fn with_retries<T>(
    policy: &TransferPolicy,
    mut request: impl FnMut() -> Result<T, DistributeError>,
) -> Result<T, DistributeError> {
    let mut retrier = Retrier::new(policy);
    loop {
        match request() {
            Ok(done) => return Ok(done),
            Err(e) => retrier.after(e)?,
        }
    }
}

/// What downloading one object took.
#[derive(Debug, Default)]
pub(crate) struct Downloaded {
    /// Bytes received in this pull.
    pub(crate) bytes: u64,
    /// Bytes a partial file from an earlier attempt or round already held.
    pub(crate) resumed_from: u64,
    /// Reads that failed and were resumed.
    pub(crate) interruptions: u64,
}

/// The partial file of an object being downloaded to `name`.
pub(crate) fn part_name(name: &str) -> String {
    format!("{name}.part")
}

/// Downloads object `key` (`len` bytes hashing to `sha256`) to `dir/name`, resuming a
/// partial file left by an earlier attempt; see the module documentation.
pub(crate) fn download(
    store: &Store,
    policy: &TransferPolicy,
    key: &str,
    sha256: &str,
    len: u64,
    dir: &Path,
    name: &str,
) -> Result<Downloaded, DistributeError> {
    let part = dir.join(part_name(name));
    let io = |source| DistributeError::Io {
        path: part.clone(),
        source,
    };
    let mut file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&part)
        .map_err(io)?;
    let mut have = file.metadata().map_err(io)?.len();
    if have > len {
        // Not a prefix of this object: start over.
        file.set_len(0).map_err(io)?;
        have = 0;
    }
    let mut report = Downloaded {
        resumed_from: have,
        ..Downloaded::default()
    };
    let mut retrier = Retrier::new(policy);
    while have < len {
        let before = have;
        let end = (have + policy.chunk_bytes.max(1)).min(len);
        let read = store.read_range(key, have..end, len, &mut file, &part, &mut have);
        if have > before {
            report.bytes += have - before;
            retrier.progressed();
        }
        match read {
            Err(e) => retrier.after(e)?,
            // An answer with no bytes where bytes were due: the object is shorter than
            // published, or the store misbehaves. Retried, and given up on in time.
            Ok(()) if have == before => retrier.after(DistributeError::Unreachable {
                url: key.to_string(),
                reason: format!("the store sent no bytes from byte {have} of {len}"),
            })?,
            Ok(()) => {}
        }
    }
    report.interruptions = retrier.interruptions;
    let got = hex(&sha256_file(&part)?);
    if got != sha256 {
        let _ = std::fs::remove_file(&part);
        return Err(DistributeError::Integrity {
            key: key.to_string(),
            reason: format!("{len} bytes hashing to {got}, expected {sha256}"),
        });
    }
    // Installed only whole and hashed: a crash leaves the partial file, never a wrong
    // object under its final name. The pull syncs the directory once for all objects.
    crate::durable::install(file, &part, &dir.join(name))?;
    Ok(report)
}

/// Removes the partial downloads in `dir` (after a pull that needed none of them).
pub(crate) fn remove_partials(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().ends_with(".part") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
