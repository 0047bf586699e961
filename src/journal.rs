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
//! batch    op u8 = 3 | time i64 LE | count u16 LE | count × (op u8 | len u8 | КИ)
//!          | check u32 LE (as above, over the whole batch)
//! ```
//! A batch is one record: a crash leaves all of its sales and returns or none of them.
//! Only the last record can be torn by a crash (each append is synced before the next);
//! a torn tail is ignored on replay and cut off by the next append. A bad record followed
//! by more data is corruption and an error naming the offset.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::hashing::key_hash;

const MAGIC: &[u8; 8] = b"CISGJRN1";
const OP_SELL: u8 = 1;
const OP_RETURN: u8 = 2;
const OP_BATCH: u8 = 3;
/// Longest key a record holds (a КИ is at most [`crate::code::MAX_KI_LEN`]; the record
/// format leaves room).
pub const MAX_KEY_LEN: usize = 64;
/// Most sales and returns one batch record holds.
pub const MAX_BATCH: usize = 4096;

/// The last thing the journal says about a КИ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoldState {
    /// Sold at this time (Unix ms).
    Sold(i64),
    /// Returned at this time (Unix ms).
    Returned(i64),
}

/// The sold rule, the one place it is written: the journal's last word on a КИ wins over
/// the sold table folded into the index at the last compaction (`folded`, asked only when
/// the journal says nothing), and a sale before `oldest_kept_ms` has expired. Returns when
/// the КИ was sold, if it is sold here now.
#[inline]
pub fn sold_at(
    journaled: Option<SoldState>,
    folded: impl FnOnce() -> Option<i64>,
    oldest_kept_ms: i64,
) -> Option<i64> {
    match journaled {
        Some(SoldState::Sold(t)) => Some(t),
        Some(SoldState::Returned(_)) => None,
        None => folded(),
    }
    .filter(|&t| t >= oldest_kept_ms)
}

/// Every КИ sold here now under [`sold_at`]'s rule, with its sale time, sorted: the folded
/// table (`base`, sorted by key) and the journal's entries (`journal`, sorted by key)
/// merged. What a compaction folds into the next sold table, and the sold list `serve`
/// pages through.
pub(crate) fn fold_sold(
    base: &[(Vec<u8>, u64)],
    journal: &[(&[u8], SoldState)],
    oldest_kept_ms: i64,
) -> Vec<(Vec<u8>, u64)> {
    let mut out = Vec::with_capacity(base.len() + journal.len());
    let (mut i, mut j) = (0, 0);
    while i < base.len() || j < journal.len() {
        let from_journal =
            j < journal.len() && (i >= base.len() || journal[j].0 <= base[i].0.as_slice());
        let (key, journaled, folded) = if from_journal {
            let same = i < base.len() && journal[j].0 == base[i].0.as_slice();
            let folded = same.then(|| base[i].1 as i64);
            i += usize::from(same);
            j += 1;
            (journal[j - 1].0, Some(journal[j - 1].1), folded)
        } else {
            i += 1;
            (base[i - 1].0.as_slice(), None, Some(base[i - 1].1 as i64))
        };
        if let Some(t) = sold_at(journaled, || folded, oldest_kept_ms) {
            out.push((key.to_vec(), t as u64));
        }
    }
    out
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
pub enum SaleOp {
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
    /// The last state of every КИ mentioned, keyed by the index's key hash so that a
    /// batch check, which has hashed each КИ for the filters already, looks it up without
    /// hashing again.
    state: hashbrown::HashTable<(Box<[u8]>, SoldState)>,
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
            state: hashbrown::HashTable::new(),
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
            crate::durable::sync_dir_io(dir).map_err(io)?;
        }
        Ok(())
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the journal says about `ki`, if anything.
    pub fn state(&self, ki: &[u8]) -> Option<SoldState> {
        self.state_hashed(ki, key_hash(ki))
    }

    /// [`state`](Self::state) of a КИ whose key hash (the index filter's xxh3) the caller
    /// has.
    #[inline]
    pub fn state_hashed(&self, ki: &[u8], hash: u64) -> Option<SoldState> {
        self.state.find(hash, |(k, _)| **k == *ki).map(|(_, s)| *s)
    }

    /// Whether the journal mentions no КИ (then lookups can skip it).
    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
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
                Decoded::Records { time, entries, len } => {
                    for (op, ki) in entries {
                        let state = if op == SaleOp::Sell {
                            SoldState::Sold(time)
                        } else {
                            SoldState::Returned(time)
                        };
                        let hash = key_hash(ki);
                        match self
                            .state
                            .entry(hash, |(k, _)| **k == *ki, |(k, _)| key_hash(k))
                        {
                            hashbrown::hash_table::Entry::Occupied(mut e) => e.get_mut().1 = state,
                            hashbrown::hash_table::Entry::Vacant(e) => {
                                e.insert((ki.into(), state));
                            }
                        }
                    }
                    pos += len;
                }
                Decoded::Torn => break,
                Decoded::Bad { reason, len } => {
                    if pos + len >= bytes.len() {
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

    /// Makes the file ready for an append by a writer holding the journal's lock: reads
    /// what others appended, writes the header of a new journal, and cuts off a record torn
    /// by a crash.
    fn prepare_append(&mut self) -> Result<(), JournalError> {
        self.catch_up()?;
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        let len = self.file.metadata().map_err(io)?.len();
        if self.offset == 0 {
            // New or headerless file: (re)write the header.
            self.file.set_len(0).map_err(io)?;
            (&self.file).write_all(MAGIC).map_err(io)?;
            self.file.sync_data().map_err(io)?;
            self.offset = MAGIC.len() as u64;
        } else if len > self.offset {
            // Cut off a torn record left by a crash.
            self.file.set_len(self.offset).map_err(io)?;
        }
        Ok(())
    }

    /// Bytes of valid records read so far (once a writer has prepared the journal, the
    /// offset the next record is written at).
    pub fn len(&self) -> u64 {
        self.offset
    }
}

/// One sale or return as a journal record holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEntry {
    /// Sale or return.
    pub op: SaleOp,
    /// When, Unix ms.
    pub time: i64,
    /// The КИ.
    pub ki: Vec<u8>,
}

/// The entries of the records of the journal at `path` from byte `from` (the header's
/// end when 0), at most about `limit` bytes of records, and the offset after the last
/// record read. A torn last record is left for later (the offset stops before it).
#[cfg_attr(not(feature = "serve"), allow(dead_code))]
pub(crate) fn read_records(
    path: &Path,
    from: u64,
    limit: u64,
) -> Result<(Vec<JournalEntry>, u64), JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let from = from.max(MAGIC.len() as u64);
    let len = file.metadata().map_err(io)?.len();
    if len <= from {
        return Ok((Vec::new(), from));
    }
    let want = (len - from).min(limit.max(1 << 16));
    file.seek(SeekFrom::Start(from)).map_err(io)?;
    let mut bytes = Vec::with_capacity(want as usize);
    (&mut file).take(want).read_to_end(&mut bytes).map_err(io)?;
    let mut entries = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        match decode(&bytes[pos..]) {
            Decoded::Records {
                time,
                entries: e,
                len,
            } => {
                entries.extend(e.into_iter().map(|(op, ki)| JournalEntry {
                    op,
                    time,
                    ki: ki.to_vec(),
                }));
                pos += len;
            }
            // Torn, or cut by the limit: read from here next time.
            Decoded::Torn => break,
            Decoded::Bad { reason, len } => {
                if from + (pos + len) as u64 >= len_of(&file) {
                    break;
                }
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    offset: from + pos as u64,
                    reason,
                });
            }
        }
    }
    Ok((entries, from + pos as u64))
}

#[cfg_attr(not(feature = "serve"), allow(dead_code))]
fn len_of(file: &File) -> u64 {
    file.metadata().map_or(0, |m| m.len())
}

/// The one way records are written to a journal: this process's writers one at a time
/// (a mutex), then every process's (an exclusive `flock` of the file, held by an
/// appending handle). Sales of [`crate::live::LiveIndex`], compaction's fold of the
/// journal and the journal's own tests all write through it.
pub(crate) struct JournalWriter {
    path: PathBuf,
    file: std::sync::Mutex<File>,
}

impl JournalWriter {
    /// A writer of the journal at `path` (created if missing).
    pub fn open(path: &Path) -> Result<JournalWriter, JournalError> {
        let file = File::options()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|source| JournalError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(JournalWriter {
            path: path.to_path_buf(),
            file: std::sync::Mutex::new(file),
        })
    }

    /// Takes the writer lock without waiting: `None` while another writer (of this process
    /// or another) holds it.
    pub fn try_lock(&self) -> Result<Option<WriterGuard<'_>>, JournalError> {
        let file = match self.file.try_lock() {
            Ok(file) => file,
            // A writer that panicked left the file as it was; records are all or nothing.
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(None),
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(WriterGuard {
                file,
                path: &self.path,
            })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(source)) => Err(JournalError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Takes the writer lock, waiting as long as it takes.
    pub fn lock(&self) -> Result<WriterGuard<'_>, JournalError> {
        let file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.lock().map_err(|source| JournalError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(WriterGuard {
            file,
            path: &self.path,
        })
    }
}

/// The journal's writer lock, held: records may be appended. Released on drop.
pub(crate) struct WriterGuard<'a> {
    file: std::sync::MutexGuard<'a, File>,
    path: &'a Path,
}

impl WriterGuard<'_> {
    /// Readies `journal` (this journal's replayed state) for an append: reads what others
    /// appended, writes the header of a new journal, cuts off a record torn by a crash.
    /// Returns the offset the next record goes at.
    pub fn prepare(&self, journal: &mut Journal) -> Result<u64, JournalError> {
        journal.prepare_append()?;
        Ok(journal.len())
    }

    /// Writes an encoded record ([`encode`]) at `offset` (from [`prepare`](Self::prepare))
    /// and syncs it before returning; a failed write leaves nothing behind. The caller may
    /// let lookups go on meanwhile and catch the journal up afterwards.
    pub fn write(&self, offset: u64, record: &[u8]) -> Result<(), JournalError> {
        write_record(&self.file, self.path, offset, record)
    }
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Writes an encoded record at the end of the journal (`offset`, which the caller has
/// prepared under the lock) and syncs it. On failure the partial record is cut off again,
/// so a failed append leaves nothing behind.
fn write_record(file: &File, path: &Path, offset: u64, record: &[u8]) -> Result<(), JournalError> {
    let written = (|| {
        let mut f = file;
        f.write_all(record)?;
        file.sync_data()
    })();
    written.map_err(|source| {
        // Best effort: a torn record is ignored on replay anyway.
        let _ = file.set_len(offset);
        JournalError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Encodes sales and returns as one record: the single form for one entry, a batch
/// record for several.
pub(crate) fn encode(
    path: &Path,
    offset: u64,
    entries: &[(SaleOp, &[u8])],
    time: i64,
) -> Result<Vec<u8>, JournalError> {
    let refuse = |reason: String| JournalError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    if entries.is_empty() || entries.len() > MAX_BATCH {
        return Err(refuse(format!(
            "{} sales or returns in one record; 1 to {MAX_BATCH} fit",
            entries.len()
        )));
    }
    if let Some((_, ki)) = entries
        .iter()
        .find(|(_, ki)| ki.is_empty() || ki.len() > MAX_KEY_LEN)
    {
        return Err(refuse(format!(
            "КИ of {} bytes cannot be journaled",
            ki.len()
        )));
    }
    let code = |op: SaleOp| {
        if op == SaleOp::Sell {
            OP_SELL
        } else {
            OP_RETURN
        }
    };
    let mut r = Vec::with_capacity(16 + entries.iter().map(|(_, k)| k.len() + 2).sum::<usize>());
    if let [(op, ki)] = entries {
        r.push(code(*op));
        r.extend_from_slice(&time.to_le_bytes());
        r.push(ki.len() as u8);
        r.extend_from_slice(ki);
    } else {
        r.push(OP_BATCH);
        r.extend_from_slice(&time.to_le_bytes());
        r.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (op, ki) in entries {
            r.push(code(*op));
            r.push(ki.len() as u8);
            r.extend_from_slice(ki);
        }
    }
    let check = xxhash_rust::xxh3::xxh3_64(&r) as u32;
    r.extend_from_slice(&check.to_le_bytes());
    Ok(r)
}

enum Decoded<'a> {
    Records {
        time: i64,
        entries: Vec<(SaleOp, &'a [u8])>,
        len: usize,
    },
    Torn,
    Bad {
        reason: String,
        len: usize,
    },
}

fn decode(b: &[u8]) -> Decoded<'_> {
    if b.len() < 10 {
        return Decoded::Torn;
    }
    let time = i64::from_le_bytes(b[1..9].try_into().unwrap_or_default());
    // The body: the (op, КИ) pairs and where the checksum starts.
    let mut entries = Vec::new();
    let body_end = if b[0] == OP_BATCH {
        if b.len() < 11 {
            return Decoded::Torn;
        }
        let count = usize::from(u16::from_le_bytes([b[9], b[10]]));
        let mut pos = 11;
        for _ in 0..count {
            let (Some(&op), Some(&len)) = (b.get(pos), b.get(pos + 1)) else {
                return Decoded::Torn;
            };
            let end = pos + 2 + usize::from(len);
            let Some(ki) = b.get(pos + 2..end) else {
                return Decoded::Torn;
            };
            entries.push((op, ki));
            pos = end;
        }
        pos
    } else {
        let end = 10 + usize::from(b[9]);
        let Some(ki) = b.get(10..end) else {
            return Decoded::Torn;
        };
        entries.push((b[0], ki));
        end
    };
    let len = body_end + 4;
    let Some(check) = b.get(body_end..len) else {
        return Decoded::Torn;
    };
    let check = u32::from_le_bytes(check.try_into().unwrap_or_default());
    let bad = |reason: String| Decoded::Bad { reason, len };
    if xxhash_rust::xxh3::xxh3_64(&b[..body_end]) as u32 != check {
        return bad("checksum mismatch".into());
    }
    if b[0] == OP_BATCH && (entries.is_empty() || entries.len() > MAX_BATCH) {
        return bad(format!("a batch of {} records", entries.len()));
    }
    let mut decoded = Vec::with_capacity(entries.len());
    for (op, ki) in entries {
        let op = match op {
            OP_SELL => SaleOp::Sell,
            OP_RETURN => SaleOp::Return,
            other => return bad(format!("unknown operation {other}")),
        };
        if ki.is_empty() || ki.len() > MAX_KEY_LEN {
            return bad(format!("КИ length {}", ki.len()));
        }
        decoded.push((op, ki));
    }
    Decoded::Records {
        time,
        entries: decoded,
        len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_wins_over_the_folded_table_and_old_sales_expire() {
        let base = vec![
            (b"a".to_vec(), 100),
            (b"b".to_vec(), 100),
            (b"c".to_vec(), 5),
        ];
        let journal: Vec<(&[u8], SoldState)> = vec![
            (b"b", SoldState::Returned(150)),
            (b"d", SoldState::Sold(200)),
            (b"e", SoldState::Sold(1)),
        ];
        let merged = fold_sold(&base, &journal, 50);
        assert_eq!(merged, vec![(b"a".to_vec(), 100), (b"d".to_vec(), 200)]);
    }

    fn enc(op: SaleOp, time: i64, ki: &[u8]) -> Vec<u8> {
        encode(Path::new("j"), 0, &[(op, ki)], time).unwrap()
    }

    /// An append as production makes one: prepare under the lock, encode, write and sync,
    /// then catch up.
    trait Append {
        fn append(
            &self,
            j: &mut Journal,
            entries: &[(SaleOp, &[u8])],
            time: i64,
        ) -> Result<(), JournalError>;
    }

    impl Append for WriterGuard<'_> {
        fn append(
            &self,
            j: &mut Journal,
            entries: &[(SaleOp, &[u8])],
            time: i64,
        ) -> Result<(), JournalError> {
            let offset = self.prepare(j)?;
            let record = encode(j.path(), offset, entries, time)?;
            self.write(offset, &record)?;
            j.catch_up()
        }
    }

    #[test]
    fn append_replay_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sold.journal");
        let mut j = Journal::open(&path).unwrap();
        let w = JournalWriter::open(&path).unwrap();
        {
            let g = w.lock().unwrap();
            g.append(&mut j, &[(SaleOp::Sell, b"KI-1")], 10).unwrap();
            g.append(&mut j, &[(SaleOp::Sell, b"KI-2")], 11).unwrap();
            g.append(&mut j, &[(SaleOp::Return, b"KI-1")], 12).unwrap();
        }
        let replay = Journal::open(&path).unwrap();
        assert_eq!(replay.state(b"KI-1"), Some(SoldState::Returned(12)));
        assert_eq!(replay.state(b"KI-2"), Some(SoldState::Sold(11)));
        assert_eq!(replay.state(b"KI-3"), None);

        // A torn last record is ignored, then cut off by the next append.
        let full = std::fs::read(&path).unwrap();
        let mut torn = full.clone();
        torn.extend_from_slice(&enc(SaleOp::Sell, 13, b"KI-3")[..7]);
        std::fs::write(&path, &torn).unwrap();
        let mut j = Journal::open(&path).unwrap();
        assert_eq!(j.state(b"KI-3"), None);
        w.lock()
            .unwrap()
            .append(&mut j, &[(SaleOp::Sell, b"KI-4")], 14)
            .unwrap();
        let replay = Journal::open(&path).unwrap();
        assert_eq!(replay.state(b"KI-4"), Some(SoldState::Sold(14)));
        assert_eq!(
            std::fs::metadata(&path).unwrap().len() as usize,
            full.len() + enc(SaleOp::Sell, 14, b"KI-4").len()
        );

        // Damage in the middle is an error naming the offset.
        let mut bad = std::fs::read(&path).unwrap();
        bad[8 + 3] ^= 0xff;
        std::fs::write(&path, &bad).unwrap();
        let err = Journal::open(&path).err().unwrap().to_string();
        assert!(err.contains("byte 8"), "{err}");
    }

    #[test]
    fn a_batch_is_one_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sold.journal");
        let mut j = Journal::open(&path).unwrap();
        let w = JournalWriter::open(&path).unwrap();
        w.lock()
            .unwrap()
            .append(&mut j, &[(SaleOp::Sell, b"A")], 1)
            .unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        w.lock()
            .unwrap()
            .append(
                &mut j,
                &[
                    (SaleOp::Sell, b"B"),
                    (SaleOp::Return, b"A"),
                    (SaleOp::Sell, b"C"),
                ],
                2,
            )
            .unwrap();
        assert_eq!(j.state(b"A"), Some(SoldState::Returned(2)));
        let replay = Journal::open(&path).unwrap();
        assert_eq!(replay.state(b"B"), Some(SoldState::Sold(2)));
        assert_eq!(replay.state(b"C"), Some(SoldState::Sold(2)));

        // Any prefix of the batch record is a torn tail: none of its entries count.
        let full = std::fs::read(&path).unwrap();
        for cut in before as usize..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let replay = Journal::open(&path).unwrap();
            assert_eq!(replay.state(b"A"), Some(SoldState::Sold(1)), "cut at {cut}");
            assert_eq!(replay.state(b"B"), None, "cut at {cut}");
        }
        // Damage inside a batch followed by more records is reported.
        std::fs::write(&path, &full).unwrap();
        let mut j = Journal::open(&path).unwrap();
        w.lock()
            .unwrap()
            .append(&mut j, &[(SaleOp::Sell, b"D")], 3)
            .unwrap();
        let mut bad = std::fs::read(&path).unwrap();
        bad[before as usize + 14] ^= 0x40;
        std::fs::write(&path, &bad).unwrap();
        let err = Journal::open(&path).err().unwrap().to_string();
        assert!(err.contains(&format!("byte {before}")), "{err}");
    }

    #[test]
    fn two_handles_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sold.journal");
        let mut a = Journal::open(&path).unwrap();
        let mut b = Journal::open(&path).unwrap();
        let (wa, wb) = (
            JournalWriter::open(&path).unwrap(),
            JournalWriter::open(&path).unwrap(),
        );
        wa.lock()
            .unwrap()
            .append(&mut a, &[(SaleOp::Sell, b"X")], 1)
            .unwrap();
        let g = wb.lock().unwrap();
        // One writer at a time, across handles (as across processes).
        assert!(wa.try_lock().unwrap().is_none());
        g.prepare(&mut b).unwrap();
        assert_eq!(b.state(b"X"), Some(SoldState::Sold(1)));
        g.append(&mut b, &[(SaleOp::Return, b"X")], 2).unwrap();
        drop(g);
        assert!(wa.try_lock().unwrap().is_some());
        a.catch_up().unwrap();
        assert_eq!(a.state(b"X"), Some(SoldState::Returned(2)));
    }
}
