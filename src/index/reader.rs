//! Opening a generation and looking keys up in it: [`Index`], its per-table stacks of
//! segments, and [`verify`].

use std::fs::File;
use std::path::{Path, PathBuf};

use super::digest::ContentDigest;
use super::error::IndexError;
use super::filter;
use super::format::{self, FileMeta};
use super::manifest::{self, Manifest};
use super::segment::{self, EntryCursor, Query, TableSegment};
use super::table::{Layout, TOMBSTONE, Table};
use crate::hashing::key_hash;
use crate::list::ListKind;
use crate::progress::Progress;

/// One segment's data for one table and the Bloom filter in front of it.
struct Source {
    data: Box<dyn TableSegment>,
    filter: Option<filter::Filter>,
    /// A hash table of the entries of a small segment whose own lookups are slow, built
    /// on first use (`None` inside: not worth one).
    memo: std::sync::OnceLock<Option<Memo>>,
}

/// Segments with at most this many entries get a [`Memo`] when their layout asks for one:
/// the GTIN tables, series, small delta layers. Building one takes well under a
/// millisecond per 10,000 entries; its memory is about 40 bytes per entry.
const MEMO_MAX_ENTRIES: u64 = 1 << 16;

impl Source {
    fn new(data: Box<dyn TableSegment>, filter: Option<filter::Filter>) -> Source {
        Source {
            data,
            filter,
            memo: std::sync::OnceLock::new(),
        }
    }

    /// The memo of a small, slow segment (built by the first lookup that wants it).
    #[inline]
    fn memo(&self) -> Option<&Memo> {
        self.memo
            .get_or_init(|| {
                (self.data.slow_point_lookups() && self.data.len() <= MEMO_MAX_ENTRIES)
                    .then(|| Memo::build(&*self.data))
            })
            .as_ref()
    }

    #[inline]
    fn get(&self, key: &[u8], hash: u64) -> Option<u64> {
        if let Some(memo) = self.memo() {
            return memo.get(key, hash);
        }
        if self.filter.as_ref().is_some_and(|f| !f.may_contain(hash)) {
            return None;
        }
        self.data.get(key)
    }
}

/// Every entry of a small segment in a hash table keyed by the filter's key hash: an FST
/// lookup walks one node per key byte (100–200 ns for a GTIN), a probe here touches a
/// cache line or two, and needs no filter in front.
struct Memo {
    /// The keys, one after another.
    keys: Vec<u8>,
    /// (key hash, key offset, key length, value).
    table: hashbrown::HashTable<(u64, u32, u32, u64)>,
}

impl Memo {
    fn build(data: &dyn TableSegment) -> Memo {
        let mut keys = Vec::new();
        let mut table = hashbrown::HashTable::with_capacity(data.len() as usize);
        let mut cursor = data.cursor();
        while cursor.advance() {
            let key = cursor.key();
            let entry = (
                key_hash(key),
                keys.len() as u32,
                key.len() as u32,
                cursor.value(),
            );
            keys.extend_from_slice(key);
            table.insert_unique(entry.0, entry, |e| e.0);
        }
        Memo { keys, table }
    }

    #[inline]
    fn get(&self, key: &[u8], hash: u64) -> Option<u64> {
        self.table
            .find(hash, |&(h, at, len, _)| {
                h == hash && self.keys.get(at as usize..(at + len) as usize) == Some(key)
            })
            .map(|e| e.3)
    }
}

/// How many keys ahead batch lookups prefetch filter blocks.
const PREFETCH_DISTANCE: usize = 16;
/// Keys per step of a batch lookup: the scratch of one step lives on the stack.
pub(crate) const BATCH_CHUNK: usize = 256;

/// All segments' data for one table; layers newest first. One filter probe, and for keys
/// the filter does not rule out one lookup in the segment's data, per segment: a layer maps
/// each key it changes to its new value or to [`TOMBSTONE`].
#[derive(Default)]
pub(crate) struct TableStack {
    base: Option<Source>,
    layers: Vec<Source>,
}

impl TableStack {
    fn get(&self, key: &[u8]) -> Option<u64> {
        self.get_hashed(key, key_hash(key))
    }

    #[inline]
    fn sources(&self) -> impl Iterator<Item = &Source> {
        self.layers.iter().chain(self.base.as_ref())
    }

    /// Starts fetching the filter blocks `hash` probes, so that a lookup a little later
    /// finds them in cache.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        for source in self.sources() {
            if let Some(f) = &source.filter {
                f.prefetch(hash);
            }
        }
    }

    /// Whether no segment holds this table (its lookups can be skipped).
    pub(crate) fn is_empty(&self) -> bool {
        self.base.is_none() && self.layers.is_empty()
    }

    /// Looks up at most [`BATCH_CHUNK`] keys whose filter hashes the caller computed
    /// (`hashes[i]` of `keys[i]`), into `out[i]`, without allocating. Source by source
    /// (newest first): probe the filters of the keys still undecided while the filter
    /// blocks of the keys `PREFETCH_DISTANCE` places on are fetched, and hand the keys
    /// that pass to the segment's own batch lookup, which overlaps their memory latency in
    /// turn.
    pub(crate) fn get_chunk<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        hashes: &[u64],
        out: &mut [Option<u64>],
    ) {
        let n = keys.len().min(BATCH_CHUNK).min(out.len());
        // A lone base held in a memo (the GTIN tables): one probe per key, nothing else.
        if let (Some(base), true) = (&self.base, self.layers.is_empty())
            && let Some(memo) = base.memo()
        {
            for ((o, k), &h) in out[..n].iter_mut().zip(keys).zip(hashes) {
                *o = memo.get(k.as_ref(), h);
            }
            return;
        }
        // `out[i]`: None undecided, Some(value or TOMBSTONE) decided.
        let decided = &mut out[..n];
        decided.fill(None);
        let mut undecided = [0u16; BATCH_CHUNK];
        for (s, source) in self.sources().enumerate() {
            let mut open = 0;
            for (i, d) in decided.iter().enumerate() {
                undecided[open] = i as u16;
                open += usize::from(s == 0 || d.is_none());
            }
            if open == 0 {
                break;
            }
            let undecided = &undecided[..open];
            if let Some(memo) = source.memo() {
                for &i in undecided {
                    let i = usize::from(i);
                    if let Some(v) = memo.get(keys[i].as_ref(), hashes[i]) {
                        decided[i] = Some(v);
                    }
                }
                continue;
            }
            // Declared here: a memo'd source never needs them, and 8 KiB of queries cost
            // something to clear.
            let mut passing = [0u16; BATCH_CHUNK];
            let mut queries = [Query::new(&[]); BATCH_CHUNK];
            let mut pass = 0;
            match &source.filter {
                Some(f) => {
                    for &i in undecided.iter().take(PREFETCH_DISTANCE) {
                        f.prefetch(hashes[usize::from(i)]);
                    }
                    for (at, &i) in undecided.iter().enumerate() {
                        if let Some(&ahead) = undecided.get(at + PREFETCH_DISTANCE) {
                            f.prefetch(hashes[usize::from(ahead)]);
                        }
                        passing[pass] = i;
                        pass += usize::from(f.may_contain(hashes[usize::from(i)]));
                    }
                }
                None => {
                    passing[..open].copy_from_slice(undecided);
                    pass = open;
                }
            }
            if pass == 0 {
                continue;
            }
            for (q, &i) in queries.iter_mut().zip(&passing[..pass]) {
                *q = Query::new(keys[usize::from(i)].as_ref());
            }
            source.data.get_batch(&mut queries[..pass]);
            for (q, &i) in queries.iter().zip(&passing[..pass]) {
                if q.found.is_some() {
                    decided[usize::from(i)] = q.found;
                }
            }
        }
        for d in decided.iter_mut() {
            *d = d.filter(|&v| v != TOMBSTONE);
        }
    }

    /// The value of `key`, whose filter hash is `hash`.
    pub(crate) fn get_hashed(&self, key: &[u8], hash: u64) -> Option<u64> {
        for layer in &self.layers {
            if let Some(v) = layer.get(key, hash) {
                return (v != TOMBSTONE).then_some(v);
            }
        }
        self.base.as_ref().and_then(|b| b.get(key, hash))
    }

    /// The table as lookups see it, in key order: one union over layers and base in which
    /// the newest source that mentions a key decides.
    fn cursor(&self) -> segment::merge::Union<'_> {
        segment::merge::Union::new(self.sources().map(|s| s.data.cursor()).collect())
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], u64)) {
        let mut cursor = self.cursor();
        while cursor.advance() {
            f(cursor.key(), cursor.value());
        }
    }

    /// Checks every segment's structure, and that every filter passes every key of its
    /// data (a filter that missed one would turn a banned code into an allowed one).
    fn verify(&self) -> Result<(), String> {
        for source in self.sources() {
            source.data.verify()?;
            let Some(filter) = &source.filter else {
                continue;
            };
            let mut keys = source.data.cursor();
            while keys.advance() {
                if !filter.may_contain(key_hash(keys.key())) {
                    return Err(format!(
                        "filter misses key {:?}",
                        String::from_utf8_lossy(keys.key())
                    ));
                }
            }
        }
        Ok(())
    }
}

/// How to open an index.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    verify_checksums: bool,
    /// Files known good (checked when this process wrote or pulled them): neither hashed
    /// nor sampled.
    trusted: std::collections::HashSet<String>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            verify_checksums: true,
            trusted: Default::default(),
        }
    }
}

impl OpenOptions {
    /// Default options: checksums verified.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to hash every data file on open (default: yes). Without it, opening costs
    /// almost nothing, and structure, lengths and footer checksums are still checked against
    /// the manifest, but a bit flip inside a file goes unnoticed until `verify`.
    pub fn verify_checksums(mut self, yes: bool) -> Self {
        self.verify_checksums = yes;
        self
    }

    /// Skips hashing the files named in `names`: a writer that checked them when it
    /// wrote or pulled them (and opens a generation that reuses them) does not read them
    /// again.
    pub(crate) fn trusting(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.trusted.extend(names);
        self
    }

    /// Opens a written generation that is not (yet) current: the manifest `name`, which
    /// must hash to `sum`.
    pub fn open_generation(&self, dir: &Path, name: &str, sum: &str) -> Result<Index, IndexError> {
        let (manifest, lock) = manifest::read_manifest_locked(dir, name, sum)?;
        Index::from_manifest(dir, manifest, lock, self)
    }

    /// Opens the current generation of the index at `dir`.
    ///
    /// A writer may publish a new generation and delete an unused old one at any moment; if
    /// a file named by `CURRENT` vanishes while opening, the open starts again from the new
    /// `CURRENT`.
    pub fn open(&self, dir: &Path) -> Result<Index, IndexError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = manifest::read_current_locked(dir)
                .and_then(|(manifest, lock)| Index::from_manifest(dir, manifest, lock, self));
            match result {
                Err(IndexError::Io { ref source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound && attempts < 20 =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(attempts));
                }
                other => return other,
            }
        }
    }
}

/// An opened index generation: memory-mapped, validated, ready for lookups.
///
/// While it is open, the generation's manifest is share-locked, so a writer in any process
/// keeps its files until it is dropped.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let list = dir.path().join("cis.list");
/// # std::fs::write(&list, "#cisgate-list 1\n#kind: blocked_cis\n#version: 7\n#as_of: 2026-11-23T10:00:00Z\n0104600439931256215abcdEFGH1234\n")?;
/// # let out = dir.path().join("index");
/// use cisgate::index::{build, BuildOptions, Index};
/// use cisgate::progress::NoProgress;
///
/// build(&out, &[list], &BuildOptions::default(), &NoProgress)?;
/// let index = Index::open(&out)?;
/// let decision = index.check("]d20104600439931256215abcdEFGH1234\u{1d}93dGVz");
/// assert!(decision.is_blocked());
/// assert!(!index.check("0104600439931256215abcdEFGH1235").is_blocked());
/// # Ok(()) }
/// ```
pub struct Index {
    dir: PathBuf,
    manifest: Manifest,
    /// `as_of` as RFC 3339, formatted once: every verdict carries it.
    as_of_text: String,
    stacks: [TableStack; Table::COUNT],
    _manifest_lock: File,
}

impl Index {
    /// Opens the current generation at `dir`, verifying every checksum.
    pub fn open(dir: &Path) -> Result<Index, IndexError> {
        OpenOptions::default().open(dir)
    }

    fn from_manifest(
        dir: &Path,
        manifest: Manifest,
        lock: File,
        options: &OpenOptions,
    ) -> Result<Index, IndexError> {
        let trusted = |meta: &FileMeta| options.trusted.contains(&meta.name);
        let verify = |meta: &FileMeta| options.verify_checksums && !trusted(meta);
        let bad = |reason: String| IndexError::Manifest {
            path: dir.join(manifest.file_name()),
            reason,
        };
        let mut stacks: [TableStack; Table::COUNT] = Default::default();
        for (n, segment) in manifest.segments.iter().enumerate() {
            let mut data: [Option<Box<dyn TableSegment>>; Table::COUNT] = Default::default();
            let mut filters: [Option<(filter::Filter, PathBuf)>; Table::COUNT] = Default::default();
            // Whether each table's data was hashed or is trusted (then its filter needs no
            // sample).
            let mut checked = [false; Table::COUNT];
            for meta in &segment.files {
                let table = meta.role.table;
                let consistent = meta.role.filter == (meta.layout == Layout::Filter);
                if !consistent {
                    return Err(bad(format!(
                        "{} is a {:?} file in a {} role",
                        meta.name,
                        meta.layout,
                        if meta.role.filter { "filter" } else { "data" }
                    )));
                }
                let twice = if meta.role.filter {
                    let filter = open_filter(dir, meta, verify(meta))?;
                    filters[table.slot()]
                        .replace((filter, format::data_path(dir, meta)))
                        .is_some()
                } else {
                    checked[table.slot()] = verify(meta) || trusted(meta);
                    data[table.slot()]
                        .replace(open_segment(dir, meta, verify(meta))?)
                        .is_some()
                };
                if twice {
                    return Err(bad(format!(
                        "segment {} lists two files for {:?}",
                        segment.id, meta.role
                    )));
                }
            }
            for (slot, (data, filter)) in data.into_iter().zip(filters).enumerate() {
                let Some(data) = data else {
                    if filter.is_some() {
                        return Err(bad(format!(
                            "segment {} has a filter without its data",
                            segment.id
                        )));
                    }
                    continue;
                };
                if let (Some((filter, path)), false) = (&filter, checked[slot]) {
                    sample_filter(&*data, filter, path)?;
                }
                let source = Source::new(data, filter.map(|(f, _)| f));
                let stack = &mut stacks[slot];
                if n == 0 {
                    stack.base = Some(source);
                } else if Table::ALL[slot] == Table::Sold {
                    return Err(bad("sold state belongs in the base segment".into()));
                } else {
                    stack.layers.insert(0, source);
                }
            }
        }
        Ok(Index {
            dir: dir.to_path_buf(),
            as_of_text: crate::time::format_rfc3339(manifest.as_of_ms),
            manifest,
            stacks,
            _manifest_lock: lock,
        })
    }

    /// The generation's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// When the generation's data was current, as RFC 3339.
    pub fn as_of_text(&self) -> &str {
        &self.as_of_text
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of delta layers over the base.
    pub fn layer_count(&self) -> usize {
        self.manifest.segments.len().saturating_sub(1)
    }

    /// A table's base segment, if it has one (compaction reads it whole).
    pub(crate) fn base_segment(&self, table: Table) -> Option<&dyn TableSegment> {
        self.stacks[table.slot()].base.as_ref().map(|b| &*b.data)
    }

    /// What a table's delta layers say, in key order, the newest layer deciding each key,
    /// removals (tombstones) included.
    pub(crate) fn layer_union(&self, table: Table) -> segment::merge::Union<'_> {
        segment::merge::Union::with_tombstones(
            self.stacks[table.slot()]
                .layers
                .iter()
                .map(|l| l.data.cursor())
                .collect(),
        )
    }

    /// One table's segments, for the check path's batch lookups.
    pub(crate) fn stack(&self, table: Table) -> &TableStack {
        &self.stacks[table.slot()]
    }

    /// Raw lookup of a key in one table: the value for maps, 0 for sets, `None` if absent.
    pub fn get(&self, table: Table, key: &[u8]) -> Option<u64> {
        self.stacks[table.slot()].get(key)
    }

    /// Whether a canonical КИ is on the banned list.
    pub fn contains_ki(&self, ki: &[u8]) -> bool {
        self.get(Table::BlockedCis, ki).is_some()
    }

    /// Looks up many canonical КИ at once (faster than one by one: the filter probes of a
    /// group overlap); `out[i]` says whether `kis[i]` is banned.
    pub fn contains_ki_batch<K: AsRef<[u8]>>(&self, kis: &[K], out: &mut Vec<bool>) {
        out.clear();
        out.reserve(kis.len());
        self.contains_ki_batch_with(kis, |_, banned| out.push(banned));
    }

    /// Like [`contains_ki_batch`](Self::contains_ki_batch), handing each answer to
    /// `found(i, banned)` in order, so that a caller can write it where it wants it.
    pub fn contains_ki_batch_with<K: AsRef<[u8]>>(
        &self,
        kis: &[K],
        mut found: impl FnMut(usize, bool),
    ) {
        let stack = &self.stacks[Table::BlockedCis.slot()];
        let mut hashes = [0u64; BATCH_CHUNK];
        let mut values = [None; BATCH_CHUNK];
        for (c, chunk) in kis.chunks(BATCH_CHUNK).enumerate() {
            for (h, k) in hashes.iter_mut().zip(chunk) {
                *h = key_hash(k.as_ref());
            }
            stack.get_chunk(chunk, &hashes[..chunk.len()], &mut values);
            for (i, value) in values[..chunk.len()].iter().enumerate() {
                found(c * BATCH_CHUNK + i, value.is_some());
            }
        }
    }

    /// Bytes of one table's data over all segments (filters not included).
    pub fn table_bytes(&self, table: Table) -> u64 {
        self.stacks[table.slot()]
            .sources()
            .map(|s| s.data.bytes())
            .sum()
    }

    /// Streams every entry of one table as the lookups see it, in key order.
    pub fn for_each_entry(&self, table: Table, f: impl FnMut(&[u8], u64)) {
        self.stacks[table.slot()].for_each(f)
    }

    /// The content digest of this generation, computed from `before`'s (`before_digest`,
    /// known good) over only the keys either generation's delta layers touch: exact when
    /// both share their base (every other key has the same value in both), `None` when
    /// they do not. What a pull checks after a delta, in time proportional to the layers.
    pub(crate) fn digest_since(
        &self,
        before: &Index,
        before_digest: ContentDigest,
    ) -> Option<ContentDigest> {
        let base_files = |m: &Manifest| -> Vec<(String, String)> {
            m.segments
                .first()
                .map(|s| {
                    s.files
                        .iter()
                        .filter(|f| f.role.table != Table::Sold)
                        .map(|f| (f.name.clone(), f.xxh3.clone()))
                        .collect()
                })
                .unwrap_or_default()
        };
        if base_files(&self.manifest) != base_files(&before.manifest) {
            return None;
        }
        let mut digest = before_digest;
        for kind in ListKind::ALL {
            let table = Table::from(kind);
            let mut touched: Vec<Vec<u8>> = Vec::new();
            for index in [self, before] {
                let mut union = index.layer_union(table);
                while union.advance() {
                    touched.push(union.key().to_vec());
                }
            }
            touched.sort_unstable();
            touched.dedup();
            for key in &touched {
                if let Some(v) = before.get(table, key) {
                    digest.remove(kind, key, v);
                }
                if let Some(v) = self.get(table, key) {
                    digest.add(kind, key, v);
                }
            }
        }
        Some(digest)
    }

    /// Recomputes the content digest (of the four lists) from the entries.
    pub fn compute_digest(&self) -> ContentDigest {
        let mut d = ContentDigest::default();
        for kind in ListKind::ALL {
            self.for_each_entry(kind.into(), |k, v| d.add(kind, k, v));
        }
        d
    }
}

fn open_segment(
    dir: &Path,
    meta: &FileMeta,
    verify: bool,
) -> Result<Box<dyn TableSegment>, IndexError> {
    let damaged = |reason: String| IndexError::Damaged {
        path: format::data_path(dir, meta),
        reason,
    };
    let bytes = format::open_data_file(dir, meta, verify)?;
    let data = segment::open(meta.layout, bytes).map_err(damaged)?;
    if data.len() != meta.entries {
        return Err(damaged(format!(
            "holds {} keys, the manifest says {}",
            data.len(),
            meta.entries
        )));
    }
    Ok(data)
}

/// Keys of each segment a filter is tried with when an index is opened without hashing
/// its files.
const FILTER_SAMPLE: usize = 64;

/// Without checksums, a filter whose bytes were lost (a zeroed page, a file of zeros)
/// would turn banned codes into allowed ones: the first keys of its segment must pass it.
/// A cheap check that catches a lost filter, not every damaged block (that is what
/// checksums are for).
fn sample_filter(
    data: &dyn TableSegment,
    filter: &filter::Filter,
    path: &Path,
) -> Result<(), IndexError> {
    let mut ruled_out = None;
    data.sample_keys(FILTER_SAMPLE, &mut |key| {
        if ruled_out.is_none() && !filter.may_contain(key_hash(key)) {
            ruled_out = Some(String::from_utf8_lossy(key).into_owned());
        }
    });
    if let Some(key) = ruled_out {
        return Err(IndexError::Damaged {
            path: path.to_path_buf(),
            reason: format!("the filter rules out key {key:?} of its own segment"),
        });
    }
    Ok(())
}

fn open_filter(dir: &Path, meta: &FileMeta, verify: bool) -> Result<filter::Filter, IndexError> {
    let bytes = format::open_data_file(dir, meta, verify)?;
    filter::Filter::new(bytes).map_err(|reason| IndexError::Damaged {
        path: format::data_path(dir, meta),
        reason,
    })
}

/// What [`verify`] checked.
#[derive(Debug)]
pub struct VerifyReport {
    /// Files hashed.
    pub files: usize,
    /// Bytes hashed.
    pub bytes: u64,
    /// Entries streamed.
    pub entries: u64,
}

/// Checks every byte of the index at `dir`: manifest checksum, every data file's checksum,
/// every FST's own structure, key counts and the content digest. The error names the first
/// damaged file.
pub fn verify(dir: &Path) -> Result<VerifyReport, IndexError> {
    verify_with(dir, &crate::progress::NoProgress)
}

/// [`verify`], reporting each stage to `progress`.
pub fn verify_with(dir: &Path, progress: &dyn Progress) -> Result<VerifyReport, IndexError> {
    progress.stage("hashing every file", 0);
    let index = Index::open(dir)?;
    let bytes = index.manifest.files().map(|f| f.len).sum();
    let walk = (|| {
        for table in Table::ALL {
            progress.stage(&format!("checking {}", table.name()), 0);
            if let Err(reason) = index.stacks[table.slot()].verify() {
                return Err(format!("{}: {reason}", table.name()));
            }
        }
        progress.stage("counting entries", 0);
        let mut counts = [0u64; Table::COUNT];
        for table in Table::ALL {
            index.for_each_entry(table, |_, _| counts[table.slot()] += 1);
        }
        progress.stage("recomputing the content digest", 0);
        let digest = index.compute_digest().to_string();
        progress.finish();
        Ok((counts, digest))
    })();
    let manifest_path = dir.join(index.manifest.file_name());
    let (counts, digest) = walk.map_err(|reason| IndexError::Damaged {
        path: manifest_path.clone(),
        reason,
    })?;
    for table in Table::ALL {
        let expected = index.manifest.counts.get(&table).copied().unwrap_or(0);
        let n = counts[table.slot()];
        if n != expected {
            return Err(IndexError::Damaged {
                path: manifest_path,
                reason: format!(
                    "{} holds {n} entries, the manifest says {expected}",
                    table.name()
                ),
            });
        }
    }
    if digest != index.manifest.content_digest {
        return Err(IndexError::Damaged {
            path: manifest_path,
            reason: format!(
                "content digest is {digest}, the manifest says {}",
                index.manifest.content_digest
            ),
        });
    }
    Ok(VerifyReport {
        files: index.manifest.files().count(),
        bytes,
        entries: counts.iter().sum(),
    })
}
