//! The PIDs of activations this node has already found, by cluster identity.
//!
//! protoactor-go keeps one such cache per cluster (`cluster/pid_cache.go`):
//! a call looks here first and asks the owner's `partition-activator` only on
//! a miss. Entries go when a request to them dead-letters or times out, and
//! when a topology shows their member left. Plain data; the client owns it
//! behind its lock.
//!
//! Go keys the cache by the string `identity + "." + kind`, so identity
//! `a.b` of kind `c` and identity `a` of kind `b.c` share an entry
//! (docs/go-quirks.md#q-m21); we key by the pair.

use std::collections::HashMap;

use crate::wire::proto::actor::Pid;

/// Activation PIDs by `(kind, identity)`.
#[derive(Debug, Default, Clone)]
pub struct PidCache {
    entries: HashMap<(String, String), Pid>,
}

impl PidCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached PID of `kind`/`identity`.
    #[must_use]
    pub fn get(&self, kind: &str, identity: &str) -> Option<&Pid> {
        self.entries.get(&(kind.to_owned(), identity.to_owned()))
    }

    /// Caches `pid` for `kind`/`identity` (replacing an older one).
    pub fn set(&mut self, kind: &str, identity: &str, pid: Pid) {
        self.entries
            .insert((kind.to_owned(), identity.to_owned()), pid);
    }

    /// Forgets `kind`/`identity`; whether it was cached.
    pub fn remove(&mut self, kind: &str, identity: &str) -> bool {
        self.entries
            .remove(&(kind.to_owned(), identity.to_owned()))
            .is_some()
    }

    /// Forgets `kind`/`identity` only if it is still `pid` (a newer
    /// activation found meanwhile stays).
    pub fn remove_if(&mut self, kind: &str, identity: &str, pid: &Pid) -> bool {
        let key = (kind.to_owned(), identity.to_owned());
        if self
            .entries
            .get(&key)
            .is_some_and(|p| p.address == pid.address && p.id == pid.id)
        {
            self.entries.remove(&key);
            return true;
        }
        false
    }

    /// Forgets every activation at `address` (a member that left, Go's
    /// `RemoveByMember`); how many were forgotten.
    pub fn remove_address(&mut self, address: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, pid| pid.address != address);
        before - self.entries.len()
    }

    /// The addresses of the cached PIDs (with repeats).
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.entries.values().map(|pid| pid.address.as_str())
    }

    /// How many activations are cached.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(address: &str, id: &str) -> Pid {
        Pid {
            address: address.into(),
            id: id.into(),
            request_id: 0,
        }
    }

    #[test]
    fn set_get_remove() {
        let mut c = PidCache::new();
        assert!(c.get("k", "a").is_none());
        c.set("k", "a", pid("h:1", "k/a"));
        assert_eq!(c.get("k", "a"), Some(&pid("h:1", "k/a")));
        assert!(c.get("other", "a").is_none());
        assert!(c.remove("k", "a"));
        assert!(!c.remove("k", "a"));
        assert!(c.is_empty());
    }

    #[test]
    fn identity_and_kind_do_not_run_together_as_in_go() {
        let mut c = PidCache::new();
        c.set("c", "a.b", pid("h:1", "x"));
        assert!(c.get("b.c", "a").is_none());
    }

    #[test]
    fn remove_if_spares_a_newer_activation() {
        let mut c = PidCache::new();
        c.set("k", "a", pid("h:2", "new"));
        assert!(!c.remove_if("k", "a", &pid("h:1", "old")));
        assert_eq!(c.len(), 1);
        assert!(c.remove_if("k", "a", &pid("h:2", "new")));
        assert!(c.is_empty());
    }

    #[test]
    fn remove_address_forgets_only_that_member() {
        let mut c = PidCache::new();
        c.set("k", "a", pid("h:1", "1"));
        c.set("k", "b", pid("h:1", "2"));
        c.set("k", "c", pid("h:2", "3"));
        assert_eq!(c.remove_address("h:1"), 2);
        assert_eq!(c.remove_address("h:1"), 0);
        assert_eq!(c.get("k", "c"), Some(&pid("h:2", "3")));
    }
}
