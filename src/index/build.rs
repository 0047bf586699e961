//! Compiling snapshot lists into a new base generation.
//!
//! Lists are read as streams: a thread per list decompresses and cuts the body into chunks
//! of whole lines while the chunks already read are parsed on all cores. `blocked_cis`
//! entries go straight into a [`BlocksBuilder`] (grouped by product as they are parsed, so
//! sorting is per block); the other lists are small and kept as pairs. Memory is the
//! entries themselves (about 16 bytes per КИ) plus a few chunks in flight, whatever the
//! lines look like. Rejected lines stream to `rejects.tsv`; a list with more than
//! [`BuildOptions::max_reject_share`] of its lines rejected fails the build before anything
//! is written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::digest::ContentDigest;
use super::format::{self, FileMeta, Role, write_data_file};
use super::manifest::{self, ListSource, MANIFEST_FORMAT, MANIFEST_VERSION, Manifest, SegmentMeta};
use super::segment::Layout;
use super::segment::blocks::{BlocksBuilder, KiBlocks};
use super::{IndexError, Table, WriterLock, gc};
use crate::list::{
    EntryOptions, EntrySink, HeaderFields, LineStats, ListError, ListHeader, ListKind, ListReader,
    ListType, Op, Piece, ReadOptions, Reject, gtin_flags,
};
use crate::progress::Progress;

/// Options of [`build`].
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Fail on the first malformed line instead of setting rejects aside.
    pub strict: bool,
    /// Database version of the index; by default the version all lists share.
    pub version: Option<String>,
    /// Where rejected lines are written (TSV); by default `<out>/rejects.tsv`.
    pub rejects_path: Option<PathBuf>,
    /// A list with a larger share of its entry lines rejected fails the build (a wrong
    /// "allowed" is the costly error: a banned code that was rejected is not banned).
    pub max_reject_share: f64,
    /// Publish even when the lists are older (by `as_of`) than the index's current data.
    pub allow_older: bool,
    /// Limits of the list reader.
    pub read: ReadOptions,
    /// How entry lines are written.
    pub entries: EntryOptions,
    /// Header fields for lists without a header.
    pub header: Option<HeaderFields>,
    /// Layout of the `blocked_cis` base (КИ blocks; FST for comparisons).
    pub cis_layout: Layout,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            strict: false,
            version: None,
            rejects_path: None,
            max_reject_share: 0.01,
            allow_older: false,
            read: ReadOptions::default(),
            entries: EntryOptions::default(),
            header: None,
            cis_layout: Layout::KiBlocks,
        }
    }
}

/// What a build did.
#[derive(Debug)]
pub struct BuildReport {
    /// The published manifest.
    pub manifest: Manifest,
    /// Rejected lines over all lists.
    pub rejected: u64,
    /// Where they were written, if any.
    pub rejects_path: Option<PathBuf>,
    /// Keys listed more than once (kept once).
    pub duplicates: u64,
    /// Min-price GTINs listed with different prices (the highest price is kept).
    pub price_conflicts: u64,
    /// Full marking codes listed by their КИ.
    pub normalised: u64,
    /// Bytes the collected entries took at their peak (the build's working set, beyond
    /// the chunks in flight).
    pub entry_bytes: u64,
}

/// Entries collected for one kind.
enum Collected {
    Cis(BlocksBuilder),
    Pairs(Vec<(Box<[u8]>, u64)>),
}

impl Collected {
    fn new(kind: ListKind, layout: Layout) -> Collected {
        if kind == ListKind::BlockedCis && layout == Layout::KiBlocks {
            Collected::Cis(BlocksBuilder::default())
        } else {
            Collected::Pairs(Vec::new())
        }
    }

    fn merge(&mut self, other: Collected) {
        match (self, other) {
            (Collected::Cis(a), Collected::Cis(b)) => a.merge(b),
            (Collected::Pairs(a), Collected::Pairs(mut b)) => a.append(&mut b),
            _ => unreachable!("one kind, one collection"),
        }
    }

    fn heap_bytes(&self) -> u64 {
        match self {
            Collected::Cis(b) => b.heap_bytes(),
            Collected::Pairs(p) => p.iter().map(|(k, _)| k.len() as u64 + 24).sum(),
        }
    }
}

impl EntrySink for Collected {
    fn entry(&mut self, _op: Op, key: &[u8], value: u64) {
        match self {
            Collected::Cis(b) => b.add(key),
            Collected::Pairs(p) => p.push((key.into(), value)),
        }
    }
}

/// One list as read (its rejects are on disk already; only counted here).
struct ReadList {
    path: PathBuf,
    header: ListHeader,
    entry_lines: u64,
    rejected: u64,
    normalised: u64,
    entries: u64,
}

/// Where rejected lines go while the lists are read: a temporary TSV, renamed into place
/// at the end if any line was rejected.
struct RejectSink {
    tmp: PathBuf,
    path: PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
    count: u64,
    strict: bool,
}

impl RejectSink {
    fn write(&mut self, rejects: &[Reject]) -> Result<(), IndexError> {
        if rejects.is_empty() {
            return Ok(());
        }
        if self.strict {
            return Err(IndexError::List(ListError::Strict {
                count: rejects.len(),
                first: Box::new(rejects[0].clone()),
            }));
        }
        let io = |source| IndexError::Io {
            path: self.tmp.clone(),
            source,
        };
        if self.out.is_none() {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&self.tmp).map_err(io)?);
            writeln!(w, "file\tline\tbyte_offset\treason\ttext").map_err(io)?;
            self.out = Some(w);
        }
        let w = self.out.as_mut().expect("just opened");
        for r in rejects {
            let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
            writeln!(
                w,
                "{}\t{}\t{}\t{}\t{}",
                r.file.display(),
                r.line,
                r.byte_offset,
                clean(&r.reason),
                clean(&r.text)
            )
            .map_err(io)?;
        }
        self.count += rejects.len() as u64;
        Ok(())
    }

    /// Moves the rejects into place; returns where, if there were any.
    fn finish(mut self) -> Result<Option<PathBuf>, IndexError> {
        let Some(mut w) = self.out.take() else {
            let _ = std::fs::remove_file(&self.path);
            return Ok(None);
        };
        let io = |source| IndexError::Io {
            path: self.tmp.clone(),
            source,
        };
        w.flush().map_err(io)?;
        drop(w);
        std::fs::rename(&self.tmp, &self.path).map_err(io)?;
        Ok(Some(self.path.clone()))
    }
}

impl Drop for RejectSink {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Compiles snapshot list files into the index at `out` (created if needed) and publishes
/// the result as a new generation. An existing index there is replaced atomically.
pub fn build(
    out: &Path,
    lists: &[PathBuf],
    options: &BuildOptions,
    progress: &dyn Progress,
) -> Result<BuildReport, IndexError> {
    if lists.is_empty() {
        return Err(IndexError::Refused("no list files given".into()));
    }
    // Every header first: a wrong set of lists is refused before any body is read.
    let readers: Vec<ListReader> = lists
        .iter()
        .map(|p| ListReader::open(p, options.read.clone(), options.header.as_ref()))
        .collect::<Result<_, _>>()?;
    check_snapshot_set(&readers)?;
    let version = index_version(&readers, options.version.as_deref())?;
    let as_of_ms = readers
        .iter()
        .map(|r| r.header().as_of_ms)
        .min()
        .unwrap_or(0);

    std::fs::create_dir_all(out).map_err(|source| IndexError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let lock = WriterLock::acquire(out)?;
    let previous = match manifest::read_current(out) {
        Ok(m) => Some(m),
        Err(IndexError::NotAnIndex { .. }) => None,
        Err(e) => return Err(e),
    };
    if let Some(prev) = &previous
        && as_of_ms < prev.as_of_ms
        && !options.allow_older
    {
        return Err(IndexError::Refused(format!(
            "the lists are as of {}, older than the index's current data ({}, version {}); nothing published (pass --allow-older to go back)",
            crate::time::format_rfc3339(as_of_ms),
            crate::time::format_rfc3339(prev.as_of_ms),
            prev.version
        )));
    }
    // The next writer removes what a failed one left; this one starts clean too.
    if let Some(prev) = &previous {
        gc::remove_unreferenced(out, prev)?;
    }

    let rejects_path = options
        .rejects_path
        .clone()
        .unwrap_or_else(|| out.join("rejects.tsv"));
    let mut rejects = RejectSink {
        tmp: rejects_path.with_extension("tsv.tmp"),
        path: rejects_path,
        out: None,
        count: 0,
        strict: options.strict,
    };
    let mut collected: BTreeMap<ListKind, Collected> = BTreeMap::new();
    let mut read = Vec::with_capacity(readers.len());
    for reader in readers {
        let kind = reader.header().kind;
        let target = collected
            .entry(kind)
            .or_insert_with(|| Collected::new(kind, options.cis_layout));
        read.push(read_list(reader, options, target, &mut rejects, progress)?);
    }
    let entry_bytes = collected.values().map(Collected::heap_bytes).sum();

    // A list that lost too many lines must not become an index that allows what it bans.
    let mut refused = Vec::new();
    for r in &read {
        let rejected = r.rejected;
        let share = rejected as f64 / r.entry_lines.max(1) as f64;
        if rejected > 0 && share > options.max_reject_share {
            refused.push(format!(
                "{}: {rejected} of {} entry lines rejected ({:.1} %, the limit is {:.1} %)",
                r.path.display(),
                r.entry_lines,
                share * 100.0,
                options.max_reject_share * 100.0
            ));
        }
    }
    let rejected = rejects.count;
    let rejects_path = rejects.finish()?;
    if !refused.is_empty() {
        return Err(IndexError::Refused(format!(
            "too many malformed lines; nothing published:\n  {}\n  rejected lines: {}",
            refused.join("\n  "),
            rejects_path
                .as_ref()
                .map_or("-".into(), |p| p.display().to_string())
        )));
    }

    let segment_id = previous.as_ref().map_or(1, |m| m.next_segment_id);
    // A build that fails or is interrupted leaves none of its files behind.
    let unpublished = SegmentFiles {
        dir: out,
        prefix: Some(format!("seg-{segment_id:06}-")),
    };
    let mut files = Vec::new();
    let mut counts = BTreeMap::new();
    let mut digest = ContentDigest::default();
    let mut duplicates = 0;
    let mut price_conflicts = 0;
    let mut grey_gtins = 0;
    for kind in ListKind::ALL {
        let table = Table::from(kind);
        let entries = collected
            .remove(&kind)
            .unwrap_or_else(|| Collected::new(kind, options.cis_layout));
        match entries {
            Collected::Cis(builder) => {
                if progress.cancelled() {
                    return Err(IndexError::Interrupted);
                }
                progress.stage(&format!("writing {kind}"), 0);
                let (written, meta) = write_blocks(out, segment_id, builder)?;
                duplicates += written.duplicates;
                digest = digest.merge(written.digest);
                counts.insert(table, written.entries);
                files.extend(meta);
            }
            Collected::Pairs(pairs) => {
                progress.stage(&format!("sorting {kind}"), 0);
                let merged = merge_pairs(kind, pairs);
                duplicates += merged.duplicates;
                price_conflicts += merged.conflicts;
                if kind == ListKind::BlockedGtin {
                    grey_gtins = merged
                        .entries
                        .iter()
                        .filter(|(_, v)| v & gtin_flags::GREY != 0)
                        .count() as u64;
                }
                digest = digest.merge(kind_digest(kind, &merged.entries));
                counts.insert(table, merged.entries.len() as u64);
                progress.stage(&format!("writing {kind}"), merged.entries.len() as u64);
                files.extend(write_fst_with(out, segment_id, table, progress, |sink| {
                    merged
                        .entries
                        .iter()
                        .try_for_each(|(k, v)| sink.insert(k, *v))
                })?);
            }
        }
    }
    // Sales are local state, not list content: a rebuild keeps them.
    if let Some(prev) = &previous {
        let base = prev
            .segments
            .first()
            .map(|s| s.files.as_slice())
            .unwrap_or_default();
        for sold in base.iter().filter(|f| f.role.table == Table::Sold) {
            files.push(sold.clone());
            if !sold.role.filter {
                counts.insert(Table::Sold, sold.entries);
            }
        }
    }
    if options.strict && price_conflicts > 0 {
        return Err(IndexError::Refused(format!(
            "{price_conflicts} GTIN(s) listed with conflicting minimum prices"
        )));
    }

    let normalised = read.iter().map(|r| r.normalised).sum();
    let lists_meta = read
        .iter()
        .map(|r| ListSource {
            header: r.header.clone(),
            source: r
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            entries: r.entries,
            rejected: r.rejected,
        })
        .collect();
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        format_version: MANIFEST_VERSION,
        generation: previous.as_ref().map_or(1, |m| m.generation + 1),
        version,
        as_of_ms,
        created_ms: crate::time::now_ms(),
        instance_id: previous
            .as_ref()
            .map_or_else(new_instance_id, |m| m.instance_id.clone()),
        lists: lists_meta,
        deltas: Vec::new(),
        counts,
        grey_gtins,
        segments: vec![SegmentMeta {
            id: segment_id,
            files,
        }],
        next_segment_id: segment_id + 1,
        journal: previous.as_ref().map_or_else(
            || format!("sold-{segment_id:06}.journal"),
            |m| m.journal.clone(),
        ),
        content_digest: digest.to_string(),
    };
    if progress.cancelled() {
        return Err(IndexError::Interrupted);
    }
    progress.stage("publishing", 0);
    manifest::sync_dir(out)?;
    manifest::publish(out, &manifest)?;
    unpublished.keep();
    gc::remove_unreferenced(out, &manifest)?;
    drop(lock);
    progress.finish();
    Ok(BuildReport {
        manifest,
        rejected,
        rejects_path,
        duplicates,
        price_conflicts,
        normalised,
        entry_bytes,
    })
}

/// The data files of a segment being written: removed when dropped (a failed or
/// interrupted build), forgotten once the generation is published.
struct SegmentFiles<'a> {
    dir: &'a Path,
    prefix: Option<String>,
}

impl SegmentFiles<'_> {
    fn keep(mut self) {
        self.prefix = None;
    }
}

impl Drop for SegmentFiles<'_> {
    fn drop(&mut self) {
        let Some(prefix) = &self.prefix else { return };
        let Ok(entries) = std::fs::read_dir(self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(prefix.as_str())
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Reads one list into `target`: a thread decompresses and cuts chunks while the chunks
/// already read are parsed on all cores.
fn read_list(
    mut reader: ListReader,
    options: &BuildOptions,
    target: &mut Collected,
    rejects: &mut RejectSink,
    progress: &dyn Progress,
) -> Result<ReadList, IndexError> {
    let path = reader.path().to_path_buf();
    let header = reader.header().clone();
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    progress.stage(&format!("reading {name}"), size);
    let in_flight = rayon::current_num_threads().max(1) * 2;
    let kind = header.kind;
    let (mut entry_lines, mut rejected, mut normalised, mut entries) = (0u64, 0u64, 0u64, 0u64);
    std::thread::scope(|scope| -> Result<(), IndexError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(Piece, u64), ListError>>(in_flight);
        let producer = scope.spawn(move || {
            loop {
                let piece = reader.next_piece();
                let done = reader.file_bytes_read();
                let stop = !matches!(piece, Ok(Some(_)));
                let item = piece.map(|p| p.map(|p| (p, done)));
                match item {
                    Ok(Some(item)) => {
                        if tx.send(Ok(item)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
                if stop {
                    return;
                }
            }
        });
        let mut reported = 0u64;
        let mut batch: Vec<Piece> = Vec::with_capacity(in_flight);
        let mut more = true;
        while more {
            batch.clear();
            while batch.len() < in_flight {
                match rx.recv() {
                    Ok(Ok((piece, done))) => {
                        progress.advance(done.saturating_sub(reported));
                        reported = reported.max(done);
                        batch.push(piece);
                    }
                    Ok(Err(e)) => return Err(e.into()),
                    Err(_) => {
                        more = false;
                        break;
                    }
                }
            }
            if progress.cancelled() {
                return Err(IndexError::Interrupted);
            }
            // One collection per worker, not per piece: fewer maps to fill and merge.
            let parsed: Vec<(Collected, LineStats)> = batch
                .par_iter()
                .fold(
                    || {
                        (
                            Collected::new(kind, options.cis_layout),
                            LineStats::default(),
                        )
                    },
                    |(mut sink, mut stats), piece| {
                        match piece {
                            Piece::Lines {
                                bytes,
                                first_line,
                                offset,
                            } => stats.merge(crate::list::parse_lines(
                                &path,
                                bytes,
                                *first_line,
                                *offset,
                                &header,
                                &options.entries,
                                &mut sink,
                            )),
                            Piece::TooLong(reject) => {
                                stats.entry_lines += 1;
                                stats.rejects.push(reject.clone());
                            }
                        }
                        (sink, stats)
                    },
                )
                .collect();
            for (sink, piece_stats) in parsed {
                rejects.write(&piece_stats.rejects)?;
                let bad = piece_stats.rejects.len() as u64;
                entries += piece_stats.entry_lines - bad;
                entry_lines += piece_stats.entry_lines;
                rejected += bad;
                normalised += piece_stats.normalised;
                target.merge(sink);
            }
        }
        let _ = producer.join();
        Ok(())
    })?;
    Ok(ReadList {
        path,
        header,
        entry_lines,
        rejected,
        normalised,
        entries,
    })
}

fn check_snapshot_set(readers: &[ListReader]) -> Result<(), IndexError> {
    let mut seen = BTreeMap::new();
    for r in readers {
        let h = r.header();
        if let ListType::Delta { .. } = h.list_type {
            return Err(IndexError::Refused(format!(
                "{} is a delta; build takes snapshots (apply deltas with `cisgate apply`)",
                r.path().display()
            )));
        }
        if let Some(other) = seen.insert((h.kind, h.pg), r.path()) {
            return Err(IndexError::Refused(format!(
                "{} and {} are both {} snapshots{}",
                other.display(),
                r.path().display(),
                h.kind,
                h.pg.map(|pg| format!(" for product group {pg}"))
                    .unwrap_or_default()
            )));
        }
    }
    Ok(())
}

fn index_version(readers: &[ListReader], explicit: Option<&str>) -> Result<String, IndexError> {
    if let Some(v) = explicit {
        return Ok(v.to_string());
    }
    let first = &readers[0].header().version;
    match readers.iter().find(|r| &r.header().version != first) {
        None => Ok(first.clone()),
        Some(other) => Err(IndexError::Refused(format!(
            "lists carry different versions ({}: {first}, {}: {}); pass --version",
            readers[0].path().display(),
            other.path().display(),
            other.header().version
        ))),
    }
}

/// One kind's entries from all lists: sorted, unique keys.
struct Merged {
    entries: Vec<(Box<[u8]>, u64)>,
    duplicates: u64,
    conflicts: u64,
}

fn merge_pairs(kind: ListKind, mut pairs: Vec<(Box<[u8]>, u64)>) -> Merged {
    pairs.par_sort_unstable();
    let mut merged = Merged {
        entries: Vec::with_capacity(pairs.len()),
        duplicates: 0,
        conflicts: 0,
    };
    for (key, value) in pairs {
        match merged.entries.last_mut() {
            Some((last, v)) if *last == key => {
                merged.duplicates += 1;
                if kind == ListKind::MinPrice && *v != value {
                    merged.conflicts += 1;
                }
                *v = kind.combine(*v, value);
            }
            _ => merged.entries.push((key, value)),
        }
    }
    merged
}

fn kind_digest(kind: ListKind, entries: &[(Box<[u8]>, u64)]) -> ContentDigest {
    entries
        .par_iter()
        .map(|(k, v)| {
            let mut d = ContentDigest::default();
            d.add(kind, k, *v);
            d
        })
        .reduce(ContentDigest::default, ContentDigest::merge)
}

/// File name of a segment's data file for a role and layout.
pub(super) fn data_file_name(segment_id: u64, role: Role, layout: Layout) -> String {
    format!(
        "seg-{segment_id:06}-{}.{}",
        role.table.name(),
        layout.extension()
    )
}

/// Writes the КИ block segment of `blocked_cis` and its filter; returns the figures and
/// both files' metadata, data first.
pub(super) fn write_blocks(
    dir: &Path,
    segment_id: u64,
    builder: BlocksBuilder,
) -> Result<(super::segment::blocks::BlocksWritten, Vec<FileMeta>), IndexError> {
    let role = Role::fst(Table::BlockedCis);
    let name = data_file_name(segment_id, role, Layout::KiBlocks);
    let path = dir.join(&name);
    let mut written = None;
    let data = write_data_file(dir, &name, role, Layout::KiBlocks, |w: &mut dyn Write| {
        let result = builder.finish(w).map_err(|source| IndexError::Io {
            path: path.clone(),
            source,
        })?;
        let entries = result.entries;
        written = Some(result);
        Ok(entries)
    })?;
    let mut written = written.expect("set by the writer");
    // Hashes in filter-block order make filling and checking the filter a sequential pass
    // instead of a cache miss per key.
    let mut hashes = std::mem::take(&mut written.hashes);
    hashes.par_sort_unstable();
    let payload = super::filter::build(&hashes);
    let filter_meta = write_filter(
        dir,
        segment_id,
        Table::BlockedCis,
        &payload,
        written.entries,
    )?;
    // Writers check before publishing that the file reads back as written (the content
    // digest of every key decoded from it) and that the filter passes every key (a filter
    // that missed one would turn a banned code into an allowed one).
    let opened = format::open_data_file(dir, &data, false)?;
    let segment = KiBlocks::open(opened).map_err(|reason| IndexError::Damaged {
        path: path.clone(),
        reason,
    })?;
    if segment.digest_par() != written.digest || !super::filter::covers(&payload, &hashes) {
        return Err(IndexError::Refused(format!(
            "internal error: {name} does not read back as written, or its filter misses keys; nothing published"
        )));
    }
    Ok((written, vec![data, filter_meta]))
}

fn write_filter(
    dir: &Path,
    segment_id: u64,
    table: Table,
    payload: &[u8],
    entries: u64,
) -> Result<FileMeta, IndexError> {
    let role = Role::filter(table);
    let name = data_file_name(segment_id, role, Layout::Filter);
    write_data_file(dir, &name, role, Layout::Filter, |w: &mut dyn Write| {
        w.write_all(payload).map_err(|source| IndexError::Io {
            path: dir.join(&name),
            source,
        })?;
        Ok(entries)
    })
}

/// Receives sorted unique keys for one FST data file.
pub(super) struct FstSink<'w, 'a> {
    builder: fst::raw::Builder<&'w mut dyn Write>,
    path: &'a Path,
    progress: &'a dyn Progress,
    count: u64,
    hashes: Vec<u64>,
}

impl FstSink<'_, '_> {
    /// Adds the next key; keys must come in strictly increasing order.
    pub fn insert(&mut self, key: &[u8], value: u64) -> Result<(), IndexError> {
        self.builder
            .insert(key, value)
            .map_err(|e| fst_error(self.path, e))?;
        self.hashes.push(super::filter::key_hash(key));
        self.count += 1;
        if self.count.is_multiple_of(65_536) {
            self.progress.advance(65_536);
            if self.progress.cancelled() {
                return Err(IndexError::Interrupted);
            }
        }
        Ok(())
    }
}

/// Writes one FST data file from whatever `produce` inserts into the sink, and the Bloom
/// filter over its keys beside it. Returns both files' metadata, FST first.
pub(super) fn write_fst_with(
    dir: &Path,
    segment_id: u64,
    table: Table,
    progress: &dyn Progress,
    produce: impl FnOnce(&mut FstSink<'_, '_>) -> Result<(), IndexError>,
) -> Result<Vec<FileMeta>, IndexError> {
    let role = Role::fst(table);
    let name = data_file_name(segment_id, role, Layout::Fst);
    let path = dir.join(&name);
    let mut hashes = Vec::new();
    let fst = write_data_file(dir, &name, role, Layout::Fst, |w: &mut dyn Write| {
        let builder = fst::raw::Builder::new_type(w, 0).map_err(|e| fst_error(&path, e))?;
        let mut sink = FstSink {
            builder,
            path: &path,
            progress,
            count: 0,
            hashes: Vec::new(),
        };
        produce(&mut sink)?;
        progress.advance(sink.count % 65_536);
        let count = sink.count;
        hashes = std::mem::take(&mut sink.hashes);
        sink.builder.finish().map_err(|e| fst_error(&path, e))?;
        Ok(count)
    })?;
    let payload = super::filter::build(&hashes);
    if !super::filter::covers(&payload, &hashes) {
        return Err(IndexError::Refused(format!(
            "internal error: the filter for {name} misses keys; nothing published"
        )));
    }
    let filter = write_filter(dir, segment_id, table, &payload, hashes.len() as u64)?;
    Ok(vec![fst, filter])
}

/// An fst error: the OS error as such when writing failed (a full disk says so), else
/// damage.
fn fst_error(path: &Path, e: fst::Error) -> IndexError {
    match e {
        fst::Error::Io(source) => IndexError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => IndexError::Damaged {
            path: path.to_path_buf(),
            reason: format!("fst: {other}"),
        },
    }
}

/// A fresh instance id (a random UUID), made once per index and kept by every generation.
fn new_instance_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl From<ListError> for IndexError {
    fn from(e: ListError) -> Self {
        IndexError::List(e)
    }
}
