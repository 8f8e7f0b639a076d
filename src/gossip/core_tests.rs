//! Unit tests of [`super::GossipCore`] driven by hand, one input at a time.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use prost_types::Any;
use rand_core::SeedableRng;
use rand_xorshift::XorShiftRng;

use super::*;
use crate::wire::proto::cluster::{self, ClusterTopology, GossipRequest, GossipResponse, Member};
use crate::wire::{
    HEARTBEAT_KEY, HEARTBEAT_KEY_2024_03, LEFT_KEY, TOPOLOGY_KEY, WireProfile, pack, topology_hash,
    unpack,
};

fn member(id: &str, port: i32) -> Member {
    Member {
        host: "127.0.0.1".into(),
        port,
        id: id.into(),
        kinds: vec![],
    }
}

fn three() -> Vec<Member> {
    vec![member("a", 1), member("b", 2), member("c", 3)]
}

fn core_for(id: &str, config: GossipConfig) -> GossipCore {
    let mut c = GossipCore::new(id, config).unwrap();
    c.on_provider_snapshot(three(), UnixMillis(0));
    c
}

fn rng() -> XorShiftRng {
    XorShiftRng::seed_from_u64(3)
}

fn value(v: &str) -> Any {
    Any {
        type_url: "type.googleapis.com/test.V".into(),
        value: v.as_bytes().to_vec(),
    }
}

fn kv(seq: i64, v: Any) -> cluster::GossipKeyValue {
    cluster::GossipKeyValue {
        sequence_number: seq,
        value: Some(v),
        local_timestamp_unix_milliseconds: 0,
    }
}

fn state_of(owner: &str, entries: &[(&str, i64, Any)]) -> cluster::GossipState {
    let mut s = cluster::GossipState::default();
    let m = s.members.entry(owner.to_string()).or_default();
    for (k, seq, v) in entries {
        m.values.insert((*k).to_string(), kv(*seq, v.clone()));
    }
    s
}

fn heartbeat_from(
    core: &mut GossipCore,
    owner: &str,
    addr: &str,
    seq: i64,
    now: u64,
) -> GossipRequestOutcome {
    let hb = pack(&cluster::MemberHeartbeat {
        actor_statistics: Some(cluster::ActorStatistics::default()),
    });
    let request = GossipRequest {
        from_member_id: "a".into(),
        state: Some(state_of(owner, &[(HEARTBEAT_KEY, seq, hb)])),
    };
    core.on_gossip_request(addr, request, UnixMillis(now))
}

fn events(out: &GossipOutcome) -> Vec<&ClusterEvent> {
    out.events.iter().map(|e| &e.event).collect()
}

#[test]
fn requests_name_the_target_and_always_carry_state() {
    let mut a = core_for("a", GossipConfig::default());
    let out = a.tick(UnixMillis(300), &mut rng());
    assert_eq!(out.requests.len(), 2, "fan-out 3 capped by 2 other members");
    for r in &out.requests {
        assert_eq!(
            r.request.from_member_id,
            r.target.as_str(),
            "Go's rule: the TARGET's id"
        );
        let state = r.request.state.as_ref().expect("state always present");
        assert!(
            state.members.values().all(|m| !m.values.is_empty()),
            "no owner without values"
        );
        let own = &state.members["a"].values;
        assert!(own.contains_key(HEARTBEAT_KEY) && own.contains_key(HEARTBEAT_KEY_2024_03));
        assert!(own.contains_key(TOPOLOGY_KEY));
        assert_eq!(
            r.address,
            if r.target.as_str() == "b" {
                "127.0.0.1:2"
            } else {
                "127.0.0.1:3"
            }
        );
    }
}

#[test]
fn one_sequence_counter_across_keys() {
    let mut a = core_for("a", GossipConfig::default());
    let before = a.sequence_number();
    a.set_state("x", value("1"), UnixMillis(1));
    a.set_state("y", value("2"), UnixMillis(2));
    assert_eq!(a.state().get("a", "x").unwrap().sequence_number, before + 1);
    assert_eq!(a.state().get("a", "y").unwrap().sequence_number, before + 2);
    assert_eq!(a.state().get("a", "y").unwrap().received, UnixMillis(2));
}

#[test]
fn watermarks_commit_on_answer_and_lost_gossip_is_resent() {
    let mut a = core_for("a", GossipConfig::default());
    let out = a.tick(UnixMillis(300), &mut rng());
    let to_b = out
        .requests
        .iter()
        .find(|r| r.target.as_str() == "b")
        .unwrap()
        .clone();
    // Lost: nothing committed, the same entries go again.
    a.on_request_failed(to_b.token, UnixMillis(800));
    assert_eq!(a.watermarks().get("b", "a"), 0);
    let out = a.tick(UnixMillis(900), &mut rng());
    let again = out
        .requests
        .iter()
        .find(|r| r.target.as_str() == "b")
        .unwrap()
        .clone();
    assert!(
        again.request.state.as_ref().unwrap().members["a"]
            .values
            .contains_key(TOPOLOGY_KEY)
    );
    // Answered: committed, the topology is not sent again.
    a.on_gossip_response(again.token, GossipResponse::default(), UnixMillis(950));
    assert_eq!(a.watermarks().get("b", "a"), a.sequence_number());
    let out = a.tick(UnixMillis(1200), &mut rng());
    let next = out
        .requests
        .iter()
        .find(|r| r.target.as_str() == "b")
        .unwrap();
    let own = &next.request.state.as_ref().unwrap().members["a"].values;
    assert!(!own.contains_key(TOPOLOGY_KEY));
    assert!(own.contains_key(HEARTBEAT_KEY));
}

#[test]
fn inbound_request_is_merged_and_answered_for_the_envelope_sender() {
    let mut a = core_for("a", GossipConfig::default());
    a.set_state("app", value("mine"), UnixMillis(5));
    // from_member_id says "a" (Go puts the target's id); the sender is b by address.
    let r = heartbeat_from(&mut a, "b", "127.0.0.1:2", 4, 10);
    assert!(a.state().get("b", HEARTBEAT_KEY).is_some(), "merged");
    assert!(
        events(&r.outcome).iter().any(
            |e| matches!(e, ClusterEvent::GossipUpdate { owner, .. } if owner.as_str() == "b")
        )
    );
    let state = r.response.state.expect("a delta for b");
    assert!(state.members["a"].values.contains_key("app"));
    assert!(
        !state.members.contains_key("b"),
        "b's own entries are not sent back"
    );
    assert_eq!(
        a.watermarks().get("b", "a"),
        a.sequence_number(),
        "committed optimistically"
    );
    // Unknown sender: merged, answered with an empty response.
    let r = heartbeat_from(&mut a, "zed", "10.9.9.9:1", 1, 11);
    assert_eq!(r.response, GossipResponse::default());
    // No state at all: tolerated.
    let r = a.on_gossip_request("127.0.0.1:2", GossipRequest::default(), UnixMillis(12));
    assert!(r.outcome.events.is_empty());
}

#[test]
fn entries_about_ourselves_are_never_taken() {
    let mut a = core_for("a", GossipConfig::default());
    a.set_state("app", value("mine"), UnixMillis(5));
    let forged = GossipRequest {
        from_member_id: "a".into(),
        state: Some(state_of("a", &[("app", 1_000, value("forged"))])),
    };
    a.on_gossip_request("127.0.0.1:2", forged, UnixMillis(6));
    assert_eq!(a.state().get("a", "app").unwrap().value, value("mine"));
}

#[test]
fn heartbeat_expiry_suspects_then_blocks_and_reachable_in_between() {
    let mut a = core_for("a", GossipConfig::default());
    let mut r = rng();
    heartbeat_from(&mut a, "b", "127.0.0.1:2", 1, 100);
    heartbeat_from(&mut a, "c", "127.0.0.1:3", 1, 100);
    let out = a.tick(UnixMillis(300), &mut r);
    assert_eq!(
        events(&out)
            .iter()
            .filter(|e| matches!(e, ClusterEvent::MemberUp { .. }))
            .count(),
        2
    );
    assert_eq!(a.member_status("b"), Some(MemberStatus::Up));
    // b silent for > 50 % of 20 s: suspect, not blocked.
    heartbeat_from(&mut a, "c", "127.0.0.1:3", 2, 10_000);
    let out = a.tick(UnixMillis(10_200), &mut r);
    assert!(
        events(&out)
            .iter()
            .any(|e| matches!(e, ClusterEvent::MemberSuspect { id, .. } if id.as_str() == "b"))
    );
    assert_eq!(a.member_status("b"), Some(MemberStatus::Suspect));
    assert!(!a.is_blocked("b"));
    // b's heartbeat advances: reachable again.
    heartbeat_from(&mut a, "b", "127.0.0.1:2", 2, 10_300);
    let out = a.tick(UnixMillis(10_500), &mut r);
    assert!(
        events(&out)
            .iter()
            .any(|e| matches!(e, ClusterEvent::MemberReachable { id } if id.as_str() == "b"))
    );
    // An old (not higher) sequence number does not refresh the clock.
    heartbeat_from(&mut a, "b", "127.0.0.1:2", 2, 25_000);
    heartbeat_from(&mut a, "c", "127.0.0.1:3", 3, 25_000);
    let out = a.tick(UnixMillis(30_301), &mut r);
    assert!(a.is_blocked("b"), "20 s after its last advance");
    let ev = events(&out);
    assert!(ev.iter().any(|e| matches!(e, ClusterEvent::MemberBlocked { id, reason: BlockReason::HeartbeatExpired } if id.as_str() == "b")));
    assert!(
        ev.iter()
            .any(|e| matches!(e, ClusterEvent::TopologyUpdated { left, .. } if left[0].id == "b"))
    );
    assert_eq!(a.topology_hash(), topology_hash(["a", "c"]));
    assert!(
        a.state().owner("b").is_none(),
        "owners gone from the topology are purged"
    );
    assert!(a.watermarks().get("b", "a") == 0);
    // A blocked member's gossip is ignored from now on.
    heartbeat_from(&mut a, "b", "127.0.0.1:2", 9, 30_400);
    assert!(a.state().owner("b").is_none());
}

#[test]
fn newest_receipt_across_both_heartbeat_spellings_counts() {
    let mut a = core_for("a", GossipConfig::default());
    let hb = pack(&cluster::MemberHeartbeat::default());
    let old = GossipRequest {
        from_member_id: String::new(),
        state: Some(state_of("b", &[(HEARTBEAT_KEY_2024_03, 1, hb.clone())])),
    };
    a.on_gossip_request("127.0.0.1:2", old, UnixMillis(100));
    let new = GossipRequest {
        from_member_id: String::new(),
        state: Some(state_of("b", &[(HEARTBEAT_KEY, 2, hb)])),
    };
    a.on_gossip_request("127.0.0.1:2", new, UnixMillis(15_000));
    a.tick(UnixMillis(21_000), &mut rng());
    assert!(!a.is_blocked("b"), "the 2024-08 spelling kept it alive");
    a.tick(UnixMillis(35_001), &mut rng());
    assert!(a.is_blocked("b"));
}

#[test]
fn left_key_blocks_and_removes() {
    let mut a = core_for("a", GossipConfig::default());
    heartbeat_from(&mut a, "b", "127.0.0.1:2", 1, 100);
    a.tick(UnixMillis(300), &mut rng());
    let left = GossipRequest {
        from_member_id: "a".into(),
        state: Some(state_of(
            "b",
            &[(LEFT_KEY, 2, pack(&crate::wire::Empty {}))],
        )),
    };
    let r = a.on_gossip_request("127.0.0.1:2", left, UnixMillis(400));
    let ev = events(&r.outcome);
    assert!(
        ev.iter()
            .any(|e| matches!(e, ClusterEvent::MemberLeft { id } if id.as_str() == "b"))
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, ClusterEvent::MemberRemoved { id } if id.as_str() == "b"))
    );
    assert_eq!(a.member_status("b"), Some(MemberStatus::Removed));
    assert_eq!(a.blocked()["b"].reason, BlockReason::Left);
}

#[test]
fn a_member_the_provider_drops_is_announced_blocked_once() {
    let mut a = core_for("a", GossipConfig::default());
    heartbeat_from(&mut a, "c", "127.0.0.1:3", 1, 100);
    let out = a.on_provider_snapshot(vec![member("a", 1), member("b", 2)], UnixMillis(500));
    let blocked: Vec<_> = events(&out)
        .into_iter()
        .filter(|e| matches!(e, ClusterEvent::MemberBlocked { .. }))
        .collect();
    assert_eq!(
        blocked,
        [&ClusterEvent::MemberBlocked {
            id: MemberId::new("c"),
            reason: BlockReason::RemovedByProvider
        }]
    );
    assert_eq!(a.member_status("c"), Some(MemberStatus::Blocked));
    assert!(a.state().owner("c").is_none(), "its state is dropped");
    // A member blocked earlier (here: it left) is not announced again when
    // the provider then drops it.
    let left = GossipRequest {
        from_member_id: "a".into(),
        state: Some(state_of(
            "b",
            &[(LEFT_KEY, 2, pack(&crate::wire::Empty {}))],
        )),
    };
    a.on_gossip_request("127.0.0.1:2", left, UnixMillis(600));
    let out = a.on_provider_snapshot(vec![member("a", 1)], UnixMillis(700));
    assert!(
        !events(&out)
            .iter()
            .any(|e| matches!(e, ClusterEvent::MemberBlocked { .. }))
    );
}

#[test]
fn received_blocked_lists_are_applied_but_never_to_ourselves() {
    let mut a = core_for("a", GossipConfig::default());
    let t = ClusterTopology {
        topology_hash: 1,
        blocked: vec!["c".into(), "a".into()],
        ..ClusterTopology::default()
    };
    let req = GossipRequest {
        from_member_id: "a".into(),
        state: Some(state_of("b", &[(TOPOLOGY_KEY, 3, pack(&t))])),
    };
    let r = a.on_gossip_request("127.0.0.1:2", req, UnixMillis(50));
    assert!(a.is_blocked("c"));
    assert!(!a.is_blocked("a"));
    let ev = events(&r.outcome);
    assert!(
        ev.iter()
            .any(|e| matches!(e, ClusterEvent::SelfBlockedByPeer { by } if by.as_str() == "b"))
    );
    assert!(ev.iter().any(|e| matches!(e, ClusterEvent::MemberBlocked { id, reason: BlockReason::GossipedBlockList { .. } } if id.as_str() == "c")));
}

#[test]
fn published_blocked_list_is_configurable() {
    let config = GossipConfig {
        publish_blocked: true,
        ..GossipConfig::default()
    };
    let mut a = core_for("a", config);
    a.on_provider_snapshot(vec![member("a", 1), member("b", 2)], UnixMillis(10));
    let t: ClusterTopology = unpack(&a.state().get("a", TOPOLOGY_KEY).unwrap().value).unwrap();
    assert_eq!(t.blocked, ["c"]);
    assert_eq!(t.left[0].id, "c");
    assert_eq!(
        t.members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    // Go's default: empty.
    let mut g = core_for("a", GossipConfig::default());
    g.on_provider_snapshot(vec![member("a", 1), member("b", 2)], UnixMillis(10));
    let t: ClusterTopology = unpack(&g.state().get("a", TOPOLOGY_KEY).unwrap().value).unwrap();
    assert!(t.blocked.is_empty());
}

#[test]
fn provider_bursts_are_coalesced() {
    let config = GossipConfig {
        topology_coalesce: Duration::from_millis(500),
        ..GossipConfig::default()
    };
    let mut a = GossipCore::new("a", config).unwrap();
    let mut r = rng();
    let o1 = a.on_provider_snapshot(vec![member("a", 1)], UnixMillis(0));
    let o2 = a.on_provider_snapshot(vec![member("a", 1), member("b", 2)], UnixMillis(100));
    let o3 = a.on_provider_snapshot(three(), UnixMillis(200));
    assert!(o1.events.is_empty() && o2.events.is_empty() && o3.events.is_empty());
    assert!(a.tick(UnixMillis(300), &mut r).events.is_empty());
    let out = a.tick(UnixMillis(600), &mut r);
    let updates: Vec<_> = out
        .events
        .iter()
        .filter(|e| matches!(e.event, ClusterEvent::TopologyUpdated { .. }))
        .collect();
    assert_eq!(updates.len(), 1, "one topology update for the burst");
    assert_eq!(updates[0].at, UnixMillis(600));
    assert_eq!(a.topology_hash(), topology_hash(["a", "b", "c"]));
}

#[test]
fn joined_events_ascending_and_statuses_joining() {
    let mut a = GossipCore::new("a", GossipConfig::default()).unwrap();
    let out = a.on_provider_snapshot(
        vec![member("c", 3), member("a", 1), member("b", 2)],
        UnixMillis(7),
    );
    let joined: Vec<&str> = out
        .events
        .iter()
        .filter_map(|e| match &e.event {
            ClusterEvent::MemberJoined { member } => Some(member.id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(joined, ["a", "b", "c"]);
    assert!(out.events.iter().all(|e| e.at == UnixMillis(7)));
    assert_eq!(a.member_status("b"), Some(MemberStatus::Joining));
    assert_eq!(a.member_status("a"), None, "we do not track ourselves");
}

#[test]
fn topology_consensus_reached_when_all_gossip_the_same_hash_and_lost_on_change() {
    let mut a = core_for("a", GossipConfig::default());
    let hash = topology_hash(["a", "b", "c"]);
    assert_eq!(
        a.consensus(TOPOLOGY_CONSENSUS_CHECK),
        Some(ConsensusState::NoConsensus)
    );
    let topo = |h| {
        pack(&ClusterTopology {
            topology_hash: h,
            ..ClusterTopology::default()
        })
    };
    let req = |o: &str, h| GossipRequest {
        from_member_id: "a".into(),
        state: Some(state_of(o, &[(TOPOLOGY_KEY, 1, topo(h))])),
    };
    a.on_gossip_request("127.0.0.1:2", req("b", hash), UnixMillis(1));
    assert_eq!(
        a.consensus(TOPOLOGY_CONSENSUS_CHECK),
        Some(ConsensusState::NoConsensus)
    );
    let r = a.on_gossip_request("127.0.0.1:3", req("c", hash), UnixMillis(2));
    assert_eq!(
        a.consensus(TOPOLOGY_CONSENSUS_CHECK),
        Some(ConsensusState::Reached(ConsensusValue::U64(hash)))
    );
    assert!(
        events(&r.outcome)
            .iter()
            .any(|e| matches!(e, ClusterEvent::ConsensusReached { .. }))
    );
    // A new member joins: our hash changes, theirs not yet.
    let out = a.on_provider_snapshot(
        vec![
            member("a", 1),
            member("b", 2),
            member("c", 3),
            member("d", 4),
        ],
        UnixMillis(3),
    );
    assert!(
        events(&out)
            .iter()
            .any(|e| matches!(e, ClusterEvent::ConsensusLost { .. }))
    );
}

#[test]
fn custom_consensus_check_over_two_keys() {
    let mut a = core_for("a", GossipConfig::default());
    let check = ConsensusCheck::new(
        "version",
        &["major", "minor"],
        alloc::boxed::Box::new(|o: &OwnerState| {
            let major = o.get("major")?.value.value.clone();
            let minor = o.get("minor")?.value.value.clone();
            Some(ConsensusValue::Bytes([major, minor].concat()))
        }),
    );
    a.add_consensus_check(check, UnixMillis(0));
    for (o, addr) in [("b", "127.0.0.1:2"), ("c", "127.0.0.1:3")] {
        let req = GossipRequest {
            from_member_id: "a".into(),
            state: Some(state_of(
                o,
                &[("major", 1, value("1")), ("minor", 2, value("4"))],
            )),
        };
        a.on_gossip_request(addr, req, UnixMillis(1));
    }
    assert_eq!(
        a.consensus("version"),
        Some(ConsensusState::NoConsensus),
        "we have not set ours"
    );
    a.set_state("major", value("1"), UnixMillis(2));
    let out = a.set_state("minor", value("4"), UnixMillis(3));
    assert!(
        events(&out).iter().any(
            |e| matches!(e, ClusterEvent::ConsensusReached { check, .. } if check == "version")
        )
    );
    assert!(a.remove_consensus_check("version"));
    assert!(!a.remove_consensus_check("version"));
}

#[test]
fn leave_pushes_left_to_every_member() {
    let mut a = core_for("a", GossipConfig::default());
    let out = a.leave(UnixMillis(10));
    assert_eq!(out.requests.len(), 2);
    for r in &out.requests {
        assert!(
            r.request.state.as_ref().unwrap().members["a"]
                .values
                .contains_key(LEFT_KEY)
        );
    }
}

#[test]
fn profiles_publish_their_heartbeat_keys() {
    for p in WireProfile::ALL {
        let config = GossipConfig {
            wire_profile: p,
            ..GossipConfig::default()
        };
        let mut a = core_for("a", config);
        a.tick(UnixMillis(300), &mut rng());
        let own = a.state().owner("a").unwrap();
        for key in [HEARTBEAT_KEY, HEARTBEAT_KEY_2024_03] {
            assert_eq!(
                own.get(key).is_some(),
                p.heartbeat_keys_published().contains(&key),
                "{p}: {key}"
            );
        }
        let hb: cluster::MemberHeartbeat =
            unpack(&own.get(p.heartbeat_keys_published()[0]).unwrap().value).unwrap();
        assert_eq!(
            hb.actor_statistics,
            Some(cluster::ActorStatistics::default())
        );
    }
}

#[test]
fn invalid_config_is_refused() {
    let config = GossipConfig {
        gossip_interval: Duration::ZERO,
        ..GossipConfig::default()
    };
    assert_eq!(
        GossipCore::new("a", config).unwrap_err(),
        ConfigError::ZeroInterval
    );
}

#[test]
fn phi_accrual_suspects_after_threshold_times_mean_interval() {
    let config = GossipConfig {
        suspicion: Suspicion::PhiAccrual {
            threshold: 2.0,
            min_samples: 3,
        },
        ..GossipConfig::default()
    };
    let mut a = core_for("a", config);
    let mut r = rng();
    // b's heartbeat advances every 300 ms (ticks see each advance).
    let mut t = 0;
    for seq in 1..=10 {
        t = seq as u64 * 300;
        heartbeat_from(&mut a, "b", "127.0.0.1:2", seq, t);
        heartbeat_from(&mut a, "c", "127.0.0.1:3", seq, t);
        a.tick(UnixMillis(t + 1), &mut r);
    }
    assert_eq!(a.member_status("b"), Some(MemberStatus::Up));
    // phi = silence / (300 ms · ln 10) > 2  ⇔  silence > ~1 382 ms.
    let out = a.tick(UnixMillis(t + 1_300), &mut r);
    assert!(
        !events(&out)
            .iter()
            .any(|e| matches!(e, ClusterEvent::MemberSuspect { .. }))
    );
    let out = a.tick(UnixMillis(t + 1_500), &mut r);
    let suspects: Vec<_> = events(&out)
        .into_iter()
        .filter(|e| matches!(e, ClusterEvent::MemberSuspect { .. }))
        .collect();
    assert_eq!(suspects.len(), 2, "b and c");
    assert!(!a.is_blocked("b"), "suspicion never blocks");
}

#[test]
fn core_is_send_and_sync_for_any_driver() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<GossipCore>();
    assert_send_sync::<GossipOutcome>();
}

#[test]
fn state_of_blocked_owners_outside_the_topology_is_dropped() {
    let mut a = core_for("a", GossipConfig::default());
    // "x" is not in our topology; it gossips a heartbeat, then falls silent.
    heartbeat_from(&mut a, "x", "10.0.0.9:9", 1, 100);
    assert!(a.state().owner("x").is_some());
    a.tick(UnixMillis(20_200), &mut rng());
    assert!(a.is_blocked("x"));
    assert!(a.state().owner("x").is_none());
    // Forgotten after the retention (the provider never listed it).
    a.tick(UnixMillis(20_200 + 3_600_000), &mut rng());
    assert!(!a.is_blocked("x"));
}

/// Go's etcd provider names members `<cluster>@<id>` while they gossip as
/// `<id>`: their heartbeats, topology hash and `left` must still count for
/// the member (see `owner_alias`).
#[test]
fn go_etcd_members_are_found_under_their_bare_gossip_owner_ids() {
    let ids = ["c@me", "c@B", "c@C"];
    let mut a = GossipCore::new("c@me", GossipConfig::default()).unwrap();
    // State arriving before the provider lists the member is re-read when
    // it does (C's topology entry below).
    let hash = topology_hash(ids);
    let topo = pack(&ClusterTopology {
        topology_hash: hash,
        ..ClusterTopology::default()
    });
    let early = GossipRequest {
        from_member_id: "c@me".into(),
        state: Some(state_of("C", &[(TOPOLOGY_KEY, 1, topo.clone())])),
    };
    a.on_gossip_request("127.0.0.1:3", early, UnixMillis(0));
    a.on_provider_snapshot(
        vec![member("c@me", 1), member("c@B", 2), member("c@C", 3)],
        UnixMillis(1),
    );
    assert_eq!(a.member_status("c@B"), Some(MemberStatus::Joining));
    assert_eq!(a.gossiped_topology_hash("c@C"), Some(hash));
    assert_eq!(a.gossiped_topology_hash("c@B"), None);

    // Heartbeats under "B" and "C" bring c@B and c@C Up.
    heartbeat_from(&mut a, "B", "127.0.0.1:2", 1, 10);
    heartbeat_from(&mut a, "C", "127.0.0.1:3", 1, 10);
    a.tick(UnixMillis(20), &mut rng());
    assert_eq!(a.member_status("c@B"), Some(MemberStatus::Up));
    assert_eq!(a.member_status("c@C"), Some(MemberStatus::Up));
    assert!(
        a.owner_state_of("c@B")
            .is_some_and(|o| o.heartbeat_received().is_some())
    );

    // Consensus counts B's hash for c@B (C's came early).
    assert_eq!(
        a.consensus(TOPOLOGY_CONSENSUS_CHECK),
        Some(ConsensusState::NoConsensus)
    );
    let r = a.on_gossip_request(
        "127.0.0.1:2",
        GossipRequest {
            from_member_id: "c@me".into(),
            state: Some(state_of("B", &[(TOPOLOGY_KEY, 2, topo)])),
        },
        UnixMillis(30),
    );
    assert_eq!(
        a.consensus(TOPOLOGY_CONSENSUS_CHECK),
        Some(ConsensusState::Reached(ConsensusValue::U64(hash))),
        "{:?}",
        events(&r.outcome)
    );

    // B's `left` blocks c@B.
    let left = GossipRequest {
        from_member_id: "c@me".into(),
        state: Some(state_of(
            "B",
            &[(LEFT_KEY, 3, pack(&crate::wire::Empty {}))],
        )),
    };
    let r = a.on_gossip_request("127.0.0.1:2", left, UnixMillis(40));
    assert!(events(&r.outcome).iter().any(|e| matches!(
        e,
        ClusterEvent::MemberBlocked { id, reason: BlockReason::Left } if id.as_str() == "c@B"
    )));
    assert!(a.is_blocked("c@B") && !a.is_blocked("B"));
    assert!(a.state().owner("B").is_none(), "its state is dropped");
    // Later gossip under "B" is ignored like any blocked member's.
    heartbeat_from(&mut a, "B", "127.0.0.1:2", 9, 50);
    assert!(a.state().owner("B").is_none());

    // C's heartbeat expires: c@C is blocked, not "C".
    let exp = GossipConfig::default().heartbeat_expiration.as_millis() as u64;
    let out = a.tick(UnixMillis(10 + exp + 1), &mut rng());
    assert!(events(&out).iter().any(|e| matches!(
        e,
        ClusterEvent::MemberBlocked { id, reason: BlockReason::HeartbeatExpired } if id.as_str() == "c@C"
    )), "{:?}", events(&out));
    assert!(a.is_blocked("c@C") && !a.is_blocked("C"));
}
