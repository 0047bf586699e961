//! Spreading a batch of checks over the cores: the one way every front door does it (the
//! library's batch calls, `cisgate check`, `serve`'s native endpoint, the C ABI).
//!
//! A batch is cut into tasks of [`TASK`] inputs, each checked on a rayon worker into its
//! own result; results come back in input order. A batch shorter than [`PARALLEL_MIN`] is
//! checked on the calling thread: handing a few codes to the pool costs more than checking
//! them; so is any batch when the pool has one thread.

use rayon::prelude::*;

/// Inputs per task: a task takes about 0.2 ms (1024 checks at ~200 ns), far above the few
/// microseconds of handing it to another core, and a 4096-code request still splits into
/// four tasks that two cores share evenly.
pub(crate) const TASK: usize = 1024;

/// Batches shorter than this are checked on the calling thread.
pub(crate) const PARALLEL_MIN: usize = 256;

/// Whether a batch of `len` inputs is checked on the calling thread: a short one, or any
/// when the pool has a single thread (handing the batch to it and waiting only adds the
/// hand-over: 5–15 % of a 1000-code batch from C with `RAYON_NUM_THREADS=1`).
fn on_caller(len: usize) -> bool {
    len < PARALLEL_MIN || rayon::current_num_threads() == 1
}

/// Runs `task` over `inputs` cut into tasks, in parallel; the results in input order.
pub(crate) fn spread<S: Sync, A: Send>(inputs: &[S], task: impl Fn(&[S]) -> A + Sync) -> Vec<A> {
    if on_caller(inputs.len()) {
        return vec![task(inputs)];
    }
    inputs.par_chunks(TASK).map(&task).collect()
}

/// Runs `task` over `inputs` and the matching slots of `out` (as long as `inputs`) cut
/// into tasks, in parallel: answers written in place.
pub(crate) fn spread_into<S: Sync, T: Send>(
    inputs: &[S],
    out: &mut [T],
    task: impl Fn(&[S], &mut [T]) + Sync,
) {
    if on_caller(inputs.len()) {
        return task(inputs, out);
    }
    inputs
        .par_chunks(TASK)
        .zip(out.par_chunks_mut(TASK))
        .for_each(|(inputs, out)| task(inputs, out));
}

/// `len` copies of `value`, written across the cores for a long batch: the answers' vector
/// of a long batch made ready on the calling thread alone (1.5 MB of decisions for 16,384
/// inputs) kept the pool idle meanwhile.
pub(crate) fn filled<T: Clone + Send + Sync>(len: usize, value: T) -> Vec<T> {
    if on_caller(len) {
        return vec![value; len];
    }
    let mut out = Vec::with_capacity(len);
    out.par_extend(rayon::iter::repeat_n(value, len));
    out
}
