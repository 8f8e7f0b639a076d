//! The status of each member as this member sees it.
//!
//! ```text
//!   (provider lists it)      first heartbeat        heartbeat silent
//!   Joining ───────────────▶ Up ◀──────────────────▶ Suspect ──expired──▶ Blocked
//!                             │     heartbeat again              (any state)
//!                             └── `left` key ──▶ Leaving ──▶ Removed
//! ```
//!
//! `Suspect` only raises events; blocking happens on `heartbeat_expiration`
//! (Go's rule) or on the other block reasons. A member that never sent a
//! heartbeat stays `Joining` and is never expired (Go, Q-G13).

/// Where a member is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemberStatus {
    /// Listed by the provider; no heartbeat seen yet.
    Joining,
    /// Heartbeats advance.
    Up,
    /// Heartbeat silent for longer than the suspicion rule allows.
    Suspect,
    /// Gossiped the `left` key.
    Leaving,
    /// On the block list (failed, removed by the provider, or gossiped as
    /// blocked).
    Blocked,
    /// Left gracefully and is gone from the topology.
    Removed,
}
