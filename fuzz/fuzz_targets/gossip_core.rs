//! A `GossipCore` that already holds state, driven by a fuzzed sequence of
//! inputs: gossip requests and responses from peers (raw protobuf bytes, as
//! the transport would hand them over, or built from a fuzzed structure that
//! reaches deep states quickly), ticks, failed requests, our own writes,
//! provider snapshots and a leave. After every input it checks what the core
//! promises (docs/architecture.md, "The gossip core").
//!
//! Input format (so `fuzz/seed-corpora.sh` can write seeds; every read past
//! the end ends the run):
//! - byte 0: config (profile, suspicion, topology detail, publish_blocked,
//!   coalescing), then a sequence of ops, each an op byte `b`, `b % 9`:
//!   0 raw request `[from][len u16 LE][GossipRequest bytes]`,
//!   1 structured request `[from][state]`, 2 raw response
//!   `[token][len u16 LE][GossipResponse bytes]`, 3 structured response
//!   `[token][state]`, 4 request failed `[token]`, 5 tick `[ms u16 LE]`,
//!   6 set_state `[key][value]`, 7 provider snapshot `[member mask]`,
//!   8 leave.
//! - `from`: low 3 bits pick a sender address (a member's, ours, or a
//!   stranger's); bit 7 maps every owner of a raw state onto the member
//!   pool, so Go-written vectors reach known members.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use prost::Message;
use protogossip::wire::Any;
use protogossip::{
    gossip::{
        ClusterEvent, GossipConfig, GossipCore, GossipOutcome, RequestToken, Suspicion,
        TopologyDetail, UnixMillis,
    },
    wire::{
        Empty, HEARTBEAT_KEY, HEARTBEAT_KEY_2024_03, LEFT_KEY, TOPOLOGY_KEY, WireProfile, pack,
        proto::cluster::{
            ActorStatistics, ClusterTopology, GossipKeyValue, GossipMemberState, GossipRequest,
            GossipResponse, GossipState, Member, MemberHeartbeat,
        },
    },
};
use rand_core::SeedableRng;
use rand_xorshift::XorShiftRng;

const SELF_ID: &str = "fuzz-self";
/// Member ids: ours first.
const POOL: [&str; 5] = [SELF_ID, "m1", "m2", "m3", "m4"];
const KEYS: [&str; 5] = [
    HEARTBEAT_KEY,
    HEARTBEAT_KEY_2024_03,
    TOPOLOGY_KEY,
    LEFT_KEY,
    "app",
];
const URLS: [&str; 4] = [
    "type.googleapis.com/cluster.ClusterTopology",
    "type.googleapis.com/cluster.MemberHeartbeat",
    "type.googleapis.com/google.protobuf.Empty",
    "cluster.ClusterTopology",
];
const START: u64 = 1_700_000_000_000;

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.bytes(2)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let n = usize::from(self.byte()? % 16);
        Some(String::from_utf8_lossy(self.bytes(n)?).into_owned())
    }
    /// A member id from the pool, or any string.
    fn id(&mut self) -> Option<String> {
        let b = self.byte()?;
        match POOL.get(usize::from(b % 8)) {
            Some(id) => Some((*id).to_owned()),
            None => self.string(),
        }
    }
    fn key(&mut self) -> Option<String> {
        let b = self.byte()?;
        match KEYS.get(usize::from(b % 6)) {
            Some(k) => Some((*k).to_owned()),
            None => self.string(),
        }
    }
    /// Mostly small (so entries can win merges step by step), sometimes any i64.
    fn sequence(&mut self) -> Option<i64> {
        let b = self.byte()?;
        if b < 200 {
            Some(i64::from(b))
        } else {
            Some(self.u64()? as i64)
        }
    }
    fn value(&mut self) -> Option<Any> {
        Some(match self.byte()? % 5 {
            0 => pack(&MemberHeartbeat {
                actor_statistics: Some(ActorStatistics::default()),
            }),
            1 => {
                let hash = self.u64()?;
                let n = self.byte()? % 4;
                let mut blocked = Vec::new();
                for _ in 0..n {
                    blocked.push(self.id()?);
                }
                pack(&ClusterTopology {
                    topology_hash: hash,
                    blocked,
                    ..Default::default()
                })
            }
            2 => pack(&Empty {}),
            3 => {
                let url = match URLS.get(usize::from(self.byte()? % 5)) {
                    Some(u) => (*u).to_owned(),
                    None => self.string()?,
                };
                let n = usize::from(self.byte()?);
                Any {
                    type_url: url,
                    value: self.bytes(n)?.to_vec().into(),
                }
            }
            _ => Any::default(),
        })
    }
    fn state(&mut self) -> Option<GossipState> {
        let mut state = GossipState::default();
        for _ in 0..self.byte()? % 5 {
            let owner = self.id()?;
            let mut values = BTreeMap::new();
            for _ in 0..self.byte()? % 5 {
                let key = self.key()?;
                values.insert(
                    key.clone(),
                    GossipKeyValue {
                        sequence_number: self.sequence()?,
                        value: Some(self.value()?),
                        local_timestamp_unix_milliseconds: self.u64()? as i64,
                    },
                );
            }
            state.members.insert(owner, GossipMemberState { values });
        }
        Some(state)
    }
}

fn member(id: &str, i: usize) -> Member {
    Member {
        host: "127.0.0.1".into(),
        port: 9000 + i32::try_from(i).unwrap_or(0),
        id: id.into(),
        kinds: vec!["kind".into()],
    }
}

fn address(i: usize) -> String {
    format!("127.0.0.1:{}", 9000 + i)
}

fn config(b: u8) -> GossipConfig {
    GossipConfig::default()
        .with_heartbeat_expiration(std::time::Duration::from_secs(3))
        .with_block_retention(std::time::Duration::from_secs(10))
        .with_wire_profile(
            [
                WireProfile::Mixed,
                WireProfile::Go2024_03,
                WireProfile::Go2024_08,
            ][usize::from(b % 3)],
        )
        .with_suspicion(if b & 4 == 0 {
            Suspicion::default()
        } else {
            Suspicion::PhiAccrual {
                threshold: 8.0,
                min_samples: 3,
            }
        })
        .with_topology_detail(
            [
                TopologyDetail::Full,
                TopologyDetail::HashOnly,
                TopologyDetail::Off,
            ][usize::from((b >> 3) % 3)],
        )
        .with_publish_blocked(b & 0x20 != 0)
        .with_topology_coalesce(std::time::Duration::from_millis(if b & 0x40 != 0 {
            1000
        } else {
            0
        }))
        .with_gossip_update_events(b & 0x80 == 0)
}

/// Maps every owner of `state` onto the member pool.
fn remap_owners(state: &mut GossipState) {
    let members = std::mem::take(&mut state.members);
    for (owner, s) in members {
        let i = owner.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        state
            .members
            .entry(POOL[i % POOL.len()].to_owned())
            .or_default()
            .values
            .extend(s.values);
    }
}

/// A raw message `[len u16 LE][protobuf bytes]`, its owners mapped onto the
/// pool when `remap`; `Some(None)` when the bytes do not decode (the
/// transport would have dropped it).
fn raw<M: Message + Default>(
    r: &mut Reader,
    remap: bool,
    state: impl FnOnce(&mut M) -> Option<&mut GossipState>,
) -> Option<Option<M>> {
    let n = usize::from(r.u16()?);
    let Ok(mut m) = M::decode(r.bytes(n)?) else {
        return Some(None);
    };
    if remap && let Some(s) = state(&mut m) {
        remap_owners(s);
    }
    Some(Some(m))
}

/// One of our requests in flight (or, past the end, a token never issued).
fn take_token(pending: &mut BTreeMap<u64, String>, pick: u8) -> RequestToken {
    let token = pending
        .keys()
        .nth(usize::from(pick) % (pending.len() + 1))
        .copied()
        .unwrap_or(u64::from(pick));
    pending.remove(&token);
    RequestToken(token)
}

/// What the core promises about every message it writes: a request always
/// carries state, and no owner in it is empty (both crash Go, Q-G10).
fn check_sent_state(state: &GossipState) {
    for (owner, s) in &state.members {
        assert!(!s.values.is_empty(), "empty owner {owner:?} sent");
    }
}

fn check_outcome(core: &GossipCore, out: &GossipOutcome, pending: &mut BTreeMap<u64, String>) {
    let mut targets = Vec::new();
    for r in &out.requests {
        assert_ne!(r.target.as_str(), SELF_ID, "gossip to ourselves");
        assert_eq!(
            r.request.from_member_id,
            r.target.as_str(),
            "Go's from_member_id rule"
        );
        let state = r
            .request
            .state
            .as_ref()
            .expect("a request always carries state");
        check_sent_state(state);
        assert!(
            !targets.contains(&r.target),
            "two requests to one target in one outcome"
        );
        targets.push(r.target.clone());
        pending.insert(r.token.0, r.target.as_str().to_owned());
    }
    for e in &out.events {
        match &e.event {
            ClusterEvent::MemberBlocked { id, .. } => assert_ne!(id.as_str(), SELF_ID),
            ClusterEvent::TopologyUpdated { blocked, .. } => {
                assert!(blocked.iter().all(|b| b.as_str() != SELF_ID))
            }
            _ => {}
        }
    }
    assert!(!core.is_blocked(SELF_ID), "the core blocked itself");
}

type Entries = BTreeMap<(String, String), (i64, Any)>;

fn entries(core: &GossipCore) -> Entries {
    let mut all = BTreeMap::new();
    for (owner, s) in core.state().owners() {
        for (key, e) in s.entries() {
            all.insert(
                (owner.as_str().to_owned(), key.to_owned()),
                (e.sequence_number, e.value.clone()),
            );
        }
    }
    all
}

/// After a peer's input: our own entries changed only where the core wrote
/// them itself (with its own counter), and no entry went backwards.
fn check_peer_input(core: &GossipCore, before: &Entries, seq_before: i64, after: &Entries) {
    let seq_after = core.sequence_number();
    assert!(seq_after >= seq_before, "our sequence went backwards");
    for ((owner, key), (seq, value)) in after {
        if owner == SELF_ID {
            match before.get(&(owner.clone(), key.clone())) {
                Some((s, v)) if s == seq && v == value => {}
                _ => assert!(
                    *seq > seq_before && *seq <= seq_after,
                    "our entry {key:?} overwritten by a peer: seq {seq}, ours {seq_before}..={seq_after}"
                ),
            }
        }
        if let Some((s, _)) = before.get(&(owner.clone(), key.clone())) {
            assert!(seq >= s, "{owner}/{key} went back from {s} to {seq}");
        }
    }
}

fn run(data: &[u8]) -> Option<()> {
    let mut r = Reader(data);
    let mut now = UnixMillis(START);
    let mut rng = XorShiftRng::seed_from_u64(7);
    let mut core = GossipCore::new(SELF_ID, config(r.byte()?)).expect("valid config");
    let mut pending: BTreeMap<u64, String> = BTreeMap::new();
    let mut leaves = 0;
    // A core that already holds state: the members, a tick, an app value,
    // and heartbeats and a topology from m1.
    let all: Vec<Member> = POOL
        .iter()
        .enumerate()
        .map(|(i, id)| member(id, i))
        .collect();
    let out = core.on_provider_snapshot(all, now);
    check_outcome(&core, &out, &mut pending);
    now = now.after(std::time::Duration::from_millis(1000));
    let out = core.tick(now, &mut rng);
    check_outcome(&core, &out, &mut pending);
    let out = core.set_state("app", pack(&Empty {}), now);
    check_outcome(&core, &out, &mut pending);
    let mut warm = GossipState::default();
    let mut values = BTreeMap::new();
    for (i, key) in [HEARTBEAT_KEY, TOPOLOGY_KEY].into_iter().enumerate() {
        values.insert(
            key.to_owned(),
            GossipKeyValue {
                sequence_number: 3 + i as i64,
                value: Some(if key == TOPOLOGY_KEY {
                    pack(&ClusterTopology::default())
                } else {
                    pack(&MemberHeartbeat::default())
                }),
                local_timestamp_unix_milliseconds: 1,
            },
        );
    }
    warm.members
        .insert("m1".into(), GossipMemberState { values });
    let warm = core.on_gossip_request(
        &address(1),
        GossipRequest {
            from_member_id: SELF_ID.into(),
            state: Some(warm),
        },
        now,
    );
    check_outcome(&core, &warm.outcome, &mut pending);

    loop {
        let op = r.byte()? % 9;
        let before = entries(&core);
        let seq_before = core.sequence_number();
        match op {
            0 | 1 => {
                let from = r.byte()?;
                let addr = match usize::from(from & 7) {
                    i if i < POOL.len() => address(i),
                    5 => "10.9.9.9:1".to_owned(),
                    _ => String::new(),
                };
                let request = if op == 0 {
                    let remap = from & 0x80 != 0;
                    let Some(request) = raw::<GossipRequest>(&mut r, remap, |m| m.state.as_mut())?
                    else {
                        continue;
                    };
                    request
                } else {
                    GossipRequest {
                        from_member_id: SELF_ID.into(),
                        state: Some(r.state()?),
                    }
                };
                let answer = core.on_gossip_request(&addr, request, now);
                check_outcome(&core, &answer.outcome, &mut pending);
                if let Some(state) = &answer.response.state {
                    check_sent_state(state);
                    let requester = usize::from(from & 7);
                    if (1..POOL.len()).contains(&requester) {
                        assert!(
                            !state.members.contains_key(POOL[requester]),
                            "a response carried the requester's own state"
                        );
                    }
                }
                check_peer_input(&core, &before, seq_before, &entries(&core));
            }
            2 | 3 => {
                let pick = r.byte()?;
                let token = take_token(&mut pending, pick);
                let response = if op == 2 {
                    let remap = pick & 0x80 != 0;
                    let Some(response) =
                        raw::<GossipResponse>(&mut r, remap, |m| m.state.as_mut())?
                    else {
                        continue;
                    };
                    response
                } else {
                    GossipResponse {
                        state: Some(r.state()?),
                    }
                };
                let out = core.on_gossip_response(token, response, now);
                check_outcome(&core, &out, &mut pending);
                check_peer_input(&core, &before, seq_before, &entries(&core));
            }
            4 => {
                let pick = r.byte()?;
                let token = take_token(&mut pending, pick);
                let out = core.on_request_failed(token, now);
                check_outcome(&core, &out, &mut pending);
                assert_eq!(entries(&core), before, "a failed request changed the state");
            }
            5 => {
                now = now.after(std::time::Duration::from_millis(u64::from(r.u16()?)));
                let out = core.tick(now, &mut rng);
                check_outcome(&core, &out, &mut pending);
                assert!(
                    core.sequence_number() > seq_before,
                    "a tick writes our heartbeat"
                );
            }
            6 => {
                let key = r.key()?;
                let value = r.value()?;
                let out = core.set_state(&key, value.clone(), now);
                check_outcome(&core, &out, &mut pending);
                let e = core.state().get(SELF_ID, &key).expect("our write is kept");
                assert_eq!(e.value, value);
                assert!(e.sequence_number > seq_before);
            }
            7 => {
                let mask = r.byte()?;
                let mut members = vec![member(SELF_ID, 0)];
                for (i, id) in POOL.iter().enumerate().skip(1) {
                    if mask & (1 << i) != 0 {
                        members.push(member(id, i));
                    }
                }
                if mask & 0x80 != 0 {
                    members.push(member(&r.string()?, 7));
                }
                let out = core.on_provider_snapshot(members, now);
                check_outcome(&core, &out, &mut pending);
            }
            _ => {
                leaves += 1;
                let out = core.leave(now);
                check_outcome(&core, &out, &mut pending);
                assert!(core.state().get(SELF_ID, LEFT_KEY).is_some());
            }
        }
        // At most one request in flight per member, plus one per member for
        // each leave (which sends to everyone at once, Q-G12).
        assert!(core.pending_requests() <= (POOL.len() + 1) * (1 + leaves));
    }
}

fuzz_target!(|data: &[u8]| {
    run(data);
});
