//! Small value types of the core.
//!
//! Time is Unix milliseconds because that is what protoactor-go puts on the
//! wire (`local_timestamp_unix_milliseconds`); the driver reads a real clock,
//! the simulator a virtual one. Member ids are shared (`Arc<str>`) because
//! the same id is a key in several maps (state, watermarks, member list) and
//! is cloned into every event; cloning a refcount is cheaper than a string.

use alloc::string::String;
use alloc::sync::Arc;
use core::borrow::Borrow;
use core::fmt;
use core::time::Duration;

/// A point in time as milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    /// The time `d` later (saturating).
    #[must_use]
    pub fn after(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, 0 if `earlier` is later.
    #[must_use]
    pub fn millis_since(self, earlier: UnixMillis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The value as protoactor-go's `int64` timestamp (clamped).
    #[must_use]
    pub fn as_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }
}

/// A cluster member id (protoactor-go: the actor system id, which is also
/// the gossip owner id and the provider's member id for automanaged).
///
/// Ordered byte-wise like Go's string `<`, so `BTreeMap<MemberId, _>`
/// iterates in the order Go sorts topologies.
#[derive(Clone)]
pub struct MemberId(Arc<str>);

impl core::hash::Hash for MemberId {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

// Ids are compared very often (map keys, merge joins) and are mostly clones
// of one another: compare the pointers first.
impl PartialEq for MemberId {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for MemberId {}

impl PartialOrd for MemberId {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MemberId {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            core::cmp::Ordering::Equal
        } else {
            self.0.as_bytes().cmp(other.0.as_bytes())
        }
    }
}

impl MemberId {
    /// A member id from its string.
    pub fn new(id: &str) -> Self {
        Self(Arc::from(id))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for MemberId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for MemberId {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for MemberId {
    fn from(s: String) -> Self {
        Self(Arc::from(s))
    }
}

impl fmt::Debug for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names one outbound gossip request; the driver hands it back with the
/// answer ([`crate::gossip::GossipCore::on_gossip_response`]) or the failure
/// ([`crate::gossip::GossipCore::on_request_failed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestToken(pub u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_millis_arithmetic_saturates() {
        let t = UnixMillis(1_000);
        assert_eq!(t.after(Duration::from_millis(300)), UnixMillis(1_300));
        assert_eq!(t.millis_since(UnixMillis(400)), 600);
        assert_eq!(UnixMillis(1).millis_since(UnixMillis(5)), 0);
        assert_eq!(
            UnixMillis(u64::MAX).after(Duration::from_secs(1)).0,
            u64::MAX
        );
        assert_eq!(UnixMillis(u64::MAX).as_i64(), i64::MAX);
    }

    #[test]
    fn member_ids_order_bytewise() {
        let mut ids = [MemberId::new("b"), MemberId::new("B"), MemberId::new("a")];
        ids.sort();
        assert_eq!(ids.map(|i| i.to_string()), ["B", "a", "b"]);
    }
}
