//! Events the core raises, each with the time it happened.
//!
//! They are what an application (or the tokio node's event stream) sees of
//! the cluster: Go publishes `GossipUpdate` and `ClusterTopology` on its
//! event stream; we add the member status transitions, consensus changes
//! and the case Go handles silently (our own id in a peer's blocked list).
//!
//! Each event prints as one readable line (`Display`), for logs; its
//! [`EventKind`] is what subscriptions filter on.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::consensus::ConsensusValue;
use super::member_list::BlockReason;
use super::types::{MemberId, UnixMillis};
use crate::wire::proto::cluster::Member;

/// Something that happened in the cluster, as seen by this member.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    /// This node left the member list it was excluded from and joined
    /// again under a fresh member id (the node's self-healing rejoin, see
    /// `docs/operations.md#self-healing-rejoin`). Raised by the node, not
    /// by the core: the core of `new_id` starts empty.
    Rejoined {
        /// The id it was excluded under.
        old_id: MemberId,
        /// The id it has now.
        new_id: MemberId,
        /// What showed it was excluded.
        reason: RejoinReason,
    },
}

/// What showed a node that the cluster excludes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejoinReason {
    /// A peer answered our handshake with `ConnectResponse.blocked = true`.
    BlockedByPeer {
        /// The peer's address.
        address: String,
    },
    /// A peer's gossiped topology lists our id as blocked.
    ListedAsBlocked {
        /// The member whose topology listed us.
        by: MemberId,
    },
    /// For `for_ms`, at least as many members excluded us as included us:
    /// `excluded_by` members the provider lists but we had blocked (they
    /// blocked us too, e.g. after a partition longer than the heartbeat
    /// expiration) or that gossip a topology without us, against
    /// `with_us` members whose topology lists us.
    Excluded {
        /// Members that exclude us.
        excluded_by: u32,
        /// Members whose topology lists us.
        with_us: u32,
        /// How long that lasted.
        for_ms: u64,
    },
}

impl fmt::Display for RejoinReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BlockedByPeer { address } => {
                write!(f, "{address} answered our handshake with blocked")
            }
            Self::ListedAsBlocked { by } => write!(f, "{by} lists us as blocked"),
            Self::Excluded {
                excluded_by,
                with_us,
                for_ms,
            } => write!(
                f,
                "excluded by {excluded_by} members, listed by {with_us}, for {for_ms} ms"
            ),
        }
    }
}

/// A [`ClusterEvent`] with the time the core observed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedEvent {
    /// The `now` of the input that raised it.
    pub at: UnixMillis,
    /// What happened.
    pub event: ClusterEvent,
}

/// The kind of a [`ClusterEvent`], without its data: what event filters
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventKind {
    /// [`ClusterEvent::MemberJoined`].
    MemberJoined,
    /// [`ClusterEvent::MemberUp`].
    MemberUp,
    /// [`ClusterEvent::MemberSuspect`].
    MemberSuspect,
    /// [`ClusterEvent::MemberReachable`].
    MemberReachable,
    /// [`ClusterEvent::MemberLeft`].
    MemberLeft,
    /// [`ClusterEvent::MemberBlocked`].
    MemberBlocked,
    /// [`ClusterEvent::MemberRemoved`].
    MemberRemoved,
    /// [`ClusterEvent::TopologyUpdated`].
    TopologyUpdated,
    /// [`ClusterEvent::GossipUpdate`].
    GossipUpdate,
    /// [`ClusterEvent::ConsensusReached`].
    ConsensusReached,
    /// [`ClusterEvent::ConsensusLost`].
    ConsensusLost,
    /// [`ClusterEvent::SelfBlockedByPeer`].
    SelfBlockedByPeer,
    /// [`ClusterEvent::Rejoined`].
    Rejoined,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 13] = [
        Self::MemberJoined,
        Self::MemberUp,
        Self::MemberSuspect,
        Self::MemberReachable,
        Self::MemberLeft,
        Self::MemberBlocked,
        Self::MemberRemoved,
        Self::TopologyUpdated,
        Self::GossipUpdate,
        Self::ConsensusReached,
        Self::ConsensusLost,
        Self::SelfBlockedByPeer,
        Self::Rejoined,
    ];
    /// The member status transitions: joined, up, suspect, reachable, left,
    /// blocked, removed.
    pub const MEMBERSHIP: [EventKind; 7] = [
        Self::MemberJoined,
        Self::MemberUp,
        Self::MemberSuspect,
        Self::MemberReachable,
        Self::MemberLeft,
        Self::MemberBlocked,
        Self::MemberRemoved,
    ];
}

impl ClusterEvent {
    /// This event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::MemberJoined { .. } => EventKind::MemberJoined,
            Self::MemberUp { .. } => EventKind::MemberUp,
            Self::MemberSuspect { .. } => EventKind::MemberSuspect,
            Self::MemberReachable { .. } => EventKind::MemberReachable,
            Self::MemberLeft { .. } => EventKind::MemberLeft,
            Self::MemberBlocked { .. } => EventKind::MemberBlocked,
            Self::MemberRemoved { .. } => EventKind::MemberRemoved,
            Self::TopologyUpdated { .. } => EventKind::TopologyUpdated,
            Self::GossipUpdate { .. } => EventKind::GossipUpdate,
            Self::ConsensusReached { .. } => EventKind::ConsensusReached,
            Self::ConsensusLost { .. } => EventKind::ConsensusLost,
            Self::SelfBlockedByPeer { .. } => EventKind::SelfBlockedByPeer,
            Self::Rejoined { .. } => EventKind::Rejoined,
        }
    }
}

fn write_value(f: &mut fmt::Formatter<'_>, value: &ConsensusValue) -> fmt::Result {
    match value {
        ConsensusValue::U64(v) => write!(f, "{v}"),
        ConsensusValue::Bytes(b) => {
            for byte in b {
                write!(f, "{byte:02x}")?;
            }
            Ok(())
        }
    }
}

fn write_reason(f: &mut fmt::Formatter<'_>, reason: &BlockReason) -> fmt::Result {
    match reason {
        BlockReason::HeartbeatExpired => f.write_str("heartbeat expired"),
        BlockReason::Left => f.write_str("left"),
        BlockReason::RemovedByProvider => f.write_str("no longer listed by the provider"),
        BlockReason::GossipedBlockList { by } => write!(f, "listed as blocked by {by}"),
    }
}

impl fmt::Display for ClusterEvent {
    /// One line, e.g. `member up: 6ijW1jbGXmkUDuA1ecyeEp` or
    /// `topology updated: hash 1234, 3 members (+1 -0), 0 blocked`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MemberJoined { member } => write!(
                f,
                "member joined: {} at {}:{}",
                member.id, member.host, member.port
            ),
            Self::MemberUp { id } => write!(f, "member up: {id}"),
            Self::MemberSuspect { id, silent_for_ms } => {
                write!(f, "member suspect: {id} (silent for {silent_for_ms} ms)")
            }
            Self::MemberReachable { id } => write!(f, "member reachable again: {id}"),
            Self::MemberLeft { id } => write!(f, "member left: {id}"),
            Self::MemberBlocked { id, reason } => {
                write!(f, "member blocked: {id} (")?;
                write_reason(f, reason)?;
                f.write_str(")")
            }
            Self::MemberRemoved { id } => write!(f, "member removed: {id}"),
            Self::TopologyUpdated {
                hash,
                members,
                joined,
                left,
                blocked,
            } => write!(
                f,
                "topology updated: hash {hash}, {} members (+{} -{}), {} blocked",
                members.len(),
                joined.len(),
                left.len(),
                blocked.len()
            ),
            Self::GossipUpdate {
                owner,
                key,
                sequence_number,
            } => write!(f, "gossip update: {owner}/{key} #{sequence_number}"),
            Self::ConsensusReached { check, value } => {
                write!(f, "consensus reached: {check} = ")?;
                write_value(f, value)
            }
            Self::ConsensusLost { check, value } => {
                write!(f, "consensus lost: {check} (was ")?;
                write_value(f, value)?;
                f.write_str(")")
            }
            Self::SelfBlockedByPeer { by } => {
                write!(f, "this node is listed as blocked by {by}")
            }
            Self::Rejoined {
                old_id,
                new_id,
                reason,
            } => write!(f, "rejoined as {new_id} (was {old_id}): {reason}"),
        }
    }
}

impl fmt::Display for TimedEvent {
    /// The event's line after its time in seconds since the Unix epoch
    /// (millisecond precision), e.g. `1732946400.125 member up: 6ijW…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:03} {}",
            self.at.0 / 1000,
            self.at.0 % 1000,
            self.event
        )
    }
}

#[cfg(test)]
mod tests {
    use alloc::{format, string::ToString, vec};

    use super::*;

    fn id(s: &str) -> MemberId {
        MemberId::new(s)
    }

    #[test]
    fn every_event_is_one_readable_line() {
        let m = Member {
            host: "127.0.0.1".into(),
            port: 8090,
            id: "a".into(),
            kinds: vec![],
        };
        let cases = [
            (
                ClusterEvent::MemberJoined { member: m.clone() },
                "member joined: a at 127.0.0.1:8090",
            ),
            (ClusterEvent::MemberUp { id: id("a") }, "member up: a"),
            (
                ClusterEvent::MemberSuspect {
                    id: id("a"),
                    silent_for_ms: 1500,
                },
                "member suspect: a (silent for 1500 ms)",
            ),
            (
                ClusterEvent::MemberReachable { id: id("a") },
                "member reachable again: a",
            ),
            (ClusterEvent::MemberLeft { id: id("a") }, "member left: a"),
            (
                ClusterEvent::MemberBlocked {
                    id: id("a"),
                    reason: BlockReason::GossipedBlockList { by: id("b") },
                },
                "member blocked: a (listed as blocked by b)",
            ),
            (
                ClusterEvent::MemberBlocked {
                    id: id("a"),
                    reason: BlockReason::HeartbeatExpired,
                },
                "member blocked: a (heartbeat expired)",
            ),
            (
                ClusterEvent::MemberRemoved { id: id("a") },
                "member removed: a",
            ),
            (
                ClusterEvent::TopologyUpdated {
                    hash: 42,
                    members: vec![m.clone()],
                    joined: vec![m],
                    left: vec![],
                    blocked: vec![id("x")],
                },
                "topology updated: hash 42, 1 members (+1 -0), 1 blocked",
            ),
            (
                ClusterEvent::GossipUpdate {
                    owner: id("a"),
                    key: "topology".into(),
                    sequence_number: 7,
                },
                "gossip update: a/topology #7",
            ),
            (
                ClusterEvent::ConsensusReached {
                    check: "topology".into(),
                    value: ConsensusValue::U64(42),
                },
                "consensus reached: topology = 42",
            ),
            (
                ClusterEvent::ConsensusLost {
                    check: "c".into(),
                    value: ConsensusValue::Bytes(vec![0xab, 0x01]),
                },
                "consensus lost: c (was ab01)",
            ),
            (
                ClusterEvent::SelfBlockedByPeer { by: id("b") },
                "this node is listed as blocked by b",
            ),
            (
                ClusterEvent::Rejoined {
                    old_id: id("a"),
                    new_id: id("a2"),
                    reason: RejoinReason::Excluded {
                        excluded_by: 3,
                        with_us: 2,
                        for_ms: 4000,
                    },
                },
                "rejoined as a2 (was a): excluded by 3 members, listed by 2, for 4000 ms",
            ),
        ];
        let mut kinds: Vec<EventKind> = Vec::new();
        for (event, line) in cases {
            assert_eq!(event.to_string(), line);
            assert!(!line.contains('\n'));
            if !kinds.contains(&event.kind()) {
                kinds.push(event.kind());
            }
        }
        assert_eq!(kinds, EventKind::ALL, "every kind is covered, in order");
        let timed = TimedEvent {
            at: UnixMillis(1_732_946_400_005),
            event: ClusterEvent::MemberUp { id: id("a") },
        };
        assert_eq!(format!("{timed}"), "1732946400.005 member up: a");
    }
}
