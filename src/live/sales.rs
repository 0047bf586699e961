//! The sold state of a [`LiveIndex`]: what is sold here, and every write to the sold
//! journal (a sale, a return, a batch of them, through the store's sold authority when
//! one is configured), one durable write at a time.

use super::*;

impl LiveIndex {
    /// Sales before this time (Unix ms) have expired.
    fn oldest_kept_sale(&self) -> i64 {
        crate::time::now_ms() - self.options.sold_retention_ms
    }

    /// Whether `ki` (canonical) is sold here and not returned.
    pub fn is_sold(&self, ki: &[u8]) -> bool {
        let generation = self.current.load();
        let journal = read_lock(&generation.journal.state);
        let oldest = self.oldest_kept_sale();
        generation.sold_at(&journal, ki, oldest).is_some()
    }

    /// Every КИ sold here and not returned (within the retention period), sorted.
    pub fn sold_kis(&self) -> Vec<String> {
        self.sold_entries()
            .into_iter()
            .map(|(ki, _)| String::from_utf8_lossy(&ki).into_owned())
            .collect()
    }

    /// The current generation's journal and how far its complete records reach (records
    /// other processes appended read first): a position at a record boundary, for a feed
    /// that hands the journal out from a position.
    #[cfg_attr(not(feature = "serve"), allow(dead_code))]
    pub(crate) fn journal_position(&self) -> Result<(String, u64), LiveError> {
        let generation = self.current.load_full();
        let mut journal = write_lock(&generation.journal.state);
        journal.catch_up()?;
        Ok((generation.index.manifest().journal.clone(), journal.len()))
    }

    /// Every КИ sold here and not returned (within the retention period) with its sale
    /// time, sorted.
    pub(crate) fn sold_entries(&self) -> Vec<(Vec<u8>, i64)> {
        let generation = self.current.load_full();
        let journal = read_lock(&generation.journal.state);
        let oldest = self.oldest_kept_sale();
        let mut folded = Vec::new();
        generation
            .index
            .for_each_entry(Table::Sold, |ki, t| folded.push((ki.to_vec(), t)));
        let mut journaled: Vec<(&[u8], SoldState)> = journal.entries().collect();
        journaled.sort_unstable_by(|a, b| a.0.cmp(b.0));
        journal::fold_sold(&folded, &journaled, oldest)
            .into_iter()
            .map(|(ki, t)| (ki, t as i64))
            .collect()
    }

    /// Registers a sale. The record is on disk before this returns. Returns the КИ.
    pub fn sell(&self, input: &str) -> Result<String, LiveError> {
        self.register(input, SaleOp::Sell).map(|r| r.ki)
    }

    /// Registers a return of a sold КИ. Returns the КИ.
    pub fn return_sale(&self, input: &str) -> Result<String, LiveError> {
        self.register(input, SaleOp::Return).map(|r| r.ki)
    }

    /// Registers a sale or return and says how it was made. Without a sold authority it
    /// is this index's own ([`SaleMode::Local`]). With one, the authority takes it first
    /// and it is durable there before this returns ([`SaleMode::Shared`]; this node's
    /// replica records it too); when the authority cannot be reached within its timeout,
    /// it is made here and queued for the authority ([`SaleMode::Offline`]). A code the
    /// authority has sold (or not) at another till is refused as the store's own sold list
    /// refuses it.
    pub fn register(&self, input: &str, op: SaleOp) -> Result<Registered, LiveError> {
        let Some(authority) = self.authority() else {
            let mut kis = self.journal_batch(&[input], op, None)?;
            return Ok(Registered {
                ki: kis.pop().unwrap_or_default(),
                mode: SaleMode::Local,
            });
        };
        let ki = canonical_ki(input)?;
        self.check_fresh()?;
        let time = crate::time::now_ms();
        let request = RegisterRequest {
            op: op.into(),
            items: vec![SaleItem {
                ki: ki.clone(),
                time,
            }],
            queued: false,
        };
        let answered: Result<RegisterResponse, _> =
            authority
                .client
                .json("POST", REGISTER_PATH, Some(&request), authority.timeout);
        match answered {
            Ok(response) => {
                let result = response.results.into_iter().next();
                match result.map(|r| (r.outcome, r.reason)) {
                    Some((ItemOutcome::Applied | ItemOutcome::Already, _)) => {
                        // The replica records it now (the feed brings it too).
                        self.record_locally(&ki, op, time, false)?;
                        Ok(Registered {
                            ki,
                            mode: SaleMode::Shared,
                        })
                    }
                    _ if op == SaleOp::Sell => Err(LiveError::AlreadySold { ki }),
                    _ => Err(LiveError::NotSold { ki }),
                }
            }
            // Refused for a reason of the authority's own (stale data, bad token): not a
            // network failure, so not queued.
            Err(ClientError::Status { status, body, .. }) if status < 500 => Err(
                LiveError::Authority(format!("the store refused: HTTP {status}: {body}")),
            ),
            Err(_) => {
                // Queued first (durable): a crash before the journal write still forwards
                // it; a refusal here takes it out again.
                let queued = Queued {
                    op: op.into(),
                    ki: ki.clone(),
                    time,
                };
                authority.queue.push(&queued)?;
                match self.record_locally(&ki, op, time, true) {
                    Ok(()) => Ok(Registered {
                        ki,
                        mode: SaleMode::Offline,
                    }),
                    Err(e) => {
                        authority.queue.remove(&[queued])?;
                        Err(e)
                    }
                }
            }
        }
    }

    /// Writes a sale or return made through (or for) the authority into this node's
    /// journal at `time`. `decide`: refuse as a sale here would (already sold, not sold);
    /// otherwise only skip what the journal already says.
    fn record_locally(
        &self,
        ki: &str,
        op: SaleOp,
        time: i64,
        decide: bool,
    ) -> Result<(), LiveError> {
        self.write_journal(None, false, |view| {
            let state = match op {
                SaleOp::Sell => SoldState::Sold(time),
                SaleOp::Return => SoldState::Returned(time),
            };
            if view.journaled(ki.as_bytes()) == Some(state) {
                return Ok((Vec::new(), ()));
            }
            if decide {
                may_register(op, ki, view)?;
            }
            Ok((vec![(time, vec![(op, ki.as_bytes().to_vec())])], ()))
        })
    }

    /// Registers sales (`SaleOp::Sell`) or returns of several codes as one decision: either
    /// every one is written, in one record on disk before this returns, or none is (the
    /// error names the first code that stopped it). With a deadline, waiting for another
    /// writer ends at [`WriteDeadline::at`] with [`LiveError::Busy`], and a write the caller
    /// abandoned in time never happens ([`LiveError::Abandoned`]). Returns the КИ.
    pub fn journal_batch<S: AsRef<str>>(
        &self,
        inputs: &[S],
        op: SaleOp,
        deadline: Option<&WriteDeadline>,
    ) -> Result<Vec<String>, LiveError> {
        let kis = canonical_kis(inputs)?;
        if kis.is_empty() {
            return Ok(kis);
        }
        self.write_journal(deadline, true, |view| {
            for ki in &kis {
                may_register(op, ki, view)?;
            }
            let entries = kis.iter().map(|k| (op, k.as_bytes().to_vec())).collect();
            Ok((vec![(view.now, entries)], kis.clone()))
        })
    }

    /// The one journal write: under the journal's lock (this process's writers one at a
    /// time, then every process's), `decide` sees the sold state ([`SoldView`]) and returns
    /// the records to append (each `(time, entries)` one record, all or nothing) and the
    /// answer; the records are on disk before this returns. With `fresh`, refused on
    /// stale data. With a deadline, waiting for another writer ends at
    /// [`WriteDeadline::at`] with [`LiveError::Busy`], and a write the caller abandoned in
    /// time never happens ([`LiveError::Abandoned`]).
    pub(crate) fn write_journal<T>(
        &self,
        deadline: Option<&WriteDeadline>,
        fresh: bool,
        mut decide: impl FnMut(&SoldView<'_>) -> Result<(JournalRecords, T), LiveError>,
    ) -> Result<T, LiveError> {
        let started = Instant::now();
        let busy = || LiveError::Busy {
            waited_ms: started.elapsed().as_millis() as u64,
        };
        loop {
            let generation = self.current.load_full();
            if fresh {
                self.fresh(&generation)?;
            }
            let handle = &generation.journal;
            let guard = lock_until(deadline, || {
                handle.writer.try_lock().map_err(LiveError::from)
            })?
            .ok_or_else(busy)?;
            // A compaction may have folded this journal into a newer generation while we
            // waited for the lock: then the sale belongs in the new journal.
            let (name, _) = manifest::read_pointer(&self.dir)?;
            if name != generation.index.manifest().file_name() {
                drop(guard);
                self.refresh()?;
                continue;
            }
            let now = crate::time::now_ms();
            let (offset, encoded, answer) = {
                let mut journal = write_lock(&handle.state);
                let offset = guard.prepare(&mut journal)?;
                let view = SoldView {
                    generation: &generation,
                    journal: &journal,
                    oldest: now - self.options.sold_retention_ms,
                    now,
                };
                let (records, answer) = decide(&view)?;
                let mut encoded = Vec::with_capacity(records.len());
                let mut at = offset;
                for (time, entries) in &records {
                    for chunk in entries.chunks(journal::MAX_BATCH) {
                        let borrowed: Vec<(SaleOp, &[u8])> =
                            chunk.iter().map(|(op, ki)| (*op, ki.as_slice())).collect();
                        let record = journal::encode(journal.path(), at, &borrowed, *time)?;
                        at += record.len() as u64;
                        encoded.push(record);
                    }
                }
                (offset, encoded, answer)
            };
            if encoded.is_empty() {
                return Ok(answer);
            }
            if deadline.is_some_and(|d| !d.begin_write()) {
                return Err(LiveError::Abandoned);
            }
            // Lookups go on while the records are synced; they see them once durable.
            let mut at = offset;
            for record in &encoded {
                guard.write(at, record)?;
                at += record.len() as u64;
            }
            write_lock(&handle.state).catch_up()?;
            drop(guard);
            return Ok(answer);
        }
    }
}

/// The sale rule: a code sold here (and not returned) is not sold again, and only such a
/// code can be returned.
fn may_register(op: SaleOp, ki: &str, view: &SoldView<'_>) -> Result<(), LiveError> {
    match (op, view.sold_at(ki.as_bytes()).is_some()) {
        (SaleOp::Sell, true) => Err(LiveError::AlreadySold { ki: ki.to_string() }),
        (SaleOp::Return, false) => Err(LiveError::NotSold { ki: ki.to_string() }),
        _ => Ok(()),
    }
}

/// Records for [`LiveIndex::write_journal`]: each `(time, entries)` one record.
pub(crate) type JournalRecords = Vec<(i64, Vec<(SaleOp, Vec<u8>)>)>;

/// The sold state as a journal write sees it, under the journal's lock.
pub(crate) struct SoldView<'a> {
    generation: &'a Generation,
    journal: &'a Journal,
    /// Sales before this have expired.
    pub(crate) oldest: i64,
    /// The time of this write, Unix ms.
    pub(crate) now: i64,
}

impl SoldView<'_> {
    /// When `ki` was sold, if it is sold here now.
    pub(crate) fn sold_at(&self, ki: &[u8]) -> Option<i64> {
        self.generation.sold_at(self.journal, ki, self.oldest)
    }

    /// What the journal says of `ki` (not the folded table).
    pub(crate) fn journaled(&self, ki: &[u8]) -> Option<SoldState> {
        self.journal.state(ki)
    }
}

/// Tries `attempt` until it gives something or the deadline passes (`Ok(None)`); without
/// a deadline, until it gives something.
fn lock_until<T>(
    deadline: Option<&WriteDeadline>,
    mut attempt: impl FnMut() -> Result<Option<T>, LiveError>,
) -> Result<Option<T>, LiveError> {
    let mut pause = Duration::from_micros(100);
    loop {
        if let Some(got) = attempt()? {
            return Ok(Some(got));
        }
        if deadline.is_some_and(|d| Instant::now() >= d.at) {
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// The КИ of each input, refusing the whole list when one cannot be read or two name the
/// same КИ (the second sale would fail after the first was decided).
fn canonical_kis<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<String>, LiveError> {
    let mut kis: Vec<String> = Vec::with_capacity(inputs.len());
    // Position of each КИ seen, to name both places of a repeat (a scan of the list would
    // make a 4000-code sale cost millions of comparisons).
    let mut seen = std::collections::HashMap::with_capacity(inputs.len());
    for (second, input) in inputs.iter().enumerate() {
        let ki = canonical_ki(input.as_ref())?;
        if let Some(&first) = seen.get(&ki) {
            return Err(LiveError::Duplicate { ki, first, second });
        }
        seen.insert(ki.clone(), second);
        kis.push(ki);
    }
    Ok(kis)
}

/// The one КИ an input stands for, for sales and returns.
pub(crate) fn canonical_ki(input: &str) -> Result<String, LiveError> {
    let parsed = code::parse(input).map_err(|error| LiveError::InvalidCode {
        input: input.to_string(),
        error,
    })?;
    match parsed.single() {
        Some(c) => Ok(c.ki.clone()),
        None => Err(LiveError::Ambiguous {
            input: input.to_string(),
            candidates: parsed
                .candidates
                .iter()
                .map(|c| c.ki.as_str())
                .collect::<Vec<_>>()
                .join(" or "),
        }),
    }
}

// A poisoned lock only means another thread panicked mid-lookup; the journal state itself
// is updated after the durable write, so it is still consistent.
