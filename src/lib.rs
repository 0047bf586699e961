//! cisgate: offline checks of Russian product-marking codes (Честный ЗНАК).
#![deny(missing_docs)]

pub mod code;
pub mod list;
pub mod time;
