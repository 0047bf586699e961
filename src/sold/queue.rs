//! The node's queue of sales and returns made while the store's authority was unreachable:
//! one JSON line per item in `SOLD-QUEUE.jsonl` beside the index, each synced before the
//! sale answers, forwarded when the authority is back and removed once it answered.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::wire::WireOp;
use crate::journal::JournalError;

/// The queue's file name, beside the index.
pub(crate) const QUEUE_FILE: &str = "SOLD-QUEUE.jsonl";

/// One queued sale or return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Queued {
    pub(crate) op: WireOp,
    pub(crate) ki: String,
    pub(crate) time: i64,
}

/// The queue file of an index directory; this process's users one at a time.
pub(crate) struct Queue {
    path: PathBuf,
    lock: std::sync::Mutex<()>,
}

impl Queue {
    pub(crate) fn new(dir: &Path) -> Queue {
        Queue {
            path: dir.join(QUEUE_FILE),
            lock: std::sync::Mutex::new(()),
        }
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn io(&self) -> impl Fn(std::io::Error) -> JournalError + '_ {
        |source| JournalError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Appends `item` durably.
    pub(crate) fn push(&self, item: &Queued) -> Result<(), JournalError> {
        let _one = self.locked();
        let mut line = serde_json::to_vec(item).unwrap_or_default();
        line.push(b'\n');
        let mut file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(self.io())?;
        file.write_all(&line).map_err(self.io())?;
        file.sync_data().map_err(self.io())
    }

    /// Everything queued, in order (a line torn by a crash is left out).
    pub(crate) fn load(&self) -> Vec<Queued> {
        let _one = self.locked();
        self.read()
    }

    fn read(&self) -> Vec<Queued> {
        std::fs::read(&self.path)
            .map(|bytes| {
                bytes
                    .split(|b| *b == b'\n')
                    .filter_map(|line| serde_json::from_slice(line).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn write(&self, rest: &[Queued]) -> Result<(), JournalError> {
        let mut bytes = Vec::new();
        for item in rest {
            bytes.extend_from_slice(&serde_json::to_vec(item).unwrap_or_default());
            bytes.push(b'\n');
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        crate::durable::write(dir, QUEUE_FILE, &bytes).map_err(|e| JournalError::Io {
            path: e.path,
            source: e.source,
        })
    }

    /// Removes the entries equal to `taken` (others may have been queued meanwhile).
    pub(crate) fn remove(&self, taken: &[Queued]) -> Result<(), JournalError> {
        let _one = self.locked();
        let rest: Vec<Queued> = self
            .read()
            .into_iter()
            .filter(|q| !taken.contains(q))
            .collect();
        self.write(&rest)
    }
}
