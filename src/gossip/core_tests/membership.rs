//! Unit tests of [`GossipCore`] membership, driven by hand: statuses,
//! failure detection, blocking, provider snapshots and owner aliases.

use super::*;

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
    // Owners gone from the topology are kept (and relayed) for
    // `blocked_state_retention`, no longer gossiped to, then purged.
    assert!(a.state().owner("b").is_some(), "kept for the relay");
    assert!(a.watermarks().get("b", "a") == 0);
    // A blocked member's gossip is ignored from now on.
    heartbeat_from(&mut a, "b", "127.0.0.1:2", 9, 30_400);
    assert_eq!(a.state().owner("b").unwrap().max_sequence_number(), 2);
    a.tick(UnixMillis(30_301 + 19_999), &mut r);
    assert!(a.state().owner("b").is_some());
    a.tick(UnixMillis(30_301 + 20_000), &mut r);
    assert!(a.state().owner("b").is_none(), "purged after 20 s");
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
    assert!(
        a.state().owner("c").is_some(),
        "its state is relayed a while"
    );
    a.tick(UnixMillis(500 + 20_000), &mut rng());
    assert!(a.state().owner("c").is_none(), "then dropped");
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
fn state_of_blocked_owners_outside_the_topology_is_dropped() {
    let mut a = core_for("a", GossipConfig::default());
    // "x" is not in our topology; it gossips a heartbeat, then falls silent.
    heartbeat_from(&mut a, "x", "10.0.0.9:9", 1, 100);
    assert!(a.state().owner("x").is_some());
    a.tick(UnixMillis(20_200), &mut rng());
    assert!(a.is_blocked("x"));
    a.tick(UnixMillis(40_200), &mut rng());
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
    // Its state under "B" is relayed for a while, frozen: later gossip
    // under "B" is ignored like any blocked member's.
    heartbeat_from(&mut a, "B", "127.0.0.1:2", 9, 50);
    assert_eq!(a.state().owner("B").unwrap().max_sequence_number(), 3);

    // C's heartbeat expires: c@C is blocked, not "C".
    let exp = GossipConfig::default().heartbeat_expiration.as_millis() as u64;
    let out = a.tick(UnixMillis(10 + exp + 1), &mut rng());
    assert!(events(&out).iter().any(|e| matches!(
        e,
        ClusterEvent::MemberBlocked { id, reason: BlockReason::HeartbeatExpired } if id.as_str() == "c@C"
    )), "{:?}", events(&out));
    assert!(a.is_blocked("c@C") && !a.is_blocked("C"));
    // B's state (blocked at 40 ms) is purged 20 s later, under its alias.
    a.tick(UnixMillis(40 + exp), &mut rng());
    assert!(a.state().owner("B").is_none());
}

/// A `left` that reaches us is relayed: the leaver's entries stay in our
/// state, so the next delta to a member that has not seen them carries
/// them (Go relays them the same way); after `blocked_state_retention`
/// they are purged and nothing is relayed any more.
#[test]
fn a_blocked_members_left_is_relayed_until_the_retention_ends() {
    let config = GossipConfig {
        blocked_state_retention: Duration::from_secs(5),
        ..GossipConfig::default()
    };
    let mut a = core_for("a", config);
    let mut r = rng();
    heartbeat_from(&mut a, "b", "127.0.0.1:2", 1, 100);
    heartbeat_from(&mut a, "c", "127.0.0.1:3", 1, 100);
    for q in a.tick(UnixMillis(300), &mut r).requests {
        a.on_request_failed(q.token, UnixMillis(350));
    }
    let left = left_request("b", 2);
    a.on_gossip_request("127.0.0.1:2", left, UnixMillis(400));
    assert!(a.is_blocked("b"));
    // The next request to c carries b's `left`.
    let out = a.tick(UnixMillis(600), &mut r);
    assert_eq!(out.requests.len(), 1, "only c is left to gossip to");
    let sent = out.requests[0].request.state.as_ref().unwrap();
    assert_eq!(out.requests[0].target.as_str(), "c");
    assert!(sent.members["b"].values.contains_key(LEFT_KEY), "{sent:?}");
    // Answered: c has it, so it is not sent again.
    let token = out.requests[0].token;
    a.on_gossip_response(token, GossipResponse::default(), UnixMillis(650));
    let out = a.tick(UnixMillis(900), &mut r);
    assert!(
        out.requests
            .iter()
            .all(|q| !q.request.state.as_ref().unwrap().members.contains_key("b"))
    );
    // Purged 5 s after the block, the block entry stays.
    a.tick(UnixMillis(400 + 4_999), &mut r);
    assert!(a.state().owner("b").is_some());
    a.tick(UnixMillis(400 + 5_000), &mut r);
    assert!(a.state().owner("b").is_none());
    assert!(a.is_blocked("b"));
}

/// With `blocked_state_retention` = 0 a blocked member's state goes at once.
#[test]
fn zero_state_retention_purges_at_the_block() {
    let config = GossipConfig {
        blocked_state_retention: Duration::ZERO,
        ..GossipConfig::default()
    };
    let mut a = core_for("a", config);
    heartbeat_from(&mut a, "b", "127.0.0.1:2", 1, 100);
    let left = left_request("b", 2);
    a.on_gossip_request("127.0.0.1:2", left, UnixMillis(400));
    assert!(a.is_blocked("b"));
    assert!(a.state().owner("b").is_none());
}

/// A shortened `block_retention`: the id is forgotten once the provider
/// has not listed it for that long. Forgetting is safe: it never re-enters
/// the topology, which only the provider can list. With the set of
/// forgotten ids turned off (`forgotten_ids: 0`), its old gossip coming
/// back (a Go peer relays what it keeps forever) blocks it again: its
/// `left` at once, a heartbeat-only state (or a stranger's) one expiration
/// later. With the set on, that gossip is ignored (`core_tests/retention.rs`).
#[test]
fn a_shortened_block_retention_forgets_and_old_gossip_blocks_again() {
    let config = GossipConfig {
        block_retention: Duration::from_secs(60),
        forgotten_ids: 0,
        ..GossipConfig::default()
    };
    let mut a = core_for("a", config);
    let mut r = rng();
    heartbeat_from(&mut a, "c", "127.0.0.1:3", 1, 100);
    let left = left_request("c", 2);
    a.on_gossip_request("127.0.0.1:3", left.clone(), UnixMillis(200));
    a.on_provider_snapshot(vec![member("a", 1), member("b", 2)], UnixMillis(1_000));
    assert!(a.is_blocked("c"));
    a.tick(UnixMillis(1_000 + 59_999), &mut r);
    assert!(a.is_blocked("c"), "60 s after the provider dropped it");
    let out = a.tick(UnixMillis(1_000 + 60_000), &mut r);
    assert!(!a.is_blocked("c"), "forgotten");
    assert_eq!(a.member_status("c"), None);
    assert!(a.state().owner("c").is_none());
    assert!(
        !events(&out)
            .iter()
            .any(|e| matches!(e, ClusterEvent::TopologyUpdated { .. }))
    );
    // Its old `left`, relayed to us again, blocks it again.
    let r2 = a.on_gossip_request("127.0.0.1:2", left, UnixMillis(62_000));
    assert!(events(&r2.outcome).iter().any(|e| matches!(
        e,
        ClusterEvent::MemberBlocked { id, reason: BlockReason::Left } if id.as_str() == "c"
    )));
    assert!(!a.active_members().contains_key("c"));
}
