//! The block list: system ids we refuse, and the addresses they live at.
//!
//! protoactor-go blocks by member/system id, but dials by address. To "not
//! dial blocked peers" we keep both directions of the mapping, learned from
//! inbound handshakes (`ServerConnection{SystemId, Address}`), from our own
//! handshakes (`ConnectResponse.member_id`) and from the node's topology
//! ([`BlockList::learn`]). An address counts as blocked only while the id
//! we last saw at it is blocked: a restarted peer with a fresh id on the same
//! address is a new member and is dialled again.

use std::{
    collections::{HashMap, HashSet},
    sync::RwLock,
};

#[derive(Debug, Default)]
struct Inner {
    blocked: HashSet<String>,
    address_of: HashMap<String, String>,
    id_at: HashMap<String, String>,
}

/// Blocked system ids and the id ↔ address map.
#[derive(Debug, Default)]
pub struct BlockList {
    inner: RwLock<Inner>,
}

impl BlockList {
    /// Blocks `system_id` for good. Returns its address if we know it.
    pub fn block(&self, system_id: &str) -> Option<String> {
        let mut g = self.write();
        g.blocked.insert(system_id.into());
        g.address_of.get(system_id).cloned()
    }

    /// True when `system_id` is blocked.
    pub fn is_blocked(&self, system_id: &str) -> bool {
        self.read().blocked.contains(system_id)
    }

    /// True when the system id last seen at `address` is blocked.
    pub fn is_address_blocked(&self, address: &str) -> bool {
        let g = self.read();
        g.id_at
            .get(address)
            .is_some_and(|id| g.blocked.contains(id))
    }

    /// Records that `system_id` lives at `address` (replacing what was known
    /// about either).
    pub fn learn(&self, system_id: &str, address: &str) {
        if system_id.is_empty() || address.is_empty() {
            return;
        }
        let mut g = self.write();
        if let Some(old) = g.address_of.insert(system_id.into(), address.into())
            && old != address
            && g.id_at.get(&old).is_some_and(|id| id == system_id)
        {
            g.id_at.remove(&old);
        }
        g.id_at.insert(address.into(), system_id.into());
    }

    /// The address `system_id` was last seen at.
    pub fn address_of(&self, system_id: &str) -> Option<String> {
        self.read().address_of.get(system_id).cloned()
    }

    /// The system id last seen at `address`.
    pub fn system_id_at(&self, address: &str) -> Option<String> {
        self.read().id_at.get(address).cloned()
    }

    /// Unblocks every id (the address map stays): the node rejoined under a
    /// fresh id, and whom the old one excluded no longer matters.
    pub fn clear(&self) {
        self.write().blocked.clear();
    }

    /// Every blocked id, sorted.
    pub fn blocked(&self) -> Vec<String> {
        let mut v: Vec<_> = self.read().blocked.iter().cloned().collect();
        v.sort();
        v
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_by_id_and_maps_addresses() {
        let b = BlockList::default();
        b.learn("A", "10.0.0.1:1");
        assert!(!b.is_address_blocked("10.0.0.1:1"));
        assert_eq!(b.block("A"), Some("10.0.0.1:1".into()));
        assert!(b.is_blocked("A"));
        assert!(b.is_address_blocked("10.0.0.1:1"));
        assert_eq!(b.block("unknown"), None);
        assert_eq!(b.blocked(), ["A", "unknown"]);
    }

    #[test]
    fn a_fresh_id_on_the_same_address_is_not_blocked() {
        let b = BlockList::default();
        b.learn("A", "h:1");
        b.block("A");
        b.learn("A2", "h:1");
        assert!(!b.is_address_blocked("h:1"));
        assert_eq!(b.system_id_at("h:1").as_deref(), Some("A2"));
        assert_eq!(b.address_of("A").as_deref(), Some("h:1"));
    }

    #[test]
    fn moving_id_frees_old_address() {
        let b = BlockList::default();
        b.learn("A", "h:1");
        b.learn("A", "h:2");
        b.block("A");
        assert!(!b.is_address_blocked("h:1"));
        assert!(b.is_address_blocked("h:2"));
    }
}
