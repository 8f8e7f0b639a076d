//! Members with Go's default `topology` value (`TopologyDetail::Full`, every
//! member listed in every owner's value) reach one topology hash, and what it
//! costs (issue 14, item 4): CPU per member per round and memory per member
//! against the raw gossip bytes a member holds.
//!
//! Two runs, one after the other (the allocator's counters are global):
//! - 1 000 members passing the messages themselves (`SimConfig::encode`
//!   off): the cores do all their work on the same messages, the codec is
//!   left out. `PROTOGOSSIP_SIM_N` changes the size.
//! - 200 members over real protobuf bytes, every message encoded and
//!   decoded: what the codec adds. `PROTOGOSSIP_SIM_N_ENCODED` changes the
//!   size.
//!
//! At N = 1 000 one owner's first topology value is ≈ 46 KB and each member
//! holds one per owner, ≈ 23–46 MB per member. The simulator shares equal
//! values between its members (by reference, or through
//! `sim/shared_values.rs` when it decodes), so the values are held once in
//! this process, not once per member; memory per member is then what a
//! member holds besides them (its maps, keys, watermarks, its share of the
//! simulator). A real member holds the raw bytes plus that overhead, and the
//! test asserts it is within 2× of the raw bytes, on bytes counted by the
//! allocator below (deterministic for a seed), not on RSS.
//!
//! Times are printed, never asserted (docs/performance.md has the figures).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use prost::Message;
use protogossip::gossip::{ConsensusState, ConsensusValue, GossipConfig, TOPOLOGY_CONSENSUS_CHECK};
use protogossip::sim::{SimConfig, Simulation};
use protogossip::wire::{TOPOLOGY_KEY, WireProfile, topology_hash};

/// The system allocator, counting the bytes live now and at most.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only
// observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

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

const MIB: f64 = 1024.0 * 1024.0;

/// One run at a time: the counters above are the whole process's.
static SERIAL: Mutex<()> = Mutex::new(());

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// How long a run goes.
#[derive(Debug, Clone, Copy)]
enum Until {
    /// Every member agrees on the topology hash of all members, then 5
    /// rounds more (the steady cost).
    Consensus,
    /// This many rounds, after which at least `min_held` of the N² (member,
    /// owner) topology values must be held.
    Rounds { rounds: usize, min_held: f64 },
}

#[test]
fn a_thousand_members_with_full_topology_spread_it_within_twice_the_raw_bytes() {
    // To consensus it takes 49 rounds at N = 1 000 and about 12 minutes of
    // CPU, more than CI's time (docs/performance.md); CI runs 10 rounds, in
    // which this loss-free cluster spreads 89.3 % of the values (seed 14).
    // Spread as 1 − e^(−k·rounds), that is k ≈ 0.22 a round; half of it
    // would leave 67 % held, well under the 80 % asserted.
    let until = if std::env::var_os("PROTOGOSSIP_SIM_UNTIL_CONSENSUS").is_some() {
        Until::Consensus
    } else {
        Until::Rounds {
            rounds: 10,
            min_held: 0.80,
        }
    };
    run(size("PROTOGOSSIP_SIM_N", 1000), false, until);
}

#[test]
fn members_over_real_bytes_with_full_topology_agree_within_twice_the_raw_bytes() {
    run(
        size("PROTOGOSSIP_SIM_N_ENCODED", 200),
        true,
        Until::Consensus,
    );
}

/// The share of the N² (member, owner) topology values held.
fn topology_held(sim: &Simulation, n: usize) -> f64 {
    let held: usize = sim
        .nodes()
        .iter()
        .map(|m| m.core.state().values_for_key(TOPOLOGY_KEY).count())
        .sum();
    held as f64 / (n * n) as f64
}

fn run(n: usize, encode: bool, until: Until) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let gossip = GossipConfig::default()
        .with_gossip_update_events(false)
        .with_wire_profile(WireProfile::Go2024_08);
    let interval = gossip.gossip_interval;
    let live0 = LIVE.load(Ordering::Relaxed);
    let mut sim = Simulation::new(
        SimConfig::members(n)
            .seed(14)
            .gossip(gossip)
            .record_events(false)
            .encode(encode),
    );
    sim.start();
    let ids: Vec<String> = sim.nodes().iter().map(|m| m.id.to_string()).collect();
    let hash = topology_hash(ids.iter().map(String::as_str));
    let agreed = |s: &Simulation| {
        s.all_alive(|c| {
            c.consensus(TOPOLOGY_CONSENSUS_CHECK)
                == Some(ConsensusState::Reached(ConsensusValue::U64(hash)))
        })
    };

    let cpu0 = thread_cpu();
    let mut per_round = Vec::new();
    let mut held = 0.0;
    let done = |sim: &Simulation, rounds: usize| match until {
        Until::Consensus => agreed(sim),
        Until::Rounds { rounds: r, .. } => rounds == r,
    };
    while !done(&sim, per_round.len()) {
        assert!(
            per_round.len() < 60,
            "no topology consensus within 60 rounds (seed {})",
            sim.seed()
        );
        let c = thread_cpu();
        sim.run_for(interval);
        per_round.push((thread_cpu() - c).as_millis());
        held = topology_held(&sim, n);
        eprintln!(
            "N={n} (encoded: {encode}) round {}: {} ms CPU, topology values held {:.2}% of N², {} MiB live, {:?}",
            per_round.len(),
            per_round[per_round.len() - 1],
            held * 100.0,
            LIVE.load(Ordering::Relaxed) >> 20,
            sim.stats()
        );
    }
    let rounds = per_round.len();
    let startup = thread_cpu() - cpu0;
    let steady = match until {
        Until::Consensus => {
            let c = thread_cpu();
            sim.run_for(interval * 5);
            let steady = (thread_cpu() - c) / 5;
            assert!(agreed(&sim), "consensus holds after 5 more rounds");
            assert!(
                sim.all_alive(|c| c.state().owner_count() == n
                    && c.state().values_for_key(TOPOLOGY_KEY).count() == n),
                "every member holds every owner's topology value"
            );
            Some(steady)
        }
        Until::Rounds { min_held, .. } => {
            assert!(
                held >= min_held,
                "after {rounds} rounds the members hold {:.1}% of the topology values, want ≥ {:.0}% (seed {})",
                held * 100.0,
                min_held * 100.0,
                sim.seed()
            );
            None
        }
    };

    // Raw gossip bytes a member holds: its state as Go would send it whole.
    let raw: Vec<usize> = (0..n)
        .map(|i| sim.core(i).state().to_proto().encoded_len())
        .collect();
    let raw_per_member = raw.iter().sum::<usize>() as f64 / n as f64;
    let shared = sim.shared_value_bytes();
    let live = LIVE.load(Ordering::Relaxed).saturating_sub(live0);
    let own_per_member = live.saturating_sub(shared) as f64 / n as f64;
    let ratio = (raw_per_member + own_per_member) / raw_per_member;
    eprintln!(
        "N={n} (encoded: {encode}, until {until:?}): {rounds} rounds ({:?} virtual); CPU start-up {startup:?} = {:.3} ms/member/round, \
         steady {:?} ms/member/round; CPU ms per round {per_round:?}; \
         raw gossip bytes per member {:.2} MiB; values held once {:.1} MiB; live heap {:.1} MiB (peak {:.1} MiB) = \
         {:.3} MiB/member besides the values; a member on its own: {ratio:.2}× its raw bytes; RSS {} MiB, peak {} MiB; {:?}",
        sim.elapsed(),
        startup.as_secs_f64() * 1e3 / (n as f64 * rounds as f64),
        steady.map(|s| s.as_secs_f64() * 1e3 / n as f64),
        raw_per_member / MIB,
        shared as f64 / MIB,
        live as f64 / MIB,
        PEAK.load(Ordering::Relaxed) as f64 / MIB,
        own_per_member / MIB,
        status_kib("VmRSS:") / 1024,
        status_kib("VmHWM:") / 1024,
        sim.stats()
    );
    assert!(
        ratio <= 2.0,
        "a member would hold {ratio:.2}× its raw gossip bytes ({:.0} B of its own per member, {:.0} B raw)",
        own_per_member,
        raw_per_member
    );
}
