//! Entry lines: from a line of some input format to an operation, a key and a value.

use std::borrow::Cow;
use std::path::Path;

use super::schema::{
    EntryOp, EntrySink, LineStats, ListHeader, ListKind, ListType, MAX_SERIES_LEN, Reject,
    gtin_flags,
};
use crate::code::{self, is_gs1_char, is_valid_gtin};

/// How an entry is written on its line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum InputFormat {
    /// cisgate's own: the entry, fields separated by a tab or spaces (`docs/FORMATS.md`).
    #[default]
    Native,
    /// Comma- or tab-separated values: the key in one column, the value (for kinds that
    /// have one) in another; fields may be double-quoted.
    Delimited {
        /// The separator byte (`,`, `;` or a tab).
        delimiter: u8,
        /// 0-based column of the key.
        key_column: usize,
        /// 0-based column of the value (`grey` flag, price), if any.
        value_column: Option<usize>,
        /// Whether the first line names the columns (skipped).
        header_row: bool,
    },
    /// One JSON object per line.
    JsonLines {
        /// The member holding the key.
        key_field: String,
        /// The member holding the value, if any.
        value_field: Option<String>,
    },
}

/// How the lines of a list are read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryOptions {
    /// The input format.
    pub format: InputFormat,
    /// `blocked_cis` lines may be full marking codes (crypto tail and all, as scanned):
    /// each is read by the code parser and listed by its КИ.
    pub full_codes: bool,
}

/// What one line gave.
pub(crate) enum LineResult<'a> {
    /// An entry.
    Entry {
        op: EntryOp,
        key: Cow<'a, [u8]>,
        value: u64,
        /// Whether the key was a full code cut down to its КИ.
        normalised: bool,
    },
    /// Nothing: a blank line, a comment, a CSV header row.
    Skip,
    /// A malformed line and why.
    Reject(String),
}

/// Reads one line (without its line end).
pub(crate) fn parse_line<'a>(
    line: &'a [u8],
    kind: ListKind,
    delta: bool,
    options: &EntryOptions,
    line_no: u64,
) -> LineResult<'a> {
    if line.iter().all(u8::is_ascii_whitespace) || line.starts_with(b"#") {
        return LineResult::Skip;
    }
    let (op, rest) = if delta {
        match line.first() {
            Some(b'+') => (EntryOp::Add, &line[1..]),
            Some(b'-') => (EntryOp::Remove, &line[1..]),
            _ => {
                return LineResult::Reject(
                    "a delta line must start with + (add) or - (remove)".into(),
                );
            }
        }
    } else {
        (EntryOp::Add, line)
    };
    let fields = match &options.format {
        InputFormat::Native => native_fields(rest, kind),
        InputFormat::Delimited {
            delimiter,
            key_column,
            value_column,
            header_row,
        } => {
            if *header_row && line_no == 1 {
                return LineResult::Skip;
            }
            delimited_fields(rest, *delimiter, *key_column, *value_column)
        }
        InputFormat::JsonLines {
            key_field,
            value_field,
        } => json_fields(rest, key_field, value_field.as_deref()),
    };
    let (key, value) = match fields {
        Ok(f) => f,
        Err(reason) => return LineResult::Reject(reason),
    };
    match entry(op, key, value.as_deref(), kind, options.full_codes) {
        Ok((key, value, normalised)) => LineResult::Entry {
            op,
            key,
            value,
            normalised,
        },
        Err(reason) => LineResult::Reject(reason),
    }
}

type Fields<'a> = (Cow<'a, [u8]>, Option<Cow<'a, [u8]>>);

fn native_fields(entry: &[u8], kind: ListKind) -> Result<Fields<'_>, String> {
    let mut fields = entry
        .split(|&b| b == b'\t' || b == b' ')
        .filter(|f| !f.is_empty());
    let first = fields.next().ok_or("empty entry")?;
    let second = fields.next();
    if fields.next().is_some() {
        return Err(format!("too many fields for a {kind} entry"));
    }
    Ok((Cow::Borrowed(first), second.map(Cow::Borrowed)))
}

/// Splits a delimited line, honouring double quotes (`""` inside quotes is one `"`).
fn split_delimited(line: &[u8], delimiter: u8) -> Result<Vec<Cow<'_, [u8]>>, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        if line.get(i) == Some(&b'"') {
            let mut value = Vec::new();
            i += 1;
            loop {
                match line.get(i) {
                    None => return Err("a quoted field is not closed".into()),
                    Some(b'"') if line.get(i + 1) == Some(&b'"') => {
                        value.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(&b) => {
                        value.push(b);
                        i += 1;
                    }
                }
            }
            fields.push(Cow::Owned(value));
            match line.get(i) {
                None => break,
                Some(&b) if b == delimiter => i += 1,
                Some(_) => return Err("text after a closing quote".into()),
            }
        } else {
            let end = line[i..]
                .iter()
                .position(|&b| b == delimiter)
                .map_or(line.len(), |p| i + p);
            fields.push(Cow::Borrowed(&line[i..end]));
            if end == line.len() {
                break;
            }
            i = end + 1;
        }
    }
    Ok(fields)
}

fn delimited_fields(
    line: &[u8],
    delimiter: u8,
    key_column: usize,
    value_column: Option<usize>,
) -> Result<Fields<'_>, String> {
    let mut fields = split_delimited(line, delimiter)?;
    let count = fields.len();
    let mut take = |column: usize| -> Result<Cow<'_, [u8]>, String> {
        let field = fields.get_mut(column).ok_or_else(|| {
            format!(
                "the line has {count} column(s); column {} is missing",
                column + 1
            )
        })?;
        Ok(trim_cow(std::mem::replace(field, Cow::Borrowed(&[]))))
    };
    let key = take(key_column)?;
    let value = value_column
        .map(&mut take)
        .transpose()?
        .filter(|v| !v.is_empty());
    Ok((key, value))
}

fn trim_cow(c: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    match c {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim_ascii()),
        Cow::Owned(v) => Cow::Owned(v.trim_ascii().to_vec()),
    }
}

fn json_fields<'a>(
    line: &'a [u8],
    key_field: &str,
    value_field: Option<&str>,
) -> Result<Fields<'a>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let object = value.as_object().ok_or("not a JSON object")?;
    let text = |name: &str, required: bool| -> Result<Option<Cow<'a, [u8]>>, String> {
        match object.get(name) {
            Some(serde_json::Value::String(s)) => Ok(Some(Cow::Owned(s.clone().into_bytes()))),
            Some(serde_json::Value::Number(n)) => Ok(Some(Cow::Owned(n.to_string().into_bytes()))),
            Some(serde_json::Value::Bool(true)) if !required => {
                Ok(Some(Cow::Borrowed(b"grey".as_slice())))
            }
            Some(serde_json::Value::Null | serde_json::Value::Bool(false)) | None if !required => {
                Ok(None)
            }
            Some(other) => Err(format!("member {name:?} is {other}, not a string")),
            None => Err(format!("no member {name:?}")),
        }
    };
    let key = text(key_field, true)?.ok_or_else(|| format!("no member {key_field:?}"))?;
    let value = match value_field {
        Some(name) => text(name, false)?,
        None => None,
    };
    Ok((key, value))
}

/// Checks one entry's fields for its kind.
fn entry<'a>(
    op: EntryOp,
    first: Cow<'a, [u8]>,
    second: Option<&[u8]>,
    kind: ListKind,
    full_codes: bool,
) -> Result<(Cow<'a, [u8]>, u64, bool), String> {
    let check_gtin = |g: &[u8]| {
        if is_valid_gtin(g) {
            Ok(())
        } else {
            Err(format!(
                "{:?} is not a GTIN-14 with a valid check digit",
                String::from_utf8_lossy(g)
            ))
        }
    };
    let no_second = |what: &str| match second {
        Some(_) => Err(format!("unexpected second field in a {what} entry")),
        None => Ok(()),
    };
    match kind {
        ListKind::BlockedCis => {
            no_second("blocked_cis")?;
            match code::validate_ki(&first) {
                Ok(_) => Ok((first, 0, false)),
                Err(e) if full_codes => {
                    let text = std::str::from_utf8(&first).map_err(|_| {
                        format!("not a canonical КИ ({e}) and not UTF-8 text either")
                    })?;
                    let parsed = code::parse(text)
                        .map_err(|p| format!("not a КИ nor a readable marking code: {p}"))?;
                    match parsed.single() {
                        Some(c) => Ok((Cow::Owned(c.ki.clone().into_bytes()), 0, true)),
                        None => Err(format!(
                            "a marking code without its GS separator that reads as {}; list its КИ",
                            parsed
                                .candidates
                                .iter()
                                .map(|c| c.ki.as_str())
                                .collect::<Vec<_>>()
                                .join(" or ")
                        )),
                    }
                }
                Err(e) => Err(format!(
                    "not a canonical КИ: {e} (lines holding full marking codes need --full-codes)"
                )),
            }
        }
        ListKind::BlockedGtin => {
            check_gtin(&first)?;
            let flags = match second {
                None => gtin_flags::BLOCKED,
                Some(b"grey") => gtin_flags::GREY,
                Some(other) => {
                    return Err(format!(
                        "second field {:?} must be \"grey\" or absent",
                        String::from_utf8_lossy(other)
                    ));
                }
            };
            Ok((first, flags, false))
        }
        ListKind::BlockedSeries => {
            check_gtin(&first)?;
            let series = second.ok_or("a blocked_series entry needs GTIN and series")?;
            if series.is_empty()
                || series.len() > MAX_SERIES_LEN
                || series.iter().any(|&b| !is_gs1_char(b))
            {
                return Err(format!(
                    "series {:?} must be 1–{MAX_SERIES_LEN} GS1 characters",
                    String::from_utf8_lossy(series)
                ));
            }
            let mut key = first.into_owned();
            key.extend_from_slice(series);
            Ok((Cow::Owned(key), 0, false))
        }
        ListKind::MinPrice => {
            check_gtin(&first)?;
            let price = match (op, second) {
                (EntryOp::Remove, None) => 0,
                (_, Some(p))
                    if !p.is_empty() && p.len() <= 12 && p.iter().all(u8::is_ascii_digit) =>
                {
                    std::str::from_utf8(p)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or("bad price")?
                }
                (_, Some(p)) => {
                    return Err(format!(
                        "price {:?} must be whole kopecks (digits only)",
                        String::from_utf8_lossy(p)
                    ));
                }
                (EntryOp::Add, None) => {
                    return Err("a min_price entry needs GTIN and price in kopecks".into());
                }
            };
            Ok((first, price, false))
        }
    }
}

/// Parses a piece of whole lines whose first line is `first_line` at byte `offset`,
/// sending entries to `sink`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn parse_lines(
    path: &Path,
    bytes: &[u8],
    first_line: u64,
    offset: u64,
    header: &ListHeader,
    options: &EntryOptions,
    sink: &mut dyn EntrySink,
) -> LineStats {
    let delta = matches!(header.list_type, ListType::Delta { .. });
    let mut stats = LineStats::default();
    let mut pos = 0;
    let mut line_no = first_line;
    while pos < bytes.len() {
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| pos + p);
        let line = bytes[pos..end]
            .strip_suffix(b"\r")
            .unwrap_or(&bytes[pos..end]);
        let line_offset = offset + pos as u64;
        pos = end + 1;
        let this_line = line_no;
        line_no += 1;
        match parse_line(line, header.kind, delta, options, this_line) {
            LineResult::Skip => {}
            LineResult::Entry {
                op,
                key,
                value,
                normalised,
            } => {
                stats.entry_lines += 1;
                stats.normalised += u64::from(normalised);
                sink.entry(op, &key, value);
            }
            LineResult::Reject(reason) => {
                stats.entry_lines += 1;
                stats.rejects.push(Reject {
                    file: path.to_path_buf(),
                    line: this_line,
                    byte_offset: line_offset,
                    reason,
                    text: String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned(),
                });
            }
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(r: LineResult<'_>) -> String {
        match r {
            LineResult::Entry { key, .. } => String::from_utf8(key.into_owned()).unwrap(),
            LineResult::Skip => "<skip>".into(),
            LineResult::Reject(why) => format!("<reject: {why}>"),
        }
    }

    #[test]
    fn delimited_and_json_lines() {
        let csv = EntryOptions {
            format: InputFormat::Delimited {
                delimiter: b',',
                key_column: 1,
                value_column: None,
                header_row: true,
            },
            full_codes: false,
        };
        let cis = ListKind::BlockedCis;
        assert_eq!(
            key(parse_line(b"id,cis,shop", cis, false, &csv, 1)),
            "<skip>"
        );
        assert_eq!(
            key(parse_line(
                b"7,\"0104600439931256215abcdEFGH1234\",12",
                cis,
                false,
                &csv,
                2
            )),
            "0104600439931256215abcdEFGH1234"
        );
        assert_eq!(
            key(parse_line(
                b"7,\"04647297654361!\"\"C5UGb\"",
                cis,
                false,
                &csv,
                3
            )),
            "04647297654361!\"C5UGb"
        );
        assert!(key(parse_line(b"7", cis, false, &csv, 4)).contains("column 2 is missing"));
        let json = EntryOptions {
            format: InputFormat::JsonLines {
                key_field: "cis".into(),
                value_field: None,
            },
            full_codes: false,
        };
        assert_eq!(
            key(parse_line(
                br#"{"cis":"0104600439931256215abcdEFGH1234","pg":1}"#,
                cis,
                false,
                &json,
                1
            )),
            "0104600439931256215abcdEFGH1234"
        );
        assert!(key(parse_line(br#"{"ki":"x"}"#, cis, false, &json, 1)).contains("no member"));
    }

    #[test]
    fn full_codes_are_cut_to_their_ki_when_asked() {
        let line = b"0104600439931256215abcdEFGH1234\x1d93dGVz";
        let plain = EntryOptions::default();
        assert!(
            key(parse_line(line, ListKind::BlockedCis, false, &plain, 1)).contains("--full-codes")
        );
        let full = EntryOptions {
            full_codes: true,
            ..Default::default()
        };
        match parse_line(line, ListKind::BlockedCis, false, &full, 1) {
            LineResult::Entry {
                key, normalised, ..
            } => {
                assert_eq!(&key[..], b"0104600439931256215abcdEFGH1234");
                assert!(normalised);
            }
            _ => panic!(),
        }
    }
}
