//! [`GossipCore`]: one cluster member's gossip, membership and consensus as
//! a pure state machine.
//!
//! Every input takes the current time; inputs that choose at random take an
//! RNG. Every input returns a [`GossipOutcome`]: requests for the driver to
//! send and events to publish. Nothing here blocks, sleeps, reads a clock or
//! does I/O, so a run is reproducible from its inputs.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::convert::Infallible;

use prost::Message;
use prost_types::Any;
use rand_core::{Rng, TryRng};

use super::config::{ConfigError, GossipConfig, Suspicion, TopologyDetail};
use super::consensus::{CheckRuntime, ConsensusChange, ConsensusCheck, ConsensusState};
use super::event::{BlockReason, ClusterEvent, TimedEvent};
use super::gossip_state::{GossipEntry, GossipState, GossipUpdate, OwnerState};
use super::member_list::{BlockEntry, MemberList, TopologyChange, address_of};
use super::member_state_delta::{MemberStateDelta, Watermarks, build_delta, build_delta_with};
use super::member_status::MemberStatus;
use super::owner_alias::OwnerAliases;
use super::types::{MemberId, RequestToken, UnixMillis};
use crate::wire::any::type_url_matches;
use crate::wire::proto::cluster::{
    ActorStatistics, ClusterTopology, GossipRequest, GossipResponse, GossipState as ProtoState,
    Member, MemberHeartbeat,
};
use crate::wire::{Empty, LEFT_KEY, TOPOLOGY_KEY, pack};

/// A gossip request for the driver to send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundGossip {
    /// The target member.
    pub target: MemberId,
    /// Its address, `host:port`; send to PID `{address, "gossip"}`.
    pub address: String,
    /// The message (`from_member_id` is the TARGET's id, as Go sends it).
    pub request: GossipRequest,
    /// Hand this back with the answer or the failure.
    pub token: RequestToken,
}

/// What an input produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GossipOutcome {
    /// Requests to send now.
    pub requests: Vec<OutboundGossip>,
    /// Events, in the order they happened.
    pub events: Vec<TimedEvent>,
}

impl GossipOutcome {
    /// Appends another outcome.
    pub fn extend(&mut self, other: GossipOutcome) {
        self.requests.extend(other.requests);
        self.events.extend(other.events);
    }

    fn push(&mut self, at: UnixMillis, event: ClusterEvent) {
        self.events.push(TimedEvent { at, event });
    }
}

/// The answer to an inbound `GossipRequest`, and what handling it produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GossipRequestOutcome {
    /// Reply with this to the request's sender.
    pub response: GossipResponse,
    /// Requests and events.
    pub outcome: GossipOutcome,
}

#[derive(Debug, Clone)]
struct PendingRequest {
    target: MemberId,
    marks: Vec<(MemberId, i64)>,
    sent_at: UnixMillis,
}

#[derive(Debug, Clone)]
struct MemberRecord {
    status: MemberStatus,
    since: UnixMillis,
    last_beat: Option<UnixMillis>,
    mean_interval_ms: f64,
    samples: u32,
}

impl MemberRecord {
    fn new(status: MemberStatus, since: UnixMillis) -> Self {
        Self {
            status,
            since,
            last_beat: None,
            mean_interval_ms: 0.0,
            samples: 0,
        }
    }
}

/// SplitMix64: the core's own RNG for inputs that take none (answers to
/// inbound requests), reseeded from the driver's RNG on every tick so runs
/// stay reproducible from the driver's seed.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl TryRng for SplitMix {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

/// The part of `cluster.ClusterTopology` the core reads from gossip: the
/// hash (consensus) and `blocked` (Go applies every list it receives).
/// Decoding only these skips the member lists, which are large.
#[derive(Clone, PartialEq, prost::Message)]
struct TopologyHeader {
    #[prost(uint64, tag = "1")]
    topology_hash: u64,
    #[prost(string, repeated, tag = "5")]
    blocked: Vec<String>,
}

/// Reads (hash, blocked) from a packed `ClusterTopology`.
pub(crate) fn topology_header(any: &Any) -> Option<(u64, Vec<String>)> {
    if !type_url_matches(&any.type_url, "cluster.ClusterTopology") {
        return None;
    }
    let h = TopologyHeader::decode(any.value.as_slice()).ok()?;
    Some((h.topology_hash, h.blocked))
}

fn uniform(rng: &mut impl Rng, n: usize) -> usize {
    ((u64::from(rng.next_u32()) * n as u64) >> 32) as usize
}

/// One member's gossip, membership and consensus.
pub struct GossipCore {
    config: GossipConfig,
    self_id: MemberId,
    state: GossipState,
    sequence: i64,
    watermarks: Watermarks,
    members: MemberList,
    active_ids: BTreeSet<MemberId>,
    aliases: OwnerAliases,
    records: BTreeMap<MemberId, MemberRecord>,
    checks: Vec<CheckRuntime>,
    pending: BTreeMap<RequestToken, PendingRequest>,
    next_token: u64,
    snapshot: Option<(Vec<Member>, UnixMillis)>,
    rng: SplitMix,
}

impl core::fmt::Debug for GossipCore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GossipCore")
            .field("self_id", &self.self_id)
            .field("sequence", &self.sequence)
            .field("owners", &self.state.owner_count())
            .field("topology_hash", &self.members.topology_hash())
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl GossipCore {
    /// A core for member `self_id` (the actor system id Go uses as gossip
    /// owner id), with the topology-hash consensus check registered.
    ///
    /// # Errors
    /// The [`ConfigError`] of an invalid `config`.
    pub fn new(self_id: &str, config: GossipConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let self_id = MemberId::new(self_id);
        let seed = self_id
            .as_str()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        let state = GossipState::new(config.wire_profile);
        let mut core = Self {
            members: MemberList::new(self_id.clone()),
            config,
            self_id,
            state,
            sequence: 0,
            watermarks: Watermarks::default(),
            active_ids: BTreeSet::new(),
            aliases: OwnerAliases::default(),
            records: BTreeMap::new(),
            checks: Vec::new(),
            pending: BTreeMap::new(),
            next_token: 0,
            snapshot: None,
            rng: SplitMix(seed),
        };
        core.checks.push(CheckRuntime::new(
            ConsensusCheck::topology_hash(),
            &core.state,
            &core.aliases,
            &core.active_ids,
        ));
        Ok(core)
    }

    // ----- inputs -------------------------------------------------------

    /// The gossip tick (every `gossip_interval`): applies a coalesced
    /// provider snapshot that is due, expires heartbeats (blocking) and
    /// updates statuses, writes our heartbeat key(s), and picks up to
    /// `gossip_fan_out` random members with something to receive.
    pub fn tick(&mut self, now: UnixMillis, rng: &mut impl Rng) -> GossipOutcome {
        let mut out = GossipOutcome::default();
        self.rng = SplitMix(rng.next_u64());
        self.apply_snapshot_if_due(now, &mut out);
        let stale = now
            .millis_since(UnixMillis(0))
            .saturating_sub(2 * self.config.gossip_request_timeout.as_millis() as u64);
        self.pending.retain(|_, p| p.sent_at.0 >= stale);
        for id in self.members.expire_blocks(now, self.config.block_retention) {
            self.records.remove(id.as_str());
        }
        self.detect_failures(now, &mut out);
        let heartbeat = pack(&MemberHeartbeat {
            actor_statistics: Some(ActorStatistics::default()),
        });
        for key in self.config.wire_profile.heartbeat_keys_published() {
            self.write_own(key, heartbeat.clone(), now, &mut out);
        }
        self.fan_out(now, rng, &mut out);
        out
    }

    /// A provider snapshot (the full member list, including us). Applied at
    /// once, or, with `topology_coalesce` > 0, together with the snapshots
    /// that follow within the window (on the tick or snapshot that ends it).
    pub fn on_provider_snapshot(&mut self, members: Vec<Member>, now: UnixMillis) -> GossipOutcome {
        let mut out = GossipOutcome::default();
        let since = self.snapshot.as_ref().map_or(now, |(_, t)| *t);
        self.snapshot = Some((members, since));
        self.apply_snapshot_if_due(now, &mut out);
        out
    }

    /// An inbound `GossipRequest` whose envelope came from `from_address`
    /// (the sender PID's address, `host:port`). Merges its state, then
    /// answers with a `GossipResponse` carrying a delta for the sender when
    /// that address belongs to a topology member. `from_member_id` is not
    /// used to identify the sender (Go fills it with OUR id, Q-G7).
    pub fn on_gossip_request(
        &mut self,
        from_address: &str,
        request: GossipRequest,
        now: UnixMillis,
    ) -> GossipRequestOutcome {
        let mut outcome = GossipOutcome::default();
        if let Some(state) = request.state {
            self.merge_remote(state, now, &mut outcome);
        }
        let mut response = GossipResponse::default();
        if let Some(requester) = self.members.member_at(from_address).cloned()
            && requester != self.self_id
        {
            let mut rng = self.rng.clone();
            let delta = build_delta_with(
                &self.state,
                &self.self_id,
                &requester,
                &self.watermarks,
                self.config.gossip_max_send,
                false,
                &mut rng,
            );
            self.rng = rng;
            if !delta.is_empty() {
                // Go never acknowledges a GossipResponse, so these
                // watermarks are committed optimistically (notes 5.12).
                self.watermarks.commit(&requester, &delta.watermarks);
                self.note_news_sent(&delta);
                response.state = Some(delta.state);
            }
        }
        GossipRequestOutcome { response, outcome }
    }

    /// The answer to one of our requests: commits the watermarks of the
    /// delta it carried and merges the state it brings. An unknown (late)
    /// token still has its state merged.
    pub fn on_gossip_response(
        &mut self,
        token: RequestToken,
        response: GossipResponse,
        now: UnixMillis,
    ) -> GossipOutcome {
        let mut out = GossipOutcome::default();
        if let Some(p) = self.pending.remove(&token)
            && self.members.is_active(p.target.as_str())
        {
            self.watermarks.commit(&p.target, &p.marks);
        }
        if let Some(state) = response.state {
            self.merge_remote(state, now, &mut out);
        }
        out
    }

    /// One of our requests failed (timeout, dead letter, transport error):
    /// its delta is not committed and will be sent again.
    pub fn on_request_failed(&mut self, token: RequestToken, _now: UnixMillis) -> GossipOutcome {
        self.pending.remove(&token);
        GossipOutcome::default()
    }

    /// Sets our own value under `key` (Go `SetState`): takes the next number
    /// of our one sequence counter and stamps `now`.
    pub fn set_state(&mut self, key: &str, value: Any, now: UnixMillis) -> GossipOutcome {
        let mut out = GossipOutcome::default();
        self.write_own(key, value, now, &mut out);
        out
    }

    /// Graceful leave: sets the `left` key and sends our state to every
    /// active member at once (Go sends one more round to 3, Q-G12).
    pub fn leave(&mut self, now: UnixMillis) -> GossipOutcome {
        let mut out = GossipOutcome::default();
        self.write_own(LEFT_KEY, pack(&Empty {}), now, &mut out);
        let targets: Vec<MemberId> = self
            .members
            .active()
            .keys()
            .filter(|id| **id != self.self_id)
            .cloned()
            .collect();
        let mut rng = self.rng.clone();
        for t in targets {
            let delta = build_delta(
                &self.state,
                &self.self_id,
                &t,
                &self.watermarks,
                self.config.gossip_max_send,
                &mut rng,
            );
            if !delta.is_empty() {
                self.send(t, delta, now, &mut out);
            }
        }
        self.rng = rng;
        out
    }

    /// Registers a consensus check (replacing one with the same id) and
    /// evaluates it at once.
    pub fn add_consensus_check(&mut self, check: ConsensusCheck, now: UnixMillis) -> GossipOutcome {
        let mut out = GossipOutcome::default();
        self.checks.retain(|c| c.id() != check.id());
        let mut rt = CheckRuntime::new(check, &self.state, &self.aliases, &self.active_ids);
        let change = rt.evaluate();
        self.checks.push(rt);
        if let Some(c) = change {
            Self::report(c, now, &mut out);
        }
        out
    }

    /// Removes a consensus check; false if there was none with that id.
    pub fn remove_consensus_check(&mut self, id: &str) -> bool {
        let before = self.checks.len();
        self.checks.retain(|c| c.id() != id);
        before != self.checks.len()
    }

    // ----- accessors ----------------------------------------------------

    /// Our member id.
    pub fn self_id(&self) -> &MemberId {
        &self.self_id
    }

    /// The configuration.
    pub fn config(&self) -> &GossipConfig {
        &self.config
    }

    /// The whole gossip state.
    pub fn state(&self) -> &GossipState {
        &self.state
    }

    /// The gossip state member `member` publishes: under its own id, or
    /// under its bare system id for a Go member named `<cluster>@<id>` by
    /// Go's etcd provider (see `owner_alias`).
    pub fn owner_state_of(&self, member: &str) -> Option<&OwnerState> {
        self.state.owner(member).or_else(|| {
            self.aliases
                .alias_of(member)
                .and_then(|a| self.state.owner(a.as_str()))
        })
    }

    /// The topology hash member `member` last gossiped (its `topology`
    /// entry, found like [`Self::owner_state_of`]); what the topology
    /// consensus compares, so a stalled consensus shows who disagrees.
    pub fn gossiped_topology_hash(&self, member: &str) -> Option<u64> {
        self.owner_state_of(member)
            .and_then(|o| o.get(TOPOLOGY_KEY))
            .and_then(|e| topology_header(&e.value))
            .map(|(hash, _)| hash)
    }

    /// Every owner's entry under `key` (Go `GetState`).
    pub fn state_for_key<'a>(
        &'a self,
        key: &'a str,
    ) -> impl Iterator<Item = (&'a MemberId, &'a GossipEntry)> + 'a {
        self.state.values_for_key(key)
    }

    /// Our last sequence number.
    pub fn sequence_number(&self) -> i64 {
        self.sequence
    }

    /// The active topology members, ascending by id.
    pub fn active_members(&self) -> &BTreeMap<MemberId, Member> {
        self.members.active()
    }

    /// Every member we track with its status (active ones, and blocked or
    /// removed ones until their block entry expires), ascending by id.
    pub fn members(&self) -> impl Iterator<Item = (&MemberId, MemberStatus)> {
        self.records.iter().map(|(id, r)| (id, r.status))
    }

    /// The status of one member (`None` for ourselves and unknown ids).
    pub fn member_status(&self, id: &str) -> Option<MemberStatus> {
        self.records.get(id).map(|r| r.status)
    }

    /// The block list.
    pub fn blocked(&self) -> &BTreeMap<MemberId, BlockEntry> {
        self.members.blocked()
    }

    /// True when `id` is blocked.
    pub fn is_blocked(&self, id: &str) -> bool {
        self.members.is_blocked(id)
    }

    /// The topology hash of our active set.
    pub fn topology_hash(&self) -> u64 {
        self.members.topology_hash()
    }

    /// The state of a consensus check.
    pub fn consensus(&self, check: &str) -> Option<ConsensusState> {
        self.checks
            .iter()
            .find(|c| c.id() == check)
            .map(CheckRuntime::state)
    }

    /// Requests sent and not yet answered or failed.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// The watermarks (acknowledged sequence numbers per target and owner).
    pub fn watermarks(&self) -> &Watermarks {
        &self.watermarks
    }

    // ----- internals ----------------------------------------------------

    fn note_news_sent(&mut self, delta: &MemberStateDelta) {
        for (owner, _) in &delta.watermarks[..delta.news] {
            if *owner != self.self_id {
                self.state.note_data_sent(owner.as_str());
            }
        }
    }

    fn report(change: ConsensusChange, now: UnixMillis, out: &mut GossipOutcome) {
        match change {
            ConsensusChange::Reached(check, value) => {
                out.push(now, ClusterEvent::ConsensusReached { check, value })
            }
            ConsensusChange::Lost(check, value) => {
                out.push(now, ClusterEvent::ConsensusLost { check, value })
            }
        }
    }

    fn write_own(&mut self, key: &str, value: Any, now: UnixMillis, out: &mut GossipOutcome) {
        self.sequence += 1;
        self.state
            .set(&self.self_id, key, value, self.sequence, now);
        let me = self.self_id.clone();
        self.owner_changed(&me, &[key], now, out);
    }

    fn owner_changed(
        &mut self,
        owner: &MemberId,
        keys: &[&str],
        now: UnixMillis,
        out: &mut GossipOutcome,
    ) {
        let member = self.aliases.member_of(owner).clone();
        let active = self.active_ids.contains(&member);
        for c in &mut self.checks {
            if keys.iter().any(|k| c.affected_by(k)) {
                c.owner_updated(&member, self.state.owner(owner.as_str()), active);
                if let Some(ch) = c.evaluate() {
                    Self::report(ch, now, out);
                }
            }
        }
    }

    fn merge_remote(&mut self, remote: ProtoState, now: UnixMillis, out: &mut GossipOutcome) {
        let self_id = &self.self_id;
        let members = &self.members;
        let aliases = &self.aliases;
        let updates = self.state.merge(remote, now, |o| {
            o == self_id.as_str() || members.is_blocked(aliases.member_of_str(o))
        });
        if updates.is_empty() {
            return;
        }
        if self.config.gossip_update_events {
            for u in &updates {
                out.push(
                    now,
                    ClusterEvent::GossipUpdate {
                        owner: u.owner.clone(),
                        key: u.key.clone(),
                        sequence_number: u.sequence_number,
                    },
                );
            }
        }
        let mut to_block: Vec<(MemberId, BlockReason)> = Vec::new();
        let mut i = 0;
        while i < updates.len() {
            let owner = updates[i].owner.clone();
            let member = self.aliases.member_of(&owner).clone();
            let mut j = i;
            while j < updates.len() && updates[j].owner == owner {
                j += 1;
            }
            let group: &[GossipUpdate] = &updates[i..j];
            for u in group {
                if u.key == TOPOLOGY_KEY
                    && let Some((_, blocked)) = self
                        .state
                        .get(owner.as_str(), TOPOLOGY_KEY)
                        .and_then(|e| topology_header(&e.value))
                {
                    for b in blocked {
                        if b == self.self_id.as_str() {
                            out.push(now, ClusterEvent::SelfBlockedByPeer { by: member.clone() });
                        } else {
                            to_block.push((
                                MemberId::from(b),
                                BlockReason::GossipedBlockList { by: member.clone() },
                            ));
                        }
                    }
                } else if u.key == LEFT_KEY {
                    to_block.push((member.clone(), BlockReason::Left));
                }
            }
            let keys: Vec<&str> = group.iter().map(|u| u.key.as_str()).collect();
            self.owner_changed(&owner, &keys, now, out);
            i = j;
        }
        let mut any = false;
        for (id, reason) in to_block {
            any |= self.block_member(&id, reason, now, out);
        }
        if any {
            self.apply_topology(now, out);
        }
    }

    fn block_member(
        &mut self,
        id: &MemberId,
        reason: BlockReason,
        now: UnixMillis,
        out: &mut GossipOutcome,
    ) -> bool {
        if reason == BlockReason::Left {
            let rec = self
                .records
                .entry(id.clone())
                .or_insert_with(|| MemberRecord::new(MemberStatus::Leaving, now));
            if rec.status != MemberStatus::Leaving {
                rec.status = MemberStatus::Leaving;
                rec.since = now;
            }
            out.push(now, ClusterEvent::MemberLeft { id: id.clone() });
        }
        if !self.members.block(id, reason.clone(), now) {
            return false;
        }
        self.announce_block(id, reason, now, out);
        true
    }

    /// What follows a new block entry: the event, dropping the member's
    /// state, consensus and status updates.
    fn announce_block(
        &mut self,
        id: &MemberId,
        reason: BlockReason,
        now: UnixMillis,
        out: &mut GossipOutcome,
    ) {
        out.push(
            now,
            ClusterEvent::MemberBlocked {
                id: id.clone(),
                reason,
            },
        );
        // A blocked member's state is dead weight: we ignore its gossip from
        // now on, so drop what we hold (Go keeps it forever).
        self.forget_owner(id);
        let active = self.active_ids.contains(id);
        for c in &mut self.checks {
            c.owner_updated(id, None, active);
        }
        if let Some(rec) = self.records.get_mut(id.as_str())
            && rec.status != MemberStatus::Leaving
        {
            rec.status = MemberStatus::Blocked;
            rec.since = now;
        }
    }

    /// Drops what we hold of member `id`'s gossip, under its own id and its
    /// alias, with the watermarks that refer to it.
    fn forget_owner(&mut self, id: &MemberId) {
        self.state.remove_owner(id.as_str());
        self.watermarks.remove_member(id.as_str());
        if let Some(alias) = self.aliases.alias_of(id.as_str()) {
            self.state.remove_owner(alias.as_str());
            self.watermarks.remove_member(alias.as_str());
        }
    }

    fn apply_snapshot_if_due(&mut self, now: UnixMillis, out: &mut GossipOutcome) {
        let due = self
            .snapshot
            .as_ref()
            .is_some_and(|(_, since)| now >= since.after(self.config.topology_coalesce));
        if due && let Some((members, _)) = self.snapshot.take() {
            self.members.set_provider_snapshot(members, now);
            self.apply_topology(now, out);
        }
    }

    fn apply_topology(&mut self, now: UnixMillis, out: &mut GossipOutcome) {
        let Some(change) = self.members.recompute(now) else {
            return;
        };
        let TopologyChange {
            hash,
            members,
            joined,
            left,
            newly_blocked,
        } = change;
        for m in &left {
            let id = MemberId::new(&m.id);
            // The member list has already blocked members the provider
            // dropped; announce those blocks like any other.
            if newly_blocked.contains(&id) {
                self.announce_block(&id, BlockReason::RemovedByProvider, now, out);
            }
            if let Some(rec) = self.records.get_mut(id.as_str()) {
                rec.status = if rec.status == MemberStatus::Leaving {
                    MemberStatus::Removed
                } else {
                    MemberStatus::Blocked
                };
                rec.since = now;
            }
            out.push(now, ClusterEvent::MemberRemoved { id: id.clone() });
            // Owners and watermarks of members gone from the topology are
            // purged (Go keeps them forever).
            self.forget_owner(&id);
            self.pending.retain(|_, p| p.target != id);
        }
        for m in &joined {
            let id = MemberId::new(&m.id);
            if id != self.self_id {
                self.records
                    .insert(id, MemberRecord::new(MemberStatus::Joining, now));
            }
            out.push(now, ClusterEvent::MemberJoined { member: m.clone() });
        }
        self.active_ids = self.members.active_ids();
        let (active, list) = (&self.active_ids, &self.members);
        let aliases_changed = self
            .aliases
            .rebuild(active.iter().chain(list.blocked().keys()), |s| {
                active.contains(s) || list.is_blocked(s)
            });
        for c in &mut self.checks {
            if aliases_changed {
                c.reload(&self.state, &self.aliases);
            } else {
                for m in &left {
                    c.owner_updated(&MemberId::new(&m.id), None, false);
                }
            }
            c.recount(&self.active_ids);
            if let Some(ch) = c.evaluate() {
                Self::report(ch, now, out);
            }
        }
        let blocked: Vec<MemberId> = self.members.blocked().keys().cloned().collect();
        let (tm, tj, tl) = match self.config.topology_detail {
            TopologyDetail::Full => (members.clone(), joined.clone(), left.clone()),
            TopologyDetail::HashOnly | TopologyDetail::Off => (Vec::new(), Vec::new(), Vec::new()),
        };
        let topology = ClusterTopology {
            topology_hash: hash,
            members: tm,
            joined: tj,
            left: tl,
            blocked: if self.config.publish_blocked {
                blocked.iter().map(|m| String::from(m.as_str())).collect()
            } else {
                Vec::new()
            },
        };
        if self.config.topology_detail != TopologyDetail::Off {
            self.write_own(TOPOLOGY_KEY, pack(&topology), now, out);
        }
        out.push(
            now,
            ClusterEvent::TopologyUpdated {
                hash,
                members,
                joined,
                left,
                blocked,
            },
        );
    }

    fn is_suspicious(&self, rec: &MemberRecord, silent_ms: u64) -> bool {
        let exp = self.config.heartbeat_expiration.as_millis() as u64;
        let fraction = |percent: u64| silent_ms.saturating_mul(100) > exp.saturating_mul(percent);
        match self.config.suspicion {
            Suspicion::FractionOfExpiration { percent } => fraction(u64::from(percent)),
            Suspicion::PhiAccrual {
                threshold,
                min_samples,
            } => {
                if rec.samples < min_samples.max(1) {
                    fraction(50)
                } else {
                    silent_ms as f64
                        > threshold * rec.mean_interval_ms.max(1.0) * core::f64::consts::LN_10
                }
            }
        }
    }

    fn detect_failures(&mut self, now: UnixMillis, out: &mut GossipOutcome) {
        let exp = self.config.heartbeat_expiration.as_millis() as u64;
        let mut to_block: Vec<(MemberId, BlockReason)> = Vec::new();
        let mut unknown_stale: Vec<MemberId> = Vec::new();
        for (owner, o) in self.state.owners() {
            let id = self.aliases.member_of(owner);
            if *id == self.self_id || self.members.is_blocked(id.as_str()) {
                continue;
            }
            if o.has_left() {
                to_block.push((id.clone(), BlockReason::Left));
            } else if let Some(hb) = o.heartbeat_received()
                && now.millis_since(hb) > exp
            {
                to_block.push((id.clone(), BlockReason::HeartbeatExpired));
            } else if !self.members.is_active(id.as_str())
                && o.last_received().is_none_or(|t| now.millis_since(t) > exp)
            {
                // Bound memory: owners never in our topology that went quiet.
                unknown_stale.push(owner.clone());
            }
        }
        for id in unknown_stale {
            self.state.remove_owner(id.as_str());
        }

        // Status machine.
        let mut changes: Vec<(MemberId, ClusterEvent)> = Vec::new();
        let mut records = core::mem::take(&mut self.records);
        for (id, rec) in &mut records {
            let hb = self
                .owner_state_of(id.as_str())
                .and_then(|o| o.heartbeat_received());
            if let Some(hb) = hb
                && rec.last_beat.is_none_or(|l| hb > l)
            {
                if let Some(l) = rec.last_beat {
                    let iv = hb.millis_since(l) as f64;
                    rec.mean_interval_ms = if rec.samples == 0 {
                        iv
                    } else {
                        0.9 * rec.mean_interval_ms + 0.1 * iv
                    };
                    rec.samples += 1;
                }
                rec.last_beat = Some(hb);
            }
            let silent = hb.map(|h| now.millis_since(h));
            match (rec.status, silent) {
                (MemberStatus::Joining, Some(_)) => {
                    rec.status = MemberStatus::Up;
                    rec.since = now;
                    changes.push((id.clone(), ClusterEvent::MemberUp { id: id.clone() }));
                }
                (MemberStatus::Up, Some(s)) if self.is_suspicious(rec, s) => {
                    rec.status = MemberStatus::Suspect;
                    rec.since = now;
                    changes.push((
                        id.clone(),
                        ClusterEvent::MemberSuspect {
                            id: id.clone(),
                            silent_for_ms: s,
                        },
                    ));
                }
                (MemberStatus::Suspect, Some(s)) if !self.is_suspicious(rec, s) => {
                    rec.status = MemberStatus::Up;
                    rec.since = now;
                    changes.push((id.clone(), ClusterEvent::MemberReachable { id: id.clone() }));
                }
                _ => {}
            }
        }
        self.records = records;
        for (_, e) in changes {
            out.push(now, e);
        }
        let mut any = false;
        for (id, reason) in to_block {
            any |= self.block_member(&id, reason, now, out);
        }
        if any {
            self.apply_topology(now, out);
        }
    }

    fn fan_out(&mut self, now: UnixMillis, rng: &mut impl Rng, out: &mut GossipOutcome) {
        let busy: BTreeSet<&MemberId> = self.pending.values().map(|p| &p.target).collect();
        let mut candidates: Vec<MemberId> = self
            .members
            .active()
            .keys()
            .filter(|id| **id != self.self_id && !busy.contains(id))
            .cloned()
            .collect();
        let n = candidates.len();
        let mut sent = 0;
        for i in 0..n {
            if sent == self.config.gossip_fan_out {
                break;
            }
            let j = i + uniform(rng, n - i);
            candidates.swap(i, j);
            let target = &candidates[i];
            let delta = build_delta(
                &self.state,
                &self.self_id,
                target,
                &self.watermarks,
                self.config.gossip_max_send,
                rng,
            );
            if !delta.is_empty() {
                self.send(target.clone(), delta, now, out);
                sent += 1;
            }
        }
    }

    fn send(
        &mut self,
        target: MemberId,
        delta: MemberStateDelta,
        now: UnixMillis,
        out: &mut GossipOutcome,
    ) {
        let Some(member) = self.members.active().get(target.as_str()) else {
            return;
        };
        let address = address_of(member);
        self.note_news_sent(&delta);
        let token = RequestToken(self.next_token);
        self.next_token += 1;
        self.pending.insert(
            token,
            PendingRequest {
                target: target.clone(),
                marks: delta.watermarks,
                sent_at: now,
            },
        );
        out.requests.push(OutboundGossip {
            request: GossipRequest {
                from_member_id: String::from(target.as_str()),
                state: Some(delta.state),
            },
            target,
            address,
            token,
        });
    }
}
