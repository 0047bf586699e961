//! Generations: layered answers equal a rebuilt index's, one writer at a time, readers keep
//! their generation until they let go, and a live reader switches without a restart.
#![cfg(feature = "synth")]

mod common;

use std::path::Path;

use cisgate::Index;
use cisgate::index::{self, ApplyOptions};
use cisgate::live::{LiveIndex, LiveOptions};
use cisgate::progress::NoProgress;
use cisgate::synth::{Catalogue, GenConfig};

fn config() -> GenConfig {
    GenConfig {
        seed: 5,
        codes: 20_000,
        gtins: 300,
        zstd: true,
        version: "v0".into(),
        as_of_ms: cisgate::time::now_ms(),
    }
}

fn base(dir: &Path) -> std::path::PathBuf {
    common::synthetic_index(dir, &config())
}

fn delta(dir: &Path, k: u64) -> std::path::PathBuf {
    common::synthetic_delta(dir, &config(), k, 500, 200)
}

fn keep_layers() -> ApplyOptions {
    ApplyOptions {
        compact_after_layers: 0,
        compact_after_size_ratio: 0.0,
        ..Default::default()
    }
}

/// Runs `cisgate apply --index IDX DELTA` as another process would.
#[cfg(feature = "cli")]
fn apply_cli(idx: &std::path::Path, delta: &std::path::Path) -> std::process::Output {
    common::cisgate(
        &[
            "apply",
            "--index",
            idx.to_str().unwrap(),
            delta.to_str().unwrap(),
        ],
        None,
    )
}

#[test]
fn layered_index_answers_exactly_like_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let idx = base(dir.path());
    for k in 0..3 {
        index::apply(&idx, &[delta(dir.path(), k)], &keep_layers(), &NoProgress).unwrap();
    }
    let layered = Index::open(&idx).unwrap();
    assert_eq!(layered.layer_count(), 3);

    // The same content as snapshots: stream the layered index's entries into list files.
    let snap = dir.path().join("snap");
    std::fs::create_dir_all(&snap).unwrap();
    let mut lists = Vec::new();
    for kind in cisgate::list::ListKind::ALL {
        let mut body = String::new();
        layered.for_each_entry(kind.into(), |k, v| {
            let k = String::from_utf8(k.to_vec()).unwrap();
            body.push_str(&match kind {
                cisgate::list::ListKind::BlockedSeries => format!("{}\t{}\n", &k[..14], &k[14..]),
                cisgate::list::ListKind::MinPrice => format!("{k}\t{v}\n"),
                cisgate::list::ListKind::BlockedGtin => {
                    let mut lines = String::new();
                    if v & 1 != 0 {
                        lines.push_str(&format!("{k}\n"));
                    }
                    if v & 2 != 0 {
                        lines.push_str(&format!("{k}\tgrey\n"));
                    }
                    lines
                }
                _ => format!("{k}\n"),
            });
        });
        let path = snap.join(format!("{kind}.list"));
        common::write_list(&path, kind.name(), "v3", "", &body);
        lists.push(path);
    }
    let rebuilt_dir = dir.path().join("rebuilt");
    index::build(&rebuilt_dir, &lists, &Default::default(), &NoProgress).unwrap();
    let rebuilt = Index::open(&rebuilt_dir).unwrap();
    assert_eq!(
        rebuilt.manifest().content_digest,
        layered.manifest().content_digest
    );
    assert_eq!(rebuilt.manifest().counts, layered.manifest().counts);

    // And the same answers for banned, removed and never-banned codes.
    let catalogue = Catalogue::new(&config());
    for i in (0..20_000).step_by(7).chain(20_000..21_600) {
        let km = String::from_utf8(catalogue.code(i).km).unwrap();
        assert_eq!(layered.check(&km), rebuilt.check(&km), "code {i}");
        assert_eq!(
            layered.explain(&km, &Default::default()),
            rebuilt
                .explain(&km, &Default::default())
                .with_version_of(&layered),
            "code {i}"
        );
    }
}

trait SameVersion {
    fn with_version_of(self, index: &Index) -> Self;
}

impl SameVersion for cisgate::Verdict {
    fn with_version_of(mut self, index: &Index) -> Self {
        self.index_version = index.manifest().version.clone();
        self.as_of = cisgate::time::format_rfc3339(index.manifest().as_of_ms);
        self
    }
}

#[test]
#[cfg(feature = "cli")]
fn a_second_writer_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let idx = base(dir.path());
    let d = delta(dir.path(), 0);
    let held = index::WriterLock::acquire(&idx).unwrap();
    let out = apply_cli(&idx, &d);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("another writer holds the index lock"),
        "{}",
        common::stderr(&out)
    );
    let out = common::cisgate(&["compact", "--index", idx.to_str().unwrap()], None);
    assert!(
        common::stderr(&out).contains("another writer"),
        "{}",
        common::stderr(&out)
    );
    drop(held);
    let out = apply_cli(&idx, &d);
    assert!(out.status.success(), "{}", common::stderr(&out));
}

#[test]
fn old_generations_stay_while_a_reader_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let idx = base(dir.path());
    let reader = Index::open(&idx).unwrap();
    let old_files: Vec<String> = reader.manifest().files().map(|f| f.name.clone()).collect();
    let catalogue = Catalogue::new(&config());
    let banned = catalogue.code(0).ki;
    assert!(reader.contains_ki(&banned));

    // Two applies and a compaction replace every file of generation 1.
    index::apply(&idx, &[delta(dir.path(), 0)], &keep_layers(), &NoProgress).unwrap();
    index::apply(&idx, &[delta(dir.path(), 1)], &keep_layers(), &NoProgress).unwrap();
    index::compact(&idx, &Default::default(), &NoProgress).unwrap();
    for f in &old_files {
        assert!(
            idx.join(f).exists(),
            "{f} deleted while a reader holds its generation"
        );
    }
    assert!(
        reader.contains_ki(&banned),
        "the old generation still answers"
    );
    drop(reader);
    // The next publish finds generation 1 unused and removes it.
    index::apply(&idx, &[delta(dir.path(), 2)], &keep_layers(), &NoProgress).unwrap();
    for f in &old_files {
        assert!(!idx.join(f).exists(), "{f} kept after its last reader left");
    }
}

/// Windows refuses to delete a file another process maps; the collection after a publish
/// must leave such a file for the next writer, never fail the publish. A directory named
/// like a stale data file is undeletable by `remove_file` on every system, so it stands in
/// here (the Wine tests in scripts/windows.sh cover the real case).
#[test]
fn a_file_that_cannot_be_deleted_never_fails_a_publish() {
    let dir = tempfile::tempdir().unwrap();
    let idx = base(dir.path());
    let data_file = Index::open(&idx)
        .unwrap()
        .manifest()
        .files()
        .map(|f| f.name.clone())
        .next()
        .unwrap();
    let extension = data_file.rsplit_once('.').unwrap().1;
    let stuck = idx.join(format!("seg-999999.{extension}"));
    std::fs::create_dir(&stuck).unwrap();
    std::fs::write(stuck.join("inside"), b"x").unwrap();

    index::apply(&idx, &[delta(dir.path(), 0)], &keep_layers(), &NoProgress).unwrap();
    index::compact(&idx, &Default::default(), &NoProgress).unwrap();
    assert!(stuck.exists(), "left for a later writer");
    let index = Index::open(&idx).unwrap();
    assert_eq!(index.manifest().generation, 3, "both writers published");
    drop(index);

    // Once it is a plain file again, the next writer removes it.
    std::fs::remove_dir_all(&stuck).unwrap();
    std::fs::write(&stuck, b"stale").unwrap();
    index::apply(&idx, &[delta(dir.path(), 1)], &keep_layers(), &NoProgress).unwrap();
    assert!(!stuck.exists(), "removed by the next writer");
}

#[test]
#[cfg(feature = "cli")]
fn live_reader_switches_generation_on_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let idx = base(dir.path());
    let live = LiveIndex::open(&idx, LiveOptions::default()).unwrap();
    let catalogue = Catalogue::new(&config());
    // Code 20000 is added by delta 0.
    let added = String::from_utf8(catalogue.code(20_000).km).unwrap();
    assert!(
        !live
            .check(&added, &Default::default())
            .unwrap()
            .is_blocked()
    );
    let pinned = live.generation();

    // Another process applies the delta.
    let d = delta(dir.path(), 0);
    let out = apply_cli(&idx, &d);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(
        !live
            .check(&added, &Default::default())
            .unwrap()
            .is_blocked(),
        "no switch before refresh"
    );
    assert!(live.refresh().unwrap());
    let checked = live.check_batch(&[&added], &Default::default()).unwrap();
    assert!(checked[0].is_blocked());
    assert_eq!(checked.version(), "v1");
    // A lookup that began on the old generation still sees it whole.
    assert!(!pinned.index().check(&added).is_blocked());
    assert!(!live.refresh().unwrap());

    // Sales from another process show up on refresh.
    let fresh = String::from_utf8(catalogue.code(5_000_000).km).unwrap();
    let out = common::cisgate(&["sell", "--index", idx.to_str().unwrap(), &fresh], None);
    assert!(out.status.success(), "{}", common::stderr(&out));
    live.refresh().unwrap();
    assert!(
        live.check(&fresh, &Default::default())
            .unwrap()
            .reasons()
            .contains(cisgate::check::Reason::Sold)
    );
    assert!(live.sell(&fresh).is_err());
}

#[test]
fn sales_expire_after_the_retention_period() {
    let dir = tempfile::tempdir().unwrap();
    let idx = base(dir.path());
    let short = LiveOptions {
        sold_retention_ms: 200,
        ..LiveOptions::default()
    };
    let live = LiveIndex::open(&idx, short.clone()).unwrap();
    let catalogue = Catalogue::new(&config());
    let code = String::from_utf8(catalogue.code(7_000_000).km).unwrap();
    live.sell(&code).unwrap();
    assert!(live.check(&code, &Default::default()).unwrap().is_blocked());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        !live.check(&code, &Default::default()).unwrap().is_blocked(),
        "expired sale still blocks"
    );
    // An expired sale can be sold again, and compaction drops expired sales.
    live.sell(&code).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let options = index::CompactOptions {
        sold_retention_ms: 200,
        ..Default::default()
    };
    let report = index::compact(&idx, &options, &NoProgress).unwrap();
    assert_eq!(report.manifest.counts[&index::Table::Sold], 0);
    // With the default 30 days, a fresh sale survives compaction.
    let live = LiveIndex::open(&idx, LiveOptions::default()).unwrap();
    live.sell(&code).unwrap();
    let report = index::compact(&idx, &Default::default(), &NoProgress).unwrap();
    assert_eq!(report.manifest.counts[&index::Table::Sold], 1);
    live.refresh().unwrap();
    assert!(live.check(&code, &Default::default()).unwrap().is_blocked());
}

#[test]
fn a_refresher_follows_new_generations_until_dropped() {
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let idx = base(dir.path());
    let live = Arc::new(LiveIndex::open(&idx, LiveOptions::default()).unwrap());
    let refresher = live.refresh_every(Duration::from_millis(20));
    let before = live.generation().index().manifest().generation;
    index::apply(&idx, &[delta(dir.path(), 0)], &keep_layers(), &NoProgress).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while live.generation().index().manifest().generation == before {
        assert!(Instant::now() < deadline, "the refresher never switched");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(refresher.last_error(), None);
    // Dropped: no more switching (the thread has ended when drop returns).
    drop(refresher);
    let now = live.generation().index().manifest().generation;
    index::apply(&idx, &[delta(dir.path(), 1)], &keep_layers(), &NoProgress).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(live.generation().index().manifest().generation, now);
    // The thread does not keep the index alive either.
    let weak = Arc::downgrade(&live);
    let refresher = live.refresh_every(Duration::from_millis(20));
    drop(live);
    // (A refresh in progress holds it for a moment.)
    let deadline = Instant::now() + Duration::from_secs(5);
    while weak.upgrade().is_some() {
        assert!(
            Instant::now() < deadline,
            "the refresher keeps the index alive"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(refresher);
}
