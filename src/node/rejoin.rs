//! Self-healing rejoin: when to give up our member id and join again under
//! a fresh one.
//!
//! protoactor-go never readmits a blocked id (docs/go-quirks.md#q-m1): a
//! member that was cut off for longer than the heartbeat expiration (a
//! partition, a lost etcd lease) stays out of every Go member's topology
//! until its process restarts. A fresh id is a new member to Go, so the
//! node can heal that itself: re-register with the provider under a new id,
//! start a fresh gossip core, publish the application's keys again (see
//! `driver.rs`, which carries it out). This module only *decides*, from
//! inputs and `now`, so every timing rule is tested on virtual time.
//!
//! What counts as "excluded":
//! - a peer answers our handshake with `blocked = true`, or a peer's
//!   gossiped topology lists us as blocked: at once;
//! - for `excluded_after` (default: the heartbeat expiration), at least as
//!   many members exclude us as include us, and at least one does. A member
//!   excludes us when the provider lists it but we had blocked it for a
//!   silent heartbeat or a provider drop (after a partition both sides
//!   block each other, and neither gossips to the other again), or when it
//!   is alive and gossips a topology without our id (it blocked us, e.g.
//!   after our etcd lease expired). It includes us when its topology lists
//!   us. The majority rule keeps the healthy side of a partition from
//!   rejoining: only the side that is the smaller one (or as large) from
//!   its own point of view does.
//!
//! Against flapping, two rejoins are at least `min_interval` apart; the
//! wait doubles with each rejoin up to `max_interval`, and falls back to
//! `min_interval` after a quiet `2 × max_interval`. A signal that arrives
//! within the wait is dropped (a handshake under the old id can still
//! answer `blocked` just after a rejoin); a lasting exclusion is seen
//! again once the wait is over.

use std::{collections::HashMap, time::Duration};

use crate::{
    gossip::{BlockReason, GossipCore, MemberStatus, RejoinReason, UnixMillis},
    wire::{
        TOPOLOGY_KEY,
        proto::cluster::{ClusterTopology, Member},
        unpack,
    },
};

/// Whether and how a node rejoins under a fresh id when the cluster
/// excludes it (see `docs/operations.md#self-healing-rejoin`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RejoinConfig {
    /// On by default: without it a Rust member that Go members blocked
    /// stays out of the cluster until it is restarted.
    pub enabled: bool,
    /// How long an exclusion must last before it counts; `None` = the
    /// heartbeat expiration.
    pub excluded_after: Option<Duration>,
    /// The least time between two rejoins (default 30 s).
    pub min_interval: Duration,
    /// The most the wait between rejoins grows to (default 10 min).
    pub max_interval: Duration,
}

impl Default for RejoinConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            excluded_after: None,
            min_interval: Duration::from_secs(30),
            max_interval: Duration::from_secs(600),
        }
    }
}

with_fields!(RejoinConfig {
    with_enabled => enabled: bool,
    with_excluded_after => excluded_after: into Option<Duration>,
    with_min_interval => min_interval: Duration,
    with_max_interval => max_interval: Duration,
});

impl RejoinConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// A message naming the bad setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_interval.is_zero() {
            return Err("rejoin min_interval must be more than 0".into());
        }
        if self.max_interval < self.min_interval {
            return Err("rejoin max_interval must be at least min_interval".into());
        }
        Ok(())
    }
}

/// How many members exclude us and how many include us, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Exclusion {
    pub(super) excluded_by: u32,
    pub(super) with_us: u32,
}

impl Exclusion {
    fn holds(self) -> bool {
        self.excluded_by > 0 && self.excluded_by >= self.with_us
    }
}

/// What the policy says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RejoinDecision {
    /// Nothing to do.
    Stay,
    /// Rejoin now, for this reason.
    Rejoin(RejoinReason),
    /// Excluded, but the last rejoin was too recent: not before `until`.
    Wait {
        reason: RejoinReason,
        until: UnixMillis,
    },
}

/// The decision state: since when we are excluded, and the rejoin history.
#[derive(Debug, Clone)]
pub(super) struct RejoinPolicy {
    config: RejoinConfig,
    excluded_after: Duration,
    excluded_since: Option<UnixMillis>,
    last: Option<UnixMillis>,
    /// Rejoins since the last quiet period (sets the wait).
    streak: u32,
}

impl RejoinPolicy {
    pub(super) fn new(config: RejoinConfig, heartbeat_expiration: Duration) -> Self {
        Self {
            excluded_after: config.excluded_after.unwrap_or(heartbeat_expiration),
            config,
            excluded_since: None,
            last: None,
            streak: 0,
        }
    }

    /// Whether rejoins are on at all.
    pub(super) fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// The wait after the last rejoin.
    fn wait(&self) -> Duration {
        let doubled = self
            .config
            .min_interval
            .saturating_mul(1u32 << self.streak.saturating_sub(1).min(20));
        doubled.min(self.config.max_interval)
    }

    /// When the next rejoin may happen (`None`: now).
    fn not_before(&self, now: UnixMillis) -> Option<UnixMillis> {
        let until = self.last?.after(self.wait());
        (now < until).then_some(until)
    }

    fn decide(&self, reason: RejoinReason, now: UnixMillis) -> RejoinDecision {
        if !self.config.enabled {
            return RejoinDecision::Stay;
        }
        match self.not_before(now) {
            Some(until) => RejoinDecision::Wait { reason, until },
            None => RejoinDecision::Rejoin(reason),
        }
    }

    /// A signal that counts at once (a `blocked` handshake answer, our id
    /// in a gossiped block list).
    pub(super) fn on_signal(&self, reason: RejoinReason, now: UnixMillis) -> RejoinDecision {
        self.decide(reason, now)
    }

    /// The exclusion counts now (taken every gossip round or so).
    pub(super) fn on_exclusion(&mut self, seen: Exclusion, now: UnixMillis) -> RejoinDecision {
        if !seen.holds() {
            self.excluded_since = None;
            return RejoinDecision::Stay;
        }
        let since = *self.excluded_since.get_or_insert(now);
        let lasted = now.millis_since(since);
        if u128::from(lasted) < self.excluded_after.as_millis() {
            return RejoinDecision::Stay;
        }
        self.decide(
            RejoinReason::Excluded {
                excluded_by: seen.excluded_by,
                with_us: seen.with_us,
                for_ms: lasted,
            },
            now,
        )
    }

    /// Records a rejoin that failed at `now` (the provider could not
    /// register a new id): the next attempt waits the current interval,
    /// which does not grow, and the exclusion keeps its age.
    pub(super) fn failed(&mut self, now: UnixMillis) {
        self.last = Some(now);
    }

    /// Records a rejoin carried out at `now`: the exclusion starts over
    /// (the new id's), and the wait grows.
    pub(super) fn rejoined(&mut self, now: UnixMillis) {
        let quiet = self.last.is_none_or(|l| {
            u128::from(now.millis_since(l)) >= 2 * self.config.max_interval.as_millis()
        });
        self.streak = if quiet {
            1
        } else {
            self.streak.saturating_add(1)
        };
        self.last = Some(now);
        self.excluded_since = None;
    }
}

/// Whether each member's gossiped topology lists us, by the entry's
/// sequence number: a topology is decoded once per change, not per round.
#[derive(Debug, Default)]
pub(super) struct ListsUs(HashMap<String, (i64, Option<bool>)>);

/// Counts who excludes and who includes us now (see the module docs):
/// `provider` is the provider's last member list.
pub(super) fn exclusion(core: &GossipCore, provider: &[Member], cache: &mut ListsUs) -> Exclusion {
    let me = core.self_id().as_str();
    let mut seen = Exclusion::default();
    for m in provider.iter().filter(|m| m.id != me) {
        if core.blocked().get(m.id.as_str()).is_some_and(|b| {
            matches!(
                b.reason,
                BlockReason::HeartbeatExpired | BlockReason::RemovedByProvider
            )
        }) {
            seen.excluded_by += 1;
        }
    }
    let active = core.active_members();
    cache.0.retain(|id, _| active.contains_key(id.as_str()));
    for id in active.keys().filter(|id| id.as_str() != me) {
        if core.member_status(id.as_str()) != Some(MemberStatus::Up) {
            continue;
        }
        let Some(entry) = core
            .owner_state_of(id.as_str())
            .and_then(|o| o.get(TOPOLOGY_KEY))
        else {
            continue;
        };
        let slot = cache
            .0
            .entry(id.as_str().to_owned())
            .or_insert((i64::MIN, None));
        if slot.0 != entry.sequence_number {
            // A value that does not decode says nothing either way, nor
            // does one without members (`TopologyDetail::HashOnly`).
            let lists = unpack::<ClusterTopology>(&entry.value)
                .ok()
                .filter(|t| !t.members.is_empty())
                .map(|t| t.members.iter().any(|m| m.id == me));
            *slot = (entry.sequence_number, lists);
        }
        match slot.1 {
            Some(true) => seen.with_us += 1,
            Some(false) => seen.excluded_by += 1,
            None => {}
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1000;
    const EXPIRATION: Duration = Duration::from_secs(20);

    fn policy() -> RejoinPolicy {
        RejoinPolicy::new(RejoinConfig::default(), EXPIRATION)
    }

    fn at(secs: u64) -> UnixMillis {
        UnixMillis(1_700_000_000_000 + secs * S)
    }

    fn excluded(by: u32, with: u32) -> Exclusion {
        Exclusion {
            excluded_by: by,
            with_us: with,
        }
    }

    fn blocked() -> RejoinReason {
        RejoinReason::BlockedByPeer {
            address: "10.0.0.1:7000".into(),
        }
    }

    mod counting {
        use crate::wire::Any;
        use rand_core::SeedableRng;

        use super::super::{ListsUs, exclusion};
        use crate::{
            gossip::{GossipConfig, GossipCore, UnixMillis},
            wire::{
                HEARTBEAT_KEY, TOPOLOGY_KEY, pack,
                proto::cluster::{
                    ActorStatistics, ClusterTopology, GossipKeyValue, GossipRequest, GossipState,
                    Member, MemberHeartbeat,
                },
            },
        };

        fn member(id: &str, port: i32) -> Member {
            Member {
                host: "127.0.0.1".into(),
                port,
                id: id.into(),
                kinds: vec![],
            }
        }

        fn kv(seq: i64, value: Any) -> GossipKeyValue {
            GossipKeyValue {
                sequence_number: seq,
                value: Some(value),
                local_timestamp_unix_milliseconds: 0,
            }
        }

        /// `owner` gossips a heartbeat and a topology listing `listed`.
        fn gossip(
            core: &mut GossipCore,
            owner: &str,
            port: i32,
            seq: i64,
            listed: &[&str],
            now: u64,
        ) {
            let mut state = GossipState::default();
            let values = &mut state.members.entry(owner.into()).or_default().values;
            let heartbeat = pack(&MemberHeartbeat {
                actor_statistics: Some(ActorStatistics::default()),
            });
            values.insert(HEARTBEAT_KEY.into(), kv(seq, heartbeat));
            let topology = ClusterTopology {
                members: listed.iter().map(|id| member(id, 0)).collect(),
                ..Default::default()
            };
            values.insert(TOPOLOGY_KEY.into(), kv(seq, pack(&topology)));
            let request = GossipRequest {
                from_member_id: owner.into(),
                state: Some(state),
            };
            core.on_gossip_request(&format!("127.0.0.1:{port}"), request, UnixMillis(now));
        }

        #[test]
        fn members_whose_topology_omits_us_exclude_us() {
            let provider = vec![member("a", 1), member("b", 2), member("me", 9)];
            let mut core = GossipCore::new("me", GossipConfig::default()).unwrap();
            core.on_provider_snapshot(provider.clone(), UnixMillis(0));
            let mut rng = rand_xorshift::XorShiftRng::seed_from_u64(1);
            let mut cache = ListsUs::default();
            // Nothing heard yet: nobody counts.
            assert_eq!(exclusion(&core, &provider, &mut cache), Default::default());
            gossip(&mut core, "a", 1, 1, &["a", "b", "me"], 100);
            gossip(&mut core, "b", 2, 1, &["a", "b"], 100);
            core.tick(UnixMillis(400), &mut rng);
            let seen = exclusion(&core, &provider, &mut cache);
            assert_eq!((seen.excluded_by, seen.with_us), (1, 1));
            // b admits us: a new topology value, decoded once.
            gossip(&mut core, "b", 2, 2, &["a", "b", "me"], 500);
            let seen = exclusion(&core, &provider, &mut cache);
            assert_eq!((seen.excluded_by, seen.with_us), (0, 2));
        }

        #[test]
        fn listed_members_we_blocked_for_silence_exclude_us() {
            let provider = vec![member("a", 1), member("b", 2), member("me", 9)];
            let mut core = GossipCore::new("me", GossipConfig::default()).unwrap();
            core.on_provider_snapshot(provider.clone(), UnixMillis(0));
            let mut rng = rand_xorshift::XorShiftRng::seed_from_u64(1);
            gossip(&mut core, "a", 1, 1, &["a", "b", "me"], 100);
            gossip(&mut core, "b", 2, 1, &["a", "b", "me"], 100);
            core.tick(UnixMillis(400), &mut rng);
            // Both fall silent past the expiration (a partition): blocked,
            // and the provider still lists them (the network healed).
            core.tick(UnixMillis(20_500), &mut rng);
            assert!(core.is_blocked("a") && core.is_blocked("b"));
            let seen = exclusion(&core, &provider, &mut ListsUs::default());
            assert_eq!((seen.excluded_by, seen.with_us), (2, 0));
            // The provider no longer lists them: they are gone, not excluding.
            let seen = exclusion(&core, &[member("me", 9)], &mut ListsUs::default());
            assert_eq!((seen.excluded_by, seen.with_us), (0, 0));
        }
    }

    #[test]
    fn a_blocked_handshake_rejoins_at_once() {
        let p = policy();
        assert_eq!(
            p.on_signal(blocked(), at(0)),
            RejoinDecision::Rejoin(blocked())
        );
    }

    #[test]
    fn exclusion_must_last_the_heartbeat_expiration() {
        let mut p = policy();
        assert_eq!(p.on_exclusion(excluded(3, 2), at(0)), RejoinDecision::Stay);
        assert_eq!(p.on_exclusion(excluded(3, 2), at(19)), RejoinDecision::Stay);
        assert_eq!(
            p.on_exclusion(excluded(3, 2), at(20)),
            RejoinDecision::Rejoin(RejoinReason::Excluded {
                excluded_by: 3,
                with_us: 2,
                for_ms: 20 * S,
            })
        );
    }

    #[test]
    fn an_interrupted_exclusion_starts_over() {
        let mut p = policy();
        p.on_exclusion(excluded(1, 0), at(0));
        assert_eq!(p.on_exclusion(excluded(0, 3), at(10)), RejoinDecision::Stay);
        assert_eq!(p.on_exclusion(excluded(1, 0), at(25)), RejoinDecision::Stay);
        assert!(matches!(
            p.on_exclusion(excluded(1, 0), at(45)),
            RejoinDecision::Rejoin(RejoinReason::Excluded { for_ms: 20_000, .. })
        ));
    }

    #[test]
    fn the_larger_side_of_a_partition_stays() {
        let mut p = policy();
        // One member (the cut-off one) is excluded, three include us.
        for t in 0..100 {
            assert_eq!(p.on_exclusion(excluded(1, 3), at(t)), RejoinDecision::Stay);
        }
        // Nobody excludes us: nothing to heal, however long.
        assert_eq!(
            p.on_exclusion(excluded(0, 0), at(200)),
            RejoinDecision::Stay
        );
    }

    #[test]
    fn no_second_rejoin_within_the_interval_and_the_wait_doubles() {
        let mut p = policy();
        p.rejoined(at(0));
        assert_eq!(
            p.on_signal(blocked(), at(29)),
            RejoinDecision::Wait {
                reason: blocked(),
                until: at(30)
            }
        );
        assert_eq!(
            p.on_signal(blocked(), at(30)),
            RejoinDecision::Rejoin(blocked())
        );
        p.rejoined(at(30));
        assert!(matches!(
            p.on_signal(blocked(), at(89)),
            RejoinDecision::Wait { until, .. } if until == at(90)
        ));
        p.rejoined(at(90));
        p.rejoined(at(210));
        p.rejoined(at(450));
        p.rejoined(at(930));
        // Capped at max_interval (600 s).
        assert!(matches!(
            p.on_signal(blocked(), at(931)),
            RejoinDecision::Wait { until, .. } if until == at(1530)
        ));
        // After a quiet 2 × max_interval, back to min_interval.
        p.rejoined(at(3000));
        assert!(matches!(
            p.on_signal(blocked(), at(3001)),
            RejoinDecision::Wait { until, .. } if until == at(3030)
        ));
    }

    #[test]
    fn a_lasting_exclusion_waits_for_the_interval_then_rejoins() {
        let mut p = policy();
        p.rejoined(at(0));
        // The new id is not listed yet by anyone: excluded from 1 s on.
        p.on_exclusion(excluded(2, 0), at(1));
        assert!(matches!(
            p.on_exclusion(excluded(2, 0), at(21)),
            RejoinDecision::Wait { until, .. } if until == at(30)
        ));
        assert!(matches!(
            p.on_exclusion(excluded(2, 0), at(30)),
            RejoinDecision::Rejoin(RejoinReason::Excluded { for_ms: 29_000, .. })
        ));
    }

    #[test]
    fn a_rejoin_resets_the_exclusion_clock() {
        let mut p = policy();
        p.on_exclusion(excluded(1, 0), at(0));
        p.rejoined(at(20));
        assert_eq!(p.on_exclusion(excluded(1, 0), at(50)), RejoinDecision::Stay);
        assert!(matches!(
            p.on_exclusion(excluded(1, 0), at(70)),
            RejoinDecision::Rejoin(_)
        ));
    }

    #[test]
    fn a_failed_rejoin_is_retried_after_the_interval_without_doubling() {
        let mut p = policy();
        p.on_exclusion(excluded(2, 0), at(0));
        assert!(matches!(
            p.on_exclusion(excluded(2, 0), at(20)),
            RejoinDecision::Rejoin(_)
        ));
        p.failed(at(20));
        assert!(matches!(
            p.on_exclusion(excluded(2, 0), at(49)),
            RejoinDecision::Wait { until, .. } if until == at(50)
        ));
        assert!(matches!(
            p.on_exclusion(excluded(2, 0), at(50)),
            RejoinDecision::Rejoin(_)
        ));
        p.failed(at(50));
        assert!(matches!(
            p.on_exclusion(excluded(2, 0), at(80)),
            RejoinDecision::Rejoin(_)
        ));
        p.rejoined(at(80));
        assert!(matches!(
            p.on_signal(blocked(), at(81)),
            RejoinDecision::Wait { until, .. } if until == at(110)
        ));
    }

    #[test]
    fn disabled_never_rejoins() {
        let mut p = RejoinPolicy::new(
            RejoinConfig {
                enabled: false,
                ..RejoinConfig::default()
            },
            EXPIRATION,
        );
        assert_eq!(p.on_signal(blocked(), at(0)), RejoinDecision::Stay);
        p.on_exclusion(excluded(5, 0), at(0));
        assert_eq!(
            p.on_exclusion(excluded(5, 0), at(100)),
            RejoinDecision::Stay
        );
    }

    #[test]
    fn a_shorter_excluded_after_and_validation() {
        let mut p = RejoinPolicy::new(
            RejoinConfig {
                excluded_after: Some(Duration::from_secs(2)),
                ..RejoinConfig::default()
            },
            EXPIRATION,
        );
        p.on_exclusion(excluded(1, 1), at(0));
        assert!(matches!(
            p.on_exclusion(excluded(1, 1), at(2)),
            RejoinDecision::Rejoin(_)
        ));
        let bad = RejoinConfig {
            max_interval: Duration::from_secs(1),
            ..RejoinConfig::default()
        };
        assert!(bad.validate().is_err());
        assert!(RejoinConfig::default().validate().is_ok());
    }
}
