//! What differs on the wire between the protoactor-go versions we support.
//!
//! The differences are few (see `docs/wire-protocol.md`, "Versions"): the
//! heartbeat gossip key's spelling and the heartbeat's contents. Keeping them
//! in one value chosen by configuration, rather than in conditionals spread
//! through the code, means supporting another version is one more variant.

use core::fmt;
use core::str::FromStr;

/// Gossip key of the member topology (`cluster.ClusterTopology`), all versions.
pub const TOPOLOGY_KEY: &str = "topology";
/// Gossip key a member sets (to `google.protobuf.Empty`) when it leaves gracefully.
pub const LEFT_KEY: &str = "left";
/// Heartbeat key of protoactor-go up to 2024-03 (sic: the `r` is missing).
pub const HEARTBEAT_KEY_2024_03: &str = "heathbeat";
/// Heartbeat key of protoactor-go from 2024-04 on.
pub const HEARTBEAT_KEY: &str = "heartbeat";

/// The protoactor-go wire dialect a node speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum WireProfile {
    /// protoactor-go as of commit `c318a5a07f4e` (2024-03-22): heartbeat key
    /// `heathbeat`, nested `GossipState.GossipMemberState`.
    Go2024_03,
    /// protoactor-go from 2024-04 on (pinned: `v0.0.0-20240822202345-3c0e61ca19c9`):
    /// heartbeat key `heartbeat`, top-level `GossipMemberState`, `GossipMap`.
    Go2024_08,
    /// Both dialects at once: publish `heartbeat`, and `heathbeat` too
    /// (each from the one sequence counter) while some current member
    /// publishes `heathbeat` without `heartbeat` (a 2024-03 node, which
    /// reads only its own spelling); accept either as proof of life. Safe in
    /// clusters of unknown or mixed Go versions; the default.
    #[default]
    Mixed,
}

impl WireProfile {
    /// Every profile, for tests and help texts.
    pub const ALL: [WireProfile; 3] = [Self::Go2024_03, Self::Go2024_08, Self::Mixed];

    /// The heartbeat keys this profile writes every gossip tick;
    /// `reader_2024_03` tells whether some current member publishes only
    /// `heathbeat` (what [`Mixed`](Self::Mixed) writes depends on it).
    pub fn heartbeat_keys_published(self, reader_2024_03: bool) -> &'static [&'static str] {
        match self {
            Self::Go2024_03 => &[HEARTBEAT_KEY_2024_03],
            Self::Go2024_08 => &[HEARTBEAT_KEY],
            Self::Mixed if reader_2024_03 => &[HEARTBEAT_KEY_2024_03, HEARTBEAT_KEY],
            Self::Mixed => &[HEARTBEAT_KEY],
        }
    }

    /// True when a value under `key` proves its owner alive. Every profile
    /// accepts both spellings: reading more than we write costs nothing and
    /// keeps mixed-version Go clusters visible to us.
    pub fn is_heartbeat_key(self, key: &str) -> bool {
        key == HEARTBEAT_KEY || key == HEARTBEAT_KEY_2024_03
    }

    /// The name used in configuration and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Go2024_03 => "go-2024-03",
            Self::Go2024_08 => "go-2024-08",
            Self::Mixed => "mixed",
        }
    }
}

impl fmt::Display for WireProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A profile name that is not one of [`WireProfile::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown wire profile {0:?}: expected go-2024-03, go-2024-08 or mixed")]
pub struct UnknownProfileError(pub alloc::string::String);

impl FromStr for WireProfile {
    type Err = UnknownProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProfileError(s.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in WireProfile::ALL {
            assert_eq!(p.as_str().parse::<WireProfile>(), Ok(p));
        }
        assert!("go-2025".parse::<WireProfile>().is_err());
    }

    #[test]
    fn mixed_publishes_both_spellings_only_beside_a_2024_03_reader() {
        assert_eq!(
            WireProfile::Mixed.heartbeat_keys_published(true),
            ["heathbeat", "heartbeat"]
        );
        assert_eq!(
            WireProfile::Mixed.heartbeat_keys_published(false),
            ["heartbeat"]
        );
        for reader in [false, true] {
            assert_eq!(
                WireProfile::Go2024_03.heartbeat_keys_published(reader),
                ["heathbeat"]
            );
            assert_eq!(
                WireProfile::Go2024_08.heartbeat_keys_published(reader),
                ["heartbeat"]
            );
        }
        assert!(WireProfile::Go2024_08.is_heartbeat_key("heathbeat"));
        assert!(!WireProfile::Go2024_03.is_heartbeat_key("topology"));
    }
}
