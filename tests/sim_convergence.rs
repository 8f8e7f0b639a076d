//! Epidemic convergence at 1 000 members, with and without loss.
//!
//! A value set by one member must reach every member within the round
//! bound derived in `docs/architecture.md` ("Convergence"):
//!
//!   R(N, f, p) = ⌈log_{1+f'} N + ln N / f'⌉ + 2,   f' = f · (1 − p)
//!
//! (push gossip with fan-out f' effective targets per round; +2 rounds for
//! tick phases and the one-interval check granularity). For N = 1 000,
//! f = 3: R = 10 at p = 0 and R = 10 at p = 0.1.

use protogossip::gossip::{GossipConfig, TopologyDetail};
use protogossip::sim::{NetworkConfig, SimConfig, Simulation};
use protogossip::wire::Any;
use protogossip::wire::WireProfile;

/// The round bound of the docs.
fn round_bound(n: usize, fan_out: usize, loss: f64) -> u32 {
    let f = fan_out as f64 * (1.0 - loss);
    let n = n as f64;
    let r = n.ln() / (1.0 + f).ln() + n.ln() / f;
    r.ceil() as u32 + 2
}

fn rumour_rounds(loss: f64, seed: u64) -> (u32, u32) {
    let n = 1000;
    let gossip = GossipConfig::default()
        // No start-up flood of 1 000 topology values: measure one rumour
        // over the steady heartbeat traffic (the 300-member test covers the
        // topology flood).
        .with_topology_detail(TopologyDetail::Off)
        .with_gossip_update_events(false)
        .with_wire_profile(WireProfile::Go2024_08);
    let interval = gossip.gossip_interval;
    let bound = round_bound(n, gossip.gossip_fan_out, loss);
    let mut sim = Simulation::new(
        SimConfig::members(n)
            .seed(seed)
            .gossip(gossip)
            .network(NetworkConfig::lossy(loss))
            .record_events(false),
    );
    sim.start();
    sim.run_for(interval * 2);
    let rumour = Any {
        type_url: "type.googleapis.com/test.Rumour".into(),
        value: b"hello".to_vec().into(),
    };
    sim.set_state(0, "rumour", rumour);
    let source = sim.id(0).clone();
    let took = sim
        .run_until(interval * (bound + 5), |s| {
            s.all_alive(|c| c.state().get(source.as_str(), "rumour").is_some())
        })
        .unwrap_or_else(|| {
            panic!(
                "rumour did not reach all {n} members within {} rounds",
                bound + 5
            )
        });
    let rounds = took.as_millis().div_ceil(interval.as_millis()) as u32;
    eprintln!(
        "N={n} loss={loss}: rumour everywhere after {rounds} rounds (bound {bound}), {:?}",
        sim.stats()
    );
    (rounds, bound)
}

#[test]
fn bound_matches_the_derivation() {
    assert_eq!(round_bound(1000, 3, 0.0), 10);
    assert_eq!(round_bound(1000, 3, 0.1), 10);
    assert!(round_bound(10_000, 3, 0.0) > round_bound(1000, 3, 0.0));
}

#[test]
fn thousand_members_converge_within_the_bound_without_loss() {
    let (rounds, bound) = rumour_rounds(0.0, 1000);
    assert!(rounds <= bound, "{rounds} rounds > bound {bound}");
}

#[test]
fn thousand_members_converge_within_the_bound_at_ten_percent_loss() {
    let (rounds, bound) = rumour_rounds(0.1, 1010);
    assert!(rounds <= bound, "{rounds} rounds > bound {bound}");
}

/// Passing the messages themselves (`SimConfig::encode` off, for runs too
/// large to encode every message) changes nothing the members see: the same
/// seed gives the same states, the same counters and the same byte count as
/// encoding and decoding every message.
#[test]
fn passing_messages_instead_of_bytes_changes_nothing_the_members_see() {
    let run = |encode: bool| {
        let mut sim = Simulation::new(
            SimConfig::members(30)
                .seed(5)
                .gossip(GossipConfig::default().with_gossip_update_events(false))
                .network(NetworkConfig {
                    duplicate_probability: 0.05,
                    ..NetworkConfig::lossy(0.1)
                })
                .record_events(false)
                .encode(encode),
        );
        sim.start();
        sim.run_for(std::time::Duration::from_secs(6));
        sim.crash(3);
        sim.run_for(std::time::Duration::from_secs(6));
        let states: Vec<_> = (0..30).map(|i| sim.core(i).state().to_proto()).collect();
        (states, sim.stats())
    };
    let (encoded, encoded_stats) = run(true);
    let (passed, passed_stats) = run(false);
    assert!(encoded_stats.bytes > 0 && encoded_stats.dropped > 0 && encoded_stats.duplicated > 0);
    assert_eq!(encoded_stats, passed_stats);
    assert!(encoded == passed, "the members' states differ");
}
