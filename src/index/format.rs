//! The container every index data file is wrapped in, and its validating loader.
//!
//! ```text
//! header  24 bytes: magic "CISGFST\0" | format version u32 LE (2) | role u32 LE
//!                   | layout u32 LE | 0 u32
//! payload          the layout's bytes (an FST, КИ blocks, a filter)
//! footer  24 bytes: payload length u64 LE | xxh3-64 of header+payload+length u64 LE | "CISGEND\0"
//! ```
//! Role and layout are explicit numbers ([`Table::code`], [`Layout::code`]), never the
//! order of a Rust enum, so adding a table or a layout changes no existing file.
//! The length and checksum sit in the footer so the file can be written in one stream.
//! Opening checks magic, version, role and length always, and the checksum when asked;
//! the manifest repeats length and checksum, so a file swapped in from elsewhere is caught
//! even without hashing.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use super::error::IndexError;
use super::table::{Layout, Table};
use crate::durable::DurableFile;

const MAGIC: &[u8; 8] = b"CISGFST\0";
const END_MAGIC: &[u8; 8] = b"CISGEND\0";
/// Version of the data-file container.
pub const FILE_FORMAT_VERSION: u32 = 2;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 24;
const FOOTER_LEN: usize = 24;

/// What a data file holds: the entries one segment gives a table. In a delta layer, a
/// key whose value is [`super::table::TOMBSTONE`] is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Role {
    /// The table.
    #[serde(rename = "kind")]
    pub table: Table,
    /// Whether the file is the Bloom filter in front of the table's FST in its segment.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub filter: bool,
}

impl Role {
    /// The FST of a table.
    pub fn fst(table: Table) -> Role {
        Role {
            table,
            filter: false,
        }
    }

    /// The filter in front of a table's FST.
    pub fn filter(table: Table) -> Role {
        Role {
            table,
            filter: true,
        }
    }

    /// The code written in file headers: the table's code, | 0x100 for its filter.
    pub fn code(self) -> u32 {
        self.table.code() | if self.filter { 0x100 } else { 0 }
    }
}

/// One data file as recorded in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// File name inside the index directory.
    pub name: String,
    /// What it holds.
    pub role: Role,
    /// How its payload is laid out.
    pub layout: Layout,
    /// File length in bytes.
    pub len: u64,
    /// xxh3-64 of everything before the checksum, lower-case hex.
    pub xxh3: String,
    /// Number of keys.
    pub entries: u64,
}

/// Bytes of a memory-mapped file's payload, shared by the FST that reads them.
#[derive(Clone)]
pub struct MappedBytes {
    map: Arc<Mmap>,
    start: usize,
    end: usize,
}

impl MappedBytes {
    /// All of a mapping (for tests and tools).
    pub fn whole(map: Mmap) -> MappedBytes {
        let end = map.len();
        MappedBytes {
            map: Arc::new(map),
            start: 0,
            end,
        }
    }

    /// A part of these bytes (`start..end` relative to them), sharing the mapping; `None`
    /// when the range is out of bounds.
    pub fn slice(&self, start: usize, end: usize) -> Option<MappedBytes> {
        (start <= end && end <= self.end - self.start).then(|| MappedBytes {
            map: self.map.clone(),
            start: self.start + start,
            end: self.start + end,
        })
    }
}

impl AsRef<[u8]> for MappedBytes {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        &self.map[self.start..self.end]
    }
}

/// A writer that hashes what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Xxh3,
    written: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes one data file durably ([`DurableFile`]): header, the payload `fill` streams
/// (into the FST builder, say), footer. The directory is synced by the caller once all of
/// a generation's files are in place.
pub fn write_data_file<F>(
    dir: &Path,
    name: &str,
    role: Role,
    layout: Layout,
    fill: F,
) -> Result<FileMeta, IndexError>
where
    F: FnOnce(&mut dyn Write) -> Result<u64, IndexError>,
{
    let mut file = DurableFile::create(dir, name)?;
    let tmp = file.tmp_path().to_path_buf();
    let io = IndexError::io;
    let mut w = HashingWriter {
        inner: file.writer(),
        hasher: Xxh3::new(),
        written: 0,
    };
    w.write_all(&header(role, layout)).map_err(io(&tmp))?;
    let entries = fill(&mut w)?;
    let payload_len = w.written - HEADER_LEN as u64;
    w.write_all(&payload_len.to_le_bytes()).map_err(io(&tmp))?;
    let checksum = w.hasher.digest();
    let inner = w.inner;
    inner.write_all(&checksum.to_le_bytes()).map_err(io(&tmp))?;
    inner.write_all(END_MAGIC).map_err(io(&tmp))?;
    let len = file.commit()?;
    Ok(FileMeta {
        name: name.to_string(),
        role,
        layout,
        len,
        xxh3: format!("{checksum:016x}"),
        entries,
    })
}

fn header(role: Role, layout: Layout) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&FILE_FORMAT_VERSION.to_le_bytes());
    header[12..16].copy_from_slice(&role.code().to_le_bytes());
    header[16..20].copy_from_slice(&layout.code().to_le_bytes());
    header
}

/// A data file's bytes around `payload`, as [`write_data_file`] writes them, and the
/// checksum its manifest entry records. For tests and fuzzing.
#[doc(hidden)]
pub fn container_bytes(role: Role, layout: Layout, payload: &[u8]) -> (Vec<u8>, String) {
    let mut b = header(role, layout).to_vec();
    b.extend_from_slice(payload);
    b.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let sum = xxhash_rust::xxh3::xxh3_64(&b);
    b.extend_from_slice(&sum.to_le_bytes());
    b.extend_from_slice(END_MAGIC);
    (b, format!("{sum:016x}"))
}

/// Memory-maps a data file and validates it against its manifest entry. With `verify`,
/// every byte is hashed; without, only the structure and the footer's checksum are compared
/// with the manifest.
pub fn open_data_file(
    dir: &Path,
    meta: &FileMeta,
    verify: bool,
) -> Result<MappedBytes, IndexError> {
    let path = dir.join(&meta.name);
    let damaged = |reason: String| IndexError::Damaged {
        path: path.clone(),
        reason,
    };
    let file = File::open(&path).map_err(|source| IndexError::Io {
        path: path.clone(),
        source,
    })?;
    let len = file
        .metadata()
        .map_err(|source| IndexError::Io {
            path: path.clone(),
            source,
        })?
        .len();
    if len != meta.len {
        return Err(damaged(format!(
            "file is {len} bytes, the manifest says {}",
            meta.len
        )));
    }
    if len < (HEADER_LEN + FOOTER_LEN) as u64 {
        return Err(damaged(format!(
            "file is {len} bytes, shorter than header and footer"
        )));
    }
    // The first of the core's two `unsafe` blocks: mapping a file is unsafe because another
    // process could change it under the mapping.
    #[allow(unsafe_code)]
    // SAFETY: index files are immutable once published (new data goes to new files and the
    // writer never modifies or truncates a published file), so the mapping stays valid.
    // Its bytes are fully validated below before any FST reads them.
    let map = unsafe { Mmap::map(&file) }.map_err(|source| IndexError::Io {
        path: path.clone(),
        source,
    })?;
    let bytes: &[u8] = &map;
    check_container(bytes, meta.role, meta.layout, &meta.xxh3, verify).map_err(damaged)?;
    let end = bytes.len() - FOOTER_LEN;
    Ok(MappedBytes {
        map: Arc::new(map),
        start: HEADER_LEN,
        end,
    })
}

/// Validates the container around a payload; returns what is wrong in words.
pub fn check_container(
    bytes: &[u8],
    role: Role,
    layout: Layout,
    expected_xxh3: &str,
    verify: bool,
) -> Result<(), String> {
    if bytes.len() < HEADER_LEN + FOOTER_LEN {
        return Err(format!(
            "{} bytes is shorter than header and footer",
            bytes.len()
        ));
    }
    if &bytes[..8] != MAGIC {
        return Err("bad magic: not a cisgate data file".into());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if version != FILE_FORMAT_VERSION {
        return Err(format!(
            "data-file format version {version}, this build reads {FILE_FORMAT_VERSION}{}",
            if version < FILE_FORMAT_VERSION {
                "; rebuild the index with `cisgate build`"
            } else {
                ""
            }
        ));
    }
    let code = u32::from_le_bytes(bytes[12..16].try_into().unwrap_or_default());
    if code != role.code() {
        return Err(format!(
            "holds role {code:#x}, the manifest expects {:#x}",
            role.code()
        ));
    }
    let layout_code = u32::from_le_bytes(bytes[16..20].try_into().unwrap_or_default());
    if layout_code != layout.code() {
        return Err(format!(
            "holds layout {layout_code}, the manifest expects {} ({layout:?})",
            layout.code()
        ));
    }
    let footer = &bytes[bytes.len() - FOOTER_LEN..];
    if &footer[16..24] != END_MAGIC {
        return Err("bad end magic: truncated or overwritten".into());
    }
    let payload_len = u64::from_le_bytes(footer[..8].try_into().unwrap_or_default());
    if payload_len != (bytes.len() - HEADER_LEN - FOOTER_LEN) as u64 {
        return Err(format!(
            "footer says payload of {payload_len} bytes, file holds {}",
            bytes.len() - HEADER_LEN - FOOTER_LEN
        ));
    }
    let stored = u64::from_le_bytes(footer[8..16].try_into().unwrap_or_default());
    if format!("{stored:016x}") != expected_xxh3 {
        return Err(format!(
            "footer checksum {stored:016x} differs from the manifest's {expected_xxh3}"
        ));
    }
    if verify {
        let actual = xxhash_rust::xxh3::xxh3_64(&bytes[..bytes.len() - 16]);
        if actual != stored {
            return Err(format!(
                "checksum mismatch: content hashes to {actual:016x}, expected {stored:016x}"
            ));
        }
    }
    Ok(())
}

/// Path of a data file, for messages.
pub fn data_path(dir: &Path, meta: &FileMeta) -> PathBuf {
    dir.join(&meta.name)
}
