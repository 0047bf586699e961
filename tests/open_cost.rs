//! An open without checksums does a bounded amount of work, whatever the index's size:
//! counted, not timed, in the bytes the opening thread allocates (a global allocator that
//! counts). Sampling keys through the filter by decoding and sorting the whole КИ block
//! segment, as the first guard against a zeroed filter did, allocated in proportion to
//! the index (131 MB for 10 M keys).
#![cfg(feature = "synth")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use cisgate::index::OpenOptions;

/// Counts the bytes allocated by the thread that asks.
struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = BYTES.try_with(|n| n.set(n.get() + bytes as u64));
        }
    });
}

// SAFETY: every call is passed on to the system allocator unchanged; the counting touches
// only thread-locals of plain `Cell`s, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Bytes an unverified open of the index at `dir` allocates.
fn bytes_allocated_by_an_unverified_open(dir: &std::path::Path) -> u64 {
    BYTES.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    let index = OpenOptions::new()
        .verify_checksums(false)
        .open(dir)
        .unwrap();
    COUNTING.with(|on| on.set(false));
    drop(index);
    BYTES.with(Cell::get)
}

#[test]
fn an_unverified_open_does_as_much_work_for_a_large_index_as_for_a_small_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut sizes = Vec::new();
    for codes in [20_000u64, 1_000_000] {
        let config = cisgate::synth::GenConfig {
            codes,
            gtins: (codes / 100) as u32,
            ..common::small_config()
        };
        let idx = common::synthetic_index(&dir.path().join(codes.to_string()), &config);
        sizes.push((codes, bytes_allocated_by_an_unverified_open(&idx)));
    }
    println!("(codes, bytes allocated by an unverified open): {sizes:?}");
    let (small, large) = (sizes[0].1, sizes[1].1);
    // Fifty times the keys, about the same work: the manifest, the file headers, the
    // filter sample's few keys.
    assert!(
        large <= small * 2 + 16 * 1024,
        "an unverified open allocated {large} bytes for 1 M keys, {small} for 20,000"
    );
}
