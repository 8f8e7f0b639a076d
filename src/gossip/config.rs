//! Configuration of the gossip core, with protoactor-go's defaults.
//!
//! The defaults are Go's (`cluster/config.go`): a Rust member configured by
//! default behaves like a Go member on the wire. Everything in which Go
//! versions differ is the one [`WireProfile`] value, so no other code asks
//! "which Go version is this".

use core::time::Duration;

use crate::wire::WireProfile;

/// When a silent member becomes `Suspect` (never blocked by this alone).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Suspicion {
    /// Suspect once the heartbeat has not advanced for this percentage of
    /// `heartbeat_expiration` (1..=99).
    FractionOfExpiration {
        /// Percentage of the expiration, 1..=99.
        percent: u8,
    },
    /// Phi-accrual with the exponential approximation
    /// `phi = elapsed / (mean_interval · ln 10)`, mean over the intervals
    /// between heartbeat advances seen so far (EWMA). Suspect when
    /// `phi > threshold` (and at least `min_samples` intervals were seen,
    /// otherwise the fraction rule at 50 % applies).
    PhiAccrual {
        /// Phi above which the member is suspect (e.g. 8.0).
        threshold: f64,
        /// Intervals needed before phi is trusted.
        min_samples: u32,
    },
}

impl Default for Suspicion {
    fn default() -> Self {
        Self::FractionOfExpiration { percent: 50 }
    }
}

/// What the `topology` gossip value carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TopologyDetail {
    /// Like Go: hash, members, joined, left (and `blocked` if configured).
    #[default]
    Full,
    /// Only the hash (and `blocked` if configured). Go reads nothing else
    /// from a gossiped topology (`member_list.go` reads `blocked`, the
    /// consensus check reads `topology_hash`), so this is safe with Go
    /// peers and keeps gossip O(N) per member instead of O(N²) in large
    /// clusters.
    HashOnly,
    /// Do not write the `topology` key at all. Topology consensus is then
    /// never reached; Go peers do not need the key (their own consensus
    /// never works, Q-G3). For simulations that measure dissemination
    /// without the start-up flood of N topology values.
    Off,
}

/// Settings of a [`crate::gossip::GossipCore`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GossipConfig {
    /// Time between ticks (Go `GossipInterval`, 300 ms). The driver calls
    /// `tick` at this interval; the core uses it for the status machine.
    pub gossip_interval: Duration,
    /// How long the driver waits for a `GossipResponse` (Go
    /// `GossipRequestTimeout`, 500 ms) before it reports the request
    /// failed. The core itself drops, on a tick, a request it has heard
    /// nothing about for more than twice this, so a lost report does not
    /// keep its target from being gossiped to.
    pub gossip_request_timeout: Duration,
    /// Members gossiped to per tick (Go `GossipFanOut`, 3).
    pub gossip_fan_out: usize,
    /// Other owners per delta, besides our own (Go `GossipMaxSend`, 50).
    pub gossip_max_send: usize,
    /// A member whose heartbeat has not advanced for this long is blocked
    /// (Go `HeartbeatExpiration`, 20 s).
    pub heartbeat_expiration: Duration,
    /// When a silent member is reported `Suspect`.
    pub suspicion: Suspicion,
    /// The protoactor-go dialect (heartbeat keys).
    pub wire_profile: WireProfile,
    /// How long a block-list entry of a member the provider no longer lists
    /// is kept (protoactor-dotnet: 1 h). Go keeps them forever. At least
    /// `heartbeat_expiration`.
    pub block_retention: Duration,
    /// How long a blocked member's gossip entries are kept, and relayed
    /// like any other owner's, after we block it; then they are purged (at
    /// the latest with its block entry). Go keeps them forever and keeps
    /// relaying them, which is how a `left` crosses members that saw it
    /// second-hand. Default: Go's `HeartbeatExpiration` (20 s): by then
    /// every member that had the leaver's heartbeat has blocked it on its
    /// own, so a later relay changes nothing. 0 purges at once (as before).
    pub blocked_state_retention: Duration,
    /// How many forgotten block entries (`block_retention` over) are
    /// remembered, as 64-bit fingerprints, oldest evicted first: while the
    /// provider does not list such an id, gossip about it that peers relay
    /// (Go keeps it forever) is ignored instead of blocking it again
    /// (Q-M23). Default 4096 (at most about 80 KiB: a queue and an
    /// ordered set of 8-byte fingerprints); 0 turns this off.
    pub forgotten_ids: usize,
    /// Provider snapshots arriving within this window are applied as one
    /// topology change (0 = each snapshot immediately).
    pub topology_coalesce: Duration,
    /// Fill `ClusterTopology.blocked` in our `topology` value with our block
    /// list (Go leaves it empty; every Go node adopts any ids listed).
    pub publish_blocked: bool,
    /// What the `topology` value carries.
    pub topology_detail: TopologyDetail,
    /// Emit a `GossipUpdate` event for every merged entry (Go publishes one
    /// per entry). Large simulations turn this off.
    pub gossip_update_events: bool,
}

impl Default for GossipConfig {
    fn default() -> Self {
        Self {
            gossip_interval: Duration::from_millis(300),
            gossip_request_timeout: Duration::from_millis(500),
            gossip_fan_out: 3,
            gossip_max_send: 50,
            heartbeat_expiration: Duration::from_secs(20),
            suspicion: Suspicion::default(),
            wire_profile: WireProfile::default(),
            block_retention: Duration::from_secs(3600),
            blocked_state_retention: Duration::from_secs(20),
            forgotten_ids: 4096,
            topology_coalesce: Duration::ZERO,
            publish_blocked: false,
            topology_detail: TopologyDetail::default(),
            gossip_update_events: true,
        }
    }
}

with_fields!(GossipConfig {
    with_gossip_interval => gossip_interval: Duration,
    with_gossip_request_timeout => gossip_request_timeout: Duration,
    with_gossip_fan_out => gossip_fan_out: usize,
    with_gossip_max_send => gossip_max_send: usize,
    with_heartbeat_expiration => heartbeat_expiration: Duration,
    with_suspicion => suspicion: Suspicion,
    with_wire_profile => wire_profile: WireProfile,
    with_block_retention => block_retention: Duration,
    with_blocked_state_retention => blocked_state_retention: Duration,
    with_forgotten_ids => forgotten_ids: usize,
    with_topology_coalesce => topology_coalesce: Duration,
    with_publish_blocked => publish_blocked: bool,
    with_topology_detail => topology_detail: TopologyDetail,
    with_gossip_update_events => gossip_update_events: bool,
});

/// A [`GossipConfig`] that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `gossip_interval` is zero (Go's ticker panics on it, Q-G17).
    #[error("gossip_interval must be greater than zero")]
    ZeroInterval,
    /// `gossip_request_timeout` is zero: no answer could ever arrive.
    #[error("gossip_request_timeout must be greater than zero")]
    ZeroRequestTimeout,
    /// `gossip_fan_out` is zero: nothing would ever be sent.
    #[error("gossip_fan_out must be at least 1")]
    ZeroFanOut,
    /// `gossip_max_send` is zero: no other member's state would be relayed.
    #[error("gossip_max_send must be at least 1")]
    ZeroMaxSend,
    /// `heartbeat_expiration` is not longer than `gossip_interval`: every
    /// member would expire between two heartbeats.
    #[error(
        "heartbeat_expiration ({expiration_ms} ms) must be longer than gossip_interval ({interval_ms} ms)"
    )]
    ExpirationTooShort {
        /// The configured expiration.
        expiration_ms: u128,
        /// The configured interval.
        interval_ms: u128,
    },
    /// `block_retention` is shorter than `heartbeat_expiration`: an id
    /// would be forgotten while peers may still relay its last heartbeat.
    #[error(
        "block_retention ({retention_ms} ms) must be at least heartbeat_expiration ({expiration_ms} ms)"
    )]
    BlockRetentionTooShort {
        /// The configured retention.
        retention_ms: u128,
        /// The configured expiration.
        expiration_ms: u128,
    },
    /// The suspicion percentage is outside 1..=99.
    #[error("suspicion percent must be within 1..=99, got {0}")]
    SuspicionPercent(u8),
    /// The phi threshold is not a positive finite number.
    #[error("phi-accrual threshold must be positive and finite")]
    PhiThreshold,
}

impl GossipConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.gossip_interval.is_zero() {
            return Err(ConfigError::ZeroInterval);
        }
        if self.gossip_request_timeout.is_zero() {
            return Err(ConfigError::ZeroRequestTimeout);
        }
        if self.gossip_fan_out == 0 {
            return Err(ConfigError::ZeroFanOut);
        }
        if self.gossip_max_send == 0 {
            return Err(ConfigError::ZeroMaxSend);
        }
        if self.heartbeat_expiration <= self.gossip_interval {
            return Err(ConfigError::ExpirationTooShort {
                expiration_ms: self.heartbeat_expiration.as_millis(),
                interval_ms: self.gossip_interval.as_millis(),
            });
        }
        if self.block_retention < self.heartbeat_expiration {
            return Err(ConfigError::BlockRetentionTooShort {
                retention_ms: self.block_retention.as_millis(),
                expiration_ms: self.heartbeat_expiration.as_millis(),
            });
        }
        match self.suspicion {
            Suspicion::FractionOfExpiration { percent } if !(1..=99).contains(&percent) => {
                Err(ConfigError::SuspicionPercent(percent))
            }
            Suspicion::PhiAccrual { threshold, .. }
                if !(threshold.is_finite() && threshold > 0.0) =>
            {
                Err(ConfigError::PhiThreshold)
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_gos_and_valid() {
        let c = GossipConfig::default();
        assert_eq!(c.gossip_interval, Duration::from_millis(300));
        assert_eq!(c.gossip_request_timeout, Duration::from_millis(500));
        assert_eq!(c.gossip_fan_out, 3);
        assert_eq!(c.gossip_max_send, 50);
        assert_eq!(c.heartbeat_expiration, Duration::from_secs(20));
        assert_eq!(c.block_retention, Duration::from_secs(3600));
        assert_eq!(c.blocked_state_retention, c.heartbeat_expiration);
        assert!(!c.publish_blocked);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn invalid_settings_are_named() {
        let bad = |f: fn(&mut GossipConfig)| {
            let mut c = GossipConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert_eq!(
            bad(|c| c.gossip_interval = Duration::ZERO),
            ConfigError::ZeroInterval
        );
        assert_eq!(
            bad(|c| c.gossip_request_timeout = Duration::ZERO),
            ConfigError::ZeroRequestTimeout
        );
        assert_eq!(bad(|c| c.gossip_fan_out = 0), ConfigError::ZeroFanOut);
        assert_eq!(bad(|c| c.gossip_max_send = 0), ConfigError::ZeroMaxSend);
        assert!(matches!(
            bad(|c| c.heartbeat_expiration = Duration::from_millis(300)),
            ConfigError::ExpirationTooShort { .. }
        ));
        assert!(matches!(
            bad(|c| c.block_retention = Duration::from_secs(19)),
            ConfigError::BlockRetentionTooShort {
                retention_ms: 19_000,
                expiration_ms: 20_000
            }
        ));
        assert_eq!(
            bad(|c| c.suspicion = Suspicion::FractionOfExpiration { percent: 100 }),
            ConfigError::SuspicionPercent(100)
        );
        assert_eq!(
            bad(|c| c.suspicion = Suspicion::PhiAccrual {
                threshold: f64::NAN,
                min_samples: 3
            }),
            ConfigError::PhiThreshold
        );
    }
}
