//! The durable local "sold" journal: sales and returns at this point of sale.
//!
//! An append-only file of checksummed records. A sale or return is in the file and
//! fdatasync'd before the call returns; on open the journal is replayed. Writers in any
//! process serialise on an exclusive `flock` of the file and first read what others
//! appended, so the already-sold check sees every acknowledged sale.
//!
//! ```text
//! header   8 bytes  "CISGJRN1"
//! record   op u8 (1 sell, 2 return) | time i64 LE (Unix ms) | len u8 | КИ (len bytes)
//!          | check u32 LE (low 32 bits of xxh3-64 of the preceding record bytes)
//! ```
//! Only the last record can be torn by a crash (each append is synced before the next);
//! a torn tail is ignored on replay and cut off by the next append. A bad record followed
//! by more data is corruption and an error naming the offset.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"CISGJRN1";
const OP_SELL: u8 = 1;
const OP_RETURN: u8 = 2;
/// Longest КИ a record holds.
pub const MAX_KI_LEN: usize = 64;

/// The last thing the journal says about a КИ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoldState {
    /// Sold at this time (Unix ms).
    Sold(i64),
    /// Returned at this time (Unix ms).
    Returned(i64),
}

/// Errors of the sold journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The journal file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A damaged record in the middle of the journal.
    #[error("{path}: damaged record at byte {offset}: {reason}")]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// Byte offset of the bad record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

/// What an append would record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A sale.
    Sell,
    /// A return.
    Return,
}

/// An open journal and the state replayed from it.
pub struct Journal {
    path: PathBuf,
    file: File,
    /// Bytes of valid records read so far (including the header).
    offset: u64,
    state: HashMap<Box<[u8]>, SoldState>,
}

impl Journal {
    /// Opens (creating if missing) and replays the journal at `path`.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::options()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut journal = Journal {
            path: path.to_path_buf(),
            file,
            offset: 0,
            state: HashMap::new(),
        };
        journal.catch_up()?;
        Ok(journal)
    }

    /// Creates a new, empty journal durably (for compaction's rotation).
    pub fn create(path: &Path) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut f = File::create(path).map_err(io)?;
        f.write_all(MAGIC).map_err(io)?;
        f.sync_all().map_err(io)?;
        if let Some(dir) = path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the journal says about `ki`, if anything.
    pub fn state(&self, ki: &[u8]) -> Option<SoldState> {
        self.state.get(ki).copied()
    }

    /// Every КИ the journal mentions with its last state.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], SoldState)> {
        self.state.iter().map(|(k, v)| (&**k, *v))
    }

    /// Reads records other writers appended since the last read.
    pub fn catch_up(&mut self) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        let len = self.file.metadata().map_err(io)?.len();
        if len <= self.offset {
            return Ok(());
        }
        let mut bytes = Vec::with_capacity((len - self.offset) as usize);
        self.file.seek(SeekFrom::Start(self.offset)).map_err(io)?;
        (&self.file)
            .take(len - self.offset)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        let mut pos = 0usize;
        if self.offset == 0 {
            if bytes.len() < MAGIC.len() {
                // A journal whose header never reached the disk: empty.
                return Ok(());
            }
            if &bytes[..8] != MAGIC {
                return Err(JournalError::Corrupt {
                    path: self.path.clone(),
                    offset: 0,
                    reason: "not a cisgate sold journal".into(),
                });
            }
            pos = 8;
        }
        while pos < bytes.len() {
            match decode(&bytes[pos..]) {
                Decoded::Record { op, time, ki, len } => {
                    let state = if op == OP_SELL {
                        SoldState::Sold(time)
                    } else {
                        SoldState::Returned(time)
                    };
                    self.state.insert(ki.into(), state);
                    pos += len;
                }
                Decoded::Torn => break,
                Decoded::Bad(reason) => {
                    let record_len = 10 + usize::from(bytes.get(pos + 9).copied().unwrap_or(0)) + 4;
                    if pos + record_len >= bytes.len() {
                        // The last record, damaged by a crash mid-write: ignore it.
                        break;
                    }
                    return Err(JournalError::Corrupt {
                        path: self.path.clone(),
                        offset: self.offset + pos as u64,
                        reason,
                    });
                }
            }
        }
        self.offset += pos as u64;
        Ok(())
    }

    /// Takes the cross-process writer lock on the journal file; released on drop of the
    /// returned guard.
    pub fn lock(&mut self) -> Result<JournalGuard<'_>, JournalError> {
        self.file.lock().map_err(|source| JournalError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(JournalGuard { journal: self })
    }
}

/// The journal, exclusively locked for appending.
pub struct JournalGuard<'a> {
    journal: &'a mut Journal,
}

impl JournalGuard<'_> {
    /// Reads what other processes appended.
    pub fn catch_up(&mut self) -> Result<(), JournalError> {
        self.journal.catch_up()
    }

    /// The journal behind the lock.
    pub fn journal(&self) -> &Journal {
        self.journal
    }

    /// Appends one record and syncs it to disk before returning.
    pub fn append(&mut self, op: Op, ki: &[u8], time_ms: i64) -> Result<(), JournalError> {
        // Never write on top of records another process appended.
        self.journal.catch_up()?;
        let j = &mut *self.journal;
        let io = |source| JournalError::Io {
            path: j.path.clone(),
            source,
        };
        if ki.is_empty() || ki.len() > MAX_KI_LEN {
            return Err(JournalError::Corrupt {
                path: j.path.clone(),
                offset: j.offset,
                reason: format!("КИ of {} bytes cannot be journaled", ki.len()),
            });
        }
        let len = j.file.metadata().map_err(io)?.len();
        if j.offset == 0 {
            // New or headerless file: (re)write the header.
            j.file.set_len(0).map_err(io)?;
            j.file.write_all(MAGIC).map_err(io)?;
            j.offset = MAGIC.len() as u64;
        } else if len > j.offset {
            // Cut off a torn record left by a crash.
            j.file.set_len(j.offset).map_err(io)?;
        }
        let record = encode(
            if op == Op::Sell { OP_SELL } else { OP_RETURN },
            time_ms,
            ki,
        );
        j.file.write_all(&record).map_err(io)?;
        j.file.sync_data().map_err(io)?;
        j.offset += record.len() as u64;
        let state = if op == Op::Sell {
            SoldState::Sold(time_ms)
        } else {
            SoldState::Returned(time_ms)
        };
        j.state.insert(ki.into(), state);
        Ok(())
    }
}

impl Drop for JournalGuard<'_> {
    fn drop(&mut self) {
        let _ = self.journal.file.unlock();
    }
}

fn encode(op: u8, time: i64, ki: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(14 + ki.len());
    r.push(op);
    r.extend_from_slice(&time.to_le_bytes());
    r.push(ki.len() as u8);
    r.extend_from_slice(ki);
    let check = xxhash_rust::xxh3::xxh3_64(&r) as u32;
    r.extend_from_slice(&check.to_le_bytes());
    r
}

enum Decoded<'a> {
    Record {
        op: u8,
        time: i64,
        ki: &'a [u8],
        len: usize,
    },
    Torn,
    Bad(String),
}

fn decode(b: &[u8]) -> Decoded<'_> {
    if b.len() < 10 {
        return Decoded::Torn;
    }
    let ki_len = usize::from(b[9]);
    let len = 10 + ki_len + 4;
    if b.len() < len {
        return Decoded::Torn;
    }
    let check = u32::from_le_bytes([b[len - 4], b[len - 3], b[len - 2], b[len - 1]]);
    if xxhash_rust::xxh3::xxh3_64(&b[..len - 4]) as u32 != check {
        return Decoded::Bad("checksum mismatch".into());
    }
    let op = b[0];
    if op != OP_SELL && op != OP_RETURN {
        return Decoded::Bad(format!("unknown operation {op}"));
    }
    if ki_len == 0 || ki_len > MAX_KI_LEN {
        return Decoded::Bad(format!("КИ length {ki_len}"));
    }
    let time = i64::from_le_bytes(b[1..9].try_into().unwrap_or_default());
    Decoded::Record {
        op,
        time,
        ki: &b[10..10 + ki_len],
        len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_replay_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sold.journal");
        let mut j = Journal::open(&path).unwrap();
        {
            let mut g = j.lock().unwrap();
            g.append(Op::Sell, b"KI-1", 10).unwrap();
            g.append(Op::Sell, b"KI-2", 11).unwrap();
            g.append(Op::Return, b"KI-1", 12).unwrap();
        }
        let replay = Journal::open(&path).unwrap();
        assert_eq!(replay.state(b"KI-1"), Some(SoldState::Returned(12)));
        assert_eq!(replay.state(b"KI-2"), Some(SoldState::Sold(11)));
        assert_eq!(replay.state(b"KI-3"), None);

        // A torn last record is ignored, then cut off by the next append.
        let full = std::fs::read(&path).unwrap();
        let mut torn = full.clone();
        torn.extend_from_slice(&encode(OP_SELL, 13, b"KI-3")[..7]);
        std::fs::write(&path, &torn).unwrap();
        let mut j = Journal::open(&path).unwrap();
        assert_eq!(j.state(b"KI-3"), None);
        j.lock().unwrap().append(Op::Sell, b"KI-4", 14).unwrap();
        let replay = Journal::open(&path).unwrap();
        assert_eq!(replay.state(b"KI-4"), Some(SoldState::Sold(14)));
        assert_eq!(
            std::fs::metadata(&path).unwrap().len() as usize,
            full.len() + encode(OP_SELL, 14, b"KI-4").len()
        );

        // Damage in the middle is an error naming the offset.
        let mut bad = std::fs::read(&path).unwrap();
        bad[8 + 3] ^= 0xff;
        std::fs::write(&path, &bad).unwrap();
        let err = Journal::open(&path).err().unwrap().to_string();
        assert!(err.contains("byte 8"), "{err}");
    }

    #[test]
    fn two_handles_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sold.journal");
        let mut a = Journal::open(&path).unwrap();
        let mut b = Journal::open(&path).unwrap();
        a.lock().unwrap().append(Op::Sell, b"X", 1).unwrap();
        let mut g = b.lock().unwrap();
        g.catch_up().unwrap();
        assert_eq!(g.journal().state(b"X"), Some(SoldState::Sold(1)));
        g.append(Op::Return, b"X", 2).unwrap();
        drop(g);
        a.catch_up().unwrap();
        assert_eq!(a.state(b"X"), Some(SoldState::Returned(2)));
    }
}
