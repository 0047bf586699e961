//! Publishing the current generation of a local index to the store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::error::DistributeError;
use super::pointer::{
    GENERATION_FORMAT, GENERATION_VERSION, ObjectRef, POINTER_FORMAT, POINTER_VERSION, Pointer,
    Published, channel_key, check_pointer, generation_key, object_key, sequence_signature_key,
};
use super::remote::{DEFAULT_CHANNEL, Remote, TransferPolicy};
use super::sign::Signer;
use super::store::{Store, hex, sha256_file, sha256_hex};
use super::transfer::with_retries;
use crate::index::{Index, Table};
use crate::list::ListType;

/// Options of [`publish`].
#[derive(Clone, Debug)]
pub struct PublishOptions {
    /// The channel to point at the generation.
    pub channel: String,
    /// The minisign secret key that signs the pointer.
    pub secret_key: PathBuf,
    /// How long nodes accept the pointer (a feed that stops being renewed freezes nodes
    /// on their data rather than letting an attacker replay it for ever).
    pub valid_for_ms: i64,
    /// Publish even when the index's data is older than what the channel points at.
    pub allow_older: bool,
    /// Timeouts and retries of the store's requests.
    pub transfer: TransferPolicy,
}

impl PublishOptions {
    /// Defaults for `secret_key`: the `LATEST` channel, valid for 7 days, the default
    /// transfer policy.
    pub fn new(secret_key: PathBuf) -> PublishOptions {
        PublishOptions {
            channel: DEFAULT_CHANNEL.to_string(),
            secret_key,
            valid_for_ms: 7 * 86_400_000,
            allow_older: false,
            transfer: TransferPolicy::default(),
        }
    }
}

/// What a publish did.
#[derive(Debug)]
pub struct PublishReport {
    /// The pointer now in the store.
    pub pointer: Pointer,
    /// Data objects uploaded.
    pub objects_uploaded: u64,
    /// Their bytes.
    pub bytes_uploaded: u64,
    /// Data objects the store already held.
    pub objects_present: u64,
    /// Whether the generation object was new.
    pub generation_uploaded: bool,
}

/// Publishes the current generation of the index at `dir` to `remote`: data objects the
/// store lacks, the generation, then the signed pointer (which is renewed, with a higher
/// sequence and a new expiry, even when nothing else changed). One publish of a
/// [`Publisher`].
pub fn publish(
    dir: &Path,
    remote: &Remote,
    options: &PublishOptions,
) -> Result<PublishReport, DistributeError> {
    Publisher::new(remote, options.clone())?.publish(dir, None)
}

/// A builder that keeps publishing: the store's connection and key stay, and it remembers
/// the SHA-256 of the data files it hashed and the objects it saw in the store (data files
/// never change under one name and size), so that a publish after a small delta hashes
/// and uploads only the new layer.
pub struct Publisher {
    options: PublishOptions,
    signer: Signer,
    store: Store,
    /// (file name, its xxh3) → SHA-256.
    hashed: HashMap<(String, String), String>,
    /// Objects known to be in the store (SHA-256).
    present: HashSet<String>,
}

impl Publisher {
    /// A publisher to `remote`.
    pub fn new(remote: &Remote, options: PublishOptions) -> Result<Publisher, DistributeError> {
        if options.valid_for_ms <= 0 {
            return Err(DistributeError::Invalid(format!(
                "a pointer valid for {} ms would already be expired: every node would refuse it (give a validity of at least an hour; a day or more leaves room for a late publish)",
                options.valid_for_ms
            )));
        }
        let signer = Signer::load(&options.secret_key)?;
        let store = Store::open(remote, &options.transfer)?;
        Ok(Publisher {
            options,
            signer,
            store,
            hashed: HashMap::new(),
            present: HashSet::new(),
        })
    }

    /// Publishes the current generation of the index at `dir`; `received_ms` is when the
    /// change it carries reached the builder (the start of its time to block).
    pub fn publish(
        &mut self,
        dir: &Path,
        received_ms: Option<i64>,
    ) -> Result<PublishReport, DistributeError> {
        let index = Index::open(dir)?;
        let (options, store, signer) = (&self.options, &self.store, &self.signer);
        let policy = &options.transfer;
        // The sold state is the node's own: it is not published.
        let mut manifest = index.manifest().clone();
        drop(index);
        for segment in &mut manifest.segments {
            segment.files.retain(|f| f.role.table != Table::Sold);
        }
        manifest.counts.remove(&Table::Sold);
        let mut objects = BTreeMap::new();
        let (mut uploaded, mut bytes, mut present) = (0, 0, 0);
        for file in manifest.files() {
            let path = dir.join(&file.name);
            let known = (file.name.clone(), file.xxh3.clone());
            let sha = match self.hashed.get(&known) {
                Some(sha) => sha.clone(),
                None => {
                    let sha = hex(&sha256_file(&path)?);
                    self.hashed.insert(known, sha.clone());
                    sha
                }
            };
            let key = object_key(&sha);
            if self.present.contains(&sha)
                || with_retries(policy, || store.size(&key))? == Some(file.len)
            {
                present += 1;
            } else {
                with_retries(policy, || store.put_file(&key, &path))?;
                uploaded += 1;
                bytes += file.len;
            }
            self.present.insert(sha.clone());
            objects.insert(file.name.clone(), sha);
        }
        let published = Published {
            format: GENERATION_FORMAT.into(),
            format_version: GENERATION_VERSION,
            manifest: manifest.clone(),
            objects,
        };
        let json = serde_json::to_vec_pretty(&published)
            .map_err(|e| DistributeError::Invalid(format!("cannot encode the generation: {e}")))?;
        let sha = sha256_hex(&json);
        let generation = ObjectRef {
            key: generation_key(&sha),
            sha256: sha,
            len: json.len() as u64,
        };
        let generation_uploaded =
            with_retries(policy, || store.size(&generation.key))? != Some(generation.len);
        if generation_uploaded {
            with_retries(policy, || store.put(&generation.key, json.clone()))?;
        }

        // The channel's current pointer: ours to follow (sequence), never to go back from.
        let key = channel_key(&options.channel);
        let previous = self.channel_pointer()?;
        if let Some(prev) = &previous
            && manifest.as_of_ms < prev.as_of_ms
            && !options.allow_older
        {
            return Err(DistributeError::Invalid(format!(
                "the index's data ({}, version {}) is older than what {} points at ({}, version {}); pass --allow-older to go back",
                crate::time::format_rfc3339(manifest.as_of_ms),
                manifest.version,
                options.channel,
                crate::time::format_rfc3339(prev.as_of_ms),
                prev.version
            )));
        }
        let now = crate::time::now_ms();
        // A renewal of the same content keeps the time its change arrived.
        let received_ms = received_ms.or_else(|| {
            previous
                .as_ref()
                .filter(|p| p.content_digest == manifest.content_digest)
                .and_then(|p| p.received_ms)
        });
        let pointer = Pointer {
            format: POINTER_FORMAT.into(),
            format_version: POINTER_VERSION,
            channel: options.channel.clone(),
            sequence: next_sequence(previous.as_ref().map(|p| p.sequence), now),
            version: manifest.version.clone(),
            parent_chain: parent_chain(&manifest),
            generation,
            content_digest: manifest.content_digest.clone(),
            created_ms: now,
            as_of_ms: manifest.as_of_ms,
            expires_ms: now.saturating_add(options.valid_for_ms),
            received_ms,
        };
        let json = serde_json::to_vec_pretty(&pointer)
            .map_err(|e| DistributeError::Invalid(format!("cannot encode the pointer: {e}")))?;
        let signature = signer.sign(&json, &pointer.signed_comment())?;
        // The signature first: a node reading between the two writes sees a mismatch and
        // retries, never an unsigned pointer. Kept under the pointer's sequence too, so
        // that a publish cut here leaves every pointer checkable (`check_pointer`).
        let signature = signature.into_bytes();
        with_retries(policy, || {
            store.put(
                &sequence_signature_key(&options.channel, pointer.sequence),
                signature.clone(),
            )
        })?;
        with_retries(policy, || {
            store.put(&format!("{key}.minisig"), signature.clone())
        })?;
        with_retries(policy, || store.put(&key, json.clone()))?;
        // The kept signatures of pointers before the previous one are needed no more.
        let kept = sequence_signature_key(&options.channel, 0);
        let under = kept.trim_end_matches('0');
        if let Ok(mut old) = store.list(under) {
            old.sort_by_key(|(k, _)| k[under.len()..].parse::<u64>().unwrap_or(0));
            for (k, _) in old.iter().rev().skip(2) {
                let _ = store.delete(k);
            }
        }
        Ok(PublishReport {
            pointer,
            objects_uploaded: uploaded,
            bytes_uploaded: bytes,
            objects_present: present,
            generation_uploaded,
        })
    }

    /// What the channel points at now, checked against this publisher's key (`None`: no
    /// pointer yet). A pointer this key did not sign is an error: it is never replaced.
    pub fn channel_pointer(&self) -> Result<Option<Pointer>, DistributeError> {
        let (options, store, signer) = (&self.options, &self.store, &self.signer);
        let policy = &options.transfer;
        let key = channel_key(&options.channel);
        match (
            with_retries(policy, || store.get(&key))?,
            with_retries(policy, || store.get(&format!("{key}.minisig")))?,
        ) {
            (Some(json), Some(sig)) => {
                let pointer = check_pointer(&json, &sig, &signer.verifier(), &options.channel, |k| {
                    Ok(with_retries(policy, || store.get(k))?.map(|b| b.to_vec()))
                })
                .map_err(|e| {
                    DistributeError::Invalid(format!(
                        "the channel {} holds a pointer this key did not sign ({e}); refusing to replace it",
                        options.channel
                    ))
                })?;
                Ok(Some(pointer))
            }
            _ => Ok(None),
        }
    }

    /// The store this publisher writes to (for the builder's status report).
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }
}

/// The next pointer's sequence: above the previous one, and at least the publish time in
/// Unix seconds, so that an old pointer replayed into the store cannot pull the next
/// publish's sequence below what nodes already accepted.
fn next_sequence(previous: Option<u64>, now_ms: i64) -> u64 {
    let clock = u64::try_from(now_ms / 1000).unwrap_or(0);
    previous.map_or(1, |p| p + 1).max(clock)
}

/// The versions a generation descends from by the deltas it remembers, newest first.
fn parent_chain(manifest: &crate::index::Manifest) -> Vec<String> {
    let mut chain: Vec<String> = Vec::new();
    for delta in manifest.deltas.iter().rev() {
        if let ListType::Delta { parent } = &delta.header.list_type
            && chain.last() != Some(parent)
            && *parent != manifest.version
        {
            chain.push(parent.clone());
        }
    }
    chain
}
