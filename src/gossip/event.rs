//! Events the core raises, each with the time it happened.
//!
//! They are what an application (or the tokio node's event stream) sees of
//! the cluster: Go publishes `GossipUpdate` and `ClusterTopology` on its
//! event stream; we add the member status transitions, consensus changes
//! and the case Go handles silently (our own id in a peer's blocked list).

use alloc::string::String;
use alloc::vec::Vec;

use super::consensus::ConsensusValue;
use super::member_list::BlockReason;
use super::types::{MemberId, UnixMillis};
use crate::wire::proto::cluster::Member;

/// Something that happened in the cluster, as seen by this member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// The provider listed a new member (status `Joining`).
    MemberJoined {
        /// The member record.
        member: Member,
    },
    /// A joining member's first heartbeat arrived (status `Up`).
    MemberUp {
        /// The member.
        id: MemberId,
    },
    /// A member's heartbeat has been silent for a while (status `Suspect`).
    MemberSuspect {
        /// The member.
        id: MemberId,
        /// How long its heartbeat has not advanced.
        silent_for_ms: u64,
    },
    /// A suspect member's heartbeat advanced again (status `Up`).
    MemberReachable {
        /// The member.
        id: MemberId,
    },
    /// A member gossiped the `left` key (status `Leaving`).
    MemberLeft {
        /// The member.
        id: MemberId,
    },
    /// A member was added to the block list (status `Blocked`, or
    /// `Removed` after a graceful leave).
    MemberBlocked {
        /// The member.
        id: MemberId,
        /// Why.
        reason: BlockReason,
    },
    /// A member left the active topology.
    MemberRemoved {
        /// The member.
        id: MemberId,
    },
    /// The active topology changed (and was written to the `topology` key).
    TopologyUpdated {
        /// The topology hash of the new member set.
        hash: u64,
        /// The active members, ascending by id.
        members: Vec<Member>,
        /// Members that joined, ascending by id.
        joined: Vec<Member>,
        /// Members that left, ascending by id.
        left: Vec<Member>,
        /// The block list, ascending.
        blocked: Vec<MemberId>,
    },
    /// A remote entry was merged into our state.
    GossipUpdate {
        /// Owner of the entry.
        owner: MemberId,
        /// Key.
        key: String,
        /// Its sequence number.
        sequence_number: i64,
    },
    /// Every active member gossips the same value for a check.
    ConsensusReached {
        /// The check id.
        check: String,
        /// The agreed value.
        value: ConsensusValue,
    },
    /// A check that had consensus lost it.
    ConsensusLost {
        /// The check id.
        check: String,
        /// The value it had agreed on.
        value: ConsensusValue,
    },
    /// A peer's gossiped topology lists our own id as blocked. We never
    /// block ourselves; a Go node in our place would drop itself from its
    /// own topology (Q-G14). The application decides (e.g. restart with a
    /// new id).
    SelfBlockedByPeer {
        /// The owner whose topology listed us.
        by: MemberId,
    },
}

/// A [`ClusterEvent`] with the time the core observed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedEvent {
    /// The `now` of the input that raised it.
    pub at: UnixMillis,
    /// What happened.
    pub event: ClusterEvent,
}
