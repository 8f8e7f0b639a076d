//! Unit tests of [`GossipCore`] forgetting blocks on virtual time: after
//! `block_retention` the id is remembered in the bounded set of forgotten
//! ids, and gossip about it that peers relay (Go keeps it forever) neither
//! blocks it again nor is stored (Q-M23).

use super::*;

/// 60 s block retention (the soak's setting), Go's other defaults.
fn short_retention() -> GossipConfig {
    GossipConfig {
        block_retention: Duration::from_secs(60),
        ..GossipConfig::default()
    }
}

/// Blocks `c` by its `left` (sent by c at 200 ms), drops it from the
/// provider at 1 s and ticks past the retention: `c` is forgotten at 61 s.
fn forgotten_c(config: GossipConfig) -> (GossipCore, XorShiftRng) {
    let mut a = core_for("a", config);
    let mut r = rng();
    heartbeat_from(&mut a, "c", "127.0.0.1:3", 1, 100);
    a.on_gossip_request("127.0.0.1:3", left_request("c", 2), UnixMillis(200));
    assert!(a.is_blocked("c"));
    a.on_provider_snapshot(vec![member("a", 1), member("b", 2)], UnixMillis(1_000));
    a.tick(UnixMillis(61_000), &mut r);
    assert!(!a.is_blocked("c"), "forgotten");
    assert!(a.state().owner("c").is_none());
    (a, r)
}

fn blocked_events(out: &GossipOutcome) -> Vec<&ClusterEvent> {
    events(out)
        .into_iter()
        .filter(|e| matches!(e, ClusterEvent::MemberBlocked { .. }))
        .collect()
}

fn ids(v: &[MemberId]) -> Vec<&str> {
    v.iter().map(MemberId::as_str).collect()
}

#[test]
fn a_relayed_left_of_a_forgotten_id_neither_blocks_nor_is_stored() {
    let (mut a, mut r) = forgotten_c(short_retention());
    assert_eq!(a.forgotten_count(), 1);
    // b relays c's old `left` (with c's heartbeat) in a request...
    let mut relayed = left_request("c", 2);
    let hb = pack(&cluster::MemberHeartbeat::default());
    if let Some(s) = relayed.state.as_mut()
        && let Some(m) = s.members.get_mut("c")
    {
        m.values.insert(HEARTBEAT_KEY.into(), kv(1, hb));
    }
    let got = a.on_gossip_request("127.0.0.1:2", relayed.clone(), UnixMillis(62_000));
    assert!(!a.is_blocked("c"));
    assert!(blocked_events(&got.outcome).is_empty());
    assert!(a.state().owner("c").is_none(), "not stored");
    assert_eq!(ids(&got.outcome.ignored_forgotten), ["c"], "counted");
    // ... and in an answer; b's own entries in the same state still merge.
    let mut both = relayed.state.unwrap_or_default();
    both.members
        .extend(state_of("b", &[("k", 5, value("v"))]).members);
    let out = a.on_gossip_response(
        RequestToken(999),
        GossipResponse { state: Some(both) },
        UnixMillis(63_000),
    );
    assert_eq!(ids(&out.ignored_forgotten), ["c"]);
    assert!(a.state().get("b", "k").is_some());
    assert!(a.state().owner("c").is_none());
    // Nothing comes back later either: no stranger to expire, no block.
    let out = a.tick(UnixMillis(63_000 + 25_000), &mut r);
    assert!(blocked_events(&out).is_empty());
    assert!(a.blocked().is_empty());
    assert_eq!(a.member_status("c"), None);
}

#[test]
fn a_gossiped_block_list_naming_a_forgotten_id_does_not_block_it() {
    let (mut a, _) = forgotten_c(short_retention());
    let t = ClusterTopology {
        topology_hash: 1,
        blocked: vec!["c".into(), "x".into()],
        ..ClusterTopology::default()
    };
    let req = GossipRequest {
        from_member_id: "a".into(),
        state: Some(state_of("b", &[(TOPOLOGY_KEY, 3, pack(&t))])),
    };
    let got = a.on_gossip_request("127.0.0.1:2", req, UnixMillis(62_000));
    assert!(!a.is_blocked("c"));
    assert!(
        a.is_blocked("x"),
        "an id we never forgot is blocked as before"
    );
    assert_eq!(ids(&got.outcome.ignored_forgotten), ["c"]);
}

/// Item 5 keeps working beside forgotten ids: a fresh `left` of a live
/// member (and of a stranger) blocks, is kept and relayed for
/// `blocked_state_retention`, then purged.
#[test]
fn a_fresh_left_of_a_live_member_still_blocks_and_is_relayed() {
    let (mut a, mut r) = forgotten_c(short_retention());
    let got = a.on_gossip_request("127.0.0.1:2", left_request("b", 7), UnixMillis(62_000));
    assert!(a.is_blocked("b"));
    assert!(got.outcome.ignored_forgotten.is_empty());
    assert!(events(&got.outcome).iter().any(|e| matches!(
        e,
        ClusterEvent::MemberBlocked { id, reason: BlockReason::Left } if id.as_str() == "b"
    )));
    assert!(a.state().get("b", LEFT_KEY).is_some(), "kept for the relay");
    a.on_gossip_request("127.0.0.1:2", left_request("y", 1), UnixMillis(62_000));
    assert!(a.is_blocked("y"), "a stranger's left blocks, as Go's does");
    a.tick(UnixMillis(62_000 + 19_999), &mut r);
    assert!(a.state().get("b", LEFT_KEY).is_some());
    a.tick(UnixMillis(62_000 + 20_000), &mut r);
    assert!(a.state().owner("b").is_none(), "purged");
}

/// Only the provider brings an id back (Q-M1); once it lists a forgotten id
/// again, the id is a member like any other and its `left` blocks it (Go
/// never readmits a blocked id at all).
#[test]
fn a_forgotten_id_the_provider_lists_again_is_admitted() {
    let (mut a, _) = forgotten_c(short_retention());
    let out = a.on_provider_snapshot(three(), UnixMillis(70_000));
    assert!(
        events(&out)
            .iter()
            .any(|e| matches!(e, ClusterEvent::MemberJoined { member } if member.id == "c"))
    );
    heartbeat_from(&mut a, "c", "127.0.0.1:3", 1, 70_100);
    assert!(a.state().owner("c").is_some(), "its gossip is taken again");
    let got = a.on_gossip_request("127.0.0.1:3", left_request("c", 2), UnixMillis(70_200));
    assert!(got.outcome.ignored_forgotten.is_empty());
    assert!(a.is_blocked("c"));
}

/// The set holds at most `forgotten_ids` ids, oldest evicted first; an
/// evicted id is treated as before the set existed (its relayed `left`
/// blocks it again, and the retention forgets it again later).
#[test]
fn the_forgotten_set_is_bounded_and_evicts_the_oldest() {
    let config = GossipConfig {
        forgotten_ids: 3,
        ..short_retention()
    };
    let mut a = core_for("a", config);
    let mut r = rng();
    a.on_provider_snapshot(vec![member("a", 1), member("b", 2)], UnixMillis(0));
    let gone: Vec<String> = (0..10).map(|i| alloc::format!("gone-{i}")).collect();
    for (i, id) in gone.iter().enumerate() {
        let t = 1_000 + 61_000 * i as u64;
        a.on_gossip_request("127.0.0.1:2", left_request(id, 1), UnixMillis(t));
        assert!(a.is_blocked(id));
        a.tick(UnixMillis(t + 60_000), &mut r);
        assert!(!a.is_blocked(id), "forgotten");
        assert!(a.forgotten_count() <= 3);
    }
    assert_eq!(a.forgotten_count(), 3);
    let now = UnixMillis(700_000);
    let got = a.on_gossip_request("127.0.0.1:2", left_request(&gone[9], 1), now);
    assert!(!a.is_blocked(&gone[9]), "held: ignored");
    assert_eq!(ids(&got.outcome.ignored_forgotten), [gone[9].as_str()]);
    let got = a.on_gossip_request("127.0.0.1:2", left_request(&gone[0], 1), now);
    assert!(a.is_blocked(&gone[0]), "evicted: blocked again, as before");
    assert!(got.outcome.ignored_forgotten.is_empty());
}

/// Go's etcd members gossip under their bare id (`owner_alias`): a
/// forgotten `c@C` stays out under `C` too.
#[test]
fn a_forgotten_members_alias_is_forgotten_with_it() {
    let mut a = GossipCore::new("c@me", short_retention()).unwrap();
    let mut r = rng();
    a.on_provider_snapshot(
        vec![member("c@me", 1), member("c@B", 2), member("c@C", 3)],
        UnixMillis(0),
    );
    a.on_gossip_request("127.0.0.1:3", left_request("C", 1), UnixMillis(100));
    assert!(a.is_blocked("c@C"));
    a.on_provider_snapshot(vec![member("c@me", 1), member("c@B", 2)], UnixMillis(1_000));
    a.tick(UnixMillis(61_000), &mut r);
    assert!(!a.is_blocked("c@C"));
    assert_eq!(
        a.forgotten_count(),
        2,
        "the member id and its gossip owner id"
    );
    let got = a.on_gossip_request("127.0.0.1:2", left_request("C", 1), UnixMillis(62_000));
    assert!(a.blocked().is_empty());
    assert!(a.state().owner("C").is_none());
    assert_eq!(ids(&got.outcome.ignored_forgotten), ["C"]);
}
