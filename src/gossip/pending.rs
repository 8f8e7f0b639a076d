//! The book of gossip requests sent and not yet answered.
//!
//! Watermarks move only when a target answers (see `member_state_delta`),
//! so each request remembers the watermarks its delta would move, keyed by
//! the [`RequestToken`] the driver hands back with the answer or the
//! failure. A target with a request in flight is not sent another (the
//! same delta would go twice). The driver reports every request's fate, but
//! a driver that loses one must not block its target forever: the book
//! drops a request it has heard nothing about after twice the request
//! timeout, one timeout more than the driver waits before reporting it
//! failed.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::time::Duration;

use super::types::{MemberId, RequestToken, UnixMillis};

/// One request in flight.
#[derive(Debug, Clone)]
pub(crate) struct PendingRequest {
    /// Who it went to.
    pub(crate) target: MemberId,
    /// The watermarks to commit when it is answered.
    pub(crate) marks: Vec<(MemberId, i64)>,
    sent_at: UnixMillis,
}

/// Requests in flight, by token.
#[derive(Debug, Clone, Default)]
pub(crate) struct PendingRequests {
    by_token: BTreeMap<RequestToken, PendingRequest>,
    next_token: u64,
}

impl PendingRequests {
    /// Records a request to `target` sent at `now`; returns its token.
    pub(crate) fn insert(
        &mut self,
        target: MemberId,
        marks: Vec<(MemberId, i64)>,
        now: UnixMillis,
    ) -> RequestToken {
        let token = RequestToken(self.next_token);
        self.next_token += 1;
        let request = PendingRequest {
            target,
            marks,
            sent_at: now,
        };
        self.by_token.insert(token, request);
        token
    }

    /// Removes and returns the request of `token` (answered or failed);
    /// `None` for an unknown or expired token.
    pub(crate) fn take(&mut self, token: RequestToken) -> Option<PendingRequest> {
        self.by_token.remove(&token)
    }

    /// Drops requests sent more than twice `timeout` before `now`.
    pub(crate) fn expire(&mut self, now: UnixMillis, timeout: Duration) {
        let oldest = now.0.saturating_sub(2 * timeout.as_millis() as u64);
        self.by_token.retain(|_, p| p.sent_at.0 >= oldest);
    }

    /// Drops the requests to `target` (gone from the topology).
    pub(crate) fn forget_target(&mut self, target: &MemberId) {
        self.by_token.retain(|_, p| p.target != *target);
    }

    /// The targets with a request in flight.
    pub(crate) fn busy_targets(&self) -> BTreeSet<&MemberId> {
        self.by_token.values().map(|p| &p.target).collect()
    }

    /// Number of requests in flight.
    pub(crate) fn len(&self) -> usize {
        self.by_token.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_taken_once() {
        let mut book = PendingRequests::default();
        let a = book.insert("a".into(), alloc::vec![("o".into(), 3)], UnixMillis(0));
        let b = book.insert("a".into(), Vec::new(), UnixMillis(0));
        assert_ne!(a, b);
        assert_eq!(book.take(a).unwrap().marks, [(MemberId::new("o"), 3)]);
        assert!(book.take(a).is_none());
        assert_eq!(book.len(), 1);
    }

    #[test]
    fn expires_after_twice_the_timeout_and_forgets_targets() {
        let timeout = Duration::from_millis(500);
        let mut book = PendingRequests::default();
        book.insert("a".into(), Vec::new(), UnixMillis(1_000));
        book.insert("b".into(), Vec::new(), UnixMillis(1_500));
        book.expire(UnixMillis(2_000), timeout);
        assert_eq!(book.len(), 2, "a is exactly 2 × timeout old: kept");
        book.expire(UnixMillis(2_001), timeout);
        let busy: Vec<&str> = book
            .busy_targets()
            .into_iter()
            .map(MemberId::as_str)
            .collect();
        assert_eq!(busy, ["b"]);
        book.forget_target(&"b".into());
        assert_eq!(book.len(), 0);
    }
}
