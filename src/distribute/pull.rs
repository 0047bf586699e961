//! Pulling a channel's generation into a node's index.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::DistributeError;
use super::pointer::{Pointer, Published, channel_key, check_pointer, object_key};
use super::remote::{DEFAULT_CHANNEL, Remote, TransferPolicy};
use super::sign::Verifier;
use super::status::{NodeStatus, report as report_status};
use super::store::{Store, sha256_hex};
use super::transfer::{self, with_retries};
use crate::durable;
use crate::index::generation::{
    DeltaHistory, GenerationCheck, GenerationEdit, GenerationWriter, SegmentEdit,
};
use crate::index::segment;
use crate::index::{Index, IndexError, SegmentMeta, WriterLock};

/// Where a node remembers what it pulled (beside the index's own files).
const STATE_FILE: &str = "PULLED";

/// How often a node that keeps pulling reports when nothing changed.
pub const DEFAULT_STATUS_EVERY: Duration = Duration::from_secs(300);

/// Options of [`pull`].
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// The channel to follow.
    pub channel: String,
    /// The minisign public key that must have signed the pointer.
    pub public_key: PathBuf,
    /// "Now" for the expiry check (Unix ms); tests inject it.
    pub now_ms: Option<i64>,
    /// How objects move (timeouts, retries, resumption, rate cap).
    pub transfer: TransferPolicy,
    /// How long to wait for another writer of the index (a running `pull --watch`, an
    /// `apply`) to finish; zero: fail at once.
    pub lock_wait: Duration,
    /// Told once when the index lock is busy and the pull waits for it.
    pub on_wait: Option<fn(&Path)>,
    /// Report this node's state to the store after the round (`status/<node>.json`).
    pub report_status: bool,
    /// The node's name in reports (default: its index's instance id).
    pub node: Option<String>,
    /// A node that keeps pulling reports when something changed (its data, its error)
    /// and otherwise every this long: a heartbeat, so that an unchanged round costs one
    /// conditional request and nothing more.
    pub status_every: Duration,
}

impl PullOptions {
    /// Defaults for `public_key`: the `LATEST` channel, the default transfer policy, a
    /// wait of up to 10 minutes for the index lock, a status report.
    pub fn new(public_key: PathBuf) -> PullOptions {
        PullOptions {
            channel: DEFAULT_CHANNEL.to_string(),
            public_key,
            now_ms: None,
            transfer: TransferPolicy::default(),
            lock_wait: Duration::from_secs(600),
            on_wait: None,
            report_status: true,
            node: None,
            status_every: DEFAULT_STATUS_EVERY,
        }
    }
}

/// What a pull found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullOutcome {
    /// The node already has what the channel points at.
    UpToDate,
    /// A new generation was published locally.
    Updated {
        /// The version the node had.
        from: Option<String>,
        /// The version it has now.
        to: String,
    },
}

/// What a pull did.
#[derive(Debug)]
pub struct PullReport {
    /// The outcome.
    pub outcome: PullOutcome,
    /// The pointer read (when one was read).
    pub pointer: Option<Pointer>,
    /// Objects downloaded.
    pub objects_downloaded: u64,
    /// Their bytes (the generation object included).
    pub bytes_downloaded: u64,
    /// Objects the node already held.
    pub objects_reused: u64,
    /// Bytes that partial downloads of earlier attempts or rounds already held.
    pub bytes_resumed: u64,
    /// Reads that stopped (a stall, a cut connection, 5xx) and were resumed.
    pub interruptions: u64,
    /// Why the status report could not be written, when it could not (the pull itself
    /// stands).
    pub status_error: Option<String>,
    /// Whether this round wrote a status report (on a change, or its heartbeat).
    pub status_written: bool,
    /// How long the round took.
    pub elapsed: Duration,
}

/// What a node remembers between pulls.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct PullState {
    source: String,
    channel: String,
    sequence: u64,
    etag: Option<String>,
    version: String,
    /// When the accepted pointer expires (Unix ms).
    #[serde(default)]
    expires_ms: i64,
    /// When a round last succeeded (Unix ms).
    #[serde(default)]
    last_success_ms: Option<i64>,
    /// When this node switched to the generation it holds (Unix ms).
    #[serde(default)]
    switched_ms: Option<i64>,
    /// When the pointer it switched on was published (Unix ms).
    #[serde(default)]
    published_ms: Option<i64>,
    /// When the change behind that pointer reached the builder (Unix ms), if it says.
    #[serde(default)]
    received_ms: Option<i64>,
    /// SHA-256 of the accepted pointer's bytes.
    #[serde(default)]
    pointer_sha256: Option<String>,
}

fn read_state(dir: &Path) -> Option<PullState> {
    let bytes = std::fs::read(dir.join(STATE_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write_state(dir: &Path, state: &PullState) -> Result<(), DistributeError> {
    let json = serde_json::to_vec_pretty(state)
        .map_err(|e| DistributeError::Invalid(format!("cannot encode the pull state: {e}")))?;
    durable::write(dir, STATE_FILE, &json)?;
    Ok(())
}

/// Pulls the channel's generation from `remote` into the index at `dir` (created when
/// missing). Everything is checked before anything is published; on any error the index
/// is exactly as it was. One round of a [`Puller`].
pub fn pull(
    dir: &Path,
    remote: &Remote,
    options: &PullOptions,
) -> Result<PullReport, DistributeError> {
    Puller::new(dir, remote, options.clone())?.round()
}

/// A node that keeps pulling: the store's connection, the publisher's key and what the node
/// remembers stay between rounds, and it reports its status when something changed or its
/// heartbeat is due ([`PullOptions::status_every`]).
pub struct Puller {
    dir: PathBuf,
    remote: Remote,
    options: PullOptions,
    verifier: Verifier,
    store: Store,
    /// What the node remembers (`PULLED`), read once.
    state: Option<PullState>,
    /// The facts of the last report and when it was written.
    reported: Option<(StatusFacts, i64)>,
    /// The generation the last round committed, opened and verified.
    opened: Option<Index>,
    /// Added to every report (a service's own figures).
    extra: Option<StatusExtra>,
}

/// A service's own figures, added to each status report.
type StatusExtra = Box<dyn Fn(&mut NodeStatus) + Send>;

/// What makes a status report worth writing before its heartbeat.
#[derive(Clone, PartialEq)]
struct StatusFacts {
    digest: Option<String>,
    sequence: Option<u64>,
    error: Option<String>,
}

impl Puller {
    /// A puller of `remote` into the index at `dir` (created when missing).
    pub fn new(
        dir: &Path,
        remote: &Remote,
        options: PullOptions,
    ) -> Result<Puller, DistributeError> {
        let verifier = Verifier::load(&options.public_key)?;
        std::fs::create_dir_all(dir).map_err(|source| DistributeError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let store = Store::open(remote, &options.transfer)?;
        Ok(Puller {
            dir: dir.to_path_buf(),
            remote: remote.clone(),
            options,
            verifier,
            store,
            state: read_state(dir),
            reported: None,
            opened: None,
            extra: None,
        })
    }

    /// Adds a service's own figures to every status report (`serve`'s daily counts).
    pub fn with_status_extra(mut self, extra: impl Fn(&mut NodeStatus) + Send + 'static) -> Puller {
        self.extra = Some(Box::new(extra));
        self
    }

    /// The sequence of the pointer this node holds (0: none yet).
    pub fn held_sequence(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.sequence)
    }

    /// The generation the last round committed, opened with every checksum verified: a
    /// service serves it without opening it again.
    pub fn take_opened(&mut self) -> Option<Index> {
        self.opened.take()
    }

    /// One round: the pointer (one conditional request when unchanged), then what it
    /// names, checked and committed; a status report when due.
    pub fn round(&mut self) -> Result<PullReport, DistributeError> {
        let started = std::time::Instant::now();
        let dir = self.dir.clone();
        let options = &self.options;
        let lock = match WriterLock::acquire_within(&dir, Duration::ZERO) {
            Err(IndexError::Locked { .. }) if !options.lock_wait.is_zero() => {
                if let Some(told) = options.on_wait {
                    told(&dir);
                }
                WriterLock::acquire_within(&dir, options.lock_wait)?
            }
            other => other?,
        };
        let mut writer = GenerationWriter::create_locked(&dir, lock)?;
        let mut round = Round {
            dir: &dir,
            remote: &self.remote,
            store: &self.store,
            verifier: &self.verifier,
            options,
            opened: None,
        };
        let result = round.run(&mut writer, &mut self.state).map(|mut r| {
            r.elapsed = started.elapsed();
            r
        });
        self.opened = round.opened.take();
        let held = writer.previous().cloned();
        drop(writer);
        let now = options.now_ms.unwrap_or_else(crate::time::now_ms);
        let node = options.node.clone().unwrap_or_else(|| {
            held.as_ref()
                .map_or_else(|| "unnamed".to_string(), |m| m.instance_id.clone())
        });
        let mut status = NodeStatus::new(&node, now);
        if let Some(m) = &held {
            status.version = Some(m.version.clone());
            status.content_digest = Some(m.content_digest.clone());
            status.generation = Some(m.generation);
            status.as_of_ms = Some(m.as_of_ms);
        }
        if let Some(s) = &self.state {
            status.pointer_sequence = Some(s.sequence);
            status.pointer_expires_ms = Some(s.expires_ms);
            status.last_success_ms = s.last_success_ms;
            status.switched_ms = s.switched_ms;
            status.pointer_published_ms = s.published_ms;
            status.pointer_received_ms = s.received_ms;
        }
        status.last_error = result.as_ref().err().map(|e| e.to_string());
        if let Some(extra) = &self.extra {
            extra(&mut status);
        }
        // Kept beside the index too, for `serve`'s status page: advisory, so written
        // without the fsync a durable write costs every round.
        if let Ok(json) = serde_json::to_vec_pretty(&status) {
            let _ = durable::write_advisory(&dir, crate::index::PULL_STATUS, &json);
        }
        let facts = StatusFacts {
            digest: status.content_digest.clone(),
            sequence: status.pointer_sequence,
            error: status.last_error.clone(),
        };
        let due = self.reported.as_ref().is_none_or(|(last, at)| {
            *last != facts || now - at >= options.status_every.as_millis() as i64
        });
        if !options.report_status || !due {
            return result;
        }
        let reported = report_status(&self.store, &status, options.transfer.stall_timeout);
        if reported.is_ok() {
            self.reported = Some((facts, now));
        }
        result.map(|mut r| {
            r.status_error = reported.err().map(|e| e.to_string());
            r.status_written = r.status_error.is_none();
            r
        })
    }
}

/// One round's borrowed parts.
struct Round<'a> {
    dir: &'a Path,
    remote: &'a Remote,
    store: &'a Store,
    verifier: &'a Verifier,
    options: &'a PullOptions,
    opened: Option<Index>,
}

impl Round<'_> {
    /// One pull round with the lock held. `remembered` is what the node remembers of its
    /// pulls; the round updates it as it writes it.
    fn run(
        &mut self,
        writer: &mut GenerationWriter<'_>,
        remembered: &mut Option<PullState>,
    ) -> Result<PullReport, DistributeError> {
        let (dir, remote, store, verifier, options) = (
            self.dir,
            self.remote,
            self.store,
            self.verifier,
            self.options,
        );
        let policy = &options.transfer;
        let source = remote.to_string();
        let state = remembered
            .clone()
            .filter(|s| s.source == source && s.channel == options.channel);
        let current = writer.previous().cloned();
        let mut report = PullReport {
            outcome: PullOutcome::UpToDate,
            pointer: None,
            objects_downloaded: 0,
            bytes_downloaded: 0,
            objects_reused: 0,
            bytes_resumed: 0,
            interruptions: 0,
            status_error: None,
            status_written: false,
            elapsed: Duration::ZERO,
        };
        // A conditional GET: an unchanged pointer costs one request and no body.
        let held = state.as_ref().filter(|_| current.is_some()).and_then(|s| {
            Some((
                s.etag.as_deref().unwrap_or(""),
                s.pointer_sha256.as_deref()?,
            ))
        });
        let now = options.now_ms.unwrap_or_else(crate::time::now_ms);
        let (pointer, new_etag, pointer_sha) =
            match read_pointer(store, policy, &options.channel, held, verifier)? {
                PointerRead::Changed(pointer, etag, sha) => (*pointer, etag, sha),
                PointerRead::Unchanged => {
                    // Unchanged since the last pull; a feed that stopped being renewed is
                    // still refused once the pointer this node holds expires.
                    if let Some(held) = &state
                        && now > held.expires_ms
                    {
                        return Err(DistributeError::Expired {
                            version: held.version.clone(),
                            expired: crate::time::format_rfc3339(held.expires_ms),
                        });
                    }
                    // Remembered in memory; on disk only when something else changes (a
                    // durable write every second would cost more than the request).
                    if let Some(mut state) = state {
                        state.last_success_ms = Some(now);
                        *remembered = Some(state);
                    }
                    return Ok(report);
                }
            };
        report.pointer = Some(pointer.clone());
        if pointer.channel != options.channel {
            return Err(DistributeError::Invalid(format!(
                "the pointer of channel {} names channel {}",
                options.channel, pointer.channel
            )));
        }
        let held_sequence = state.as_ref().map_or(0, |s| s.sequence);
        let older_data = current
            .as_ref()
            .is_some_and(|m| pointer.as_of_ms < m.as_of_ms);
        if pointer.sequence < held_sequence || older_data {
            return Err(DistributeError::Rollback {
                offered: pointer.sequence,
                version: pointer.version.clone(),
                held: held_sequence,
            });
        }
        if now > pointer.expires_ms {
            return Err(DistributeError::Expired {
                version: pointer.version.clone(),
                expired: crate::time::format_rfc3339(pointer.expires_ms),
            });
        }
        let mut new_state = PullState {
            source: source.clone(),
            channel: options.channel.clone(),
            sequence: pointer.sequence,
            etag: new_etag,
            version: pointer.version.clone(),
            expires_ms: pointer.expires_ms,
            last_success_ms: Some(now),
            switched_ms: state.as_ref().and_then(|s| s.switched_ms),
            published_ms: state.as_ref().and_then(|s| s.published_ms),
            received_ms: state.as_ref().and_then(|s| s.received_ms),
            pointer_sha256: Some(pointer_sha),
        };
        if current
            .as_ref()
            .is_some_and(|m| m.content_digest == pointer.content_digest)
        {
            // A renewed pointer to what the node holds: remember it, move nothing.
            write_state(dir, &new_state)?;
            *remembered = Some(new_state);
            return Ok(report);
        }

        // The generation, as the signed pointer describes it.
        let key = &pointer.generation.key;
        let json = with_retries(policy, || store.get(key))?
            .ok_or_else(|| DistributeError::Missing { key: key.clone() })?;
        report.bytes_downloaded += json.len() as u64;
        if json.len() as u64 != pointer.generation.len
            || sha256_hex(&json) != pointer.generation.sha256
        {
            return Err(DistributeError::Integrity {
                key: key.clone(),
                reason: format!(
                    "{} bytes hashing to {}, the pointer says {} bytes hashing to {}",
                    json.len(),
                    sha256_hex(&json),
                    pointer.generation.len,
                    pointer.generation.sha256
                ),
            });
        }
        let published = Published::parse(&json)?;
        if published.manifest.content_digest != pointer.content_digest {
            return Err(DistributeError::Integrity {
                key: key.clone(),
                reason: "its content digest differs from the pointer's".into(),
            });
        }

        // Objects: the node downloads only what it lacks, checking every byte's hash.
        let mut names = BTreeMap::new();
        for file in published.manifest.files() {
            let sha = &published.objects[&file.name];
            let name = segment::object_file_name(sha, file.layout);
            let path = dir.join(&name);
            let held = std::fs::metadata(&path).is_ok_and(|m| m.len() == file.len);
            if held {
                report.objects_reused += 1;
            } else {
                let got =
                    transfer::download(store, policy, &object_key(sha), sha, file.len, dir, &name)?;
                report.objects_downloaded += 1;
                report.bytes_downloaded += got.bytes;
                report.bytes_resumed += got.resumed_from;
                report.interruptions += got.interruptions;
            }
            names.insert(file.name.clone(), name);
        }
        durable::sync_dir(dir)?;

        // The node's generation: the published lists and segments (files named as they are
        // here); the writer keeps the node's own sold state, journal and identity, and checks
        // the generation once (every checksum, the content digest) before it is made current.
        let segments: Vec<SegmentMeta> = published
            .manifest
            .segments
            .iter()
            .map(|s| SegmentMeta {
                id: s.id,
                files: s
                    .files
                    .iter()
                    .map(|f| {
                        let mut f = f.clone();
                        f.name = names[&f.name].clone();
                        f
                    })
                    .collect(),
            })
            .collect();
        if segments.is_empty() {
            return Err(DistributeError::Invalid(
                "the published generation has no segments".into(),
            ));
        }
        let from = published.manifest;
        let mut edit = GenerationEdit::new(SegmentEdit::Adopt {
            segments,
            next_segment_id: from.next_segment_id,
        });
        edit.data = Some((from.version, from.as_of_ms));
        edit.lists = Some(from.lists);
        edit.deltas = DeltaHistory::Replace(from.deltas);
        edit.counts = from.counts;
        edit.grey_gtins = Some(from.grey_gtins);
        edit.content_digest = Some(from.content_digest);
        edit.check = GenerationCheck::ContentDigest(pointer.content_digest.clone());
        let committed = writer.commit(edit).map_err(|e| match e {
        IndexError::DigestMismatch {
            computed, expected, ..
        } => DistributeError::Integrity {
            key: key.clone(),
            reason: format!(
                "the pulled generation's content digests to {computed}, the pointer says {expected}"
            ),
        },
        other => other.into(),
    })?;
        self.opened = committed.opened;
        new_state.switched_ms = Some(crate::time::now_ms());
        new_state.published_ms = Some(pointer.created_ms);
        new_state.received_ms = pointer.received_ms;
        write_state(dir, &new_state)?;
        *remembered = Some(new_state);
        transfer::remove_partials(dir);
        report.outcome = PullOutcome::Updated {
            from: current.map(|m| m.version),
            to: pointer.version,
        };
        Ok(report)
    }
}

/// The channel's pointer as a round read it.
enum PointerRead {
    /// The bytes the node already accepted: a 304 to the conditional GET, or (from a
    /// store that ignores `If-None-Match`, as s3s-fs does) the same bytes again. The
    /// signature is not read again.
    Unchanged,
    /// A new pointer, its signature checked: the pointer, its entity tag and the SHA-256
    /// of its bytes.
    Changed(Box<Pointer>, Option<String>, String),
}

/// Reads and verifies the channel's pointer. `held` is the entity tag and SHA-256 of the
/// pointer the node accepted last. The signature is re-read once on a mismatch, for a
/// publish caught between its two writes.
fn read_pointer(
    store: &Store,
    policy: &TransferPolicy,
    channel: &str,
    held: Option<(&str, &str)>,
    verifier: &Verifier,
) -> Result<PointerRead, DistributeError> {
    let key = channel_key(channel);
    let etag = held.map(|(etag, _)| etag).filter(|e| !e.is_empty());
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some((json, new_etag)) = with_retries(policy, || store.get_if_changed(&key, etag))?
        else {
            if etag.is_some() {
                return Ok(PointerRead::Unchanged);
            }
            return Err(DistributeError::Missing { key });
        };
        let sha = sha256_hex(&json);
        if held.is_some_and(|(_, known)| known == sha) {
            return Ok(PointerRead::Unchanged);
        }
        let signature = with_retries(policy, || store.get(&format!("{key}.minisig")))?
            .ok_or_else(|| DistributeError::Signature(format!("{key}.minisig is missing")))?;
        let checked = check_pointer(&json, &signature, verifier, channel, |k| {
            Ok(with_retries(policy, || store.get(k))?.map(|b| b.to_vec()))
        });
        match checked {
            Ok(pointer) => return Ok(PointerRead::Changed(Box::new(pointer), new_etag, sha)),
            Err(e) if attempt >= 2 => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}
