//! Gossip state: one entry per (owner member, key), and its merge.
//!
//! protoactor-go's rules (docs/wire-protocol.md#merge-rules): an owner's entries share one sequence
//! counter; on merge a remote entry replaces ours only if its sequence number
//! is strictly higher; accepted entries are stamped with the receiver's clock
//! (the sender's timestamp is never trusted). We add one rule Go lacks
//! (Q-G9): the core never accepts entries about its own owner id, so a stale
//! copy relayed back cannot overwrite our own values.
//!
//! Each owner also keeps a few summaries updated on every write so that the
//! per-tick work (deltas, heartbeat expiry) never has to scan its entries:
//! the highest sequence number, the highest non-heartbeat sequence number
//! and when it arrived, and when a heartbeat last advanced.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Bound;

use crate::wire::Any;

use super::types::{MemberId, UnixMillis};
use crate::wire::proto::cluster;
use crate::wire::{LEFT_KEY, WireProfile};

/// One gossip value of one owner.
#[derive(Debug, Clone, PartialEq)]
pub struct GossipEntry {
    /// The owner's sequence number when it wrote the value.
    pub sequence_number: i64,
    /// The value, as packed by its owner (relayed verbatim).
    pub value: Any,
    /// When we accepted it, on our clock.
    pub received: UnixMillis,
}

/// Everything we know about one owner.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OwnerState {
    values: BTreeMap<String, GossipEntry>,
    max_seq: i64,
    data_seq: i64,
    data_received: UnixMillis,
    heartbeat_received: Option<UnixMillis>,
    last_received: Option<UnixMillis>,
    has_left: bool,
    data_sends: u32,
}

impl OwnerState {
    /// The entry under `key`.
    pub fn get(&self, key: &str) -> Option<&GossipEntry> {
        self.values.get(key)
    }

    /// All entries, ascending by key.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &GossipEntry)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the owner has no entries.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The highest sequence number of any entry (0 if none).
    pub fn max_sequence_number(&self) -> i64 {
        self.max_seq
    }

    /// The highest sequence number of a non-heartbeat entry (0 if none):
    /// "news" that deltas send before heartbeat-only updates.
    pub fn data_sequence_number(&self) -> i64 {
        self.data_seq
    }

    /// When the newest non-heartbeat entry was accepted.
    pub fn data_received(&self) -> UnixMillis {
        self.data_received
    }

    /// When a heartbeat entry (either spelling) last advanced, our clock.
    pub fn heartbeat_received(&self) -> Option<UnixMillis> {
        self.heartbeat_received
    }

    /// The newest receipt time of any entry.
    pub fn last_received(&self) -> Option<UnixMillis> {
        self.last_received
    }

    /// True when the owner has a `left` entry (graceful leave).
    pub fn has_left(&self) -> bool {
        self.has_left
    }

    /// How many deltas carried the owner's newest non-heartbeat value so
    /// far (reset when a newer one arrives). Deltas prefer owners whose
    /// news was sent least often, like memberlist's transmit queue.
    pub fn data_sends(&self) -> u32 {
        self.data_sends
    }

    fn put(&mut self, key: String, entry: GossipEntry, profile: WireProfile) {
        self.note_write(&key, entry.sequence_number, entry.received, profile);
        self.values.insert(key, entry);
    }

    /// Updates the summaries for a write of `key` at `seq`, accepted `at`.
    fn note_write(&mut self, key: &str, seq: i64, at: UnixMillis, profile: WireProfile) {
        if profile.is_heartbeat_key(key) {
            self.heartbeat_received = Some(self.heartbeat_received.map_or(at, |h| h.max(at)));
        } else if seq > self.data_seq {
            self.data_seq = seq;
            self.data_received = at;
            self.data_sends = 0;
        } else {
            self.data_received = self.data_received.max(at);
        }
        if key == LEFT_KEY {
            self.has_left = true;
        }
        self.last_received = Some(self.last_received.map_or(at, |l| l.max(at)));
        self.max_seq = self.max_seq.max(seq);
    }
}

/// An accepted remote entry (Go's `GossipUpdate` without the value, which
/// stays in the state).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GossipUpdate {
    /// The owner of the entry.
    pub owner: MemberId,
    /// The key.
    pub key: String,
    /// The accepted sequence number.
    pub sequence_number: i64,
}

/// All gossip entries, per owner, ordered by owner id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GossipState {
    owners: BTreeMap<MemberId, OwnerState>,
    profile: WireProfile,
}

impl GossipState {
    /// An empty state; `profile` tells which keys are heartbeats.
    pub fn new(profile: WireProfile) -> Self {
        Self {
            owners: BTreeMap::new(),
            profile,
        }
    }

    /// A state holding exactly the entries of a protobuf `GossipState`,
    /// timestamps as given (negative ones read as 0).
    pub fn from_proto(state: &cluster::GossipState, profile: WireProfile) -> Self {
        let mut s = Self::new(profile);
        for (owner, ms) in &state.members {
            let o = s.owners.entry(MemberId::new(owner)).or_default();
            for (key, kv) in &ms.values {
                let entry = GossipEntry {
                    sequence_number: kv.sequence_number,
                    value: kv.value.clone().unwrap_or_default(),
                    received: UnixMillis(
                        u64::try_from(kv.local_timestamp_unix_milliseconds).unwrap_or(0),
                    ),
                };
                o.put(key.clone(), entry, profile);
            }
        }
        s
    }

    /// The state as a protobuf `GossipState` (owners with no entries
    /// included, as Go keeps them).
    pub fn to_proto(&self) -> cluster::GossipState {
        cluster::GossipState {
            members: self
                .owners
                .iter()
                .map(|(id, o)| {
                    let values = o
                        .values
                        .iter()
                        .map(|(k, e)| (k.clone(), entry_to_proto(e)))
                        .collect();
                    (
                        String::from(id.as_str()),
                        cluster::GossipMemberState { values },
                    )
                })
                .collect(),
        }
    }

    /// The owner's entries.
    pub fn owner(&self, owner: &str) -> Option<&OwnerState> {
        self.owners.get(owner)
    }

    /// All owners, ascending by id.
    pub fn owners(&self) -> impl DoubleEndedIterator<Item = (&MemberId, &OwnerState)> {
        self.owners.iter()
    }

    /// Number of owners.
    pub fn owner_count(&self) -> usize {
        self.owners.len()
    }

    /// The entry of `owner` under `key`.
    pub fn get(&self, owner: &str, key: &str) -> Option<&GossipEntry> {
        self.owners.get(owner).and_then(|o| o.get(key))
    }

    /// Every owner's entry under `key` (Go `GetState`).
    pub fn values_for_key<'a>(
        &'a self,
        key: &'a str,
    ) -> impl Iterator<Item = (&'a MemberId, &'a GossipEntry)> + 'a {
        self.owners
            .iter()
            .filter_map(move |(id, o)| o.get(key).map(|e| (id, e)))
    }

    /// Writes an entry unconditionally (the owner's own `set_state`; the
    /// caller chooses the sequence number).
    pub(crate) fn set(
        &mut self,
        owner: &MemberId,
        key: &str,
        value: Any,
        sequence_number: i64,
        now: UnixMillis,
    ) {
        let profile = self.profile;
        self.owners.entry(owner.clone()).or_default().put(
            key.into(),
            GossipEntry {
                sequence_number,
                value,
                received: now,
            },
            profile,
        );
    }

    /// Counts one more delta carrying `owner`'s newest non-heartbeat value.
    pub(crate) fn note_data_sent(&mut self, owner: &str) {
        if let Some(o) = self.owners.get_mut(owner) {
            o.data_sends = o.data_sends.saturating_add(1);
        }
    }

    /// Forgets an owner.
    pub(crate) fn remove_owner(&mut self, owner: &str) -> Option<OwnerState> {
        self.owners.remove(owner)
    }

    /// Merges a remote state: per (owner, key) the strictly higher sequence
    /// number wins and is stamped `now`; owners for which `skip_owner` is
    /// true are ignored (the core skips itself and blocked members). Returns
    /// the accepted entries, ascending by (owner, key).
    ///
    /// Like Go, an owner unknown to us is created even when its remote entry
    /// has no values (but we never send such an owner on).
    ///
    /// Hidden from the docs: the core owns the state and merges through
    /// [`crate::gossip::GossipCore`]; this stays public only for
    /// `benches/core_gossip.rs`.
    #[doc(hidden)]
    pub fn merge(
        &mut self,
        remote: cluster::GossipState,
        now: UnixMillis,
        skip_owner: impl FnMut(&str) -> bool,
    ) -> Vec<GossipUpdate> {
        let walk = remote.members.len().saturating_mul(WALK_RATIO) >= self.owners.len();
        self.merge_with(remote, now, skip_owner, walk)
    }

    /// [`merge`](Self::merge), finding our owners either by walking both
    /// ordered maps side by side (`walk`) or by one lookup per remote owner.
    fn merge_with(
        &mut self,
        remote: cluster::GossipState,
        now: UnixMillis,
        mut skip_owner: impl FnMut(&str) -> bool,
        walk: bool,
    ) -> Vec<GossipUpdate> {
        let profile = self.profile;
        let mut updates = Vec::new();
        // Owners new to us are added after the walk (it borrows the map).
        let mut new_owners = Vec::new();
        let remote_owners = remote.members.into_iter().filter(|(id, _)| !skip_owner(id));
        if walk {
            let mut locals = self.owners.iter_mut().peekable();
            for (id, remote_owner) in remote_owners {
                while locals.next_if(|(k, _)| k.as_str() < id.as_str()).is_some() {}
                match locals.next_if(|(k, _)| k.as_str() == id.as_str()) {
                    Some((k, local)) => {
                        merge_owner(k, local, remote_owner, now, profile, &mut updates);
                    }
                    None => {
                        new_owners.push(new_owner(id, remote_owner, now, profile, &mut updates))
                    }
                }
            }
        } else {
            for (id, remote_owner) in remote_owners {
                let exact = (Bound::Included(id.as_str()), Bound::Included(id.as_str()));
                match self.owners.range_mut::<str, _>(exact).next() {
                    Some((k, local)) => {
                        merge_owner(k, local, remote_owner, now, profile, &mut updates);
                    }
                    None => {
                        new_owners.push(new_owner(id, remote_owner, now, profile, &mut updates))
                    }
                }
            }
        }
        self.owners.extend(new_owners);
        updates
    }
}

/// [`GossipState::merge`] walks both maps instead of looking owners up when
/// the remote state has at least 1/`WALK_RATIO` as many owners as ours. A
/// lookup costs O(log n) id comparisons, each through a pointer to the id
/// (a cache miss in a large state); the walk costs one comparison per owner
/// of either map. Deltas (at most `gossip_max_send` = 50 owners) into a large
/// state take lookups; full states (a new member's first exchange) walk.
const WALK_RATIO: usize = 8;

/// An owner we did not know, holding the remote entries (all accepted).
fn new_owner(
    id: String,
    remote: cluster::GossipMemberState,
    now: UnixMillis,
    profile: WireProfile,
    updates: &mut Vec<GossipUpdate>,
) -> (MemberId, OwnerState) {
    let id = MemberId::from(id);
    let mut state = OwnerState::default();
    merge_owner(&id, &mut state, remote, now, profile, updates);
    (id, state)
}

fn merge_owner(
    owner: &MemberId,
    local: &mut OwnerState,
    remote: cluster::GossipMemberState,
    now: UnixMillis,
    profile: WireProfile,
    updates: &mut Vec<GossipUpdate>,
) {
    for (key, kv) in remote.values {
        let seq = kv.sequence_number;
        // One lookup; a newer value replaces ours in place, so the remote
        // key string is not needed by the state and moves into the update.
        match local.values.get_mut(key.as_str()) {
            Some(e) if seq <= e.sequence_number => continue,
            Some(e) => {
                e.sequence_number = seq;
                e.value = kv.value.unwrap_or_default();
                e.received = now;
            }
            None => {
                let entry = GossipEntry {
                    sequence_number: seq,
                    value: kv.value.unwrap_or_default(),
                    received: now,
                };
                local.values.insert(key.clone(), entry);
            }
        }
        local.note_write(&key, seq, now, profile);
        updates.push(GossipUpdate {
            owner: owner.clone(),
            key,
            sequence_number: seq,
        });
    }
}

fn entry_to_proto(e: &GossipEntry) -> cluster::GossipKeyValue {
    cluster::GossipKeyValue {
        sequence_number: e.sequence_number,
        value: Some(e.value.clone()),
        local_timestamp_unix_milliseconds: e.received.as_i64(),
    }
}

/// Go's `mergeState` as a pure function, for replaying merge vectors:
/// merges `remote` into `local` at time `now` and returns the merged state
/// and the accepted updates (ascending by owner, then key; Go's order is
/// map-random, so compare sorted).
///
/// `self_id`: `None` merges exactly like Go (which accepts entries about its
/// own id); `Some(id)` applies our rule that entries about `id` are ignored.
pub fn merge_states(
    local: &cluster::GossipState,
    remote: &cluster::GossipState,
    self_id: Option<&str>,
    now: UnixMillis,
) -> (cluster::GossipState, Vec<GossipUpdate>) {
    let mut state = GossipState::from_proto(local, WireProfile::default());
    let updates = state.merge(remote.clone(), now, |o| Some(o) == self_id);
    (state.to_proto(), updates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use proptest::prelude::*;

    fn any(v: &str) -> Any {
        Any {
            type_url: "type.googleapis.com/test.V".into(),
            value: v.as_bytes().to_vec().into(),
        }
    }

    fn kv(seq: i64, v: &str, ts: i64) -> cluster::GossipKeyValue {
        cluster::GossipKeyValue {
            sequence_number: seq,
            value: Some(any(v)),
            local_timestamp_unix_milliseconds: ts,
        }
    }

    fn proto(entries: &[(&str, &str, i64, &str)]) -> cluster::GossipState {
        let mut s = cluster::GossipState::default();
        for (o, k, seq, v) in entries {
            s.members
                .entry((*o).to_string())
                .or_default()
                .values
                .insert((*k).to_string(), kv(*seq, v, 1));
        }
        s
    }

    #[test]
    fn higher_sequence_wins_and_is_stamped() {
        let local = proto(&[("a", "x", 5, "old"), ("a", "y", 2, "keep")]);
        let remote = proto(&[
            ("a", "x", 6, "new"),
            ("a", "y", 2, "same-seq"),
            ("b", "z", 1, "b1"),
        ]);
        let (merged, updates) = merge_states(&local, &remote, None, UnixMillis(777));
        let a = &merged.members["a"].values;
        assert_eq!(a["x"].value, Some(any("new")));
        assert_eq!(a["x"].local_timestamp_unix_milliseconds, 777);
        assert_eq!(a["y"].value, Some(any("keep")));
        assert_eq!(
            a["y"].local_timestamp_unix_milliseconds, 1,
            "ignored entries keep their timestamp"
        );
        assert_eq!(
            merged.members["b"].values["z"].local_timestamp_unix_milliseconds,
            777
        );
        assert_eq!(
            updates,
            [
                GossipUpdate {
                    owner: "a".into(),
                    key: "x".into(),
                    sequence_number: 6
                },
                GossipUpdate {
                    owner: "b".into(),
                    key: "z".into(),
                    sequence_number: 1
                },
            ]
        );
    }

    #[test]
    fn own_entries_are_never_taken_from_others() {
        let local = proto(&[("me", "k", 3, "mine")]);
        let remote = proto(&[("me", "k", 9, "forged"), ("me", "j", 1, "new-key")]);
        let (merged, updates) = merge_states(&local, &remote, Some("me"), UnixMillis(5));
        assert_eq!(merged.members["me"].values.len(), 1);
        assert_eq!(merged.members["me"].values["k"].value, Some(any("mine")));
        assert!(updates.is_empty());
        // Go's rule (no self id) takes them.
        let (_, go_updates) = merge_states(&local, &remote, None, UnixMillis(5));
        assert_eq!(go_updates.len(), 2);
    }

    #[test]
    fn unknown_owner_with_no_values_is_adopted_like_go() {
        let mut remote = cluster::GossipState::default();
        remote
            .members
            .insert("ghost".into(), cluster::GossipMemberState::default());
        let (merged, updates) = merge_states(
            &cluster::GossipState::default(),
            &remote,
            None,
            UnixMillis(1),
        );
        assert!(merged.members["ghost"].values.is_empty());
        assert!(updates.is_empty());
    }

    #[test]
    fn summaries_track_heartbeats_and_data() {
        let mut s = GossipState::new(WireProfile::Mixed);
        let o = MemberId::new("o");
        s.set(&o, "heathbeat", any("h"), 1, UnixMillis(10));
        s.set(&o, "topology", any("t"), 2, UnixMillis(20));
        s.set(&o, "heartbeat", any("h"), 3, UnixMillis(30));
        let st = s.owner("o").unwrap();
        assert_eq!(st.max_sequence_number(), 3);
        assert_eq!(st.data_sequence_number(), 2);
        assert_eq!(st.data_received(), UnixMillis(20));
        assert_eq!(st.heartbeat_received(), Some(UnixMillis(30)));
    }

    // Values are a function of (owner, key, seq): in a real cluster an owner
    // never writes two values with one sequence number, and the merge laws
    // only hold under that assumption (ties keep the local value).
    fn arb_state() -> impl Strategy<Value = cluster::GossipState> {
        proptest::collection::vec((0u8..4, 0u8..3, 0i64..8), 0..12).prop_map(|es| {
            let mut s = cluster::GossipState::default();
            for (o, k, seq) in es {
                let (o, k) = (format!("o{o}"), format!("k{k}"));
                let v = format!("{o}/{k}/{seq}");
                let e = s
                    .members
                    .entry(o)
                    .or_default()
                    .values
                    .entry(k)
                    .or_insert_with(|| kv(seq, &v, 0));
                if seq > e.sequence_number {
                    *e = kv(seq, &v, 0);
                }
            }
            s
        })
    }

    fn merge(a: &cluster::GossipState, b: &cluster::GossipState) -> cluster::GossipState {
        merge_states(a, b, None, UnixMillis(0)).0
    }

    fn seqs(s: &cluster::GossipState) -> BTreeMap<(String, String), i64> {
        s.members
            .iter()
            .flat_map(|(o, m)| {
                m.values
                    .iter()
                    .map(move |(k, v)| ((o.clone(), k.clone()), v.sequence_number))
            })
            .collect()
    }

    proptest! {
        #[test]
        fn walking_and_lookups_merge_alike(a in arb_state(), b in arb_state(), skip in 0u8..5) {
            let skip = format!("o{skip}");
            let merge_by = |walk: bool| {
                let mut s = GossipState::from_proto(&a, WireProfile::Mixed);
                let updates = s.merge_with(b.clone(), UnixMillis(9), |o| o == skip, walk);
                (s, updates)
            };
            prop_assert_eq!(merge_by(true), merge_by(false));
        }

        #[test]
        fn merge_is_commutative(a in arb_state(), b in arb_state()) {
            let e = cluster::GossipState::default();
            prop_assert_eq!(merge(&merge(&e, &a), &b), merge(&merge(&e, &b), &a));
        }

        #[test]
        fn merge_is_associative(a in arb_state(), b in arb_state(), c in arb_state()) {
            prop_assert_eq!(merge(&merge(&a, &b), &c), merge(&a, &merge(&b, &c)));
        }

        #[test]
        fn merge_is_idempotent(a in arb_state(), b in arb_state()) {
            let once = merge(&a, &b);
            prop_assert_eq!(merge(&once, &b), once.clone());
            prop_assert_eq!(merge(&a, &a), a);
        }

        #[test]
        fn sequence_numbers_never_go_backwards(a in arb_state(), b in arb_state()) {
            let before = seqs(&a);
            let after = seqs(&merge(&a, &b));
            for (k, s) in before {
                prop_assert!(after[&k] >= s);
            }
        }

        #[test]
        fn older_entry_never_overwrites_newer(a in arb_state(), b in arb_state()) {
            let merged = merge(&a, &b);
            for (o, m) in &merged.members {
                for (k, v) in &m.values {
                    let la = a.members.get(o).and_then(|m| m.values.get(k)).map(|v| v.sequence_number);
                    let lb = b.members.get(o).and_then(|m| m.values.get(k)).map(|v| v.sequence_number);
                    prop_assert_eq!(Some(v.sequence_number), la.max(lb));
                    let expected = format!("{o}/{k}/{}", v.sequence_number);
                    prop_assert_eq!(v.value.as_ref().map(|a| a.value.to_vec()), Some(expected.into_bytes()));
                }
            }
        }
    }
}
