//! Unit tests of [`super::GossipCore`] driven by hand, one input at a time.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use crate::wire::Any;
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
        value: v.as_bytes().to_vec().into(),
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

/// A request carrying `owner`'s `left` entry with sequence `seq`.
fn left_request(owner: &str, seq: i64) -> GossipRequest {
    GossipRequest {
        from_member_id: "a".into(),
        state: Some(state_of(
            owner,
            &[(LEFT_KEY, seq, pack(&crate::wire::Empty {}))],
        )),
    }
}

mod membership;
mod retention;

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
        assert!(own.contains_key(HEARTBEAT_KEY));
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
        // No other member has gossiped yet, so no 2024-03 reader is known.
        let published = p.heartbeat_keys_published(false);
        for key in [HEARTBEAT_KEY, HEARTBEAT_KEY_2024_03] {
            assert_eq!(
                own.get(key).is_some(),
                published.contains(&key),
                "{p}: {key}"
            );
        }
        let hb: cluster::MemberHeartbeat = unpack(&own.get(published[0]).unwrap().value).unwrap();
        assert_eq!(
            hb.actor_statistics,
            Some(cluster::ActorStatistics::default())
        );
    }
}

/// The mixed profile writes `heathbeat` only while a current member
/// publishes it without `heartbeat` (a 2024-03 Go node, which expires only
/// owners with its spelling), and stops once that member is gone; a member
/// publishing both spellings (another mixed node) is no such reader.
#[test]
fn mixed_writes_the_2024_03_spelling_only_beside_a_2024_03_member() {
    let hb = pack(&cluster::MemberHeartbeat::default());
    let mut a = core_for("a", GossipConfig::default());
    let mut r = rng();
    let seq_of = |a: &GossipCore, key: &str| a.state().get("a", key).map(|e| e.sequence_number);
    let both = GossipRequest {
        from_member_id: String::new(),
        state: Some(state_of(
            "c",
            &[
                (HEARTBEAT_KEY, 1, hb.clone()),
                (HEARTBEAT_KEY_2024_03, 1, hb.clone()),
            ],
        )),
    };
    a.on_gossip_request("127.0.0.1:3", both, UnixMillis(100));
    a.tick(UnixMillis(300), &mut r);
    assert!(seq_of(&a, HEARTBEAT_KEY).is_some());
    assert_eq!(
        seq_of(&a, HEARTBEAT_KEY_2024_03),
        None,
        "c reads `heartbeat`"
    );

    let legacy = GossipRequest {
        from_member_id: String::new(),
        state: Some(state_of("b", &[(HEARTBEAT_KEY_2024_03, 1, hb.clone())])),
    };
    a.on_gossip_request("127.0.0.1:2", legacy, UnixMillis(400));
    a.tick(UnixMillis(600), &mut r);
    let written = seq_of(&a, HEARTBEAT_KEY_2024_03).expect("written beside b");
    assert_eq!(seq_of(&a, HEARTBEAT_KEY), Some(written + 1), "one counter");
    a.tick(UnixMillis(900), &mut r);
    assert!(
        seq_of(&a, HEARTBEAT_KEY_2024_03) > Some(written),
        "kept fresh"
    );

    // b leaves the topology: its state may linger (Go keeps it forever),
    // but it no longer counts.
    a.on_provider_snapshot(vec![member("a", 1), member("c", 3)], UnixMillis(1_000));
    a.tick(UnixMillis(1_200), &mut r);
    let last = seq_of(&a, HEARTBEAT_KEY_2024_03);
    a.tick(UnixMillis(1_500), &mut r);
    assert_eq!(seq_of(&a, HEARTBEAT_KEY_2024_03), last, "no longer written");
    assert!(seq_of(&a, HEARTBEAT_KEY) > last);
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
fn core_is_send_and_sync_for_any_driver() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<GossipCore>();
    assert_send_sync::<GossipOutcome>();
}
