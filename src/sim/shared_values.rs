//! Gossip values shared between the simulated members.
//!
//! In a real cluster every member holds its own copy of each owner's values;
//! a simulation of N members in one process would hold N copies of each. At
//! 1 000 members with Go's default `topology` value (every member listed,
//! ≈ 46 KB per owner) that is ≈ 46 MB per member and ≈ 46 GB in all, more
//! than the machine has. The simulator still moves real protobuf bytes: it
//! encodes every message and decodes it on the other side, so each hop
//! yields new bytes. After decoding, [`SharedValues::share`] replaces every
//! value by the one allocation it already holds for the same owner, key and
//! sequence number, when the bytes are equal (an [`Any`](crate::wire::Any)
//! value is reference-counted). What each core sees is unchanged; only where
//! equal bytes live. A value no member holds any more is forgotten at the
//! next sweep.

use std::collections::HashMap;

use prost::bytes::Bytes;

use crate::wire::proto::cluster::GossipState;

/// The values the members hold, one allocation per (owner, key, sequence
/// number).
#[derive(Debug, Default)]
pub(crate) struct SharedValues {
    /// owner → key → (sequence number, value) of the versions in use.
    values: HashMap<String, HashMap<String, Vec<(i64, Bytes)>>>,
    /// Versions held.
    len: usize,
    /// Sweep when `len` reaches this.
    sweep_at: usize,
}

/// Never sweep below this many versions (a sweep walks them all).
const MIN_SWEEP: usize = 4096;

impl SharedValues {
    /// Replaces every value in `state` by the shared allocation of equal
    /// bytes (adding it when new).
    pub(crate) fn share(&mut self, state: &mut GossipState) {
        for (owner, member_state) in &mut state.members {
            for (key, kv) in &mut member_state.values {
                if let Some(any) = kv.value.as_mut()
                    && !any.value.is_empty()
                {
                    any.value = self.intern(owner, key, kv.sequence_number, &any.value);
                }
            }
        }
    }

    /// The total length of the values held, after forgetting those no member
    /// holds.
    #[cfg(test)]
    fn held_bytes(&mut self) -> usize {
        self.sweep();
        self.versions().map(|(_, v)| v.len()).sum()
    }

    fn intern(&mut self, owner: &str, key: &str, seq: i64, value: &Bytes) -> Bytes {
        if !self.values.contains_key(owner) {
            self.values.insert(owner.to_owned(), HashMap::new());
        }
        let keys = self.values.get_mut(owner).expect("inserted above");
        if !keys.contains_key(key) {
            keys.insert(key.to_owned(), Vec::new());
        }
        let versions = keys.get_mut(key).expect("inserted above");
        if let Some((_, held)) = versions.iter().find(|(s, _)| *s == seq) {
            // Equal bytes are shared; different bytes under one sequence
            // number (no owner in the simulation writes them) stay apart.
            return if held == value {
                held.clone()
            } else {
                Bytes::copy_from_slice(value)
            };
        }
        // Our own allocation, so that the decoded message can be freed.
        let own = Bytes::copy_from_slice(value);
        versions.push((seq, own.clone()));
        self.len += 1;
        if self.len >= self.sweep_at {
            self.sweep();
            self.sweep_at = (self.len * 2).max(MIN_SWEEP);
        }
        own
    }

    /// Forgets the versions only we hold.
    pub(crate) fn sweep(&mut self) {
        for keys in self.values.values_mut() {
            for versions in keys.values_mut() {
                versions.retain(|(_, v)| !v.is_unique());
            }
            keys.retain(|_, versions| !versions.is_empty());
        }
        self.values.retain(|_, keys| !keys.is_empty());
        self.len = self.versions().count();
    }

    fn versions(&self) -> impl Iterator<Item = &(i64, Bytes)> {
        self.values.values().flat_map(|k| k.values().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Any;
    use crate::wire::proto::cluster::{GossipKeyValue, GossipMemberState};

    fn state(owner: &str, seq: i64, value: &[u8]) -> GossipState {
        let mut s = GossipState::default();
        s.members.insert(
            owner.into(),
            GossipMemberState {
                values: [(
                    "topology".into(),
                    GossipKeyValue {
                        sequence_number: seq,
                        value: Some(Any::new("t", value.to_vec())),
                        local_timestamp_unix_milliseconds: 0,
                    },
                )]
                .into(),
            },
        );
        s
    }

    fn value(s: &GossipState, owner: &str) -> Bytes {
        s.members[owner].values["topology"]
            .value
            .clone()
            .unwrap_or_default()
            .value
    }

    #[test]
    fn equal_versions_share_one_allocation_and_others_do_not() {
        let mut shared = SharedValues::default();
        let (mut a, mut b) = (state("o", 3, b"v3"), state("o", 3, b"v3"));
        shared.share(&mut a);
        shared.share(&mut b);
        assert_eq!(value(&a, "o").as_ptr(), value(&b, "o").as_ptr());

        let mut forged = state("o", 3, b"other");
        shared.share(&mut forged);
        assert_eq!(value(&forged, "o"), b"other"[..]);
        let mut newer = state("o", 4, b"v3");
        shared.share(&mut newer);
        assert_ne!(value(&newer, "o").as_ptr(), value(&a, "o").as_ptr());
        assert_eq!(shared.held_bytes(), 4);
    }

    #[test]
    fn values_nobody_holds_are_forgotten() {
        let mut shared = SharedValues::default();
        let mut a = state("o", 1, b"held");
        shared.share(&mut a);
        let mut b = state("p", 1, b"dropped");
        shared.share(&mut b);
        drop(b);
        assert_eq!(shared.held_bytes(), 4);
        drop(a);
        assert_eq!(shared.held_bytes(), 0);
    }
}
