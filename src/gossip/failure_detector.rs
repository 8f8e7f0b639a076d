//! Failure detection and the member status machine.
//!
//! Both read the same evidence, the heartbeats in gossip state, and answer
//! two different questions:
//! - Which members to block ([`FailureDetector::scan`]): Go's rules, a
//!   heartbeat that has not advanced for `heartbeat_expiration`, or a
//!   gossiped `left` key. A member that never sent a heartbeat is never
//!   expired (Go does the same).
//! - Which status each tracked member is in ([`FailureDetector::update`]
//!   and the transition methods), as drawn in `member_status`. `Suspect` is
//!   decided by the [`Suspicion`] rule and only raises events.
//!
//! The detector owns one record per tracked member (status, since when,
//! heartbeat statistics). [`GossipCore`](super::GossipCore) tells it about
//! topology changes and blocks; it never blocks anyone itself.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::config::{GossipConfig, Suspicion};
use super::event::ClusterEvent;
use super::gossip_state::{GossipState, OwnerState};
use super::member_list::{BlockReason, MemberList};
use super::member_status::MemberStatus;
use super::owner_alias::OwnerAliases;
use super::types::{MemberId, UnixMillis};

/// What one [`FailureDetector::scan`] found.
#[derive(Debug, Default)]
pub(crate) struct Verdicts {
    /// Members to block, with the reason.
    pub(crate) block: Vec<(MemberId, BlockReason)>,
    /// Owners that were never in our topology and went quiet for longer
    /// than `heartbeat_expiration`: their state can be dropped.
    pub(crate) stale_owners: Vec<MemberId>,
}

#[derive(Debug, Clone)]
struct MemberRecord {
    status: MemberStatus,
    since: UnixMillis,
    last_beat: Option<UnixMillis>,
    mean_interval_ms: f64,
    samples: u32,
}

impl MemberRecord {
    fn new(status: MemberStatus, since: UnixMillis) -> Self {
        Self {
            status,
            since,
            last_beat: None,
            mean_interval_ms: 0.0,
            samples: 0,
        }
    }

    fn set(&mut self, status: MemberStatus, now: UnixMillis) {
        self.status = status;
        self.since = now;
    }

    /// Folds in the owner's heartbeat time: a newer one adds an interval
    /// sample to the mean (EWMA, weight 0.1).
    fn observe(&mut self, heartbeat: UnixMillis) {
        if self.last_beat.is_some_and(|l| heartbeat <= l) {
            return;
        }
        if let Some(l) = self.last_beat {
            let iv = heartbeat.millis_since(l) as f64;
            self.mean_interval_ms = if self.samples == 0 {
                iv
            } else {
                0.9 * self.mean_interval_ms + 0.1 * iv
            };
            self.samples += 1;
        }
        self.last_beat = Some(heartbeat);
    }
}

/// Heartbeat expiry, suspicion and the status of every tracked member.
#[derive(Debug, Clone)]
pub(crate) struct FailureDetector {
    expiration_ms: u64,
    suspicion: Suspicion,
    records: BTreeMap<MemberId, MemberRecord>,
}

impl FailureDetector {
    pub(crate) fn new(config: &GossipConfig) -> Self {
        Self {
            expiration_ms: config.heartbeat_expiration.as_millis() as u64,
            suspicion: config.suspicion,
            records: BTreeMap::new(),
        }
    }

    /// Finds the members to block and the stale owners, over every owner
    /// in `state` except ourselves and members already blocked.
    pub(crate) fn scan(
        &self,
        state: &GossipState,
        aliases: &OwnerAliases,
        members: &MemberList,
        self_id: &MemberId,
        now: UnixMillis,
    ) -> Verdicts {
        let mut found = Verdicts::default();
        for (owner, o) in state.owners() {
            let id = aliases.member_of(owner);
            if id == self_id || members.is_blocked(id.as_str()) {
                continue;
            }
            if o.has_left() {
                found.block.push((id.clone(), BlockReason::Left));
            } else if let Some(hb) = o.heartbeat_received()
                && now.millis_since(hb) > self.expiration_ms
            {
                found
                    .block
                    .push((id.clone(), BlockReason::HeartbeatExpired));
            } else if !members.is_active(id.as_str())
                && o.last_received()
                    .is_none_or(|t| now.millis_since(t) > self.expiration_ms)
            {
                // Bound memory: owners never in our topology that went quiet.
                found.stale_owners.push(owner.clone());
            }
        }
        found
    }

    /// Moves tracked members between `Joining`, `Up` and `Suspect` by
    /// their heartbeats in `state`; returns the events, ascending by id.
    pub(crate) fn update(
        &mut self,
        state: &GossipState,
        aliases: &OwnerAliases,
        now: UnixMillis,
    ) -> Vec<ClusterEvent> {
        let mut events = Vec::new();
        for (id, rec) in &mut self.records {
            let hb = aliases
                .owner_state(state, id.as_str())
                .and_then(OwnerState::heartbeat_received);
            if let Some(hb) = hb {
                rec.observe(hb);
            }
            let silent = hb.map(|h| now.millis_since(h));
            match (rec.status, silent) {
                (MemberStatus::Joining, Some(_)) => {
                    rec.set(MemberStatus::Up, now);
                    events.push(ClusterEvent::MemberUp { id: id.clone() });
                }
                (MemberStatus::Up, Some(s))
                    if is_suspicious(self.suspicion, self.expiration_ms, rec, s) =>
                {
                    rec.set(MemberStatus::Suspect, now);
                    events.push(ClusterEvent::MemberSuspect {
                        id: id.clone(),
                        silent_for_ms: s,
                    });
                }
                (MemberStatus::Suspect, Some(s))
                    if !is_suspicious(self.suspicion, self.expiration_ms, rec, s) =>
                {
                    rec.set(MemberStatus::Up, now);
                    events.push(ClusterEvent::MemberReachable { id: id.clone() });
                }
                _ => {}
            }
        }
        events
    }

    /// A member joined the topology: tracked afresh as `Joining`.
    pub(crate) fn joined(&mut self, id: MemberId, now: UnixMillis) {
        self.records
            .insert(id, MemberRecord::new(MemberStatus::Joining, now));
    }

    /// A member gossiped `left`: `Leaving` (tracked from now on if it was
    /// not).
    pub(crate) fn leaving(&mut self, id: &MemberId, now: UnixMillis) {
        let rec = self
            .records
            .entry(id.clone())
            .or_insert_with(|| MemberRecord::new(MemberStatus::Leaving, now));
        if rec.status != MemberStatus::Leaving {
            rec.set(MemberStatus::Leaving, now);
        }
    }

    /// A tracked member was blocked: `Blocked`, unless it is leaving.
    pub(crate) fn blocked(&mut self, id: &MemberId, now: UnixMillis) {
        if let Some(rec) = self.records.get_mut(id.as_str())
            && rec.status != MemberStatus::Leaving
        {
            rec.set(MemberStatus::Blocked, now);
        }
    }

    /// A tracked member left the topology: `Removed` after a graceful
    /// leave, `Blocked` otherwise.
    pub(crate) fn removed(&mut self, id: &MemberId, now: UnixMillis) {
        if let Some(rec) = self.records.get_mut(id.as_str()) {
            let status = if rec.status == MemberStatus::Leaving {
                MemberStatus::Removed
            } else {
                MemberStatus::Blocked
            };
            rec.set(status, now);
        }
    }

    /// Stops tracking a member (its block entry expired).
    pub(crate) fn forget(&mut self, id: &MemberId) {
        self.records.remove(id.as_str());
    }

    /// The status of a tracked member.
    pub(crate) fn status(&self, id: &str) -> Option<MemberStatus> {
        self.records.get(id).map(|r| r.status)
    }

    /// Every tracked member with its status, ascending by id.
    pub(crate) fn statuses(&self) -> impl Iterator<Item = (&MemberId, MemberStatus)> {
        self.records.iter().map(|(id, r)| (id, r.status))
    }
}

/// The [`Suspicion`] rule for a member silent for `silent_ms`.
fn is_suspicious(
    suspicion: Suspicion,
    expiration_ms: u64,
    rec: &MemberRecord,
    silent_ms: u64,
) -> bool {
    let fraction =
        |percent: u64| silent_ms.saturating_mul(100) > expiration_ms.saturating_mul(percent);
    match suspicion {
        Suspicion::FractionOfExpiration { percent } => fraction(u64::from(percent)),
        Suspicion::PhiAccrual {
            threshold,
            min_samples,
        } => {
            if rec.samples < min_samples.max(1) {
                fraction(50)
            } else {
                silent_ms as f64
                    > threshold * rec.mean_interval_ms.max(1.0) * core::f64::consts::LN_10
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Any;
    use crate::wire::proto::cluster::Member;
    use crate::wire::{HEARTBEAT_KEY, LEFT_KEY, WireProfile};

    fn beat(state: &mut GossipState, owner: &str, seq: i64, at: u64) {
        state.set(
            &owner.into(),
            HEARTBEAT_KEY,
            Any::default(),
            seq,
            UnixMillis(at),
        );
    }

    fn list(ids: &[&str]) -> MemberList {
        let mut l = MemberList::new("me".into(), 16);
        let members = ids
            .iter()
            .enumerate()
            .map(|(i, id)| Member {
                host: "127.0.0.1".into(),
                port: i as i32,
                id: (*id).into(),
                kinds: Vec::new(),
            })
            .collect();
        l.set_provider_snapshot(members, UnixMillis(0));
        l.recompute(UnixMillis(0));
        l
    }

    #[test]
    fn statuses_follow_heartbeats_joining_up_suspect_reachable() {
        // Default: suspect after 50 % of 20 s without a new heartbeat.
        let mut fd = FailureDetector::new(&GossipConfig::default());
        let (mut state, aliases) = (
            GossipState::new(WireProfile::Mixed),
            OwnerAliases::default(),
        );
        fd.joined("a".into(), UnixMillis(0));
        assert!(
            fd.update(&state, &aliases, UnixMillis(1)).is_empty(),
            "no beat yet"
        );
        assert_eq!(fd.status("a"), Some(MemberStatus::Joining));
        beat(&mut state, "a", 1, 100);
        assert_eq!(
            fd.update(&state, &aliases, UnixMillis(200)),
            [ClusterEvent::MemberUp { id: "a".into() }]
        );
        assert!(fd.update(&state, &aliases, UnixMillis(10_100)).is_empty());
        assert_eq!(
            fd.update(&state, &aliases, UnixMillis(10_101)),
            [ClusterEvent::MemberSuspect {
                id: "a".into(),
                silent_for_ms: 10_001
            }]
        );
        beat(&mut state, "a", 2, 10_200);
        assert_eq!(
            fd.update(&state, &aliases, UnixMillis(10_300)),
            [ClusterEvent::MemberReachable { id: "a".into() }]
        );
        assert_eq!(fd.status("a"), Some(MemberStatus::Up));
    }

    #[test]
    fn scan_blocks_expired_and_left_members_and_names_stale_strangers() {
        let fd = FailureDetector::new(&GossipConfig::default());
        let members = list(&["me", "a", "b", "c"]);
        let mut state = GossipState::new(WireProfile::Mixed);
        beat(&mut state, "me", 1, 0);
        beat(&mut state, "a", 1, 0);
        beat(&mut state, "b", 1, 15_000);
        state.set(&"c".into(), LEFT_KEY, Any::default(), 2, UnixMillis(15_000));
        // Not in the topology, never sent a heartbeat, quiet for > 20 s.
        state.set(&"stranger".into(), "app", Any::default(), 1, UnixMillis(0));
        let v = fd.scan(
            &state,
            &OwnerAliases::default(),
            &members,
            &"me".into(),
            UnixMillis(20_001),
        );
        assert_eq!(
            v.block,
            [
                (MemberId::new("a"), BlockReason::HeartbeatExpired),
                (MemberId::new("c"), BlockReason::Left),
            ]
        );
        assert_eq!(v.stale_owners, [MemberId::new("stranger")]);
    }

    #[test]
    fn leaving_members_end_removed_others_blocked() {
        let mut fd = FailureDetector::new(&GossipConfig::default());
        for id in ["a", "b"] {
            fd.joined(id.into(), UnixMillis(0));
        }
        fd.leaving(&"a".into(), UnixMillis(1));
        fd.blocked(&"a".into(), UnixMillis(2));
        fd.blocked(&"b".into(), UnixMillis(2));
        assert_eq!(
            fd.status("a"),
            Some(MemberStatus::Leaving),
            "block keeps Leaving"
        );
        assert_eq!(fd.status("b"), Some(MemberStatus::Blocked));
        fd.removed(&"a".into(), UnixMillis(3));
        fd.removed(&"b".into(), UnixMillis(3));
        let all: Vec<_> = fd.statuses().map(|(id, s)| (id.as_str(), s)).collect();
        assert_eq!(
            all,
            [("a", MemberStatus::Removed), ("b", MemberStatus::Blocked)]
        );
        fd.forget(&"a".into());
        assert_eq!(fd.status("a"), None);
        // A member seen leaving before it was tracked is tracked from then.
        fd.leaving(&"z".into(), UnixMillis(4));
        assert_eq!(fd.status("z"), Some(MemberStatus::Leaving));
    }
}
