//! Topology simulations: hash consensus at scale, gossiped topology
//! contents, and reconvergence after a partition.

use std::time::Duration;

use protogossip::gossip::{
    ClusterEvent, ConsensusState, ConsensusValue, GossipConfig, TOPOLOGY_CONSENSUS_CHECK,
    TopologyDetail,
};
use protogossip::sim::{SimConfig, Simulation};
use protogossip::wire::proto::cluster::{ClusterTopology, Member};
use protogossip::wire::{TOPOLOGY_KEY, WireProfile, topology_hash, unpack};

fn agreed(sim: &Simulation, hash: u64) -> bool {
    sim.all_alive(|c| {
        c.consensus(TOPOLOGY_CONSENSUS_CHECK)
            == Some(ConsensusState::Reached(ConsensusValue::U64(hash)))
    })
}

fn all_ids(sim: &Simulation) -> Vec<String> {
    sim.nodes().iter().map(|n| n.id.to_string()).collect()
}

#[test]
fn three_hundred_members_reach_topology_hash_consensus() {
    let gossip = GossipConfig::default()
        .with_topology_detail(TopologyDetail::HashOnly)
        .with_gossip_update_events(false)
        .with_wire_profile(WireProfile::Go2024_08);
    let mut sim = Simulation::new(
        SimConfig::members(300)
            .seed(300)
            .gossip(gossip)
            .record_events(false),
    );
    sim.start();
    let ids = all_ids(&sim);
    let hash = topology_hash(ids.iter().map(String::as_str));
    assert!(
        sim.all_alive(|c| c.topology_hash() == hash),
        "every member computes Go's hash"
    );
    assert!(!agreed(&sim, hash), "no consensus before any gossip");
    let took = sim.run_until(Duration::from_secs(60), |s| agreed(s, hash));
    let took =
        took.unwrap_or_else(|| panic!("no topology consensus within 60 s (seed {})", sim.seed()));
    eprintln!(
        "300 members: topology consensus after {took:?}, {:?}",
        sim.stats()
    );
}

#[test]
fn gossiped_topology_carries_gos_fields() {
    let mut sim = Simulation::new(SimConfig::members(12).seed(12));
    sim.start();
    let ids = all_ids(&sim);
    let hash = topology_hash(ids.iter().map(String::as_str));
    assert!(
        sim.run_until(Duration::from_secs(10), |s| agreed(s, hash))
            .is_some()
    );
    // Member 0 holds member 5's topology value, as Member 5 wrote it.
    let entry = sim
        .core(0)
        .state()
        .get(sim.id(5).as_str(), TOPOLOGY_KEY)
        .expect("relayed topology");
    let t: ClusterTopology = unpack(&entry.value).expect("a ClusterTopology");
    assert_eq!(t.topology_hash, hash);
    let members: Vec<&str> = t.members.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(members, ids, "members ascending by id");
    assert_eq!(t.joined.len(), 12);
    assert!(
        t.left.is_empty() && t.blocked.is_empty(),
        "Go leaves blocked empty by default"
    );
    // The events say the same.
    let reached = sim.node(3).events.iter().any(|e| {
        matches!(&e.event, ClusterEvent::ConsensusReached { check, value: ConsensusValue::U64(h) }
            if check == TOPOLOGY_CONSENSUS_CHECK && *h == hash)
    });
    assert!(reached);
}

#[test]
fn partition_heals_and_topologies_reconverge() {
    let n = 20;
    let mut sim = Simulation::new(SimConfig::members(n).seed(20));
    sim.start();
    let ids = all_ids(&sim);
    let hash = topology_hash(ids.iter().map(String::as_str));
    assert!(
        sim.run_until(Duration::from_secs(10), |s| agreed(s, hash))
            .is_some()
    );

    let a: Vec<usize> = (0..10).collect();
    let b: Vec<usize> = (10..19).collect();
    sim.partition(&[&a, &b]);
    // The provider (outside the partition) drops member 19 for everyone.
    sim.crash(19);
    let remaining: Vec<Member> = sim.nodes()[..19].iter().map(|n| n.member.clone()).collect();
    sim.provider_snapshot(&remaining);
    let new_hash = topology_hash(ids[..19].iter().map(String::as_str));
    sim.run_for(Duration::from_secs(12));
    assert!(sim.all_alive(|c| c.topology_hash() == new_hash));
    assert!(
        !agreed(&sim, new_hash),
        "the sides cannot see each other's topology values"
    );
    assert!(
        sim.all_alive(|c| c.blocked().len() == 1),
        "a partition shorter than the expiration blocks no one"
    );
    let suspects = sim
        .node(0)
        .events
        .iter()
        .filter(|e| matches!(e.event, ClusterEvent::MemberSuspect { .. }))
        .count();
    assert!(suspects >= 9, "the other side is suspected ({suspects})");

    sim.heal();
    let took = sim.run_until(Duration::from_secs(10), |s| agreed(s, new_hash));
    assert!(
        took.is_some(),
        "topologies reconverge after the partition heals"
    );
    sim.run_for(Duration::from_secs(2));
    for i in 0..19 {
        assert!(
            sim.core(i)
                .members()
                .all(|(id, st)| id.as_str() == ids[19]
                    || st == protogossip::gossip::MemberStatus::Up),
            "member {i}: every suspect is reachable again"
        );
    }
}

#[test]
fn a_run_is_reproducible_from_its_seed() {
    let run = |seed| {
        let network = protogossip::sim::NetworkConfig {
            drop_probability: 0.1,
            duplicate_probability: 0.1,
            ..Default::default()
        };
        let mut sim = Simulation::new(SimConfig::members(15).seed(seed).network(network));
        sim.start();
        sim.run_for(Duration::from_secs(5));
        let seqs: Vec<i64> = sim
            .nodes()
            .iter()
            .map(|n| n.core.sequence_number())
            .collect();
        let events: Vec<usize> = sim.nodes().iter().map(|n| n.events.len()).collect();
        (sim.stats(), seqs, events)
    };
    if std::env::var(protogossip::sim::SEED_ENV).is_err() {
        assert_eq!(run(7), run(7));
        assert_ne!(run(7).0, run(8).0);
    }
}
