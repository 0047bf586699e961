//! The one check path every front door uses: inputs → readings → batched lookups in every
//! table → one [`Decision`] per input.
//!
//! Inputs are taken a step at a time (up to [`STEP`] readings). Each is read by the fast
//! [`code::scan`] or, when that declines, the full [`code::parse`]; readings go into the
//! step's scratch, which lives on the stack. Then, table by table, the whole step is looked
//! up at once: the КИ and GTIN of every reading are hashed once, the banned-КИ table and
//! the GTIN tables take the step through [`TableStack::get_chunk`] (filters probed and
//! segments walked with their memory fetches overlapped), the rare batch codes probe the
//! series table, and the sold state comes from the journal snapshot the caller holds and
//! the folded sold table, with the hash already computed. Nothing on this path allocates
//! for the forms scanners send; an invalid input allocates its error message.

use super::decision::{Decision, Outcome, Reasons};
use super::reason::{CheckOptions, Reason};
use crate::code::{self, ParseError, Reading, Repairs};
use crate::hashing::{key_hash, prefetch};
use crate::index::{BATCH_CHUNK, Index, Table, TableStack};
use crate::journal::{Journal, sold_at};
use crate::list::gtin_flags;

/// Readings per step; the scratch of a step lives on the stack (about 16 KiB).
const STEP: usize = 128;
const _: () = assert!(STEP <= BATCH_CHUNK && STEP <= u8::MAX as usize + 1);

/// The step of a short batch (one code a call, as `LiveIndex::check`): making a 16 KiB
/// scratch ready costs more than checking one code, so a batch this short gets a scratch
/// this size. An input with more readings than it holds is checked with a full step.
const SHORT_STEP: usize = 4;

/// How many inputs ahead the reading prefetches.
const INPUT_PREFETCH: usize = 8;

/// Fetches the cache lines of an input (a code spans two or three).
#[inline]
fn prefetch_input(input: &[u8]) {
    for at in [0, 64, input.len().saturating_sub(1)] {
        prefetch(input, at);
    }
}

/// Where the sold state comes from.
pub(crate) enum SoldSource<'a> {
    /// Not consulted: a plain [`Index`] check.
    Ignored,
    /// A journal snapshot and the index's folded sold table; sales before `oldest`
    /// (Unix ms) have expired.
    Journal {
        /// The journal, read-locked by the caller for the whole batch.
        journal: &'a Journal,
        /// Sales before this time no longer count.
        oldest: i64,
    },
}

/// The scratch of one step of `N` readings.
struct Step<const N: usize> {
    readings: [Reading; N],
    ki_hash: [u64; N],
    gtin_hash: [u64; N],
    reasons: [Reasons; N],
    min_price: [Option<u64>; N],
    found: [Option<u64>; N],
    n_readings: usize,
    /// Per input of the step: its first reading and how many it has (0: invalid).
    spans: [(u8, u8); N],
    repairs: [Repairs; N],
    n_inputs: usize,
    /// Parser errors by input position in the step; empty unless an input was invalid.
    errors: Vec<(usize, ParseError)>,
}

/// How the full parser read an input the fast reading declined.
enum Read {
    /// Its readings (heap: the rare forms only the full parser reads).
    Parsed(Vec<Reading>, Repairs),
    /// Not a code.
    Invalid(ParseError),
}

fn read_fully(input: &[u8]) -> Read {
    let text = String::from_utf8_lossy(input);
    let parsed = match code::parse(&text) {
        Ok(parsed) => parsed,
        Err(e) => return Read::Invalid(e),
    };
    // Every structure's КИ and batch fit a reading, and an input reads at most five
    // ways; anything else is refused rather than checked in part.
    let readings: Option<Vec<Reading>> = parsed.candidates.iter().map(Reading::of_code).collect();
    match readings {
        Some(readings) if readings.len() <= STEP => {
            Read::Parsed(readings, Repairs::of(&parsed.repairs))
        }
        _ => Read::Invalid(ParseError::NotACode {
            len: text.len(),
            start: text.chars().take(16).collect(),
            context: code::RepairContext(parsed.repairs),
        }),
    }
}

impl Read {
    fn readings(&self) -> usize {
        match self {
            Read::Parsed(readings, _) => readings.len(),
            Read::Invalid(_) => 0,
        }
    }
}

impl<const N: usize> Step<N> {
    fn new() -> Step<N> {
        Step {
            readings: [Reading::default(); N],
            ki_hash: [0; N],
            gtin_hash: [0; N],
            reasons: [Reasons::NONE; N],
            min_price: [None; N],
            found: [None; N],
            n_readings: 0,
            spans: [(0, 0); N],
            repairs: [Repairs::default(); N],
            n_inputs: 0,
            errors: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.n_readings = 0;
        self.n_inputs = 0;
        self.errors.clear();
    }

    fn is_full(&self) -> bool {
        self.n_inputs == N || self.n_readings == N
    }

    fn fits(&self, read: &Read) -> bool {
        self.n_inputs < N && self.n_readings + read.readings() <= N
    }

    /// Closes the input whose readings are `start..self.n_readings`.
    fn end_input(&mut self, start: usize, repairs: Repairs) {
        self.spans[self.n_inputs] = (start as u8, (self.n_readings - start) as u8);
        self.repairs[self.n_inputs] = repairs;
        self.n_inputs += 1;
    }

    /// Adds an input the full parser read.
    fn add(&mut self, read: Read) {
        let start = self.n_readings;
        let repairs = match read {
            Read::Parsed(readings, repairs) => {
                for reading in readings {
                    self.readings[self.n_readings] = reading;
                    self.n_readings += 1;
                }
                repairs
            }
            Read::Invalid(error) => {
                self.errors.push((self.n_inputs, error));
                Repairs::default()
            }
        };
        self.end_input(start, repairs);
    }
}

impl Index {
    /// Decides every input in order, handing each [`Outcome`] to `each(i, outcome)`, on
    /// the calling thread.
    pub(crate) fn decide_each<S: AsRef<[u8]>>(
        &self,
        inputs: &[S],
        options: &CheckOptions,
        sold: &SoldSource<'_>,
        mut each: impl FnMut(usize, &Outcome<'_>),
    ) {
        if inputs.len() <= SHORT_STEP {
            self.decide_steps::<SHORT_STEP, S>(inputs, 0, options, sold, &mut each);
        } else {
            self.decide_steps::<STEP, S>(inputs, 0, options, sold, &mut each);
        }
    }

    /// [`decide_each`](Self::decide_each) a step of `N` readings at a time; `base` is the
    /// position of `inputs[0]` in the caller's batch.
    fn decide_steps<const N: usize, S: AsRef<[u8]>>(
        &self,
        inputs: &[S],
        base: usize,
        options: &CheckOptions,
        sold: &SoldSource<'_>,
        each: &mut impl FnMut(usize, &Outcome<'_>),
    ) {
        let mut step = Step::<N>::new();
        let mut first = 0;
        let cis = self.stack(Table::BlockedCis);
        // Inputs are the caller's strings, each somewhere on the heap: fetching a few
        // ahead overlaps their cache misses with the reading of the current one.
        for input in inputs.iter().take(INPUT_PREFETCH) {
            prefetch_input(input.as_ref());
        }
        for (i, input) in inputs.iter().enumerate() {
            if let Some(ahead) = inputs.get(i + INPUT_PREFETCH) {
                prefetch_input(ahead.as_ref());
            }
            if step.is_full() {
                self.finish_step(
                    &mut step,
                    &inputs[first..i],
                    base + first,
                    options,
                    sold,
                    each,
                );
                first = i;
            }
            let mut from = step.n_readings;
            // The fast reading writes straight into the step's next slot.
            if let Some(repairs) = code::scan_into(input.as_ref(), &mut step.readings[from]) {
                step.n_readings += 1;
                step.end_input(from, repairs);
            } else {
                let read = read_fully(input.as_ref());
                if !step.fits(&read) {
                    self.finish_step(
                        &mut step,
                        &inputs[first..i],
                        base + first,
                        options,
                        sold,
                        each,
                    );
                    first = i;
                    if !step.fits(&read) {
                        // More readings than a short step holds: this input alone, in a
                        // full step (read again: reading is cheap next to this rare case).
                        self.decide_steps::<STEP, S>(&inputs[i..=i], base + i, options, sold, each);
                        first = i + 1;
                        continue;
                    }
                }
                from = step.n_readings;
                step.add(read);
            }
            // Hash now and fetch the КИ filter blocks: by the time the step is looked up,
            // a step's worth of reading later, they are in cache.
            for r in from..step.n_readings {
                let reading = &step.readings[r];
                step.ki_hash[r] = key_hash(reading.ki());
                step.gtin_hash[r] = key_hash(reading.gtin());
                cis.prefetch(step.ki_hash[r]);
            }
        }
        self.finish_step(
            &mut step,
            &inputs[first..],
            base + first,
            options,
            sold,
            each,
        );
    }

    /// Looks up the step's readings, hands its inputs (`inputs`, the first at `first` in
    /// the caller's batch) to `each` and empties it; an empty step is left as it is.
    fn finish_step<const N: usize, S: AsRef<[u8]>>(
        &self,
        step: &mut Step<N>,
        inputs: &[S],
        first: usize,
        options: &CheckOptions,
        sold: &SoldSource<'_>,
        each: &mut impl FnMut(usize, &Outcome<'_>),
    ) {
        if step.n_inputs == 0 {
            return;
        }
        self.look_up(step, options, sold);
        emit(step, inputs, first, each);
        step.clear();
    }

    /// Every table's lookups for the readings of one step, into `step.reasons` and
    /// `step.min_price`.
    fn look_up<const N: usize>(
        &self,
        step: &mut Step<N>,
        options: &CheckOptions,
        sold: &SoldSource<'_>,
    ) {
        let n = step.n_readings;
        let readings = &step.readings[..n];
        let reasons = &mut step.reasons[..n];
        let found = &mut step.found[..n];
        let ki_hash = &step.ki_hash[..n];
        let gtin_hash = &step.gtin_hash[..n];
        let min_price = &mut step.min_price[..n];
        let mut keys: [&[u8]; N] = [&[]; N];
        for (k, r) in keys.iter_mut().zip(readings) {
            *k = r.ki();
        }
        self.stack(Table::BlockedCis)
            .get_chunk(&keys[..n], ki_hash, found);
        for (reason, f) in reasons.iter_mut().zip(found.iter()) {
            *reason = Reasons::NONE;
            reason.insert_if(Reason::Cis, f.is_some());
        }

        // Sold before the GTIN tables: `keys` still holds the КИ.
        match sold {
            SoldSource::Ignored => {}
            SoldSource::Journal { journal, oldest } => {
                let folded = self.stack(Table::Sold);
                let (no_journal, no_folded) = (journal.is_empty(), folded.is_empty());
                if !(no_journal && no_folded) {
                    for ((reason, key), &hash) in
                        reasons.iter_mut().zip(&keys[..n]).zip(ki_hash.iter())
                    {
                        let state = if no_journal {
                            None
                        } else {
                            journal.state_hashed(key, hash)
                        };
                        let folded = || {
                            (!no_folded)
                                .then(|| folded.get_hashed(key, hash).map(|t| t as i64))
                                .flatten()
                        };
                        let sold = sold_at(state, folded, *oldest).is_some();
                        reason.insert_if(Reason::Sold, sold);
                    }
                }
            }
        }

        for (k, r) in keys.iter_mut().zip(readings) {
            *k = r.gtin();
        }
        let gtins = &keys[..n];
        let blocked_gtin = self.stack(Table::BlockedGtin);
        if !blocked_gtin.is_empty() {
            blocked_gtin.get_chunk(gtins, gtin_hash, found);
            for (reason, f) in reasons.iter_mut().zip(found.iter()) {
                let flags = f.unwrap_or(0);
                reason.insert_if(Reason::Gtin, flags & gtin_flags::BLOCKED != 0);
                reason.insert_if(Reason::GreyGtin, flags & gtin_flags::GREY != 0);
            }
        }
        min_price.fill(None);
        let min_prices = self.stack(Table::MinPrice);
        if !min_prices.is_empty() {
            min_prices.get_chunk(gtins, gtin_hash, min_price);
        }
        let series = self.stack(Table::BlockedSeries);
        if !series.is_empty() {
            look_up_series(series, readings, reasons);
        }
        if let Some(price) = options.price_kopecks {
            for ((reason, min), r) in reasons.iter_mut().zip(min_price.iter()).zip(readings) {
                reason.insert_if(Reason::BelowMinPrice, min.is_some_and(|m| price < m));
                let mrp = r.mrp_kopecks();
                reason.insert_if(
                    Reason::AboveMaxPrice,
                    mrp.is_some_and(|m| price > u64::from(m)),
                );
            }
        }
    }
}

/// The series table is keyed by GTIN + batch; only medicine codes carry a batch.
fn look_up_series(series: &TableStack, readings: &[Reading], reasons: &mut [Reasons]) {
    let mut key = [0u8; 14 + code::MAX_BATCH_LEN];
    for (reading, reason) in readings.iter().zip(reasons.iter_mut()) {
        let Some(batch) = reading.batch() else {
            continue;
        };
        key[..14].copy_from_slice(reading.gtin());
        key[14..14 + batch.len()].copy_from_slice(batch);
        let key = &key[..14 + batch.len()];
        reason.insert_if(
            Reason::Series,
            series.get_hashed(key, key_hash(key)).is_some(),
        );
    }
}

/// Hands each input of a looked-up step to `each`.
fn emit<const N: usize, S: AsRef<[u8]>>(
    step: &Step<N>,
    inputs: &[S],
    first: usize,
    each: &mut impl FnMut(usize, &Outcome<'_>),
) {
    let mut errors = step.errors.iter().peekable();
    for (i, input) in inputs.iter().enumerate().take(step.n_inputs) {
        let (start, count) = step.spans[i];
        let span = usize::from(start)..usize::from(start) + usize::from(count);
        let readings = &step.readings[span.clone()];
        let reasons = &step.reasons[span.clone()];
        let decision =
            Decision::of_readings(readings, reasons, &step.min_price[span], step.repairs[i]);
        let error = errors.next_if(|(at, _)| *at == i).map(|(_, e)| e);
        each(
            first + i,
            &Outcome {
                input: input.as_ref(),
                decision: &decision,
                error,
                readings,
                reasons,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{BuildOptions, build};
    use crate::progress::NoProgress;

    /// Decisions and the readings' КИ of every input, a step of `N` at a time.
    fn decide<const N: usize>(index: &Index, inputs: &[&str]) -> Vec<(usize, Decision, usize)> {
        let mut seen = Vec::new();
        index.decide_steps::<N, _>(
            inputs,
            0,
            &CheckOptions::default(),
            &SoldSource::Ignored,
            &mut |i, outcome| seen.push((i, *outcome.decision, outcome.readings.len())),
        );
        seen
    }

    #[test]
    fn every_step_size_decides_alike_and_an_input_wider_than_a_step_gets_a_full_one() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("cis.list");
        std::fs::write(
            &list,
            "#cisgate-list 1\n#kind: blocked_cis\n#version: 7\n#as_of: 2026-11-23T10:00:00Z\n\
             0104600439931256215abcdEFGH1234\n0104600439931256215abcdEF\n",
        )
        .unwrap();
        let out = dir.path().join("idx");
        build(&out, &[list], &BuildOptions::default(), &NoProgress).unwrap();
        let index = Index::open(&out).unwrap();
        // Read two ways (a serial of 13, or one of 8 then AI 93): wider than a step of one.
        let inputs = [
            "0104600439931256215abcdEFGH1234",
            "0104600439931256215abcdEF93GH12",
            "not a code",
            "0104600439931256215abcdEF93GH12",
            "0104655555555558215abcdEFGH12345678901",
        ];
        let full = decide::<STEP>(&index, &inputs);
        assert_eq!(full.len(), inputs.len());
        assert!(full[1].2 > 1, "the second input reads more than one way");
        assert!(full[0].1.is_blocked() && full[1].1.is_blocked());
        assert_eq!(decide::<1>(&index, &inputs), full);
        assert_eq!(decide::<2>(&index, &inputs), full);
        assert_eq!(decide::<SHORT_STEP>(&index, &inputs), full);
    }
}
