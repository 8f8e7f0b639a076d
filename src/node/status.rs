//! What a node reports about itself: the topology view handed to
//! applications and the `/status` document.
//!
//! Hashes are written as decimal strings in JSON: a `u64` topology hash
//! does not fit a JSON number's 53-bit mantissa, and the Go harness writes
//! them the same way, so the two can be compared as text.

use serde::Serialize;

use crate::{
    digest::state_digest,
    gossip::{ConsensusState, ConsensusValue, GossipCore, MemberStatus, UnixMillis},
    wire::proto::cluster::Member,
};

fn hash_string<S: serde::Serializer>(h: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&h.to_string())
}

fn opt_hash_string<S: serde::Serializer>(h: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match h {
        Some(h) => s.serialize_str(&h.to_string()),
        None => s.serialize_none(),
    }
}

/// Topology consensus as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ConsensusView {
    /// True when every active member gossips the same topology hash.
    pub reached: bool,
    /// That hash (0 when not reached).
    #[serde(serialize_with = "hash_string")]
    pub hash_value: u64,
}

impl ConsensusView {
    /// The agreed hash, if consensus is reached.
    pub fn hash(&self) -> Option<u64> {
        self.reached.then_some(self.hash_value)
    }

    fn of(core: &GossipCore) -> Self {
        match core.consensus(crate::gossip::TOPOLOGY_CONSENSUS_CHECK) {
            Some(ConsensusState::Reached(ConsensusValue::U64(h))) => Self {
                reached: true,
                hash_value: h,
            },
            _ => Self::default(),
        }
    }
}

/// The active topology, block list and consensus.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TopologyView {
    /// Topology hash of the active members (Go's hash).
    #[serde(serialize_with = "hash_string")]
    pub hash: u64,
    /// Active member ids, ascending.
    pub members: Vec<String>,
    /// Blocked ids, ascending.
    pub blocked: Vec<String>,
    /// Topology consensus.
    pub consensus: ConsensusView,
}

impl TopologyView {
    pub(super) fn of(core: &GossipCore) -> Self {
        Self {
            hash: core.topology_hash(),
            members: core
                .active_members()
                .keys()
                .map(|id| id.as_str().to_owned())
                .collect(),
            blocked: core
                .blocked()
                .keys()
                .map(|id| id.as_str().to_owned())
                .collect(),
            consensus: ConsensusView::of(core),
        }
    }
}

/// One member in `/status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberView {
    /// Member id.
    pub id: String,
    /// Advertised host.
    pub host: String,
    /// Remoting port.
    pub port: i32,
    /// `Joining`, `Up`, `Suspect`, `Leaving`, `Blocked`, `Removed`, or `Self`.
    pub status: String,
    /// Milliseconds since its heartbeat last advanced (our clock), if ever.
    pub heartbeat_age_ms: Option<u64>,
    /// The topology hash in its last gossiped `topology` entry, if we have
    /// one: consensus is reached when all active members' equal ours.
    #[serde(serialize_with = "opt_hash_string")]
    pub topology_hash: Option<u64>,
}

/// The `/status` document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeStatus {
    /// Our member id.
    pub id: String,
    /// Our advertised `host:port`.
    pub address: String,
    /// The cluster name.
    pub cluster: String,
    /// The wire profile (`go-2024-03`, `go-2024-08`, `mixed`).
    pub wire_profile: String,
    /// Our last gossip sequence number.
    pub sequence_number: i64,
    /// Active members (us included), ascending by id, plus members still
    /// tracked after leaving.
    pub members: Vec<MemberView>,
    /// Topology hash, block list and consensus.
    pub topology: TopologyView,
    /// Owners in our gossip state.
    pub gossip_owners: usize,
    /// BLAKE3 of every (owner, key, sequence) entry (see `crate::digest`).
    pub state_digest: String,
    /// The same without heartbeat keys; equal on converged nodes.
    pub state_digest_stable: String,
    /// Member ids this node had before rejoining under `id`, oldest first
    /// (see `docs/operations.md#self-healing-rejoin`).
    pub previous_ids: Vec<String>,
}

fn status_name(s: MemberStatus) -> &'static str {
    match s {
        MemberStatus::Joining => "Joining",
        MemberStatus::Up => "Up",
        MemberStatus::Suspect => "Suspect",
        MemberStatus::Leaving => "Leaving",
        MemberStatus::Blocked => "Blocked",
        MemberStatus::Removed => "Removed",
    }
}

impl NodeStatus {
    pub(super) fn of(core: &GossipCore, address: &str, cluster: &str, now: UnixMillis) -> Self {
        let state = core.state();
        let age = |id: &str| {
            core.owner_state_of(id)
                .and_then(|o| o.heartbeat_received())
                .map(|t| now.millis_since(t))
        };
        let view = |id: &str, m: Option<&Member>, status: &str| MemberView {
            id: id.to_owned(),
            host: m.map(|m| m.host.clone()).unwrap_or_default(),
            port: m.map_or(0, |m| m.port),
            status: status.to_owned(),
            heartbeat_age_ms: age(id),
            topology_hash: core.gossiped_topology_hash(id),
        };
        let active = core.active_members();
        let mut members: Vec<MemberView> = Vec::new();
        for (id, m) in active {
            let status = if id == core.self_id() {
                "Self"
            } else {
                core.member_status(id.as_str())
                    .map_or("Joining", status_name)
            };
            members.push(view(id.as_str(), Some(m), status));
        }
        for (id, status) in core.members() {
            if !active.contains_key(id.as_str()) {
                members.push(view(id.as_str(), None, status_name(status)));
            }
        }
        let entries = || {
            state.owners().flat_map(|(owner, o)| {
                o.entries()
                    .map(move |(k, e)| (owner.as_str(), k, e.sequence_number))
            })
        };
        Self {
            id: core.self_id().as_str().to_owned(),
            address: address.to_owned(),
            cluster: cluster.to_owned(),
            wire_profile: core.config().wire_profile.to_string(),
            sequence_number: core.sequence_number(),
            members,
            topology: TopologyView::of(core),
            gossip_owners: state.owner_count(),
            state_digest: state_digest(entries(), false),
            state_digest_stable: state_digest(entries(), true),
            previous_ids: Vec::new(),
        }
    }

    /// The active members whose status is `Up`, and this node: the members
    /// [`super::NodeHandle::wait_for_members`] counts, ids ascending.
    pub fn joined_members(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .members
            .iter()
            .filter(|m| matches!(m.status.as_str(), "Up" | "Self"))
            .filter(|m| self.topology.members.contains(&m.id))
            .map(|m| m.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Members by status name, for metrics.
    pub fn count_by_status(&self) -> std::collections::BTreeMap<&str, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for m in &self.members {
            *counts.entry(m.status.as_str()).or_insert(0) += 1;
        }
        counts
    }
}
