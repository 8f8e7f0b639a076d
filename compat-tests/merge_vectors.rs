//! Merge vectors: what protoactor-go's own GossipActor did with a
//! (local state, remote GossipRequest) pair — the merged state and the
//! GossipUpdates it published. `merge_vectors()` loads every case as typed
//! values so the gossip core can replay them against its merge.
//!
//! Timestamps: Go stamps `time.Now()`. In these vectors, stamps Go took while
//! setting up the local state are [`MergeCase::setup_timestamp`], stamps it
//! took while merging the remote state are [`MergeCase::merge_timestamp`];
//! any other value is what Go kept.

use std::{
    fs,
    path::{Path, PathBuf},
};

use prost::Message;
use protogossip::wire::proto::cluster::GossipState;
use serde::Deserialize;

/// `compat-tests/vectors/merge`, as written by `go-interop/regen-vectors.sh`.
pub fn merge_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("compat-tests/vectors/merge")
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// One merge case.
#[derive(Debug, Clone)]
pub struct MergeCase {
    /// The case name (file stem).
    pub name: String,
    /// What the case shows.
    pub description: String,
    /// The receiving node's id (the `myID` of Go's informer).
    pub my_id: String,
    /// `GossipRequest.from_member_id` of the request (the receiver's id, as Go fills it).
    pub request_from_member_id: String,
    /// The receiver's state before the request, for the keys read.
    pub local: GossipState,
    /// The state inside the request.
    pub remote: GossipState,
    /// The receiver's state after the request, for the keys read.
    pub merged: GossipState,
    /// The GossipUpdates Go published, sorted by (member id, key).
    pub updates: Vec<MergeUpdate>,
    /// The keys whose values local/merged hold (Go can only be asked per key).
    pub keys_read: Vec<String>,
    /// Stand-in for stamps taken during setup.
    pub setup_timestamp: i64,
    /// Stand-in for stamps taken during the merge.
    pub merge_timestamp: i64,
    /// Go's reply: full type name and bytes.
    pub response_type_name: String,
    /// Go's reply bytes.
    pub response_bytes: Vec<u8>,
    /// The raw JSON twin, for field-by-field comparisons.
    pub twin: serde_json::Value,
}

/// One `cluster.GossipUpdate` Go published.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeUpdate {
    /// Owner of the entry.
    pub member_id: String,
    /// Gossip key.
    pub key: String,
    /// The accepted sequence number.
    pub seq_number: i64,
    /// The accepted value (type URL and bytes as Go holds them).
    pub value: Option<protogossip::wire::Any>,
}

#[derive(Deserialize)]
struct Part {
    bin: String,
    type_name: String,
}

#[derive(Deserialize)]
struct UpdateTwin {
    member_id: String,
    key: String,
    seq_number: String,
    value: Option<AnyTwin>,
}

#[derive(Deserialize)]
struct AnyTwin {
    type_url: String,
    value: String,
}

#[derive(Deserialize)]
struct ResponseTwin {
    type_name: String,
    bytes_hex: String,
}

#[derive(Deserialize)]
struct Timestamps {
    setup: String,
    merge: String,
}

#[derive(Deserialize)]
struct CaseTwin {
    case: String,
    description: String,
    my_id: String,
    request_from_member_id: String,
    local: Part,
    remote: Part,
    merged: Part,
    updates: Vec<UpdateTwin>,
    keys_read: Vec<String>,
    timestamps: Timestamps,
    response: ResponseTwin,
}

fn state(twin: &Path, part: &Part) -> Result<GossipState, String> {
    if part.type_name != "cluster.GossipState" {
        return Err(format!("{}: unexpected type {}", part.bin, part.type_name));
    }
    let bytes = read(&twin.with_file_name(&part.bin))?;
    GossipState::decode(bytes.as_slice()).map_err(|e| format!("{}: {e}", part.bin))
}

fn int(s: &str, what: &str) -> Result<i64, String> {
    s.parse().map_err(|e| format!("{what} {s:?}: {e}"))
}

fn load(path: &Path) -> Result<MergeCase, String> {
    let raw: serde_json::Value =
        serde_json::from_slice(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))?;
    let t: CaseTwin =
        serde_json::from_value(raw.clone()).map_err(|e| format!("{}: {e}", path.display()))?;
    let updates = t
        .updates
        .iter()
        .map(|u| {
            Ok(MergeUpdate {
                member_id: u.member_id.clone(),
                key: u.key.clone(),
                seq_number: int(&u.seq_number, "seq_number")?,
                value: u
                    .value
                    .as_ref()
                    .map(|a| {
                        Ok::<_, String>(protogossip::wire::Any {
                            type_url: a.type_url.clone(),
                            value: hex::decode(&a.value).map_err(|e| e.to_string())?.into(),
                        })
                    })
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(MergeCase {
        name: t.case,
        description: t.description,
        my_id: t.my_id,
        request_from_member_id: t.request_from_member_id,
        local: state(path, &t.local)?,
        remote: state(path, &t.remote)?,
        merged: state(path, &t.merged)?,
        updates,
        keys_read: t.keys_read,
        setup_timestamp: int(&t.timestamps.setup, "setup timestamp")?,
        merge_timestamp: int(&t.timestamps.merge, "merge timestamp")?,
        response_type_name: t.response.type_name,
        response_bytes: hex::decode(&t.response.bytes_hex).map_err(|e| e.to_string())?,
        twin: raw,
    })
}

/// Every merge case under `compat-tests/vectors/merge`, sorted by name.
///
/// # Errors
/// A missing directory, an unreadable file or a malformed vector.
pub fn merge_vectors() -> Result<Vec<MergeCase>, String> {
    let dir = merge_dir();
    let mut twins = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.extension().is_some_and(|e| e == "json") {
            twins.push(path);
        }
    }
    twins.sort();
    if twins.is_empty() {
        return Err(format!("{}: no merge vectors", dir.display()));
    }
    twins.iter().map(|p| load(p)).collect()
}
