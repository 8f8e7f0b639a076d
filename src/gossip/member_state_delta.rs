//! Per-target deltas (`MemberStateDelta`) and their watermarks.
//!
//! For each (target, owner) pair we remember the highest sequence number of
//! the owner that the target has acknowledged from us. A delta for a target
//! carries, per owner, every entry above that watermark. Unlike Go (Q-G1),
//! the watermarks move only when the target answers, so gossip lost on the
//! way is sent again on a later tick.
//!
//! Which owners go into a delta (at most `max_send` besides our own, like
//! Go's `GossipMaxSend`): our own state first; then owners with news other
//! than heartbeats, those we have sent least often first, then the newest
//! (memberlist's transmit-queue order: fresh values spread in O(log N)
//! rounds even in clusters far larger than `max_send`);
//! then owners whose only news is a heartbeat, from a random starting point
//! so every owner's heartbeat gets its turn. Owners with nothing new, and
//! the target itself, are left out: Go crashes on owners with no values
//! (Q-G10).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Reverse;

use rand_core::Rng;

use super::gossip_state::{GossipState, OwnerState};
use super::rng::uniform;
use super::types::MemberId;
use crate::wire::proto::cluster;

/// The gossip for one target and the watermarks it moves when answered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MemberStateDelta {
    /// Entries above the watermarks, per owner (never an owner with no
    /// values).
    pub state: cluster::GossipState,
    /// (owner, highest sequence number included), to commit on an answer.
    pub watermarks: Vec<(MemberId, i64)>,
    /// `watermarks[..news]` are our own state and the owners included for
    /// news other than heartbeats.
    pub news: usize,
}

impl MemberStateDelta {
    /// True when there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.state.members.is_empty()
    }
}

/// Acknowledged sequence numbers per (target, owner).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Watermarks {
    by_target: BTreeMap<MemberId, BTreeMap<MemberId, i64>>,
}

impl Watermarks {
    /// The watermark of (target, owner), 0 if none.
    pub fn get(&self, target: &str, owner: &str) -> i64 {
        self.by_target
            .get(target)
            .and_then(|m| m.get(owner))
            .copied()
            .unwrap_or(0)
    }

    /// Raises the watermarks of `target` (never lowers one).
    pub fn commit(&mut self, target: &MemberId, marks: &[(MemberId, i64)]) {
        if marks.is_empty() {
            return;
        }
        let m = self.by_target.entry(target.clone()).or_default();
        for (owner, seq) in marks {
            let w = m.entry(owner.clone()).or_insert(0);
            *w = (*w).max(*seq);
        }
    }

    /// Forgets a member both as a target and as an owner.
    pub fn remove_member(&mut self, id: &str) {
        self.by_target.remove(id);
        for m in self.by_target.values_mut() {
            m.remove(id);
        }
    }

    /// Forgets a member as a target only (we no longer gossip to it), and
    /// keeps what each other target has of its state.
    pub fn remove_target(&mut self, id: &str) {
        self.by_target.remove(id);
    }

    /// Number of (target, owner) pairs stored.
    pub fn len(&self) -> usize {
        self.by_target.values().map(BTreeMap::len).sum()
    }

    /// True when no watermark is stored.
    pub fn is_empty(&self) -> bool {
        self.by_target.values().all(BTreeMap::is_empty)
    }

    fn for_target(&self, target: &str) -> Option<&BTreeMap<MemberId, i64>> {
        self.by_target.get(target)
    }
}

/// Builds the delta of `state` for `target`, as seen by `self_id`.
pub fn build_delta(
    state: &GossipState,
    self_id: &MemberId,
    target: &MemberId,
    watermarks: &Watermarks,
    max_send: usize,
    rng: &mut impl Rng,
) -> MemberStateDelta {
    build_delta_with(state, self_id, target, watermarks, max_send, true, rng)
}

/// [`build_delta`], optionally without the owners whose only news is a
/// heartbeat (answers to inbound requests carry only news: Go sends no
/// state in answers at all, and heartbeats ride on requests).
pub(crate) fn build_delta_with(
    state: &GossipState,
    self_id: &MemberId,
    target: &MemberId,
    watermarks: &Watermarks,
    max_send: usize,
    heartbeats: bool,
    rng: &mut impl Rng,
) -> MemberStateDelta {
    let empty = BTreeMap::new();
    let marks = watermarks.for_target(target.as_str()).unwrap_or(&empty);
    let mut delta = MemberStateDelta::default();

    if let Some(own) = state.owner(self_id.as_str()) {
        let w = marks.get(self_id.as_str()).copied().unwrap_or(0);
        add_owner(&mut delta, self_id, own, w);
    }

    // Candidates: owners with something above the target's watermark. The
    // watermark map and the state are both sorted by owner id, so one
    // merge-join walk finds them without a lookup per owner.
    let mut data: Vec<(&MemberId, &OwnerState, i64)> = Vec::new();
    let mut beats: Vec<(&MemberId, &OwnerState, i64)> = Vec::new();
    let mut wm = marks.iter().peekable();
    for (id, o) in state.owners() {
        while wm.peek().is_some_and(|(k, _)| *k < id) {
            wm.next();
        }
        let w = match wm.peek() {
            Some((k, w)) if *k == id => **w,
            _ => 0,
        };
        if id == self_id || id == target || o.max_sequence_number() <= w || o.is_empty() {
            continue;
        }
        if o.data_sequence_number() > w {
            data.push((id, o, w));
        } else if heartbeats {
            beats.push((id, o, w));
        }
    }

    // News first: least sent first, then newest; ties from a random start.
    if !data.is_empty() {
        let n = data.len();
        let start = uniform(rng, n);
        let mut order: Vec<usize> = (0..n).collect();
        let key = |i: usize| {
            let o = data[i].1;
            (
                o.data_sends(),
                Reverse(o.data_received()),
                (i + n - start) % n,
            )
        };
        if n > max_send {
            order.select_nth_unstable_by_key(max_send, |&i| key(i));
            order.truncate(max_send);
        }
        order.sort_unstable_by_key(|&i| key(i));
        for i in order {
            let (id, o, w) = data[i];
            add_owner(&mut delta, id, o, w);
        }
    }

    delta.news = delta.watermarks.len();
    let room = max_send.saturating_sub(data.len());
    if room > 0 && !beats.is_empty() {
        let n = beats.len();
        let start = uniform(rng, n);
        for k in 0..n.min(room) {
            let (id, o, w) = beats[(start + k) % n];
            add_owner(&mut delta, id, o, w);
        }
    }
    delta
}

fn add_owner(delta: &mut MemberStateDelta, id: &MemberId, o: &OwnerState, watermark: i64) {
    let mut values = BTreeMap::new();
    let mut top = watermark;
    for (k, e) in o.entries() {
        if e.sequence_number > watermark {
            top = top.max(e.sequence_number);
            values.insert(
                k.into(),
                cluster::GossipKeyValue {
                    sequence_number: e.sequence_number,
                    value: Some(e.value.clone()),
                    local_timestamp_unix_milliseconds: e.received.as_i64(),
                },
            );
        }
    }
    if !values.is_empty() {
        delta.state.members.insert(
            String::from(id.as_str()),
            cluster::GossipMemberState { values },
        );
        delta.watermarks.push((id.clone(), top));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gossip::UnixMillis;
    use crate::wire::Any;
    use crate::wire::WireProfile;
    use alloc::format;
    use rand_core::SeedableRng;
    use rand_xorshift::XorShiftRng;

    fn any() -> Any {
        Any {
            type_url: "t/x".into(),
            value: alloc::vec![1].into(),
        }
    }

    fn rng() -> XorShiftRng {
        XorShiftRng::seed_from_u64(7)
    }

    #[test]
    fn own_state_first_and_watermarks_respected() {
        let me = MemberId::new("me");
        let t = MemberId::new("t");
        let mut s = GossipState::new(WireProfile::Mixed);
        s.set(&me, "k", any(), 1, UnixMillis(1));
        s.set(&me, "j", any(), 2, UnixMillis(1));
        s.set(&MemberId::new("o"), "k", any(), 4, UnixMillis(1));
        s.set(&t, "k", any(), 9, UnixMillis(1));
        let mut w = Watermarks::default();
        let d = build_delta(&s, &me, &t, &w, 50, &mut rng());
        assert_eq!(
            d.state.members.len(),
            2,
            "target's own entries are not sent back"
        );
        assert_eq!(d.watermarks[0], (me.clone(), 2));
        w.commit(&t, &d.watermarks);
        assert!(build_delta(&s, &me, &t, &w, 50, &mut rng()).is_empty());
        s.set(&me, "k", any(), 3, UnixMillis(2));
        let d = build_delta(&s, &me, &t, &w, 50, &mut rng());
        assert_eq!(d.state.members["me"].values.len(), 1);
        assert_eq!(d.state.members["me"].values["k"].sequence_number, 3);
    }

    #[test]
    fn uncommitted_delta_is_sent_again() {
        let me = MemberId::new("me");
        let t = MemberId::new("t");
        let mut s = GossipState::new(WireProfile::Mixed);
        s.set(&me, "k", any(), 1, UnixMillis(1));
        let w = Watermarks::default();
        let a = build_delta(&s, &me, &t, &w, 50, &mut rng());
        let b = build_delta(&s, &me, &t, &w, 50, &mut rng());
        assert_eq!(a, b);
        assert!(!a.is_empty());
    }

    #[test]
    fn never_emits_owner_without_values() {
        let me = MemberId::new("me");
        let t = MemberId::new("t");
        let mut s = GossipState::new(WireProfile::Mixed);
        let mut remote = cluster::GossipState::default();
        remote
            .members
            .insert("empty".into(), cluster::GossipMemberState::default());
        s.merge(remote, UnixMillis(1), |_| false);
        assert!(s.owner("empty").is_some());
        assert!(build_delta(&s, &me, &t, &Watermarks::default(), 50, &mut rng()).is_empty());
    }

    #[test]
    fn max_send_caps_other_owners_and_prefers_fresh_data() {
        let me = MemberId::new("me");
        let t = MemberId::new("t");
        let mut s = GossipState::new(WireProfile::Mixed);
        s.set(&me, "heartbeat", any(), 1, UnixMillis(1));
        for i in 0..100 {
            s.set(
                &MemberId::from(format!("hb{i:03}")),
                "heartbeat",
                any(),
                1,
                UnixMillis(1),
            );
        }
        s.set(&MemberId::new("news-old"), "app", any(), 1, UnixMillis(5));
        s.set(&MemberId::new("news-new"), "app", any(), 1, UnixMillis(9));
        let d = build_delta(&s, &me, &t, &Watermarks::default(), 10, &mut rng());
        assert_eq!(d.state.members.len(), 11, "own + max_send others");
        assert_eq!(d.watermarks[0].0, me);
        assert_eq!(d.watermarks[1].0.as_str(), "news-new");
        assert_eq!(d.watermarks[2].0.as_str(), "news-old");
    }

    #[test]
    fn heartbeat_owners_rotate() {
        let me = MemberId::new("me");
        let t = MemberId::new("t");
        let mut s = GossipState::new(WireProfile::Mixed);
        for i in 0..20 {
            s.set(
                &MemberId::from(format!("hb{i:02}")),
                "heartbeat",
                any(),
                1,
                UnixMillis(1),
            );
        }
        let mut r = rng();
        let mut seen = alloc::collections::BTreeSet::new();
        for _ in 0..200 {
            let d = build_delta(&s, &me, &t, &Watermarks::default(), 2, &mut r);
            assert_eq!(d.state.members.len(), 2);
            seen.extend(d.state.members.keys().cloned());
        }
        assert_eq!(seen.len(), 20, "every owner gets its turn");
    }

    #[test]
    fn removing_a_member_drops_its_watermarks() {
        let mut w = Watermarks::default();
        let (a, b) = (MemberId::new("a"), MemberId::new("b"));
        w.commit(&a, &[(b.clone(), 3)]);
        w.commit(&b, &[(a.clone(), 4)]);
        assert_eq!(w.get("a", "b"), 3);
        w.commit(&a, &[(b.clone(), 2)]);
        assert_eq!(w.get("a", "b"), 3, "never lowered");
        w.remove_member("b");
        assert!(w.is_empty());
    }
}
