//! A list read whole into memory (deltas and other small lists): [`ListFile`] and what it
//! parses into.

use std::path::{Path, PathBuf};

use super::entry::{EntryOptions, parse_lines};
use super::reader::{ListReader, Piece, ReadOptions};
use super::schema::{
    EntryOp, EntrySink, HeaderFields, LineStats, ListError, ListHeader, Records, Reject,
};

/// A list read whole into memory: for deltas and other small lists.
pub struct ListFile {
    path: PathBuf,
    source: Source,
    overrides: Option<HeaderFields>,
    options: EntryOptions,
}

enum Source {
    File,
    Bytes(Vec<u8>),
}

/// A parsed list: header, entries to add and remove, and the malformed lines.
#[derive(Debug)]
pub struct ParsedList {
    /// The file.
    pub path: PathBuf,
    /// Its header.
    pub header: ListHeader,
    /// Entries added (all entries, for a snapshot).
    pub added: Records,
    /// Entries removed (deltas only).
    pub removed: Records,
    /// Malformed lines, in file order.
    pub rejects: Vec<Reject>,
    /// Entry lines read (valid and rejected, not counting header, comments and blanks).
    pub lines: u64,
    /// Full marking codes listed by their КИ.
    pub normalised: u64,
}

struct Collect<'a> {
    added: &'a mut Records,
    removed: &'a mut Records,
    values: bool,
}

impl EntrySink for Collect<'_> {
    fn entry(&mut self, op: EntryOp, key: &[u8], value: u64) {
        let records = match op {
            EntryOp::Add => &mut *self.added,
            EntryOp::Remove => &mut *self.removed,
        };
        records.keys.push(key.into());
        if self.values {
            records.values.push(value);
        }
    }
}

impl ListFile {
    /// A list file on disk (plain, zstd or gzip).
    pub fn open(path: &Path) -> Result<ListFile, ListError> {
        Ok(ListFile {
            path: path.to_path_buf(),
            source: Source::File,
            overrides: None,
            options: EntryOptions::default(),
        })
    }

    /// Bytes already in memory (plain, zstd or gzip); `name` is used in messages.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<ListFile, ListError> {
        Ok(ListFile {
            path: name.into(),
            source: Source::Bytes(bytes),
            overrides: None,
            options: EntryOptions::default(),
        })
    }

    /// Reads the file as headerless, with these header fields.
    pub fn with_header_fields(mut self, fields: HeaderFields) -> ListFile {
        self.overrides = Some(fields);
        self
    }

    /// Reads entries in this input format.
    pub fn with_entry_options(mut self, options: EntryOptions) -> ListFile {
        self.options = options;
        self
    }

    /// The file's path (or name).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and parses header and entries. Malformed entry lines become [`Reject`]s; a
    /// malformed header is an error.
    pub fn parse(&self) -> Result<ParsedList, ListError> {
        let options = ReadOptions::default();
        let mut reader = match &self.source {
            Source::File => ListReader::open(&self.path, options, self.overrides.as_ref())?,
            Source::Bytes(b) => ListReader::from_reader(
                self.path.clone(),
                std::io::Cursor::new(b.clone()),
                options,
                self.overrides.as_ref(),
            )?,
        };
        let header = reader.header().clone();
        let mut added = Records::default();
        let mut removed = Records::default();
        let mut stats = LineStats::default();
        while let Some(piece) = reader.next_piece()? {
            match piece {
                Piece::Lines {
                    bytes,
                    first_line,
                    offset,
                } => {
                    let mut sink = Collect {
                        added: &mut added,
                        removed: &mut removed,
                        values: header.kind.has_values(),
                    };
                    stats.merge(parse_lines(
                        &self.path,
                        &bytes,
                        first_line,
                        offset,
                        &header,
                        &self.options,
                        &mut sink,
                    ));
                }
                Piece::TooLong(reject) => {
                    stats.entry_lines += 1;
                    stats.rejects.push(reject);
                }
            }
        }
        Ok(ParsedList {
            path: self.path.clone(),
            header,
            added,
            removed,
            rejects: stats.rejects,
            lines: stats.entry_lines,
            normalised: stats.normalised,
        })
    }
}

impl ParsedList {
    /// Fails with [`ListError::Strict`] if any line was rejected.
    pub fn require_clean(&self) -> Result<(), ListError> {
        match self.rejects.first() {
            None => Ok(()),
            Some(first) => Err(ListError::Strict {
                count: self.rejects.len(),
                first: Box::new(first.clone()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::{ListKind, ListType, MAGIC_LINE, gtin_flags};

    fn list(header: &str, body: &str) -> ListFile {
        ListFile::from_bytes(
            "t.list",
            format!("{MAGIC_LINE}\n{header}{body}").into_bytes(),
        )
        .unwrap()
    }

    const CIS: &str = "#kind: blocked_cis\n#version: v1\n#as_of: 2026-11-23T10:00:00Z\n";

    #[test]
    fn reads_a_snapshot_with_rejects_located() {
        let f = list(
            CIS,
            "0104600439931256215abcdEFGH1234\r\n\n# comment\nbad line\n04647297654361!%C5UGb\n0104600439931257215abcdEFGH1234\n",
        );
        let p = f.parse().unwrap();
        assert_eq!(p.header.kind, ListKind::BlockedCis);
        assert_eq!(p.header.list_type, ListType::Snapshot);
        assert_eq!(p.added.len(), 2);
        assert_eq!(p.lines, 4);
        assert_eq!(p.rejects.len(), 2);
        assert_eq!(p.rejects[0].line, 8);
        assert_eq!(p.rejects[0].text, "bad line");
        let header_len = MAGIC_LINE.len() + 1 + CIS.len();
        let expected_offset = header_len + "0104600439931256215abcdEFGH1234\r\n\n# comment\n".len();
        assert_eq!(p.rejects[0].byte_offset, expected_offset as u64);
        assert_eq!(p.rejects[1].line, 10);
        assert!(
            p.rejects[1].reason.contains("check digit"),
            "{}",
            p.rejects[1].reason
        );
        assert!(p.require_clean().is_err());
    }

    #[test]
    fn line_numbers_survive_chunking() {
        let mut body = String::new();
        for i in 0..300_000 {
            if i % 100_000 == 99_999 {
                body.push_str("junk\n");
            } else {
                body.push_str("0104600439931256215abcdEFGH1234\n");
            }
        }
        let text = format!("{MAGIC_LINE}\n{CIS}{body}");
        let f = ListFile::from_bytes("t.list", text.clone().into_bytes()).unwrap();
        let p = f.parse().unwrap();
        let lines: Vec<u64> = p.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![5 + 99_999, 5 + 199_999, 5 + 299_999]);
        for r in &p.rejects {
            assert_eq!(
                &text.as_bytes()[r.byte_offset as usize..r.byte_offset as usize + 4],
                b"junk"
            );
        }
    }

    #[test]
    fn other_kinds_and_deltas() {
        let g = list(
            "#kind: blocked_gtin\n#version: 3\n#as_of: 1795428000000\n",
            "04600439931256\n04607034170059\tgrey\n04600439931256 black\n",
        );
        let p = g.parse().unwrap();
        assert_eq!(p.added.values, vec![gtin_flags::BLOCKED, gtin_flags::GREY]);
        assert_eq!(p.rejects.len(), 1);

        let s = list(
            "#kind: blocked_series\n#version: 3\n#as_of: 1795428000000\n",
            "04600439931256\tLOT-1\n04600439931256\n",
        );
        let p = s.parse().unwrap();
        assert_eq!(&*p.added.keys[0], b"04600439931256LOT-1");
        assert_eq!(p.rejects.len(), 1);

        let m = list(
            "#kind: min_price\n#type: delta\n#parent: 2\n#version: 3\n#as_of: 1795428000000\n",
            "+04600439931256\t14630\n-04607034170059\n04600439931256\t1\n+04600439931256\t1.5\n",
        );
        let p = m.parse().unwrap();
        assert_eq!(p.header.list_type, ListType::Delta { parent: "2".into() });
        assert_eq!(p.added.values, vec![14630]);
        assert_eq!(p.removed.len(), 1);
        assert_eq!(p.rejects.len(), 2);
    }

    #[test]
    fn header_errors_name_the_line() {
        let bad = |text: &str| {
            ListFile::from_bytes("h.list", text.as_bytes().to_vec())
                .unwrap()
                .parse()
                .unwrap_err()
                .to_string()
        };
        assert!(bad("0104600439931256215abcdEFGH1234\n").contains("h.list:1: not a cisgate list"));
        assert!(
            bad(&format!("{MAGIC_LINE}\n#kind: blocked_cis\n#as_of: 0\n"))
                .contains("\"version\" is missing")
        );
        assert!(
            bad(&format!("{MAGIC_LINE}\n#kind: blocked_bananas\n"))
                .contains("h.list:2: unknown list kind")
        );
        assert!(
            bad(&format!("{MAGIC_LINE}\n{CIS}#as_of: 0\n"))
                .contains("h.list:5: header field \"as_of\" given twice")
        );
        assert!(
            bad(&format!(
                "{MAGIC_LINE}\n#kind: blocked_cis\n#version: 1\n#as_of: soon\n"
            ))
            .contains("h.list:4: as_of")
        );
        assert!(bad(&format!("{MAGIC_LINE}\n{CIS}#type: delta\n")).contains("parent"));
        assert!(
            bad(&format!("{MAGIC_LINE}\n{CIS}#colour: red\n")).contains("unknown header field")
        );
    }

    #[test]
    fn zstd_is_detected_by_magic() {
        let text = format!("{MAGIC_LINE}\n{CIS}0104600439931256215abcdEFGH1234\n");
        let packed = zstd::encode_all(text.as_bytes(), 3).unwrap();
        let f = ListFile::from_bytes("z", packed.clone()).unwrap();
        assert_eq!(f.parse().unwrap().added.len(), 1);
        let mut broken = packed;
        broken.truncate(broken.len() - 3);
        assert!(matches!(
            ListFile::from_bytes("z", broken).unwrap().parse(),
            Err(ListError::Zstd { .. })
        ));
    }
}
