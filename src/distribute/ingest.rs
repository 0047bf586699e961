//! The builder as a service: list files taken from an inbox folder as they arrive,
//! applied to the builder's index and published within a second, the stores told by a
//! push notice.
//!
//! **The inbox.** A file counts once it is complete, which the exporter shows by renaming
//! it into the inbox (write `NAME.tmp`, or a name starting with `.`, then rename: both are
//! ignored until then). A snapshot set of several lists arrives as a folder renamed into
//! the inbox the same way; a single snapshot list may come as a file.
//!
//! **Order.** The chain decides: a delta is applied when its parent is the channel's
//! version (the deltas that continue the chain are applied together, as one generation);
//! a delta whose parent has not arrived waits up to [`IngestOptions::wait_for_parent`],
//! then is rejected and reported; a snapshot newer than the channel's data re-bases it.
//! A file whose version the channel already holds (its version is the channel's, or in
//! its delta history) is taken again harmlessly: moved to `applied/`, nothing published.
//!
//! **Crashes.** A file leaves the inbox only after the generation it made is published.
//! A builder killed at any moment restarts with every file either applied and published,
//! or still in the inbox; at start it publishes the local generation if the channel does
//! not point at it yet (killed between the apply and the publish).
//!
//! **Bad files** go to `rejected/` with `NAME.why.txt` beside them (the error names the
//! file, line, byte offset and code); the channel keeps its last good generation, and an
//! alert goes out.
//!
//! **Folds.** Past [`IngestOptions::fold_after_layers`] delta layers they are merged into
//! one (stores download only the merged layer); past [`IngestOptions::fold_after_ratio`]
//! of the base's bytes a new base is written (stores download it whole). A new store
//! therefore downloads a base and at most `fold_after_layers + 1` layers.
//!
//! **Renewal.** With nothing arriving, the pointer is renewed every half of its validity.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::alert::{AlertBook, Alerter};
use super::error::DistributeError;
use super::notice::Notifier;
use super::publish::{PublishOptions, Publisher};
use super::remote::Remote;
use super::status::{BuilderStatus, NodeStatus, report as report_status};
use crate::index::{self, ApplyOptions, BuildOptions, Index, IndexError, Manifest};
use crate::list::{ListReader, ListType, ReadOptions};
use crate::progress::NoProgress;

/// How often the inbox is looked at.
const SCAN_EVERY: Duration = Duration::from_millis(100);

/// How the builder runs.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// The inbox folder (`rejected/` and `applied/` are made inside it).
    pub inbox: PathBuf,
    /// The builder's own index.
    pub index: PathBuf,
    /// How the channel is published (its key, validity, channel name).
    pub publish: PublishOptions,
    /// How long a delta waits for its parent before it is rejected.
    pub wait_for_parent: Duration,
    /// Merge the delta layers into one past this many.
    pub fold_after_layers: usize,
    /// Write a new base once the layers' bytes pass this fraction of the base's.
    pub fold_after_ratio: f64,
    /// Tell the stores at this NATS URL after each publish.
    pub nats: Option<String>,
    /// The builder's name in its status report.
    pub node: String,
    /// Report the builder's status when it changed, and otherwise every this long.
    pub status_every: Duration,
    /// Applied files are kept in `applied/` this long, then removed.
    pub keep_applied: Duration,
    /// Where alert state is kept, when the builder alerts (default: `ALERTS.json` in the
    /// inbox).
    pub alert_state: Option<PathBuf>,
}

impl IngestOptions {
    /// Defaults: wait 10 minutes for a parent, merge past 8 layers, a new base past a
    /// quarter of the base's bytes, report every 5 minutes, keep applied files 7 days.
    pub fn new(inbox: PathBuf, index: PathBuf, publish: PublishOptions) -> IngestOptions {
        IngestOptions {
            inbox,
            index,
            publish,
            wait_for_parent: Duration::from_secs(600),
            fold_after_layers: 8,
            fold_after_ratio: 0.25,
            nats: None,
            node: "builder".into(),
            status_every: Duration::from_secs(300),
            keep_applied: Duration::from_secs(7 * 86_400),
            alert_state: None,
        }
    }
}

/// What one arrival is.
#[derive(Clone, Debug)]
enum Arrival {
    /// A delta: its parent and its version.
    Delta { parent: String, version: String },
    /// A snapshot set (a file or a folder of lists): its version and `as_of`.
    Snapshot { version: String, as_of_ms: i64 },
}

/// An entry of the inbox and when the builder first saw it.
#[derive(Clone, Debug)]
struct Entry {
    path: PathBuf,
    arrival: Arrival,
    seen_ms: i64,
}

/// What the builder did in one step (for its log and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Files applied and published as one generation of `version`.
    Published {
        /// The files, in chain order.
        files: Vec<String>,
        /// The channel's version now.
        version: String,
        /// The pointer's sequence.
        sequence: u64,
    },
    /// A file the channel already held, set aside.
    AlreadyApplied(String),
    /// A file rejected, and why.
    Rejected(String, String),
    /// The pointer renewed with nothing new.
    Renewed(u64),
}

/// The builder service; see the module documentation.
pub struct Ingester {
    options: IngestOptions,
    publisher: Publisher,
    notifier: Option<Notifier>,
    alerter: Option<(Alerter, AlertBook)>,
    /// When each inbox entry was first seen (Unix ms).
    seen: BTreeMap<PathBuf, i64>,
    last_publish_ms: Option<i64>,
    status: BuilderStatus,
    reported: Option<(BuilderStatus, i64)>,
    publish_failing: bool,
}

impl Ingester {
    /// Starts a builder: folders made, the store reached, NATS and alerts set up, and
    /// the local generation published if the channel does not point at it.
    pub fn start(
        remote: &Remote,
        options: IngestOptions,
        alerter: Option<Alerter>,
    ) -> Result<Ingester, DistributeError> {
        for dir in [
            options.inbox.clone(),
            options.inbox.join("rejected"),
            options.inbox.join("applied"),
        ] {
            std::fs::create_dir_all(&dir).map_err(|source| DistributeError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let publisher = Publisher::new(remote, options.publish.clone())?;
        let notifier = match &options.nats {
            Some(url) => Some(Notifier::connect(url)?),
            None => None,
        };
        let alerter = match alerter {
            Some(a) => {
                let state = options
                    .alert_state
                    .clone()
                    .unwrap_or_else(|| options.inbox.join("ALERTS.json"));
                Some((a, AlertBook::open(&state)?))
            }
            None => None,
        };
        let mut ingester = Ingester {
            options,
            publisher,
            notifier,
            alerter,
            seen: BTreeMap::new(),
            last_publish_ms: None,
            status: BuilderStatus::default(),
            reported: None,
            publish_failing: false,
        };
        // Killed between an apply and its publish: the channel lags the local index.
        if let Some(local) = ingester.local_manifest()? {
            let pointed = ingester.publisher.channel_pointer()?;
            match pointed {
                Some(p) if p.content_digest == local.content_digest => {
                    ingester.last_publish_ms = Some(p.created_ms);
                }
                _ => {
                    ingester.publish(None)?;
                }
            }
        }
        Ok(ingester)
    }

    fn local_manifest(&self) -> Result<Option<Manifest>, DistributeError> {
        match Index::open(&self.options.index) {
            Ok(index) => Ok(Some(index.manifest().clone())),
            Err(IndexError::NotAnIndex { .. } | IndexError::NoSuchDirectory { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs until `stop` is set, handing every step to `each`.
    pub fn run(&mut self, stop: &AtomicBool, mut each: impl FnMut(&Step)) {
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            match self.step() {
                Ok(steps) => steps.iter().for_each(&mut each),
                Err(e) => eprintln!(
                    "{}",
                    serde_json::json!({"ts": crate::time::format_rfc3339(crate::time::now_ms()),
                        "event": "ingest_failed", "error": e.to_string()})
                ),
            }
            if let Some(rest) = SCAN_EVERY.checked_sub(started.elapsed()) {
                std::thread::sleep(rest);
            }
        }
    }

    /// One look at the inbox: everything that can be applied now is applied and published;
    /// what waits too long, or cannot be read, is rejected; the pointer is renewed when due.
    pub fn step(&mut self) -> Result<Vec<Step>, DistributeError> {
        let mut steps = Vec::new();
        let entries = self.scan(&mut steps)?;
        let local = self.local_manifest()?;
        let now = crate::time::now_ms();
        // A snapshot newer than the channel's data re-bases it (the newest of them).
        let newest_snapshot = entries
            .iter()
            .filter_map(|e| match &e.arrival {
                Arrival::Snapshot { as_of_ms, version } => Some((*as_of_ms, version, e)),
                Arrival::Delta { .. } => None,
            })
            .filter(|(as_of, version, _)| {
                local.as_ref().is_none_or(|m| {
                    *as_of > m.as_of_ms || (*as_of == m.as_of_ms && **version != m.version)
                })
            })
            .max_by_key(|(as_of, _, _)| *as_of)
            .map(|(_, _, e)| e.clone());
        if let Some(snapshot) = newest_snapshot {
            match self.build(&snapshot) {
                Ok(()) => self.published(vec![snapshot], &mut steps)?,
                Err(e) => self.reject(&snapshot.path, &e, &mut steps)?,
            }
            let queue = self.count_inbox();
            self.report(queue);
            return Ok(steps);
        }
        let Some(local) = local else {
            // No base yet: deltas wait for a snapshot.
            self.reject_stale_waiters(&entries, None, now, &mut steps)?;
            self.report(entries.len() as u64);
            return Ok(steps);
        };
        // Files the channel already holds.
        let held: Vec<&Entry> = entries
            .iter()
            .filter(|e| holds(&local, &e.arrival))
            .collect();
        for entry in &held {
            self.set_aside(&entry.path, "applied")?;
            steps.push(Step::AlreadyApplied(name_of(&entry.path)));
        }
        // The deltas that continue the chain from the channel's version, in order.
        let mut chain: Vec<Entry> = Vec::new();
        let mut version = local.version.clone();
        loop {
            let next = entries.iter().find(|e| {
                matches!(&e.arrival, Arrival::Delta { parent, .. } if *parent == version)
                    && !chain.iter().any(|c| c.path == e.path)
            });
            match next {
                Some(e) => {
                    if let Arrival::Delta { version: v, .. } = &e.arrival {
                        version = v.clone();
                    }
                    chain.push(e.clone());
                }
                None => break,
            }
        }
        if !chain.is_empty() {
            self.apply_chain(chain, &mut steps)?;
        } else {
            let waiting: Vec<Entry> = entries
                .iter()
                .filter(|e| !holds(&local, &e.arrival))
                .cloned()
                .collect();
            self.reject_stale_waiters(&waiting, Some(&local), now, &mut steps)?;
        }
        // Nothing new: renew the pointer at half its validity.
        let renew_after = self.options.publish.valid_for_ms / 2;
        if steps.is_empty() && self.last_publish_ms.is_some_and(|t| now - t >= renew_after) {
            let sequence = self.publish(None)?;
            steps.push(Step::Renewed(sequence));
        }
        self.prune_applied();
        let queue = self.count_inbox();
        self.report(queue);
        Ok(steps)
    }

    /// Applies `chain`; on a bad delta, rejects it and applies the ones before it.
    fn apply_chain(
        &mut self,
        chain: Vec<Entry>,
        steps: &mut Vec<Step>,
    ) -> Result<(), DistributeError> {
        let options = ApplyOptions {
            compact_after_layers: self.options.fold_after_layers,
            compact_after_size_ratio: self.options.fold_after_ratio,
            ..ApplyOptions::default()
        };
        let paths: Vec<PathBuf> = chain.iter().map(|e| e.path.clone()).collect();
        match index::apply(&self.options.index, &paths, &options, &NoProgress) {
            Ok(_) => self.published(chain, steps),
            Err(e) if e.is_refusal() => {
                // Find the culprit alone; the deltas before it are good.
                let bad = chain
                    .iter()
                    .position(|entry| refusal_names(&e, &entry.path))
                    .unwrap_or(0);
                let mut good = chain;
                let rest = good.split_off(bad);
                if !good.is_empty() {
                    let paths: Vec<PathBuf> = good.iter().map(|e| e.path.clone()).collect();
                    index::apply(&self.options.index, &paths, &options, &NoProgress)?;
                    self.published(good, steps)?;
                }
                if let Some(culprit) = rest.first() {
                    self.reject(&culprit.path, &e, steps)?;
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn build(&self, snapshot: &Entry) -> Result<(), IndexError> {
        let lists = if snapshot.path.is_dir() {
            list_files(&snapshot.path)?
        } else {
            vec![snapshot.path.clone()]
        };
        // A snapshot's few malformed lines are set aside as `build` does (rejects.tsv in
        // the index folder); more than 1 % refuses the snapshot.
        index::build(
            &self.options.index,
            &lists,
            &BuildOptions::default(),
            &NoProgress,
        )
        .map(drop)
    }

    /// After `entries` made a generation: publish it, tell the stores, set the files
    /// aside.
    fn published(
        &mut self,
        entries: Vec<Entry>,
        steps: &mut Vec<Step>,
    ) -> Result<(), DistributeError> {
        let received = entries.iter().map(|e| e.seen_ms).min();
        let sequence = self.publish(received)?;
        let version = self
            .local_manifest()?
            .map(|m| m.version)
            .unwrap_or_default();
        for entry in &entries {
            self.set_aside(&entry.path, "applied")?;
        }
        if let Some(last) = entries.last() {
            self.status.last_file = Some(name_of(&last.path));
            self.status.last_file_ms = Some(last.seen_ms);
        }
        steps.push(Step::Published {
            files: entries.iter().map(|e| name_of(&e.path)).collect(),
            version,
            sequence,
        });
        Ok(())
    }

    /// Publishes the local generation; returns the pointer's sequence.
    fn publish(&mut self, received_ms: Option<i64>) -> Result<u64, DistributeError> {
        let published = self.publisher.publish(&self.options.index, received_ms);
        let failing = published.is_err();
        if failing != self.publish_failing {
            self.publish_failing = failing;
            let why = published.as_ref().err().map(|e| e.to_string());
            self.alert("not_publishing", failing, move |failing| {
                if failing {
                    format!(
                        "Сборщик не может опубликовать списки / the builder cannot publish: {}",
                        why.unwrap_or_default()
                    )
                } else {
                    "Сборщик снова публикует / the builder publishes again".to_string()
                }
            });
        }
        let report = published?;
        let now = crate::time::now_ms();
        self.last_publish_ms = Some(now);
        self.status.last_publish_ms = Some(now);
        if let Some(notifier) = &self.notifier {
            notifier.notify(&report.pointer.channel, report.pointer.sequence);
        }
        Ok(report.pointer.sequence)
    }

    /// The inbox's complete entries, each read once for what it is; an unreadable one is
    /// rejected at once.
    fn scan(&mut self, steps: &mut Vec<Step>) -> Result<Vec<Entry>, DistributeError> {
        let inbox = self.options.inbox.clone();
        let now = crate::time::now_ms();
        let mut entries = Vec::new();
        let mut present = Vec::new();
        for path in complete_entries(&inbox)? {
            present.push(path.clone());
            let seen_ms = *self.seen.entry(path.clone()).or_insert(now);
            match read_arrival(&path) {
                Ok(arrival) => entries.push(Entry {
                    path,
                    arrival,
                    seen_ms,
                }),
                Err(e) => self.reject(&path, &e, steps)?,
            }
        }
        self.seen.retain(|p, _| present.contains(p));
        Ok(entries)
    }

    /// Rejects the deltas that waited too long for a parent.
    fn reject_stale_waiters(
        &mut self,
        waiting: &[Entry],
        local: Option<&Manifest>,
        now: i64,
        steps: &mut Vec<Step>,
    ) -> Result<(), DistributeError> {
        let bound = self.options.wait_for_parent.as_millis() as i64;
        for entry in waiting {
            if let Arrival::Delta { parent, version } = &entry.arrival
                && now - entry.seen_ms > bound
            {
                let channel = local.map_or_else(
                    || "no base yet".to_string(),
                    |m| format!("the channel is at version {}", m.version),
                );
                let why = DistributeError::Invalid(format!(
                    "{}: delta to version {version} waited {} s for its parent version {parent}, which never arrived ({channel})",
                    entry.path.display(),
                    (now - entry.seen_ms) / 1000
                ));
                self.reject(&entry.path, &why, steps)?;
            }
        }
        Ok(())
    }

    /// Moves a bad file to `rejected/` with the reason beside it, and alerts.
    fn reject(
        &mut self,
        path: &Path,
        why: &dyn std::fmt::Display,
        steps: &mut Vec<Step>,
    ) -> Result<(), DistributeError> {
        let name = name_of(path);
        let reason = why.to_string();
        let dir = self.options.inbox.join("rejected");
        crate::durable::write(
            &dir,
            &format!("{name}.why.txt"),
            format!("{reason}\n").as_bytes(),
        )?;
        self.set_aside(path, "rejected")?;
        self.status.rejected += 1;
        self.status.last_rejected = Some(format!("{name}: {reason}"));
        if let Some((alerter, _)) = &self.alerter {
            let alert = AlertBook::event(
                &self.options.node,
                "rejected",
                format!(
                    "Сборщик отклонил файл {name} (канал остался на последнем верном поколении) / the builder rejected {name}: {reason}"
                ),
            );
            alerter.send(&alert);
        }
        steps.push(Step::Rejected(name, reason));
        Ok(())
    }

    /// A condition of the builder's own (`not_publishing`), alerted once per change.
    fn alert(&mut self, condition: &str, on: bool, describe: impl FnOnce(bool) -> String) {
        let subject = self.options.node.clone();
        if let Some((alerter, book)) = &mut self.alerter
            && let Ok(Some(alert)) =
                book.observe(&subject, on.then_some(condition), |_, _| describe(on))
        {
            alerter.send(&alert);
        }
    }

    /// Moves an inbox entry into `folder` (a name already there gets a suffix).
    fn set_aside(&self, path: &Path, folder: &str) -> Result<(), DistributeError> {
        let dir = self.options.inbox.join(folder);
        let mut target = dir.join(name_of(path));
        let mut n = 1;
        while target.exists() {
            target = dir.join(format!("{}.{n}", name_of(path)));
            n += 1;
        }
        std::fs::rename(path, &target).map_err(|source| DistributeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        crate::durable::sync_dir(&self.options.inbox)?;
        Ok(())
    }

    fn count_inbox(&self) -> u64 {
        complete_entries(&self.options.inbox).map_or(0, |e| e.len() as u64)
    }

    /// Removes applied files older than the keep period.
    fn prune_applied(&self) {
        let dir = self.options.inbox.join("applied");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > self.options.keep_applied);
            if old {
                let path = entry.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(path)
                } else {
                    std::fs::remove_file(path)
                };
            }
        }
    }

    /// Writes the builder's status when it changed, or when its heartbeat is due.
    fn report(&mut self, queue: u64) {
        self.status.queue = queue;
        let now = crate::time::now_ms();
        let due = self.reported.as_ref().is_none_or(|(last, at)| {
            *last != self.status || now - at >= self.options.status_every.as_millis() as i64
        });
        if !due {
            return;
        }
        let mut status = NodeStatus::new(&self.options.node, now);
        status.role = "builder".into();
        if let Ok(Some(m)) = self.local_manifest() {
            status.version = Some(m.version);
            status.content_digest = Some(m.content_digest);
            status.generation = Some(m.generation);
            status.as_of_ms = Some(m.as_of_ms);
        }
        status.last_success_ms = self.last_publish_ms;
        status.last_error = self
            .status
            .last_rejected
            .clone()
            .filter(|_| self.publish_failing);
        status.builder = Some(self.status.clone());
        let limit = self.options.publish.transfer.stall_timeout;
        if report_status(self.publisher.store(), &status, limit).is_ok() {
            self.reported = Some((self.status.clone(), now));
        }
    }
}

/// Whether the channel (at `local`) already holds what `arrival` brings.
fn holds(local: &Manifest, arrival: &Arrival) -> bool {
    match arrival {
        Arrival::Delta { version, .. } => {
            *version == local.version || local.deltas.iter().any(|d| d.header.version == *version)
        }
        Arrival::Snapshot { version, as_of_ms } => {
            (*version == local.version && *as_of_ms <= local.as_of_ms) || *as_of_ms < local.as_of_ms
        }
    }
}

/// Whether a refusal of an apply names this delta.
fn refusal_names(e: &IndexError, path: &Path) -> bool {
    let text = e.to_string();
    text.contains(&path.display().to_string())
}

fn name_of(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Whether an inbox name is still being written: `NAME.tmp`, `NAME.part` or `.NAME`.
fn in_flight(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".part")
}

/// The complete entries of the inbox (files and snapshot folders), oldest name first.
fn complete_entries(inbox: &Path) -> Result<Vec<PathBuf>, DistributeError> {
    let io = |source| DistributeError::Io {
        path: inbox.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(inbox).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if in_flight(&name)
            || matches!(name.as_str(), "rejected" | "applied")
            || name == "ALERTS.json"
        {
            continue;
        }
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}

/// The list files of a snapshot folder.
fn list_files(dir: &Path) -> Result<Vec<PathBuf>, IndexError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(IndexError::io(dir))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && !in_flight(&name_of(p)))
        .collect();
    files.sort();
    Ok(files)
}

/// What an inbox entry is, from its header(s).
fn read_arrival(path: &Path) -> Result<Arrival, IndexError> {
    if path.is_dir() {
        let files = list_files(path)?;
        let first = files
            .first()
            .ok_or(IndexError::NothingGiven { what: "list" })?;
        let header = ListReader::open(first, ReadOptions::default(), None)?
            .header()
            .clone();
        for other in &files[1..] {
            let h = ListReader::open(other, ReadOptions::default(), None)?
                .header()
                .clone();
            if h.version != header.version || matches!(h.list_type, ListType::Delta { .. }) {
                return Err(IndexError::Damaged {
                    path: other.clone(),
                    reason: format!(
                        "a snapshot set holds lists of one version ({}), all snapshots",
                        header.version
                    ),
                });
            }
        }
        if let ListType::Delta { .. } = header.list_type {
            return Err(IndexError::DeltaToBuild {
                path: first.clone(),
            });
        }
        let as_of_ms = files
            .iter()
            .filter_map(|f| ListReader::open(f, ReadOptions::default(), None).ok())
            .map(|r| r.header().as_of_ms)
            .min()
            .unwrap_or(header.as_of_ms);
        return Ok(Arrival::Snapshot {
            version: header.version,
            as_of_ms,
        });
    }
    let header = ListReader::open(path, ReadOptions::default(), None)?
        .header()
        .clone();
    Ok(match header.list_type {
        ListType::Delta { parent } => Arrival::Delta {
            parent,
            version: header.version,
        },
        ListType::Snapshot => Arrival::Snapshot {
            version: header.version,
            as_of_ms: header.as_of_ms,
        },
    })
}
