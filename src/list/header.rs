//! The `#` header of a list file, or the same fields given from outside for a file that
//! has none.

use std::path::Path;

use super::schema::{HeaderFields, ListError, ListHeader, ListKind, ListType, MAGIC_LINE};

/// A header to fill in while the real one is read.
pub(super) fn placeholder() -> ListHeader {
    ListHeader {
        kind: ListKind::BlockedCis,
        list_type: ListType::Snapshot,
        version: String::new(),
        as_of_ms: 0,
        pg: None,
        result_digest: None,
    }
}

/// Parses header lines (number, bytes with their line end), or takes `given` for a
/// headerless file.
pub(super) fn parse(
    path: &Path,
    lines: &[(u64, Vec<u8>)],
    given: Option<&HeaderFields>,
) -> Result<ListHeader, ListError> {
    // Line 0 stands for a value given as an option instead of a header line.
    let err = |line: u64, reason: String| ListError::Header {
        path: path.to_path_buf(),
        line: line.max(1),
        reason: if line == 0 {
            format!("{reason} (given as an option)")
        } else {
            reason
        },
    };
    let mut fields: Vec<(String, String, u64)> = Vec::new();
    for (i, (line_no, raw)) in lines.iter().enumerate() {
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(text) = std::str::from_utf8(raw) else {
            return Err(err(*line_no, "header line is not UTF-8".into()));
        };
        if i == 0 {
            if text.trim_end() != MAGIC_LINE {
                let shown: String = text.chars().take(40).collect();
                return Err(err(
                    *line_no,
                    format!(
                        "not a cisgate list: expected {MAGIC_LINE:?} on the first line, found {shown:?} (for a headerless file give --kind, --version and --as-of)"
                    ),
                ));
            }
        } else if let Some((k, v)) = text[1..].split_once(':') {
            let key = k.trim().to_ascii_lowercase();
            if fields.iter().any(|(f, _, _)| *f == key) {
                return Err(err(*line_no, format!("header field {key:?} given twice")));
            }
            fields.push((key, v.trim().to_string(), *line_no));
        }
        // `#` lines without a colon are comments.
    }
    let last_line = lines.last().map_or(1, |(n, _)| *n);
    if let Some(given) = given {
        // Values from options: checked like header fields, named by their option.
        let mut add = |name: &str, value: &Option<String>| {
            if let Some(v) = value {
                fields.push((name.to_string(), v.clone(), 0));
            }
        };
        add("kind", &given.kind);
        add("version", &given.version);
        add("as_of", &given.as_of);
        add("pg", &given.pg.map(|p| p.to_string()));
        add("type", &given.parent.as_ref().map(|_| "delta".to_string()));
        add("parent", &given.parent);
    }
    let get = |name: &str| fields.iter().find(|(k, _, _)| k == name);
    let need = |name: &str| {
        get(name).ok_or_else(|| {
            if given.is_some() {
                err(
                    1,
                    format!(
                        "the file has no header and --{} was not given",
                        name.replace('_', "-")
                    ),
                )
            } else if lines.len() <= 1 {
                err(
                    last_line,
                    format!("the header has no fields; {name:?} is the first one missing"),
                )
            } else {
                err(last_line, format!("header field {name:?} is missing"))
            }
        })
    };
    let (_, kind_text, kind_line) = need("kind")?;
    let kind = ListKind::from_name(kind_text).ok_or_else(|| {
        err(
            *kind_line,
            format!(
                "unknown list kind {kind_text:?}; expected blocked_cis, blocked_gtin, blocked_series or min_price"
            ),
        )
    })?;
    let (_, version, version_line) = need("version")?;
    if version.is_empty() || version.len() > 128 || version.chars().any(char::is_whitespace) {
        return Err(err(
            *version_line,
            format!("version {version:?} must be 1–128 characters without spaces"),
        ));
    }
    let (_, as_of_text, as_of_line) = need("as_of")?;
    let as_of_ms = crate::time::parse_timestamp(as_of_text).ok_or_else(|| {
        err(
            *as_of_line,
            format!(
                "as_of {as_of_text:?} is neither RFC 3339 (2026-11-23T10:00:00Z) nor Unix milliseconds"
            ),
        )
    })?;
    let list_type = match get("type").map(|(_, v, l)| (v.as_str(), *l)) {
        None | Some(("snapshot", _)) => ListType::Snapshot,
        Some(("delta", l)) => {
            let (_, parent, _) = need("parent")
                .map_err(|_| err(l, "a delta needs a \"parent\" header field".into()))?;
            ListType::Delta {
                parent: parent.clone(),
            }
        }
        Some((other, l)) => {
            return Err(err(l, format!("type {other:?} must be snapshot or delta")));
        }
    };
    let pg = match get("pg") {
        None => None,
        Some((_, v, l)) => Some(
            v.parse::<u32>()
                .map_err(|_| err(*l, format!("pg {v:?} is not a product-group number")))?,
        ),
    };
    let result_digest = match get("result_digest") {
        None => None,
        Some((_, v, l)) => {
            if v.len() != 32 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err(
                    *l,
                    format!("result_digest {v:?} must be 32 hex digits"),
                ));
            }
            Some(v.to_ascii_lowercase())
        }
    };
    if let Some((k, _, l)) = fields.iter().find(|(k, _, _)| {
        !matches!(
            k.as_str(),
            "kind" | "type" | "version" | "parent" | "as_of" | "pg" | "result_digest"
        )
    }) {
        return Err(err(*l, format!("unknown header field {k:?}")));
    }
    Ok(ListHeader {
        kind,
        list_type,
        version: version.clone(),
        as_of_ms,
        pg,
        result_digest,
    })
}
