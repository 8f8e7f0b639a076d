//! Failure-detection simulations: crash, graceful leave, no false
//! suspicion, duplicated and delayed messages.

use std::time::Duration;

use protogossip::gossip::{BlockReason, ClusterEvent, GossipConfig, MemberStatus};
use protogossip::sim::{NetworkConfig, SimConfig, Simulation};

fn blocked_everywhere(sim: &Simulation, i: usize) -> bool {
    let id = sim.id(i).clone();
    sim.all_alive(|c| c.is_blocked(id.as_str()))
}

/// A survivor blocks a silent member at its first tick after the
/// expiration, counted from the last heartbeat it RECEIVED. That last
/// heartbeat may reach it by relay, up to ⌈log_{1+f} N⌉ rounds after the
/// crash (epidemic dissemination, docs/architecture.md), so measured from
/// the crash the bound is expiration + 2 intervals + that many rounds.
#[test]
fn crashed_member_is_blocked_by_every_survivor_within_expiration_plus_two_intervals() {
    let n = 40;
    let config = GossipConfig::default();
    let interval = config.gossip_interval;
    let dissemination = ((n as f64).ln() / ((1 + config.gossip_fan_out) as f64).ln()).ceil() as u32;
    let bound = config.heartbeat_expiration + interval * (2 + dissemination);
    let mut sim = Simulation::new(SimConfig::members(n).seed(40));
    sim.start();
    sim.run_for(Duration::from_secs(5));
    assert!(sim.all_alive(|c| c.blocked().is_empty()));
    sim.crash(7);
    let crashed_at = sim.now();
    let took = sim
        .run_until(bound + Duration::from_secs(5), |s| blocked_everywhere(s, 7))
        .expect("the crashed member is blocked everywhere");
    let id7 = sim.id(7).clone();
    let mut latest = 0;
    for node in sim.nodes().iter().filter(|n| n.alive) {
        let ev = &node.events;
        let suspect = ev
            .iter()
            .position(|e| matches!(&e.event, ClusterEvent::MemberSuspect { id, .. } if *id == id7));
        let blocked = ev
            .iter()
            .position(|e| {
                matches!(&e.event, ClusterEvent::MemberBlocked { id, reason: BlockReason::HeartbeatExpired } if *id == id7)
            })
            .unwrap_or_else(|| panic!("{}: blocked for an expired heartbeat", node.id));
        assert!(
            suspect.is_some_and(|s| s < blocked),
            "{}: suspected before blocked",
            node.id
        );
        let last_beat = ev
            .iter()
            .filter(|e| matches!(&e.event, ClusterEvent::GossipUpdate { owner, key, .. } if *owner == id7 && key.contains("hea")))
            .map(|e| e.at)
            .max()
            .expect("heartbeats were received");
        let blocked_at = ev[blocked].at;
        assert!(
            blocked_at.millis_since(last_beat)
                <= (config.heartbeat_expiration + interval).as_millis() as u64,
            "{}: blocked {} ms after its last received heartbeat",
            node.id,
            blocked_at.millis_since(last_beat)
        );
        latest = latest.max(blocked_at.millis_since(crashed_at));
        assert_eq!(
            node.core.blocked().len(),
            1,
            "{}: only the crashed member is blocked",
            node.id
        );
        assert_eq!(
            node.core.member_status(id7.as_str()),
            Some(MemberStatus::Blocked)
        );
        assert!(
            !node.core.active_members().contains_key(id7.as_str()),
            "dropped from the topology"
        );
    }
    assert!(took <= bound + interval, "run_until saw it after {took:?}");
    assert!(
        latest <= bound.as_millis() as u64,
        "last survivor blocked {latest} ms after the crash, bound {bound:?}"
    );
}

#[test]
fn graceful_leave_blocks_the_leaver_everywhere_within_a_few_rounds() {
    let interval = GossipConfig::default().gossip_interval;
    let mut sim = Simulation::new(SimConfig::members(30).seed(30));
    sim.start();
    sim.run_for(Duration::from_secs(3));
    sim.leave(3);
    let took = sim
        .run_until(interval * 10, |s| blocked_everywhere(s, 3))
        .expect("the leaver is blocked everywhere");
    assert!(took <= interval * 3, "took {took:?}");
    let id3 = sim.id(3).clone();
    for n in sim.nodes().iter().filter(|n| n.alive) {
        assert_eq!(
            n.core.member_status(id3.as_str()),
            Some(MemberStatus::Removed),
            "{}",
            n.id
        );
        assert_eq!(n.core.blocked()[id3.as_str()].reason, BlockReason::Left);
        assert!(
            n.events
                .iter()
                .any(|e| matches!(&e.event, ClusterEvent::MemberLeft { id } if *id == id3))
        );
    }
}

#[test]
fn no_false_suspicion_in_a_long_loss_free_run() {
    let mut sim = Simulation::new(SimConfig::members(30).seed(31));
    sim.start();
    sim.run_for(Duration::from_secs(300));
    for n in sim.nodes() {
        let bad: Vec<_> = n
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e.event,
                    ClusterEvent::MemberSuspect { .. } | ClusterEvent::MemberBlocked { .. }
                )
            })
            .collect();
        assert!(bad.is_empty(), "{}: {bad:?}", n.id);
        assert!(
            n.core.members().all(|(_, s)| s == MemberStatus::Up),
            "{}",
            n.id
        );
    }
}

#[test]
fn lossy_duplicating_network_still_converges_without_false_blocks() {
    let network = NetworkConfig {
        drop_probability: 0.2,
        duplicate_probability: 0.2,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(200),
    };
    let mut sim = Simulation::new(SimConfig::members(25).seed(25).network(network));
    sim.start();
    sim.run_for(Duration::from_secs(60));
    assert!(sim.stats().duplicated > 0 && sim.stats().dropped > 0);
    assert!(
        sim.all_alive(|c| c.blocked().is_empty()),
        "20% loss for 60 s blocks no one"
    );
    // Every member's newest heartbeat sequence is known everywhere within a
    // few rounds of quiet.
    sim.set_network(NetworkConfig::default());
    sim.run_for(Duration::from_secs(2));
    let seqs: Vec<i64> = sim
        .nodes()
        .iter()
        .map(|n| n.core.sequence_number())
        .collect();
    for n in sim.nodes() {
        for (i, other) in sim.nodes().iter().enumerate() {
            if other.id == n.id {
                continue;
            }
            let known = n
                .core
                .state()
                .owner(other.id.as_str())
                .map_or(0, |o| o.max_sequence_number());
            assert!(
                seqs[i] - known <= 2 * 20,
                "{} lags {} by {}",
                n.id,
                other.id,
                seqs[i] - known
            );
        }
    }
}

/// A —— R —— B with no A–B link: A's graceful leave reaches R (A pushes
/// it to every member, the push to B is lost), and R relays A's entries,
/// `left` among them, so B learns of the leave within a few rounds instead
/// of blocking A at the heartbeat expiration. R purges A's state after
/// `blocked_state_retention`.
#[test]
fn a_leave_crosses_a_member_that_relays_it() {
    let config = GossipConfig::default();
    let interval = config.gossip_interval;
    let retention = config.blocked_state_retention;
    let mut sim = Simulation::new(SimConfig::members(3).seed(33).gossip(config));
    let (a, r, b) = (0, 1, 2);
    sim.cut_link(a, b);
    sim.start();
    sim.run_for(Duration::from_secs(3));
    let id_a = sim.id(a).clone();
    assert!(
        sim.core(b).state().owner(id_a.as_str()).is_some(),
        "B knows A's heartbeat through R"
    );
    sim.leave(a);
    let took = sim
        .run_until(interval * 20, |s| s.core(b).is_blocked(id_a.as_str()))
        .expect("B blocks A within 20 rounds");
    assert!(took <= interval * 6, "took {took:?}");
    assert_eq!(
        sim.core(b).blocked()[id_a.as_str()].reason,
        BlockReason::Left
    );
    assert!(
        sim.node(b)
            .events
            .iter()
            .any(|e| matches!(&e.event, ClusterEvent::MemberLeft { id } if *id == id_a))
    );
    // R relays A's state for the retention, then purges it.
    assert!(sim.core(r).state().owner(id_a.as_str()).is_some());
    sim.run_for(retention + interval * 2);
    assert!(sim.core(r).state().owner(id_a.as_str()).is_none());
    assert!(sim.core(r).is_blocked(id_a.as_str()));
}

/// The same chain with the relay turned off (`blocked_state_retention` =
/// 0, the behaviour before relaying): B only blocks A when A's heartbeat
/// expires. Shows the test above cannot pass without the relay.
#[test]
fn without_the_relay_the_leave_does_not_cross() {
    let config = GossipConfig::default().with_blocked_state_retention(Duration::ZERO);
    let interval = config.gossip_interval;
    let mut sim = Simulation::new(SimConfig::members(3).seed(33).gossip(config));
    let (a, b) = (0, 2);
    sim.cut_link(a, b);
    sim.start();
    sim.run_for(Duration::from_secs(3));
    let id_a = sim.id(a).clone();
    sim.leave(a);
    let took = sim
        .run_until(Duration::from_secs(30), |s| {
            s.core(b).is_blocked(id_a.as_str())
        })
        .expect("B blocks A at the expiration");
    assert!(took > interval * 20, "took {took:?}");
    assert_eq!(
        sim.core(b).blocked()[id_a.as_str()].reason,
        BlockReason::HeartbeatExpired
    );
}
