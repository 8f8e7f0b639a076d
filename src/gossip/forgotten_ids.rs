//! Ids whose block entry we have forgotten, so that their relayed gossip
//! stays out (Q-M23).
//!
//! Why: once `block_retention` forgets a block entry, nothing of that member
//! is left in our core, but Go peers keep its gossip forever and relay it
//! (Q-G18). Without a memory of the forget, that old state would be merged
//! as a stranger's and its `left` would block the id again at once, so with
//! Go peers the block list would never level off. This set is that memory.
//!
//! Memory is bounded by construction: at most `capacity` 64-bit
//! fingerprints (MurmurHash3 of the id), the oldest evicted first (FIFO).
//! An evicted id is simply treated as before: its relayed state blocks it
//! again, and the retention forgets it again later, so eviction costs one
//! more round of a bounded cycle, never correctness. A fingerprint
//! collision can only mute an id the provider does not list (the core asks
//! this set only for those), i.e. a stranger whose gossip we would drop one
//! expiration later anyway.

use alloc::collections::{BTreeSet, VecDeque};

/// A FIFO-bounded set of id fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForgottenIds {
    capacity: usize,
    /// Insertion order, oldest first; the same fingerprints as `set`.
    order: VecDeque<u64>,
    set: BTreeSet<u64>,
}

/// Seed of the fingerprint hash (any constant; not the topology hash's 0,
/// so a one-id topology hash is not the same number).
const SEED: u32 = 0x51_4d_32_33;

fn fingerprint(id: &str) -> u64 {
    mur3::murmurhash3_x64_128(id.as_bytes(), SEED).0
}

impl ForgottenIds {
    /// An empty set holding at most `capacity` ids (0: holds none).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            order: VecDeque::new(),
            set: BTreeSet::new(),
        }
    }

    /// Remembers `id`, evicting the oldest ids beyond the capacity. An id
    /// already held keeps its place.
    pub(crate) fn insert(&mut self, id: &str) {
        if self.capacity == 0 {
            return;
        }
        let fp = fingerprint(id);
        if !self.set.insert(fp) {
            return;
        }
        self.order.push_back(fp);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    /// True when `id` is held.
    pub(crate) fn contains(&self, id: &str) -> bool {
        !self.set.is_empty() && self.set.contains(&fingerprint(id))
    }

    /// How many ids are held (at most the capacity).
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_its_capacity_and_evicts_the_oldest_first() {
        let mut f = ForgottenIds::new(3);
        for id in ["a", "b", "c"] {
            f.insert(id);
        }
        f.insert("a");
        assert_eq!(f.len(), 3, "a second insert of an id adds nothing");
        f.insert("d");
        assert_eq!(f.len(), 3);
        assert!(!f.contains("a"), "the oldest is evicted");
        assert!(f.contains("b") && f.contains("c") && f.contains("d"));
        for i in 0..1000 {
            f.insert(&alloc::format!("id-{i}"));
            assert!(f.len() <= 3 && f.set.len() == f.len());
        }
        assert!(f.contains("id-999") && !f.contains("d"));
    }

    #[test]
    fn zero_capacity_holds_nothing() {
        let mut f = ForgottenIds::new(0);
        f.insert("a");
        assert!(!f.contains("a"));
        assert_eq!(f.len(), 0);
    }
}
