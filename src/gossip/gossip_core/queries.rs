//! What a [`GossipCore`] can be asked without changing it: identity,
//! gossip state, topology, statuses, consensus and bookkeeping sizes.

use alloc::collections::BTreeMap;

use super::GossipCore;
use crate::gossip::config::GossipConfig;
use crate::gossip::consensus::ConsensusState;
use crate::gossip::gossip_state::{GossipEntry, GossipState, OwnerState};
use crate::gossip::member_list::BlockEntry;
use crate::gossip::member_state_delta::Watermarks;
use crate::gossip::member_status::MemberStatus;
use crate::gossip::types::MemberId;
use crate::wire::proto::cluster::Member;
use crate::wire::{TOPOLOGY_KEY, TopologyHeader};

impl GossipCore {
    /// Our member id.
    pub fn self_id(&self) -> &MemberId {
        &self.self_id
    }

    /// The configuration.
    pub fn config(&self) -> &GossipConfig {
        &self.config
    }

    /// The whole gossip state.
    pub fn state(&self) -> &GossipState {
        &self.state
    }

    /// The gossip state member `member` publishes: under its own id, or
    /// under its bare system id for a Go member named `<cluster>@<id>` by
    /// Go's etcd provider (see `owner_alias`).
    pub fn owner_state_of(&self, member: &str) -> Option<&OwnerState> {
        self.aliases.owner_state(&self.state, member)
    }

    /// The topology hash member `member` last gossiped (its `topology`
    /// entry, found like [`Self::owner_state_of`]); what the topology
    /// consensus compares, so a stalled consensus shows who disagrees.
    pub fn gossiped_topology_hash(&self, member: &str) -> Option<u64> {
        self.owner_state_of(member)
            .and_then(|o| o.get(TOPOLOGY_KEY))
            .and_then(|e| TopologyHeader::from_any(&e.value))
            .map(|h| h.topology_hash)
    }

    /// Every owner's entry under `key` (Go `GetState`).
    pub fn state_for_key<'a>(
        &'a self,
        key: &'a str,
    ) -> impl Iterator<Item = (&'a MemberId, &'a GossipEntry)> + 'a {
        self.state.values_for_key(key)
    }

    /// Our last sequence number.
    pub fn sequence_number(&self) -> i64 {
        self.sequence
    }

    /// The active topology members, ascending by id.
    pub fn active_members(&self) -> &BTreeMap<MemberId, Member> {
        self.members.active()
    }

    /// Every member we track with its status (active ones, and blocked or
    /// removed ones until their block entry expires), ascending by id.
    pub fn members(&self) -> impl Iterator<Item = (&MemberId, MemberStatus)> {
        self.detector.statuses()
    }

    /// The status of one member (`None` for ourselves and unknown ids).
    pub fn member_status(&self, id: &str) -> Option<MemberStatus> {
        self.detector.status(id)
    }

    /// The block list.
    pub fn blocked(&self) -> &BTreeMap<MemberId, BlockEntry> {
        self.members.blocked()
    }

    /// True when `id` is blocked.
    pub fn is_blocked(&self, id: &str) -> bool {
        self.members.is_blocked(id)
    }

    /// How many forgotten block entries are remembered, so that relayed
    /// gossip about them is ignored (at most `forgotten_ids`, Q-M23).
    pub fn forgotten_count(&self) -> usize {
        self.members.forgotten_count()
    }

    /// The topology hash of our active set.
    pub fn topology_hash(&self) -> u64 {
        self.members.topology_hash()
    }

    /// The state of a consensus check.
    pub fn consensus(&self, check: &str) -> Option<ConsensusState> {
        self.consensus.state(check)
    }

    /// Requests sent and not yet answered or failed.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// The watermarks (acknowledged sequence numbers per target and owner).
    pub fn watermarks(&self) -> &Watermarks {
        &self.watermarks
    }
}
