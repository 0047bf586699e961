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
use super::error::{IndexError, RejectedList};
use super::generation::{DeltaHistory, GenerationEdit, GenerationWriter, SegmentEdit};
use super::manifest::{ListSource, Manifest};
use super::segment::blocks::build::BlocksBuilder;
use super::segment::{self, Layout};
use super::table::Table;
use crate::list::{
    EntryOp, EntryOptions, EntrySink, HeaderFields, LineStats, ListError, ListHeader, ListKind,
    ListReader, ListType, Piece, ReadOptions, Reject, gtin_flags,
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
        if Layout::for_base(Table::from(kind), layout) == Layout::KiBlocks {
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
    fn entry(&mut self, _op: EntryOp, key: &[u8], value: u64) {
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
        return Err(IndexError::NothingGiven { what: "list" });
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

    let mut writer = GenerationWriter::create(out)?;
    if let Some(prev) = writer.previous()
        && as_of_ms < prev.as_of_ms
        && !options.allow_older
    {
        return Err(IndexError::OlderData {
            lists_as_of_ms: as_of_ms,
            index_as_of_ms: prev.as_of_ms,
            index_version: prev.version.clone(),
        });
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
    let refused: Vec<RejectedList> = read
        .iter()
        .filter(|r| {
            r.rejected > 0
                && r.rejected as f64 / r.entry_lines.max(1) as f64 > options.max_reject_share
        })
        .map(|r| RejectedList {
            path: r.path.clone(),
            rejected: r.rejected,
            entry_lines: r.entry_lines,
        })
        .collect();
    let rejected = rejects.count;
    let rejects_path = rejects.finish()?;
    if !refused.is_empty() {
        return Err(IndexError::TooManyRejects {
            lists: refused,
            limit: options.max_reject_share,
            rejects_path,
        });
    }

    // A build that fails or is interrupted leaves none of its files behind (the writer
    // removes them when dropped unpublished).
    let segment_id = writer.segment_id();
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
                let (written, meta) = segment::blocks::write(out, segment_id, builder)?;
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
                files.extend(segment::fst_map::write(
                    out,
                    segment_id,
                    table,
                    progress,
                    |sink| {
                        merged
                            .entries
                            .iter()
                            .try_for_each(|(k, v)| sink.insert(k, *v))
                    },
                )?);
            }
        }
    }
    if options.strict && price_conflicts > 0 {
        return Err(IndexError::PriceConflicts {
            count: price_conflicts,
        });
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
    let mut edit = GenerationEdit::new(SegmentEdit::NewBase(files));
    edit.data = Some((version, as_of_ms));
    edit.lists = Some(lists_meta);
    edit.deltas = DeltaHistory::Replace(Vec::new());
    edit.counts = counts;
    edit.grey_gtins = Some(grey_gtins);
    edit.content_digest = Some(digest.to_string());
    if progress.cancelled() {
        return Err(IndexError::Interrupted);
    }
    progress.stage("publishing", 0);
    let manifest = writer.commit(edit)?.manifest;
    drop(writer);
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
            return Err(IndexError::DeltaToBuild {
                path: r.path().to_path_buf(),
            });
        }
        if let Some(other) = seen.insert((h.kind, h.pg), r.path()) {
            return Err(IndexError::TwoSnapshots {
                first: other.to_path_buf(),
                second: r.path().to_path_buf(),
                kind: h.kind,
                pg: h.pg,
            });
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
        Some(other) => Err(IndexError::VersionsDiffer {
            first: readers[0].path().to_path_buf(),
            first_version: first.clone(),
            other: other.path().to_path_buf(),
            other_version: other.header().version.clone(),
        }),
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
