//! Cost of Go's default `topology` value (`TopologyDetail::Full`) at scale
//! (issue 14, item 4): CPU per member per round and memory per member
//! against the raw gossip bytes a member holds. A measurement, not a CI
//! check (`#[ignore]`): `PROTOGOSSIP_SIM_N=300 cargo test --release
//! --all-features --test sim_topology_full -- --ignored --nocapture`.

use std::time::Duration;

use prost::Message;
use protogossip::gossip::{ConsensusState, ConsensusValue, GossipConfig, TOPOLOGY_CONSENSUS_CHECK};
use protogossip::sim::{SimConfig, Simulation};
use protogossip::wire::WireProfile;

/// This thread's CPU time (user + system), from /proc/thread-self/stat.
fn thread_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
#[ignore = "a measurement: run by hand (see the module docs)"]
fn full_topology_cost_per_member() {
    let n: usize = std::env::var("PROTOGOSSIP_SIM_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let gossip = GossipConfig::default()
        .with_gossip_update_events(false)
        .with_wire_profile(WireProfile::Go2024_08);
    let interval = gossip.gossip_interval;
    let rss0 = status_kib("VmRSS:");
    let mut sim = Simulation::new(
        SimConfig::members(n)
            .seed(14)
            .gossip(gossip)
            .record_events(false),
    );
    sim.start();
    let cpu0 = thread_cpu();
    let mut rounds = 0u32;
    let mut per_round = Vec::new();
    while rounds < 40 {
        let c = thread_cpu();
        sim.run_for(interval);
        rounds += 1;
        per_round.push(thread_cpu() - c);
        let hash = sim.core(0).topology_hash();
        if rounds >= 5
            && sim.all_alive(|c| {
                c.consensus(TOPOLOGY_CONSENSUS_CHECK)
                    == Some(ConsensusState::Reached(ConsensusValue::U64(hash)))
            })
        {
            break;
        }
    }
    let cpu = thread_cpu() - cpu0;
    let raw: usize = (0..n)
        .map(|i| sim.core(i).state().to_proto().encoded_len())
        .sum();
    let rss = status_kib("VmRSS:").saturating_sub(rss0);
    let steady = {
        let c = thread_cpu();
        sim.run_for(interval * 10);
        (thread_cpu() - c) / 10
    };
    eprintln!(
        "N={n}: {rounds} rounds to a full state everywhere; CPU {cpu:?} ({:.3} ms/member/round start-up, {:.3} ms/member/round steady); \
         per round {per_round:?}; RSS growth {} KiB = {:.0} KiB/member; raw gossip bytes {:.0} KiB/member (ratio {:.1}); peak {} KiB; {:?}",
        cpu.as_secs_f64() * 1e3 / (n as f64 * f64::from(rounds)),
        steady.as_secs_f64() * 1e3 / n as f64,
        rss,
        rss as f64 / n as f64,
        raw as f64 / 1024.0 / n as f64,
        rss as f64 * 1024.0 / raw as f64,
        status_kib("VmHWM:"),
        sim.stats()
    );
}
