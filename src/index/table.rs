//! The names every part of the index shares: its tables, how a data file is laid out, and
//! the tombstone value. A leaf: it imports nothing else of the index.

use serde::{Deserialize, Serialize};

use crate::list::ListKind;

/// The tables of an index: the four lists, and the local sold state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// Banned КИ.
    BlockedCis,
    /// Banned and grey GTINs (value: flags).
    BlockedGtin,
    /// Banned medicine series (key: GTIN + series).
    BlockedSeries,
    /// Minimum price per GTIN (value: kopecks).
    MinPrice,
    /// КИ sold here and not returned (value: sale time, Unix ms); local state, not a list.
    Sold,
}

impl Table {
    /// How many tables there are: the length of per-table arrays.
    pub const COUNT: usize = 5;

    /// Every table, in slot order.
    pub const ALL: [Table; Table::COUNT] = [
        Table::BlockedCis,
        Table::BlockedGtin,
        Table::BlockedSeries,
        Table::MinPrice,
        Table::Sold,
    ];

    /// Position in per-table arrays (never written anywhere; see [`Table::code`]).
    pub fn slot(self) -> usize {
        match self {
            Table::BlockedCis => 0,
            Table::BlockedGtin => 1,
            Table::BlockedSeries => 2,
            Table::MinPrice => 3,
            Table::Sold => 4,
        }
    }

    /// The code written in data-file headers. Explicit, so that adding a table never
    /// changes the code of an existing file.
    pub fn code(self) -> u32 {
        match self {
            Table::BlockedCis => 1,
            Table::BlockedGtin => 2,
            Table::BlockedSeries => 3,
            Table::MinPrice => 4,
            Table::Sold => 5,
        }
    }

    /// The table with this code.
    pub fn from_code(code: u32) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The list kind whose entries the table holds, `None` for `Sold`.
    pub fn list_kind(self) -> Option<ListKind> {
        match self {
            Table::BlockedCis => Some(ListKind::BlockedCis),
            Table::BlockedGtin => Some(ListKind::BlockedGtin),
            Table::BlockedSeries => Some(ListKind::BlockedSeries),
            Table::MinPrice => Some(ListKind::MinPrice),
            Table::Sold => None,
        }
    }

    /// Stable name used in file names and messages.
    pub fn name(self) -> &'static str {
        self.list_kind().map_or("sold", ListKind::name)
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl From<ListKind> for Table {
    fn from(kind: ListKind) -> Table {
        match kind {
            ListKind::BlockedCis => Table::BlockedCis,
            ListKind::BlockedGtin => Table::BlockedGtin,
            ListKind::BlockedSeries => Table::BlockedSeries,
            ListKind::MinPrice => Table::MinPrice,
        }
    }
}

/// The value that marks a key as removed in a delta layer. No list value comes near it:
/// prices have at most 12 digits, flags two bits, sale times fit in 63 bits.
pub const TOMBSTONE: u64 = u64::MAX;

/// How a data file's payload is laid out. The number is written in the file's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// An FST map from key to value.
    Fst,
    /// КИ blocks (a set).
    KiBlocks,
    /// A split-block Bloom filter in front of a table's data file.
    Filter,
}

impl Layout {
    /// Every layout (a new one is added here, and gives its files an extension).
    pub const ALL: [Layout; 3] = [Layout::Fst, Layout::KiBlocks, Layout::Filter];

    /// The code written in file headers.
    pub fn code(self) -> u32 {
        match self {
            Layout::Fst => 1,
            Layout::KiBlocks => 2,
            Layout::Filter => 3,
        }
    }

    /// The layout with this code.
    pub fn from_code(code: u32) -> Option<Layout> {
        Layout::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The layout a base segment writes `table` in, the one place the choice is made:
    /// `blocked_cis` in `cis_layout` (КИ blocks; an FST for comparisons), every other
    /// table (smaller, with values) in an FST. Delta layers are always FSTs (they carry
    /// tombstones).
    pub fn for_base(table: Table, cis_layout: Layout) -> Layout {
        match table {
            Table::BlockedCis => cis_layout,
            _ => Layout::Fst,
        }
    }

    /// File name extension of its data files.
    pub fn extension(self) -> &'static str {
        match self {
            Layout::Fst => "fst",
            Layout::KiBlocks => "blocks",
            Layout::Filter => "filter",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slots, codes and list kinds are explicit and one-to-one.
    #[test]
    fn tables_map_one_to_one() {
        for (i, t) in Table::ALL.into_iter().enumerate() {
            assert_eq!(t.slot(), i);
            assert_eq!(Table::from_code(t.code()), Some(t));
            if let Some(kind) = t.list_kind() {
                assert_eq!(Table::from(kind), t);
            }
        }
        for kind in ListKind::ALL {
            assert_eq!(Table::from(kind).list_kind(), Some(kind));
        }
        for l in Layout::ALL {
            assert_eq!(Layout::from_code(l.code()), Some(l));
        }
    }
}
