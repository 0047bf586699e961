//! The signed pointer of a channel, and the published generation it names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::DistributeError;
use super::sign::Verifier;
use crate::index::Manifest;

/// The pointer format's name and version.
pub(crate) const POINTER_FORMAT: &str = "cisgate-pointer";
pub(crate) const POINTER_VERSION: u32 = 1;
/// The published generation's format and version.
pub(crate) const GENERATION_FORMAT: &str = "cisgate-generation";
pub(crate) const GENERATION_VERSION: u32 = 1;

/// What a channel points at: small, signed, replaced on every publish.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    /// Always `cisgate-pointer`.
    pub format: String,
    /// Format version (1).
    pub format_version: u32,
    /// The channel (`LATEST`).
    pub channel: String,
    /// Increases with every publish; a node refuses a lower one (rollback).
    pub sequence: u64,
    /// The database version of the generation.
    pub version: String,
    /// Versions this one descends from by deltas, newest first (the base's version last):
    /// a node at one of them needs only the newer layers.
    pub parent_chain: Vec<String>,
    /// The generation object: its key under the prefix, SHA-256 and length.
    pub generation: ObjectRef,
    /// The content digest the node must reach after applying it.
    pub content_digest: String,
    /// When this pointer was made (Unix ms).
    pub created_ms: i64,
    /// When the generation's data was current (Unix ms).
    pub as_of_ms: i64,
    /// After this time (Unix ms) nodes refuse the pointer (a frozen feed).
    pub expires_ms: i64,
    /// When the change this pointer publishes reached the builder (Unix ms): the start of
    /// its time to block. Absent for a publish by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_ms: Option<i64>,
}

/// An object in the store, named and hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Key under the prefix.
    pub key: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub len: u64,
}

impl Pointer {
    /// Parses and checks a pointer's JSON.
    pub(crate) fn parse(json: &[u8]) -> Result<Pointer, DistributeError> {
        let pointer: Pointer = serde_json::from_slice(json)
            .map_err(|e| DistributeError::Invalid(format!("the pointer is not valid: {e}")))?;
        if pointer.format != POINTER_FORMAT || pointer.format_version != POINTER_VERSION {
            return Err(DistributeError::Invalid(format!(
                "pointer format {:?} version {}; this build reads {POINTER_FORMAT:?} {POINTER_VERSION}",
                pointer.format, pointer.format_version
            )));
        }
        Ok(pointer)
    }

    /// The comment the signature covers: channel and sequence, so that a signature cannot
    /// be moved to another channel's pointer unnoticed.
    pub(crate) fn signed_comment(&self) -> String {
        format!(
            "cisgate pointer channel={} sequence={} version={}",
            self.channel, self.sequence, self.version
        )
    }
}

/// A generation as published: the builder's manifest (its local parts, the sold table
/// and journal, left out) and the object of every data file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Published {
    pub(crate) format: String,
    pub(crate) format_version: u32,
    pub(crate) manifest: Manifest,
    /// Data file name (in `manifest`) → its object's SHA-256.
    pub(crate) objects: BTreeMap<String, String>,
}

impl Published {
    pub(crate) fn parse(json: &[u8]) -> Result<Published, DistributeError> {
        let published: Published = serde_json::from_slice(json).map_err(|e| {
            DistributeError::Invalid(format!("the published generation is not valid: {e}"))
        })?;
        if published.format != GENERATION_FORMAT || published.format_version != GENERATION_VERSION {
            return Err(DistributeError::Invalid(format!(
                "generation format {:?} version {}; this build reads {GENERATION_FORMAT:?} {GENERATION_VERSION}",
                published.format, published.format_version
            )));
        }
        for file in published.manifest.files() {
            let sha = published.objects.get(&file.name).ok_or_else(|| {
                DistributeError::Invalid(format!(
                    "the generation names no object for {}",
                    file.name
                ))
            })?;
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(DistributeError::Invalid(format!(
                    "object {sha:?} of {} is not a SHA-256",
                    file.name
                )));
            }
        }
        Ok(published)
    }
}

/// Key of a data object.
pub(crate) fn object_key(sha256: &str) -> String {
    format!("objects/{sha256}")
}

/// Key of a published generation.
pub(crate) fn generation_key(sha256: &str) -> String {
    format!("generations/{sha256}.json")
}

/// Key of a channel's pointer (its signature adds `.minisig`).
pub(crate) fn channel_key(channel: &str) -> String {
    format!("channels/{channel}")
}

/// Key of the signature of pointer `sequence` of a channel: written once, before the
/// channel's `.minisig` and pointer are replaced, so that a publish cut between those two
/// writes (a builder killed there) leaves the old pointer's own signature readable.
pub(crate) fn sequence_signature_key(channel: &str, sequence: u64) -> String {
    format!("{}.sig/{sequence}", channel_key(channel))
}

/// Checks a pointer's bytes against its signature with `verifier`: the channel's
/// `.minisig`, or, when that one belongs to a publish that was cut short, the signature
/// kept under the pointer's own sequence. Returns the pointer.
pub(crate) fn check_pointer(
    json: &[u8],
    signature: &[u8],
    verifier: &Verifier,
    channel: &str,
    signature_of: impl FnOnce(&str) -> Result<Option<Vec<u8>>, DistributeError>,
) -> Result<Pointer, DistributeError> {
    let checked = match verifier.verify(json, &String::from_utf8_lossy(signature)) {
        Ok(comment) => comment,
        Err(first) => {
            // The sequence is read from the unverified bytes only to find their signature.
            let sequence = Pointer::parse(json)
                .map_err(|_| first.clone_kind())?
                .sequence;
            let kept = signature_of(&sequence_signature_key(channel, sequence))?.ok_or(first)?;
            verifier.verify(json, &String::from_utf8_lossy(&kept))?
        }
    };
    let pointer = Pointer::parse(json)?;
    if checked != pointer.signed_comment() {
        return Err(DistributeError::Signature(format!(
            "the signed comment {checked:?} does not describe this pointer"
        )));
    }
    Ok(pointer)
}
