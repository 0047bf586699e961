//! A segment's files: their names (written here or pulled), which names garbage collection
//! may remove, and the filter written beside a table's data.

use std::io::Write;
use std::path::Path;

use crate::index::error::IndexError;
use crate::index::filter;
use crate::index::format::{self, FileMeta, Role};
use crate::index::table::{Layout, Table};

/// File name of a data file a segment writes: its id, table and role, and its layout's
/// extension.
pub(crate) fn file_name(segment_id: u64, role: Role, layout: Layout) -> String {
    format!(
        "seg-{segment_id:06}-{}.{}",
        role.table.name(),
        layout.extension()
    )
}

/// File name of a data file pulled from a store: content-addressed, with its layout's
/// extension.
#[cfg_attr(not(feature = "distribute"), allow(dead_code))]
pub(crate) fn object_file_name(sha256: &str, layout: Layout) -> String {
    format!("obj-{sha256}.{}", layout.extension())
}

/// Whether `name` is a data file of some layout (written here or pulled), or the
/// temporary file of one: what garbage collection may remove once no generation names it.
pub(crate) fn is_data_file(name: &str) -> bool {
    let name = name.strip_suffix(".tmp").unwrap_or(name);
    (name.starts_with("seg-") || name.starts_with("obj-"))
        && Layout::ALL.iter().any(|l| {
            name.rsplit_once('.')
                .is_some_and(|(_, ext)| ext == l.extension())
        })
}

/// Writes the filter in front of a table's data file in a segment.
pub(crate) fn write_filter(
    dir: &Path,
    segment_id: u64,
    table: Table,
    payload: &[u8],
    entries: u64,
) -> Result<FileMeta, IndexError> {
    let role = Role::filter(table);
    let name = file_name(segment_id, role, Layout::Filter);
    format::write_data_file(dir, &name, role, Layout::Filter, |w: &mut dyn Write| {
        w.write_all(payload)
            .map_err(IndexError::io(dir.join(&name)))?;
        Ok(entries)
    })
}

/// Builds the filter of `hashes` and checks it passes every one (a filter that missed a
/// key would turn a banned code into an allowed one), before it is written.
pub(crate) fn checked_filter(name: &str, hashes: &[u64]) -> Result<Vec<u8>, IndexError> {
    let payload = filter::build(hashes);
    if !filter::covers(&payload, hashes) {
        return Err(IndexError::WriteCheck {
            name: name.to_string(),
            what: "has a filter that misses keys",
        });
    }
    Ok(payload)
}
