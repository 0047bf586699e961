//! Reading a list file as a stream: decompression (zstd or gzip, found by magic number)
//! with a guard against decompression bombs, the header first, then the body in chunks of
//! whole lines. Memory stays bounded whatever the input: a line longer than
//! [`ReadOptions::max_line`] is reported and skipped without being held, blank lines cost
//! nothing, and output that expands far beyond its compressed size stops the read.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::header;
use super::schema::{HeaderFields, ListError, ListHeader, MAGIC_LINE, Reject};

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A UTF-8 byte-order mark, which some editors put at the start of a text file.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Limits of a read.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Longest line kept; a longer one is a reject and is skipped unread.
    pub max_line: usize,
    /// Most bytes a compressed file may expand to per byte read from disk (after the first
    /// [`ReadOptions::expansion_floor`] bytes).
    pub max_expansion: u64,
    /// Output allowed before the expansion ratio is enforced.
    pub expansion_floor: u64,
    /// Body bytes per chunk handed out.
    pub chunk_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_line: 16 * 1024,
            max_expansion: 100,
            expansion_floor: 16 << 20,
            chunk_bytes: 4 << 20,
        }
    }
}

/// How a file was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain text.
    None,
    /// zstd.
    Zstd,
    /// gzip.
    Gzip,
}

/// A counter of bytes passing through a reader, shared with whoever checks it.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// One piece of a list body.
#[derive(Debug)]
pub(crate) enum Piece {
    /// Whole lines (each ending in `\n`, but perhaps the last line of the file).
    Lines {
        /// The bytes.
        bytes: Vec<u8>,
        /// 1-based number of the first line.
        first_line: u64,
        /// Byte offset of the first line in the (decompressed) file.
        offset: u64,
    },
    /// A line over the length limit, skipped.
    TooLong(Reject),
}

/// A list file opened for streaming: header read, body to come.
pub(crate) struct ListReader {
    path: PathBuf,
    header: ListHeader,
    compression: Compression,
    options: ReadOptions,
    source: Box<dyn Read + Send>,
    /// Compressed bytes read from the file so far (for the expansion guard).
    compressed: Arc<AtomicU64>,
    /// Decompressed bytes read so far.
    produced: u64,
    /// Bytes read but not yet handed out (the start of an unfinished line).
    carry: Vec<u8>,
    next_line: u64,
    next_offset: u64,
    eof: bool,
    /// Entry lines skipped for being too long, so far.
    long_lines: u64,
}

impl ListReader {
    /// How the file was stored.
    #[cfg(test)]
    pub(crate) fn compression(&self) -> Compression {
        self.compression
    }

    /// Opens `path` and reads its header (`overrides` stands in for a header the file
    /// does not have: see [`HeaderFields`]).
    pub fn open(
        path: &Path,
        options: ReadOptions,
        overrides: Option<&HeaderFields>,
    ) -> Result<ListReader, ListError> {
        let io = |source| ListError::Io {
            path: path.to_path_buf(),
            source,
        };
        if std::fs::metadata(path).map_err(io)?.is_dir() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory, not a list file",
            )));
        }
        let file = File::open(path).map_err(io)?;
        Self::from_reader(path, file, options, overrides)
    }

    /// Reads a list from any byte source; `name` is used in messages.
    pub fn from_reader(
        name: impl Into<PathBuf>,
        reader: impl Read + Send + 'static,
        options: ReadOptions,
        overrides: Option<&HeaderFields>,
    ) -> Result<ListReader, ListError> {
        let path = name.into();
        let compressed = Arc::new(AtomicU64::new(0));
        let mut raw = BufReader::with_capacity(
            1 << 16,
            Counting {
                inner: reader,
                count: compressed.clone(),
            },
        );
        let magic = {
            use std::io::BufRead;
            let buffered = raw.fill_buf().map_err(|source| ListError::Io {
                path: path.clone(),
                source,
            })?;
            buffered[..buffered.len().min(4)].to_vec()
        };
        let (compression, source): (Compression, Box<dyn Read + Send>) =
            if magic.starts_with(&ZSTD_MAGIC) {
                let decoder = zstd::stream::read::Decoder::with_buffer(raw).map_err(|source| {
                    ListError::Zstd {
                        path: path.clone(),
                        source,
                    }
                })?;
                (Compression::Zstd, Box::new(decoder))
            } else if magic.starts_with(&GZIP_MAGIC) {
                (
                    Compression::Gzip,
                    Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
                )
            } else {
                (Compression::None, Box::new(raw))
            };
        let mut reader = ListReader {
            path,
            header: header::placeholder(),
            compression,
            options,
            source,
            compressed,
            produced: 0,
            carry: Vec::new(),
            next_line: 1,
            next_offset: 0,
            eof: false,
            long_lines: 0,
        };
        reader.read_header(overrides)?;
        Ok(reader)
    }

    /// The file's path (or name).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its header.
    pub fn header(&self) -> &ListHeader {
        &self.header
    }

    /// Bytes read from the file itself so far.
    pub fn file_bytes_read(&self) -> u64 {
        self.compressed.load(Ordering::Relaxed)
    }

    /// Reads more of the decompressed stream into `carry`; false at the end.
    fn fill(&mut self, want: usize) -> Result<bool, ListError> {
        if self.eof {
            return Ok(false);
        }
        let start = self.carry.len();
        self.carry.resize(start + want, 0);
        let mut filled = start;
        while filled < self.carry.len() {
            match self.source.read(&mut self.carry[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    self.carry.truncate(filled);
                    return Err(match self.compression {
                        Compression::None => ListError::Io {
                            path: self.path.clone(),
                            source,
                        },
                        Compression::Zstd => ListError::Zstd {
                            path: self.path.clone(),
                            source,
                        },
                        Compression::Gzip => ListError::Gzip {
                            path: self.path.clone(),
                            source,
                        },
                    });
                }
            }
        }
        self.carry.truncate(filled);
        self.produced += (filled - start) as u64;
        self.check_expansion()?;
        Ok(filled > start)
    }

    fn check_expansion(&self) -> Result<(), ListError> {
        if self.compression == Compression::None || self.produced <= self.options.expansion_floor {
            return Ok(());
        }
        let compressed = self.file_bytes_read().max(1);
        if self.produced / compressed > self.options.max_expansion {
            return Err(ListError::Expansion {
                path: self.path.clone(),
                compressed,
                decompressed: self.produced,
                limit: self.options.max_expansion,
            });
        }
        Ok(())
    }

    /// Reads the `#` header lines (one at a time, each at most 4 KiB).
    fn read_header(&mut self, overrides: Option<&HeaderFields>) -> Result<(), ListError> {
        const MAX_HEADER_LINE: usize = 4096;
        const MAX_HEADER_LINES: u64 = 256;
        let mut lines: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut first = true;
        loop {
            // Make sure a whole line (or the limit) is buffered.
            while !self.carry.contains(&b'\n')
                && self.carry.len() <= MAX_HEADER_LINE
                && self.fill(MAX_HEADER_LINE)?
            {}
            if first {
                if self.carry.starts_with(BOM) {
                    self.carry.drain(..BOM.len());
                    self.next_offset += BOM.len() as u64;
                }
                first = false;
                if overrides.is_some() {
                    if self.carry.starts_with(MAGIC_LINE.as_bytes()) {
                        return Err(ListError::Header {
                            path: self.path.clone(),
                            line: 1,
                            reason: "the file has its own cisgate header; header options (--kind, --version, --as-of, ...) are for files without one".into(),
                        });
                    }
                    break;
                }
                if self.carry.is_empty() {
                    return Err(ListError::Header {
                        path: self.path.clone(),
                        line: 1,
                        reason: "the file is empty: expected a list header".into(),
                    });
                }
            }
            if !self.carry.starts_with(b"#") {
                break;
            }
            let Some(end) = self.carry.iter().position(|&b| b == b'\n') else {
                if self.carry.len() > MAX_HEADER_LINE {
                    return Err(ListError::Header {
                        path: self.path.clone(),
                        line: self.next_line,
                        reason: if self.next_line == 1 {
                            format!(
                                "not a cisgate list: no line break in the first {MAX_HEADER_LINE} bytes"
                            )
                        } else {
                            format!("header line is over {MAX_HEADER_LINE} bytes")
                        },
                    });
                }
                // The file ends inside its header.
                let line = std::mem::take(&mut self.carry);
                self.next_offset += line.len() as u64;
                lines.push((self.next_line, line));
                self.next_line += 1;
                break;
            };
            let line: Vec<u8> = self.carry.drain(..=end).collect();
            self.next_offset += line.len() as u64;
            lines.push((self.next_line, line));
            self.next_line += 1;
            if self.next_line > MAX_HEADER_LINES {
                return Err(ListError::Header {
                    path: self.path.clone(),
                    line: self.next_line,
                    reason: format!("the header is over {MAX_HEADER_LINES} lines"),
                });
            }
        }
        if lines.is_empty() && overrides.is_none() {
            let shown: String = String::from_utf8_lossy(&self.carry[..self.carry.len().min(40)])
                .chars()
                .take(40)
                .collect();
            let shown = shown.lines().next().unwrap_or("").to_string();
            return Err(ListError::Header {
                path: self.path.clone(),
                line: 1,
                reason: format!(
                    "not a cisgate list: expected {:?} on the first line, found {shown:?} (for a headerless file give --kind, --version and --as-of)",
                    MAGIC_LINE
                ),
            });
        }
        self.header = header::parse(&self.path, &lines, overrides)?;
        Ok(())
    }

    /// The next piece of the body, or `None` at its end.
    pub fn next_piece(&mut self) -> Result<Option<Piece>, ListError> {
        let target = self.options.chunk_bytes.max(self.options.max_line + 1);
        loop {
            // A whole line is in `carry` when it holds a newline (or the file has ended).
            let last_newline = self.carry.iter().rposition(|&b| b == b'\n');
            if self.carry.len() >= target || self.eof {
                if let Some(end) = last_newline {
                    return Ok(Some(self.take_lines(end + 1)));
                }
                if self.eof {
                    if self.carry.is_empty() {
                        return Ok(None);
                    }
                    if self.carry.len() <= self.options.max_line {
                        let len = self.carry.len();
                        return Ok(Some(self.take_lines(len)));
                    }
                }
            }
            if last_newline.is_none() && self.carry.len() > self.options.max_line {
                return self.skip_long_line().map(Some);
            }
            let want = target.saturating_sub(self.carry.len()).max(1 << 16);
            self.fill(want)?;
        }
    }

    fn take_lines(&mut self, len: usize) -> Piece {
        let rest = self.carry.split_off(len);
        let bytes = std::mem::replace(&mut self.carry, rest);
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64
            + u64::from(!bytes.ends_with(b"\n"));
        let piece = Piece::Lines {
            first_line: self.next_line,
            offset: self.next_offset,
            bytes,
        };
        self.next_line += lines;
        self.next_offset += len as u64;
        piece
    }

    /// `carry` holds the start of a line longer than the limit: report it and read on to
    /// its end without keeping it.
    fn skip_long_line(&mut self) -> Result<Piece, ListError> {
        let shown = String::from_utf8_lossy(&self.carry[..200.min(self.carry.len())]).into_owned();
        let mut len = self.carry.len() as u64;
        self.carry.clear();
        let rest = loop {
            if !self.fill(1 << 16)? {
                break Vec::new();
            }
            match self.carry.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    len += end as u64;
                    break self.carry.split_off(end + 1);
                }
                None => {
                    len += self.carry.len() as u64;
                    self.carry.clear();
                }
            }
        };
        self.long_lines += 1;
        let reject = Reject {
            file: self.path.clone(),
            line: self.next_line,
            byte_offset: self.next_offset,
            reason: format!(
                "line of {len} bytes is over the {}-byte limit",
                self.options.max_line
            ),
            text: shown,
        };
        let consumed = len + u64::from(!rest.is_empty() || self.carry.ends_with(b"\n"));
        self.next_offset += consumed;
        self.next_line += 1;
        self.carry = rest;
        Ok(Piece::TooLong(reject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "#cisgate-list 1\n#kind: blocked_cis\n#version: 1\n#as_of: 0\n";

    fn read_all(bytes: Vec<u8>, options: ReadOptions) -> Result<Vec<Piece>, ListError> {
        let mut r = ListReader::from_reader("t", std::io::Cursor::new(bytes), options, None)?;
        let mut pieces = Vec::new();
        while let Some(p) = r.next_piece()? {
            pieces.push(p);
        }
        Ok(pieces)
    }

    #[test]
    fn lines_come_whole_with_their_numbers_and_offsets() {
        let mut text = HEADER.to_string();
        for i in 0..1000 {
            text.push_str(&format!("line{i}\n"));
        }
        text.push_str("last");
        let options = ReadOptions {
            chunk_bytes: 100,
            max_line: 50,
            ..Default::default()
        };
        let pieces = read_all(text.clone().into_bytes(), options).unwrap();
        let mut line = 5;
        let mut offset = HEADER.len() as u64;
        for p in &pieces {
            let Piece::Lines {
                bytes,
                first_line,
                offset: at,
            } = p
            else {
                panic!("{p:?}")
            };
            assert_eq!(*first_line, line);
            assert_eq!(*at, offset);
            assert_eq!(
                &text.as_bytes()[*at as usize..*at as usize + bytes.len()],
                &bytes[..]
            );
            line += bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count() as u64;
            offset += bytes.len() as u64;
        }
        assert_eq!(offset as usize, text.len());
    }

    #[test]
    fn an_over_long_line_is_skipped_unread() {
        let mut text = HEADER.as_bytes().to_vec();
        text.extend_from_slice(b"a\n");
        text.extend(std::iter::repeat_n(b'x', 100_000));
        text.extend_from_slice(b"\nb\n");
        let options = ReadOptions {
            chunk_bytes: 1000,
            max_line: 100,
            ..Default::default()
        };
        let pieces = read_all(text, options).unwrap();
        let rejects: Vec<&Reject> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::TooLong(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].line, 6);
        assert_eq!(rejects[0].byte_offset, HEADER.len() as u64 + 2);
        assert!(
            rejects[0].reason.contains("100000 bytes"),
            "{}",
            rejects[0].reason
        );
        let last = pieces.last().unwrap();
        assert!(
            matches!(last, Piece::Lines { bytes, first_line: 7, .. } if bytes == b"b\n"),
            "{last:?}"
        );
    }

    #[test]
    fn a_decompression_bomb_stops_early() {
        let mut text = HEADER.as_bytes().to_vec();
        text.extend(std::iter::repeat_n(b'\n', 64 << 20));
        let packed = zstd::encode_all(&text[..], 19).unwrap();
        let err = read_all(packed, ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("expands") && err.contains("ratio"), "{err}");
        let zeros = zstd::encode_all(&vec![0u8; 64 << 20][..], 19).unwrap();
        let err = read_all(zeros, ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a cisgate list"), "{err}");
    }

    #[test]
    fn gzip_and_a_byte_order_mark() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(BOM).unwrap();
        gz.write_all(HEADER.as_bytes()).unwrap();
        gz.write_all(b"0104600439931256215abcdEFGH1234\n").unwrap();
        let r = ListReader::from_reader(
            "g",
            std::io::Cursor::new(gz.finish().unwrap()),
            ReadOptions::default(),
            None,
        )
        .unwrap();
        assert_eq!(r.compression(), Compression::Gzip);
        assert_eq!(r.header().version, "1");
    }

    #[test]
    fn empty_and_foreign_files() {
        let err = |b: &[u8]| {
            read_all(b.to_vec(), ReadOptions::default())
                .unwrap_err()
                .to_string()
        };
        assert!(err(b"").contains("empty"), "{}", err(b""));
        assert!(err(b"\xEF\xBB\xBF").contains("empty"));
        assert!(err(b"hello\n").contains("not a cisgate list"));
        assert!(err(&[b'x'; 10_000]).contains("not a cisgate list"));
    }
}
