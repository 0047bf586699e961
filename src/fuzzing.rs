//! Entry points for the fuzz targets in `fuzz/` and their regression tests: internals
//! reached without making them part of the API. Not stable; not for use elsewhere.

pub use crate::index::format::{HEADER_LEN, container_bytes};
pub use crate::index::segment::fuzzing::{open_blocks, round_trip};
