//! The member list: provider snapshots → topology, block list, topology hash.
//!
//! Go's rules (docs/wire-protocol.md#membership): the active set is the provider's list minus the
//! block list; a change is detected by topology hash; every member that
//! leaves the active set is blocked, and a blocked id never comes back (a
//! restarted process uses a new id). Topology member lists are ascending by
//! id, as Go emits them (Q-M3).
//!
//! Rejoin rules (our bound on Go's ever-growing block list, Q-M1): a block
//! entry is kept while the provider still lists the member. Once the
//! provider stops listing it, the entry is forgotten after
//! `block_retention` (1 h by default, as protoactor-dotnet). Only after that
//! can the same id join again, as a new member. Our own id is never blocked.
//!
//! A forgotten id goes into a bounded set of forgotten ids
//! (`forgotten_ids`, Q-M23): while the provider does not list it, the core
//! ignores gossip about it (relayed by Go peers, which keep it forever)
//! instead of blocking it again.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::forgotten_ids::ForgottenIds;
use super::types::{MemberId, UnixMillis};
use crate::wire::proto::cluster::Member;
use crate::wire::topology_hash;

/// Why a member was blocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockReason {
    /// Its heartbeat did not advance for `heartbeat_expiration`.
    HeartbeatExpired,
    /// It gossiped the `left` key (graceful leave).
    Left,
    /// The provider stopped listing it (Go blocks such members forever).
    RemovedByProvider,
    /// It was listed in the `blocked` field of a gossiped topology.
    GossipedBlockList {
        /// The owner whose topology listed it.
        by: MemberId,
    },
}

/// One block-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEntry {
    /// When we blocked the member.
    pub since: UnixMillis,
    /// Why.
    pub reason: BlockReason,
    /// Since when the provider no longer lists it (retention runs from here).
    pub gone_since: Option<UnixMillis>,
}

/// A change of the active member set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyChange {
    /// The topology hash of the new active set.
    pub hash: u64,
    /// The new active members, ascending by id.
    pub members: Vec<Member>,
    /// Members that became active, ascending by id.
    pub joined: Vec<Member>,
    /// Members that stopped being active, ascending by id.
    pub left: Vec<Member>,
    /// Ids of `left` that this change blocked (the provider dropped them);
    /// the others were blocked before, for another reason.
    pub newly_blocked: Vec<MemberId>,
}

/// Topology and block list of one member.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MemberList {
    self_id: MemberId,
    provider: BTreeMap<MemberId, Member>,
    active: BTreeMap<MemberId, Member>,
    by_address: BTreeMap<String, MemberId>,
    hash: u64,
    blocked: BTreeMap<MemberId, BlockEntry>,
    forgotten: ForgottenIds,
}

/// `host:port`, Go's `Member.Address()`.
pub(crate) fn address_of(m: &Member) -> String {
    alloc::format!("{}:{}", m.host, m.port)
}

impl MemberList {
    /// An empty member list for `self_id`, remembering up to
    /// `forgotten_capacity` forgotten block entries.
    pub(crate) fn new(self_id: MemberId, forgotten_capacity: usize) -> Self {
        Self {
            self_id,
            provider: BTreeMap::new(),
            active: BTreeMap::new(),
            by_address: BTreeMap::new(),
            hash: 0,
            blocked: BTreeMap::new(),
            forgotten: ForgottenIds::new(forgotten_capacity),
        }
    }

    /// The active members (provider list minus block list), ascending by id.
    pub(crate) fn active(&self) -> &BTreeMap<MemberId, Member> {
        &self.active
    }

    /// True when `id` is in the active topology.
    pub(crate) fn is_active(&self, id: &str) -> bool {
        self.active.contains_key(id)
    }

    /// The active member at `host:port`.
    pub(crate) fn member_at(&self, address: &str) -> Option<&MemberId> {
        self.by_address.get(address)
    }

    /// The topology hash of the active set.
    pub(crate) fn topology_hash(&self) -> u64 {
        self.hash
    }

    /// The block list.
    pub(crate) fn blocked(&self) -> &BTreeMap<MemberId, BlockEntry> {
        &self.blocked
    }

    /// True when `id` is blocked.
    pub(crate) fn is_blocked(&self, id: &str) -> bool {
        self.blocked.contains_key(id)
    }

    /// Stores a provider snapshot (applied by [`Self::recompute`]).
    /// Duplicate ids keep the last record.
    pub(crate) fn set_provider_snapshot(&mut self, members: Vec<Member>, now: UnixMillis) {
        self.provider = members
            .into_iter()
            .map(|m| (MemberId::new(&m.id), m))
            .collect();
        for (id, b) in &mut self.blocked {
            if self.provider.contains_key(id) {
                b.gone_since = None;
            } else if b.gone_since.is_none() {
                b.gone_since = Some(now);
            }
        }
    }

    /// Adds `id` to the block list; false if it is our own id or already
    /// blocked.
    pub(crate) fn block(&mut self, id: &MemberId, reason: BlockReason, now: UnixMillis) -> bool {
        if *id == self.self_id || self.blocked.contains_key(id.as_str()) {
            return false;
        }
        let gone_since = (!self.provider.contains_key(id.as_str())).then_some(now);
        self.blocked.insert(
            id.clone(),
            BlockEntry {
                since: now,
                reason,
                gone_since,
            },
        );
        true
    }

    /// True when `id`'s block entry was forgotten (and is still held in the
    /// bounded set) and the provider does not list it: gossip about it is
    /// stale, relayed from a peer that keeps it forever (Q-M23). An id the
    /// provider lists again is admitted as any other.
    pub(crate) fn is_forgotten(&self, id: &str) -> bool {
        !self.provider.contains_key(id) && self.forgotten.contains(id)
    }

    /// Remembers `id` as forgotten too (the gossip owner alias of a
    /// forgotten member).
    pub(crate) fn note_forgotten(&mut self, id: &str) {
        self.forgotten.insert(id);
    }

    /// How many forgotten ids are remembered (at most the capacity).
    pub(crate) fn forgotten_count(&self) -> usize {
        self.forgotten.len()
    }

    /// Forgets block entries whose member has been gone from the provider
    /// for `retention` and remembers them as forgotten; returns their ids.
    pub(crate) fn expire_blocks(&mut self, now: UnixMillis, retention: Duration) -> Vec<MemberId> {
        let expired: Vec<MemberId> = self
            .blocked
            .iter()
            .filter(|(_, b)| b.gone_since.is_some_and(|g| now >= g.after(retention)))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.blocked.remove(id.as_str());
            self.forgotten.insert(id.as_str());
        }
        expired
    }

    /// Recomputes the active set from the last snapshot and the block list;
    /// members that leave it are blocked (Go's rule). `None` when the
    /// member set is unchanged (compared by ids and records, not only by
    /// hash: Q-M2).
    pub(crate) fn recompute(&mut self, now: UnixMillis) -> Option<TopologyChange> {
        let active: BTreeMap<MemberId, Member> = self
            .provider
            .iter()
            .filter(|(id, _)| !self.blocked.contains_key(id.as_str()))
            .map(|(id, m)| (id.clone(), m.clone()))
            .collect();
        if active == self.active {
            return None;
        }
        let left: Vec<Member> = self
            .active
            .iter()
            .filter(|(id, _)| !active.contains_key(id.as_str()))
            .map(|(_, m)| m.clone())
            .collect();
        let joined: Vec<Member> = active
            .iter()
            .filter(|(id, _)| !self.active.contains_key(id.as_str()))
            .map(|(_, m)| m.clone())
            .collect();
        let newly_blocked: Vec<MemberId> = left
            .iter()
            .map(|m| MemberId::new(&m.id))
            .filter(|id| self.block(id, BlockReason::RemovedByProvider, now))
            .collect();
        self.active = active;
        self.by_address = self
            .active
            .iter()
            .map(|(id, m)| (address_of(m), id.clone()))
            .collect();
        self.hash = topology_hash(self.active.keys().map(MemberId::as_str));
        Some(TopologyChange {
            hash: self.hash,
            members: self.active.values().cloned().collect(),
            joined,
            left,
            newly_blocked,
        })
    }

    /// Ids of the active set.
    pub(crate) fn active_ids(&self) -> BTreeSet<MemberId> {
        self.active.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, port: i32) -> Member {
        Member {
            host: "127.0.0.1".into(),
            port,
            id: id.into(),
            kinds: alloc::vec![],
        }
    }

    #[test]
    fn diff_is_ascending_and_left_members_are_blocked() {
        let mut l = MemberList::new("me".into(), 16);
        l.set_provider_snapshot(alloc::vec![m("c", 3), m("me", 1), m("a", 2)], UnixMillis(0));
        let c = l.recompute(UnixMillis(0)).unwrap();
        assert_eq!(
            c.joined.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["a", "c", "me"]
        );
        assert_eq!(c.hash, topology_hash(["a", "c", "me"]));
        assert_eq!(l.member_at("127.0.0.1:3").map(MemberId::as_str), Some("c"));
        assert!(l.recompute(UnixMillis(1)).is_none(), "unchanged");

        l.set_provider_snapshot(alloc::vec![m("me", 1), m("a", 2)], UnixMillis(5));
        let c = l.recompute(UnixMillis(5)).unwrap();
        assert_eq!(c.left[0].id, "c");
        assert!(l.is_blocked("c"));
        // It never returns while blocked...
        l.set_provider_snapshot(alloc::vec![m("me", 1), m("a", 2), m("c", 3)], UnixMillis(6));
        assert!(l.recompute(UnixMillis(6)).is_none());
    }

    #[test]
    fn block_entries_expire_only_after_the_provider_forgets_the_member() {
        let hour = Duration::from_secs(3600);
        let mut l = MemberList::new("me".into(), 16);
        l.set_provider_snapshot(alloc::vec![m("me", 1), m("x", 2)], UnixMillis(0));
        l.recompute(UnixMillis(0));
        assert!(l.block(&"x".into(), BlockReason::HeartbeatExpired, UnixMillis(10)));
        assert!(
            !l.block(&"me".into(), BlockReason::HeartbeatExpired, UnixMillis(10)),
            "never self"
        );
        l.recompute(UnixMillis(10));
        assert!(
            l.expire_blocks(UnixMillis(10 + 7_200_000), hour).is_empty(),
            "still listed"
        );
        l.set_provider_snapshot(alloc::vec![m("me", 1)], UnixMillis(20_000));
        assert!(
            l.expire_blocks(UnixMillis(20_000 + 3_599_999), hour)
                .is_empty()
        );
        assert_eq!(
            l.expire_blocks(UnixMillis(20_000 + 3_600_000), hour),
            [MemberId::new("x")]
        );
        assert!(l.is_forgotten("x") && !l.is_forgotten("y"));
        // After retention the id may join again, as a new member.
        l.set_provider_snapshot(alloc::vec![m("me", 1), m("x", 2)], UnixMillis(4_000_000));
        assert!(!l.is_forgotten("x"), "listed again: admitted as any other");
        assert_eq!(
            l.recompute(UnixMillis(4_000_000)).unwrap().joined[0].id,
            "x"
        );
    }

    #[test]
    fn record_changes_under_same_id_are_noticed() {
        let mut l = MemberList::new("me".into(), 16);
        l.set_provider_snapshot(alloc::vec![m("me", 1)], UnixMillis(0));
        l.recompute(UnixMillis(0));
        l.set_provider_snapshot(alloc::vec![m("me", 9)], UnixMillis(1));
        let c = l.recompute(UnixMillis(1)).unwrap();
        assert!(c.joined.is_empty() && c.left.is_empty());
        assert_eq!(l.member_at("127.0.0.1:9").map(MemberId::as_str), Some("me"));
    }
}
