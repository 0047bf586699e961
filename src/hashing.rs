//! The key hash every table, filter and the sold journal share, and the prefetch hint of
//! the lookup paths. A leaf: the index, the journal and the check path sit above it, so
//! that a КИ is hashed once and that hash is good for every one of them.

/// The hash of a key (a КИ, a GTIN, a series): xxh3-64. Filters, the КИ block slot table,
/// the GTIN tables and the sold journal all use this one value.
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// Hints the CPU to fetch the cache line holding `bytes[at]` (nothing if out of range).
#[inline]
pub(crate) fn prefetch(bytes: &[u8], at: usize) {
    if at >= bytes.len() {
        return;
    }
    // The second `unsafe` block of the core: the prefetch intrinsic takes a raw pointer.
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: `at` is inside `bytes`; a prefetch reads nothing and changes nothing.
    unsafe {
        std::arch::x86_64::_mm_prefetch(
            bytes.as_ptr().add(at) as *const i8,
            std::arch::x86_64::_MM_HINT_T0,
        );
    }
}
