//! Pulling a channel's generation into a node's index.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::pointer::{Pointer, Published, channel_key, object_key};
use super::sign::Verifier;
use super::store::{Store, hex, sha256_hex};
use super::{DEFAULT_CHANNEL, DistributeError, Remote};
use crate::index::durable;
use crate::index::generation::GenerationWriter;
use crate::index::segment;
use crate::index::{IndexError, Manifest, SegmentMeta, WriterLock};

/// Where a node remembers what it pulled (beside the index's own files).
const STATE_FILE: &str = "PULLED";

/// Options of [`pull`].
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// The channel to follow.
    pub channel: String,
    /// The minisign public key that must have signed the pointer.
    pub public_key: PathBuf,
    /// "Now" for the expiry check (Unix ms); tests inject it.
    pub now_ms: Option<i64>,
}

impl PullOptions {
    /// Defaults for `public_key`: the `LATEST` channel.
    pub fn new(public_key: PathBuf) -> PullOptions {
        PullOptions {
            channel: DEFAULT_CHANNEL.to_string(),
            public_key,
            now_ms: None,
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
/// is exactly as it was.
pub fn pull(
    dir: &Path,
    remote: &Remote,
    options: &PullOptions,
) -> Result<PullReport, DistributeError> {
    let verifier = Verifier::load(&options.public_key)?;
    std::fs::create_dir_all(dir).map_err(|source| DistributeError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut writer = GenerationWriter::create_locked(dir, WriterLock::acquire(dir)?)?;
    let source = remote.to_string();
    let state = read_state(dir).filter(|s| s.source == source && s.channel == options.channel);
    let current = writer.previous().cloned();
    let store = Store::open(remote)?;
    let mut report = PullReport {
        outcome: PullOutcome::UpToDate,
        pointer: None,
        objects_downloaded: 0,
        bytes_downloaded: 0,
        objects_reused: 0,
    };
    // A conditional GET: an unchanged pointer costs one request and no body.
    let etag = state
        .as_ref()
        .filter(|_| current.is_some())
        .and_then(|s| s.etag.clone());
    let now = options.now_ms.unwrap_or_else(crate::time::now_ms);
    let (pointer, new_etag) =
        match read_pointer(&store, &options.channel, etag.as_deref(), &verifier)? {
            Some(p) => p,
            None => {
                // Unchanged since the last pull; a feed that stopped being renewed is still
                // refused once the pointer this node holds expires.
                if let Some(held) = &state
                    && now > held.expires_ms
                {
                    return Err(DistributeError::Expired {
                        version: held.version.clone(),
                        expired: crate::time::format_rfc3339(held.expires_ms),
                    });
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
    let new_state = PullState {
        source: source.clone(),
        channel: options.channel.clone(),
        sequence: pointer.sequence,
        etag: new_etag,
        version: pointer.version.clone(),
        expires_ms: pointer.expires_ms,
    };
    if current
        .as_ref()
        .is_some_and(|m| m.content_digest == pointer.content_digest)
    {
        // A renewed pointer to what the node holds: remember it, move nothing.
        write_state(dir, &new_state)?;
        return Ok(report);
    }

    // The generation, as the signed pointer describes it.
    let key = &pointer.generation.key;
    let json = store
        .get(key)?
        .ok_or_else(|| DistributeError::Missing { key: key.clone() })?;
    report.bytes_downloaded += json.len() as u64;
    if json.len() as u64 != pointer.generation.len || sha256_hex(&json) != pointer.generation.sha256
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
            download(&store, &object_key(sha), sha, file.len, dir, &name)?;
            report.objects_downloaded += 1;
            report.bytes_downloaded += file.len;
        }
        names.insert(file.name.clone(), name);
    }
    durable::sync_dir(dir)?;

    // The node's generation: the published lists, the node's own sold state and identity.
    let mut segments: Vec<SegmentMeta> = published
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
    let mut counts = published.manifest.counts.clone();
    let (sold, sold_count) = writer.sold_state();
    if let Some(first) = segments.first_mut() {
        first.files.extend(sold);
        if let Some(n) = sold_count {
            counts.insert(crate::index::Table::Sold, n);
        }
    }
    if segments.is_empty() {
        return Err(DistributeError::Invalid(
            "the published generation has no segments".into(),
        ));
    }
    let next_segment_id = writer.segment_id().max(published.manifest.next_segment_id);
    let manifest = Manifest {
        generation: writer.next_generation(),
        instance_id: writer.instance_id(),
        journal: writer.journal(),
        created_ms: crate::time::now_ms(),
        next_segment_id,
        segments,
        counts,
        ..published.manifest.clone()
    };
    // Opened with every checksum verified and its content digest recomputed before it is
    // made current: the whole-state check after the update.
    let mut mismatch = None;
    writer
        .publish_checked(manifest, |opened| {
            let digest = opened.compute_digest().to_string();
            if digest == pointer.content_digest {
                return Ok(());
            }
            mismatch = Some(digest);
            Err(IndexError::Damaged {
                path: dir.to_path_buf(),
                reason: "the pulled generation's content digest differs from the pointer's".into(),
            })
        })
        .map_err(|e| match mismatch.take() {
            Some(digest) => DistributeError::Integrity {
                key: key.clone(),
                reason: format!(
                    "the pulled generation's content digests to {digest}, the pointer says {}",
                    pointer.content_digest
                ),
            },
            None => e.into(),
        })?;
    drop(writer);
    write_state(dir, &new_state)?;
    report.outcome = PullOutcome::Updated {
        from: current.map(|m| m.version),
        to: pointer.version,
    };
    Ok(report)
}

/// Reads and verifies the channel's pointer: `None` when unchanged since `etag`. The
/// signature is re-read once on a mismatch, for a publish caught between its two writes.
fn read_pointer(
    store: &Store,
    channel: &str,
    etag: Option<&str>,
    verifier: &Verifier,
) -> Result<Option<(Pointer, Option<String>)>, DistributeError> {
    let key = channel_key(channel);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some((json, new_etag)) = store.get_if_changed(&key, etag)? else {
            if etag.is_some() {
                return Ok(None);
            }
            return Err(DistributeError::Missing { key });
        };
        let signature = store
            .get(&format!("{key}.minisig"))?
            .ok_or_else(|| DistributeError::Signature(format!("{key}.minisig is missing")))?;
        let checked = verifier.verify(&json, &String::from_utf8_lossy(&signature));
        match checked {
            Ok(comment) => {
                let pointer = Pointer::parse(&json)?;
                if comment != pointer.signed_comment() {
                    return Err(DistributeError::Signature(format!(
                        "the signed comment {comment:?} does not describe this pointer"
                    )));
                }
                return Ok(Some((pointer, new_etag)));
            }
            Err(e) if attempt >= 2 => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// Downloads one object to `dir/name`, through a temporary file that is removed unless
/// the object is whole and hashes as expected.
fn download(
    store: &Store,
    key: &str,
    sha256: &str,
    len: u64,
    dir: &Path,
    name: &str,
) -> Result<(), DistributeError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DistributeError::Io { path, source }
    };
    let guard = durable::RemoveOnDrop(Some(tmp.clone()));
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let (got_len, got_sha) = store.download(key, &mut file, &tmp)?;
    if got_len != len || hex(&got_sha) != sha256 {
        return Err(DistributeError::Integrity {
            key: key.to_string(),
            reason: format!(
                "{got_len} bytes hashing to {}, expected {len} bytes hashing to {sha256}",
                hex(&got_sha)
            ),
        });
    }
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, dir.join(name)).map_err(io(&dir.join(name)))?;
    guard.disarm();
    Ok(())
}
