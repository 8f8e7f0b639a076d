//! A deterministic cluster simulator (feature `test-util`).
//!
//! Many [`GossipCore`]s on one virtual clock exchange real protobuf bytes
//! (`GossipRequest`/`GossipResponse` encoded with prost and decoded on the
//! other side) through a seeded network that can drop, delay, duplicate and
//! partition. A run of a thousand members can pass the messages themselves
//! instead ([`SimConfig::encode()`]): the cores see the same messages, the
//! codec's cost is left out. It is just another driver of the sans-IO core:
//! it does what the tokio node does (ticks, sends, times requests out) with
//! a virtual clock, so timing-dependent behaviour is tested without
//! sleeping, and a run is reproducible from its seed. A run that panics
//! prints its seed; set `PROTOGOSSIP_SIM_SEED` to replay it.
//! Equal gossip values are held once for all members (see `shared_values`),
//! so a simulation of many members fits where their separate copies would not.
//!
//! A scenario reads like a script:
//!
//! ```
//! use core::time::Duration;
//! use protogossip::sim::{SimConfig, Simulation};
//!
//! let mut sim = Simulation::new(SimConfig::members(5).seed(1));
//! sim.start();
//! sim.run_for(Duration::from_secs(3));
//! sim.crash(4);
//! let blocked = sim.run_until(Duration::from_secs(30), |s| s.all_alive(|c| c.is_blocked(s.id(4).as_str())));
//! assert!(blocked.is_some());
//! ```

mod network;
mod shared_values;

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::Duration;

use prost::Message;
use prost::bytes::Bytes;
use rand_core::SeedableRng;
use rand_xorshift::XorShiftRng;

pub use network::NetworkConfig;
use shared_values::SharedValues;

use crate::gossip::{
    GossipConfig, GossipCore, GossipOutcome, MemberId, RequestToken, TimedEvent, UnixMillis,
};
use crate::wire::proto::cluster::{GossipRequest, GossipResponse, GossipState, Member};

/// The environment variable that overrides a simulation's seed.
pub const SEED_ENV: &str = "PROTOGOSSIP_SIM_SEED";

/// Settings of a [`Simulation`].
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed of every random choice (network, per-node RNGs, tick phases).
    pub seed: u64,
    /// Number of members.
    pub members: usize,
    /// The gossip settings every member uses.
    pub gossip: GossipConfig,
    /// The network.
    pub network: NetworkConfig,
    /// Keep each node's events (for assertions); off saves memory.
    pub record_events: bool,
    /// Virtual start time.
    pub start: UnixMillis,
    /// Encode every message to protobuf bytes and decode it on the other
    /// side (the default). Off, the messages themselves travel (their
    /// values are reference-counted, so nothing is copied) and the bytes
    /// they would have put on the wire are counted with `encoded_len`: the
    /// cores see identical messages, without the codec's cost, which at a
    /// thousand members with Go's full topology is megabytes per member and
    /// round (`tests/sim_topology_full.rs`).
    pub encode: bool,
}

impl SimConfig {
    /// `n` members, Go's default gossip settings, a loss-free network with
    /// 1–20 ms delays, seed from [`SEED_ENV`] or 1.
    pub fn members(n: usize) -> Self {
        let seed = std::env::var(SEED_ENV)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        Self {
            seed,
            members: n,
            gossip: GossipConfig::default(),
            network: NetworkConfig::default(),
            record_events: true,
            start: UnixMillis(1_700_000_000_000),
            encode: true,
        }
    }

    /// Sets the seed (unless [`SEED_ENV`] overrides it).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        if std::env::var(SEED_ENV).is_err() {
            self.seed = seed;
        }
        self
    }

    /// Sets the gossip settings.
    #[must_use]
    pub fn gossip(mut self, gossip: GossipConfig) -> Self {
        self.gossip = gossip;
        self
    }

    /// Sets the network.
    #[must_use]
    pub fn network(mut self, network: NetworkConfig) -> Self {
        self.network = network;
        self
    }

    /// Keeps (or not) every node's events.
    #[must_use]
    pub fn record_events(mut self, on: bool) -> Self {
        self.record_events = on;
        self
    }

    /// Encodes every message (true, the default) or passes the messages
    /// themselves (see [`SimConfig::encode()`]).
    #[must_use]
    pub fn encode(mut self, on: bool) -> Self {
        self.encode = on;
        self
    }
}

/// One simulated member.
#[derive(Debug)]
pub struct SimNode {
    /// Its member id.
    pub id: MemberId,
    /// Its `host:port`.
    pub address: String,
    /// Its provider record.
    pub member: Member,
    /// The core it runs.
    pub core: GossipCore,
    /// False once crashed or left.
    pub alive: bool,
    /// Its events, if recorded.
    pub events: Vec<TimedEvent>,
    rng: XorShiftRng,
    outstanding: BTreeSet<RequestToken>,
}

/// A message on the simulated wire: its protobuf bytes, or (with
/// [`SimConfig::encode()`] off) the message itself.
#[derive(Debug, Clone)]
enum Wire<T> {
    Encoded(Bytes),
    Message(T),
}

impl<T: Message + Default> Wire<T> {
    /// The message as it goes on the wire, and its length in bytes.
    fn send(message: T, encode: bool) -> (Self, usize) {
        if encode {
            let bytes = Bytes::from(message.encode_to_vec());
            let len = bytes.len();
            (Self::Encoded(bytes), len)
        } else {
            let len = message.encoded_len();
            (Self::Message(message), len)
        }
    }

    /// The message as the receiver sees it; values decoded from bytes are
    /// replaced by the allocations `shared` holds. Our own encoding always
    /// decodes, so failing is a bug.
    fn receive(
        self,
        shared: &mut SharedValues,
        state: impl FnOnce(&mut T) -> Option<&mut GossipState>,
    ) -> T {
        match self {
            Self::Encoded(bytes) => {
                let mut m = T::decode(bytes).expect("sim: our own encoding decodes");
                if let Some(s) = state(&mut m) {
                    shared.share(s);
                }
                m
            }
            Self::Message(m) => m,
        }
    }
}

#[derive(Debug)]
enum Item {
    Tick(usize),
    Request {
        from: usize,
        to: usize,
        token: RequestToken,
        message: Wire<GossipRequest>,
    },
    Response {
        to: usize,
        token: RequestToken,
        message: Wire<GossipResponse>,
    },
    Timeout {
        node: usize,
        token: RequestToken,
    },
    Stop(usize),
}

#[derive(Debug)]
struct Scheduled {
    at: u64,
    seq: u64,
    item: Item,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Counters of what the network did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Requests sent.
    pub requests: u64,
    /// Messages dropped (loss, partition or dead receiver).
    pub dropped: u64,
    /// Messages duplicated.
    pub duplicated: u64,
    /// Bytes put on the wire.
    pub bytes: u64,
}

/// The simulated cluster.
#[derive(Debug)]
pub struct Simulation {
    config: SimConfig,
    now: UnixMillis,
    nodes: Vec<SimNode>,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    rng: XorShiftRng,
    groups: Option<Vec<u32>>,
    cut: BTreeSet<(usize, usize)>,
    stats: SimStats,
    shared: SharedValues,
}

impl Drop for Simulation {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "simulation failed: seed = {} (replay with {SEED_ENV}={}), virtual time {} ms",
                self.config.seed,
                self.config.seed,
                self.now.millis_since(self.config.start)
            );
        }
    }
}

impl Simulation {
    /// Builds the members (`member-0000` … at `sim:10000` …); nothing runs
    /// until [`Self::start`].
    ///
    /// # Panics
    /// If `config.gossip` is invalid.
    pub fn new(config: SimConfig) -> Self {
        let mut rng = XorShiftRng::seed_from_u64(config.seed);
        let nodes = (0..config.members)
            .map(|i| {
                let id = format!("member-{i:04}");
                let member = Member {
                    host: "sim".into(),
                    port: 10_000 + i32::try_from(i).expect("member count fits i32"),
                    id: id.clone(),
                    kinds: vec![],
                };
                SimNode {
                    address: format!("sim:{}", member.port),
                    core: GossipCore::new(&id, config.gossip.clone()).expect("valid gossip config"),
                    id: MemberId::from(id),
                    member,
                    alive: true,
                    events: Vec::new(),
                    rng: XorShiftRng::seed_from_u64(rand_core::Rng::next_u64(&mut rng)),
                    outstanding: BTreeSet::new(),
                }
            })
            .collect();
        Self {
            now: config.start,
            config,
            nodes,
            queue: BinaryHeap::new(),
            seq: 0,
            rng,
            groups: None,
            cut: BTreeSet::new(),
            stats: SimStats::default(),
            shared: SharedValues::default(),
        }
    }

    /// Gives every member the full provider list and schedules each one's
    /// first tick at a random phase within one gossip interval.
    pub fn start(&mut self) {
        let all: Vec<Member> = self.nodes.iter().map(|n| n.member.clone()).collect();
        self.provider_snapshot(&all);
        let interval = self.interval_ms();
        for i in 0..self.nodes.len() {
            let phase = rand_core::Rng::next_u64(&mut self.rng) % interval;
            self.schedule(phase, Item::Tick(i));
        }
    }

    /// Gives every live member a provider snapshot.
    pub fn provider_snapshot(&mut self, members: &[Member]) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].alive {
                let out = self.nodes[i]
                    .core
                    .on_provider_snapshot(members.to_vec(), self.now);
                self.handle(i, out);
            }
        }
    }

    /// The seed of this run.
    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    /// The virtual time.
    pub fn now(&self) -> UnixMillis {
        self.now
    }

    /// The virtual time elapsed since the start.
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(self.now.millis_since(self.config.start))
    }

    /// Network counters.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// The total length of the gossip values the members hold, each
    /// allocation counted once: members share one per (owner, key, sequence
    /// number), through `sim/shared_values.rs` when messages are encoded,
    /// by passing the values themselves when not.
    pub fn shared_value_bytes(&mut self) -> usize {
        // Forget the versions no member holds any more.
        self.shared.sweep();
        let mut seen = std::collections::HashSet::new();
        self.nodes
            .iter()
            .flat_map(|n| n.core.state().owners())
            .flat_map(|(_, o)| o.entries())
            .map(|(_, e)| &e.value.value)
            .filter(|v| !v.is_empty() && seen.insert(v.as_ptr()))
            .map(|v| v.len())
            .sum()
    }

    /// Member `i`'s id.
    pub fn id(&self, i: usize) -> &MemberId {
        &self.nodes[i].id
    }

    /// Member `i`.
    pub fn node(&self, i: usize) -> &SimNode {
        &self.nodes[i]
    }

    /// Member `i`'s core.
    pub fn core(&self, i: usize) -> &GossipCore {
        &self.nodes[i].core
    }

    /// All members.
    pub fn nodes(&self) -> &[SimNode] {
        &self.nodes
    }

    /// True when `pred` holds for the core of every live member.
    pub fn all_alive(&self, mut pred: impl FnMut(&GossipCore) -> bool) -> bool {
        self.nodes.iter().filter(|n| n.alive).all(|n| pred(&n.core))
    }

    /// Member `i` stops at once: no more ticks, answers or sends.
    pub fn crash(&mut self, i: usize) {
        self.nodes[i].alive = false;
    }

    /// Member `i` leaves gracefully: sets `left`, pushes its state to every
    /// member, and stops one request timeout later.
    pub fn leave(&mut self, i: usize) {
        let out = self.nodes[i].core.leave(self.now);
        self.handle(i, out);
        let t = self.config.gossip.gossip_request_timeout.as_millis() as u64;
        self.schedule(t, Item::Stop(i));
    }

    /// Member `i` sets a gossip value.
    pub fn set_state(&mut self, i: usize, key: &str, value: crate::wire::Any) {
        let out = self.nodes[i].core.set_state(key, value, self.now);
        self.handle(i, out);
    }

    /// Splits the network: messages between members of different groups are
    /// lost. Members in no group form one more group.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        let mut g = vec![u32::MAX; self.nodes.len()];
        for (k, members) in groups.iter().enumerate() {
            for &i in *members {
                g[i] = u32::try_from(k).expect("few groups");
            }
        }
        self.groups = Some(g);
    }

    /// Cuts the link between members `a` and `b` (both directions): their
    /// messages to each other are lost; each still reaches everyone else.
    pub fn cut_link(&mut self, a: usize, b: usize) {
        self.cut.insert((a.min(b), a.max(b)));
    }

    /// Heals any partition and every cut link.
    pub fn heal(&mut self) {
        self.groups = None;
        self.cut.clear();
    }

    /// Changes the network's loss, delay and duplication.
    pub fn set_network(&mut self, network: NetworkConfig) {
        self.config.network = network;
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now.after(d);
        self.run_to(until);
    }

    /// Runs until `done` holds (checked every gossip interval) or `limit`
    /// has passed; returns the virtual time it took.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Option<Duration> {
        let start = self.now;
        let deadline = self.now.after(limit);
        let step = self.config.gossip.gossip_interval;
        loop {
            if done(self) {
                return Some(Duration::from_millis(self.now.millis_since(start)));
            }
            if self.now >= deadline {
                return None;
            }
            let next = self.now.after(step).min(deadline);
            self.run_to(next);
        }
    }

    fn interval_ms(&self) -> u64 {
        self.config.gossip.gossip_interval.as_millis() as u64
    }

    fn schedule(&mut self, after_ms: u64, item: Item) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at: self.now.0 + after_ms,
            seq: self.seq,
            item,
        }));
    }

    fn run_to(&mut self, until: UnixMillis) {
        while let Some(Reverse(next)) = self.queue.peek() {
            if next.at > until.0 {
                break;
            }
            let Some(Reverse(s)) = self.queue.pop() else {
                break;
            };
            self.now = UnixMillis(s.at);
            self.dispatch(s.item);
        }
        self.now = until;
    }

    fn dispatch(&mut self, item: Item) {
        let now = self.now;
        match item {
            Item::Tick(i) => {
                if !self.nodes[i].alive {
                    return;
                }
                let node = &mut self.nodes[i];
                let out = node.core.tick(now, &mut node.rng);
                self.handle(i, out);
                let interval = self.interval_ms();
                self.schedule(interval, Item::Tick(i));
            }
            Item::Stop(i) => self.nodes[i].alive = false,
            Item::Request {
                from,
                to,
                token,
                message,
            } => {
                if !self.nodes[to].alive || !self.connected(from, to) {
                    self.stats.dropped += 1;
                    return;
                }
                let request = message.receive(&mut self.shared, |r| r.state.as_mut());
                let from_address = self.nodes[from].address.clone();
                let r = self.nodes[to]
                    .core
                    .on_gossip_request(&from_address, request, now);
                self.handle(to, r.outcome);
                let (message, len) = Wire::send(r.response, self.config.encode);
                self.transmit(to, from, len);
                if self.network_drops(to, from) {
                    return;
                }
                let d = self.delay();
                self.schedule(
                    d,
                    Item::Response {
                        to: from,
                        token,
                        message,
                    },
                );
            }
            Item::Response { to, token, message } => {
                if !self.nodes[to].alive || !self.nodes[to].outstanding.remove(&token) {
                    return;
                }
                let response = message.receive(&mut self.shared, |r| r.state.as_mut());
                let out = self.nodes[to].core.on_gossip_response(token, response, now);
                self.handle(to, out);
            }
            Item::Timeout { node, token } => {
                if self.nodes[node].outstanding.remove(&token) {
                    let out = self.nodes[node].core.on_request_failed(token, now);
                    self.handle(node, out);
                }
            }
        }
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.groups.as_ref().is_none_or(|g| g[a] == g[b])
            && !self.cut.contains(&(a.min(b), a.max(b)))
    }

    fn transmit(&mut self, _from: usize, _to: usize, len: usize) {
        self.stats.bytes += len as u64;
    }

    fn network_drops(&mut self, from: usize, to: usize) -> bool {
        let lost = !self.connected(from, to)
            || network::chance(&mut self.rng, self.config.network.drop_probability);
        if lost {
            self.stats.dropped += 1;
        }
        lost
    }

    fn delay(&mut self) -> u64 {
        network::delay_ms(&mut self.rng, &self.config.network)
    }

    fn handle(&mut self, i: usize, out: GossipOutcome) {
        if self.config.record_events {
            self.nodes[i].events.extend(out.events);
        }
        let timeout = self.config.gossip.gossip_request_timeout.as_millis() as u64;
        for req in out.requests {
            let Some(to) = self.index_of(&req.address) else {
                continue;
            };
            self.stats.requests += 1;
            self.nodes[i].outstanding.insert(req.token);
            self.schedule(
                timeout,
                Item::Timeout {
                    node: i,
                    token: req.token,
                },
            );
            let (message, len) = Wire::send(req.request, self.config.encode);
            self.transmit(i, to, len);
            if self.network_drops(i, to) {
                continue;
            }
            if network::chance(&mut self.rng, self.config.network.duplicate_probability) {
                self.stats.duplicated += 1;
                let d = self.delay();
                self.schedule(
                    d,
                    Item::Request {
                        from: i,
                        to,
                        token: req.token,
                        message: message.clone(),
                    },
                );
            }
            let d = self.delay();
            self.schedule(
                d,
                Item::Request {
                    from: i,
                    to,
                    token: req.token,
                    message,
                },
            );
        }
    }

    fn index_of(&self, address: &str) -> Option<usize> {
        let port: i32 = address.strip_prefix("sim:")?.parse().ok()?;
        usize::try_from(port - 10_000)
            .ok()
            .filter(|i| *i < self.nodes.len())
    }
}
