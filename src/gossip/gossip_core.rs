//! [`GossipCore`]: one cluster member's gossip, membership and consensus as
//! a pure state machine.
//!
//! Every input takes the current time; inputs that choose at random take an
//! RNG. Every input returns a [`GossipOutcome`]: requests for the driver to
//! send and events to publish. Nothing here blocks, sleeps, reads a clock or
//! does I/O, so a run is reproducible from its inputs.
//!
//! The core orchestrates; each piece of state has one owner beside it:
//! `gossip_state` (entries), `member_state_delta` (watermarks),
//! `member_list` (topology and block list), `failure_detector` (expiry and
//! member statuses), `consensus` (checks), `pending` (requests in flight)
//! and `rng` (randomness for inputs that take no RNG). Its read-only
//! queries are in `gossip_core/queries.rs`.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::wire::Any;
use rand_core::Rng;

use super::config::{ConfigError, GossipConfig, TopologyDetail};
use super::consensus::{ConsensusCheck, ConsensusChecks};
use super::event::ClusterEvent;
use super::failure_detector::FailureDetector;
use super::gossip_state::{GossipState, GossipUpdate};
use super::member_list::{BlockReason, MemberList, TopologyChange, address_of};
use super::member_state_delta::{MemberStateDelta, Watermarks, build_delta, build_delta_with};
use super::outcome::{GossipOutcome, GossipRequestOutcome, OutboundGossip};
use super::owner_alias::OwnerAliases;
use super::pending::PendingRequests;
use super::rng::{DerivedRng, uniform};
use super::types::{MemberId, RequestToken, UnixMillis};
use crate::wire::proto::cluster::{
    ActorStatistics, ClusterTopology, GossipRequest, GossipResponse, GossipState as ProtoState,
    Member, MemberHeartbeat,
};
use crate::wire::{
    Empty, HEARTBEAT_KEY, HEARTBEAT_KEY_2024_03, LEFT_KEY, TOPOLOGY_KEY, TopologyHeader,
    WireProfile, pack,
};

mod queries;

/// One member's gossip, membership and consensus.
pub struct GossipCore {
    config: GossipConfig,
    self_id: MemberId,
    state: GossipState,
    sequence: i64,
    watermarks: Watermarks,
    members: MemberList,
    aliases: OwnerAliases,
    detector: FailureDetector,
    consensus: ConsensusChecks,
    pending: PendingRequests,
    snapshot: Option<(Vec<Member>, UnixMillis)>,
    /// Blocked members whose gossip entries we still hold and relay, with
    /// when to purge them (`blocked_state_retention` after the block).
    relayed: BTreeMap<MemberId, UnixMillis>,
    rng: DerivedRng,
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
        let state = GossipState::new(config.wire_profile);
        let aliases = OwnerAliases::default();
        Ok(Self {
            members: MemberList::new(self_id.clone(), config.forgotten_ids),
            detector: FailureDetector::new(&config),
            consensus: ConsensusChecks::with_topology_check(&state, &aliases),
            rng: DerivedRng::for_member(self_id.as_str()),
            config,
            self_id,
            state,
            sequence: 0,
            watermarks: Watermarks::default(),
            aliases,
            pending: PendingRequests::default(),
            snapshot: None,
            relayed: BTreeMap::new(),
        })
    }

    // ----- inputs -------------------------------------------------------

    /// The gossip tick (every `gossip_interval`): applies a coalesced
    /// provider snapshot that is due, purges blocked members' state whose
    /// relay time is over and forgets expired block entries, expires
    /// heartbeats (blocking) and updates statuses, writes our heartbeat
    /// key(s), and picks up to `gossip_fan_out` random members with
    /// something to receive.
    pub fn tick(&mut self, now: UnixMillis, rng: &mut impl Rng) -> GossipOutcome {
        let mut out = GossipOutcome::default();
        self.rng.reseed(rng);
        self.apply_snapshot_if_due(now, &mut out);
        self.pending.expire(now, self.config.gossip_request_timeout);
        self.purge_relayed(now);
        for id in self.members.expire_blocks(now, self.config.block_retention) {
            // Gossip about it may come back under its owner alias too.
            if let Some(alias) = self.aliases.alias_of(id.as_str()) {
                self.members.note_forgotten(alias.as_str());
            }
            self.detector.forget(&id);
            if self.relayed.remove(&id).is_some() {
                self.forget_owner(&id);
            }
        }
        self.detect_failures(now, &mut out);
        let heartbeat = pack(&MemberHeartbeat {
            actor_statistics: Some(ActorStatistics::default()),
        });
        let reader_2024_03 =
            self.config.wire_profile == WireProfile::Mixed && self.reader_2024_03_present();
        for key in self
            .config
            .wire_profile
            .heartbeat_keys_published(reader_2024_03)
        {
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
            let delta = build_delta_with(
                &self.state,
                &self.self_id,
                &requester,
                &self.watermarks,
                self.config.gossip_max_send,
                false,
                &mut self.rng,
            );
            if !delta.is_empty() {
                // Go never acknowledges a GossipResponse, so these
                // watermarks are committed optimistically (docs/go-quirks.md#q-g1).
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
        if let Some(p) = self.pending.take(token)
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
        self.pending.take(token);
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
        for t in targets {
            let delta = build_delta(
                &self.state,
                &self.self_id,
                &t,
                &self.watermarks,
                self.config.gossip_max_send,
                &mut self.rng,
            );
            if !delta.is_empty() {
                self.send(t, delta, now, &mut out);
            }
        }
        out
    }

    /// Registers a consensus check (replacing one with the same id) and
    /// evaluates it at once.
    pub fn add_consensus_check(&mut self, check: ConsensusCheck, now: UnixMillis) -> GossipOutcome {
        let mut out = GossipOutcome::default();
        let change = self.consensus.add(check, &self.state, &self.aliases);
        out.push_consensus(now, change);
        out
    }

    /// Removes a consensus check; false if there was none with that id.
    pub fn remove_consensus_check(&mut self, id: &str) -> bool {
        self.consensus.remove(id)
    }

    // ----- internals ----------------------------------------------------

    fn note_news_sent(&mut self, delta: &MemberStateDelta) {
        for (owner, _) in &delta.watermarks[..delta.news] {
            if *owner != self.self_id {
                self.state.note_data_sent(owner.as_str());
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
        let member = self.aliases.member_of(owner);
        let mut changes = Vec::new();
        self.consensus
            .owner_updated(member, keys, self.state.owner(owner.as_str()), &mut changes);
        out.push_consensus(now, changes);
    }

    fn merge_remote(&mut self, remote: ProtoState, now: UnixMillis, out: &mut GossipOutcome) {
        let self_id = &self.self_id;
        let members = &self.members;
        let aliases = &self.aliases;
        let ignored = &mut out.ignored_forgotten;
        let updates = self.state.merge(remote, now, |o| {
            if o == self_id.as_str() {
                return true;
            }
            let member = aliases.member_of_str(o);
            if members.is_blocked(member) {
                return true;
            }
            // Relayed state of a member whose block we forgot: storing it
            // would block it again (`left`) or keep a stranger (Q-M23).
            let forgotten = members.is_forgotten(member);
            if forgotten {
                ignored.push(MemberId::new(o));
            }
            forgotten
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
                    && let Some(header) = self
                        .state
                        .get(owner.as_str(), TOPOLOGY_KEY)
                        .and_then(|e| TopologyHeader::from_any(&e.value))
                {
                    for b in header.blocked {
                        if b == self.self_id.as_str() {
                            out.push(now, ClusterEvent::SelfBlockedByPeer { by: member.clone() });
                        } else if self.members.is_forgotten(&b) {
                            // A peer that has not forgotten it yet (Q-M23).
                            out.ignored_forgotten.push(MemberId::from(b));
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
        self.block_all(to_block, now, out);
    }

    /// Blocks each member, then recomputes the topology if any was newly
    /// blocked.
    fn block_all(
        &mut self,
        to_block: Vec<(MemberId, BlockReason)>,
        now: UnixMillis,
        out: &mut GossipOutcome,
    ) {
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
            self.detector.leaving(id, now);
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
        // We ignore a blocked member's gossip from now on, but keep what we
        // hold for a while and relay it (its `left` above all): see
        // `relay_then_purge`.
        self.relay_then_purge(id, now);
        self.consensus.owner_dropped(id);
        self.detector.blocked(id, now);
    }

    /// A member was blocked or left the topology: it is no longer a gossip
    /// target, but its entries stay in our state, and go out in our deltas
    /// like any other owner's, for `blocked_state_retention`; then
    /// [`Self::purge_relayed`] drops them. Go keeps them forever (it never
    /// purges an owner), and relaying is what carries a `left` between
    /// two members that only meet through us. The first block starts the
    /// clock; a later call for the same id does not extend it.
    fn relay_then_purge(&mut self, id: &MemberId, now: UnixMillis) {
        self.watermarks.remove_target(id.as_str());
        if let Some(alias) = self.aliases.alias_of(id.as_str()) {
            self.watermarks.remove_target(alias.as_str());
        }
        if self.config.blocked_state_retention.is_zero() {
            self.forget_owner(id);
        } else {
            self.relayed
                .entry(id.clone())
                .or_insert_with(|| now.after(self.config.blocked_state_retention));
        }
    }

    /// Drops the state of blocked members whose relay time is over.
    fn purge_relayed(&mut self, now: UnixMillis) {
        let due: Vec<MemberId> = self
            .relayed
            .iter()
            .filter(|(_, until)| now >= **until)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.relayed.remove(&id);
            self.forget_owner(&id);
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
            self.detector.removed(&id, now);
            out.push(now, ClusterEvent::MemberRemoved { id: id.clone() });
            // Members gone from the topology (all blocked, by Go's rule)
            // keep their state for a while, relayed, then it is purged.
            self.relay_then_purge(&id, now);
            self.pending.forget_target(&id);
        }
        for m in &joined {
            let id = MemberId::new(&m.id);
            if id != self.self_id {
                self.detector.joined(id, now);
            }
            out.push(now, ClusterEvent::MemberJoined { member: m.clone() });
        }
        let active = self.members.active_ids();
        let list = &self.members;
        let aliases_changed = self
            .aliases
            .rebuild(active.iter().chain(list.blocked().keys()), |s| {
                active.contains(s) || list.is_blocked(s)
            });
        let left_ids: Vec<MemberId> = left.iter().map(|m| MemberId::new(&m.id)).collect();
        let mut changes = Vec::new();
        self.consensus.set_active(
            active,
            &left_ids,
            aliases_changed.then_some((&self.state, &self.aliases)),
            &mut changes,
        );
        out.push_consensus(now, changes);
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

    /// True when a current member other than us publishes `heathbeat` and
    /// not `heartbeat`: a protoactor-go 2024-03 node, which heartbeat-expires
    /// only owners that publish its spelling. While there is one, the mixed
    /// profile writes both spellings so that node can expire us; otherwise
    /// the second spelling is bytes no member reads (every owner's heartbeat
    /// twice in every delta). Departed members do not count: Go keeps their
    /// state forever.
    fn reader_2024_03_present(&self) -> bool {
        self.members.active().keys().any(|id| {
            *id != self.self_id
                && self.state.owner(id.as_str()).is_some_and(|o| {
                    o.get(HEARTBEAT_KEY_2024_03).is_some() && o.get(HEARTBEAT_KEY).is_none()
                })
        })
    }

    /// Drops stale owners, updates member statuses and blocks the members
    /// the failure detector found.
    fn detect_failures(&mut self, now: UnixMillis, out: &mut GossipOutcome) {
        let verdicts = self.detector.scan(
            &self.state,
            &self.aliases,
            &self.members,
            &self.self_id,
            now,
        );
        for owner in verdicts.stale_owners {
            self.state.remove_owner(owner.as_str());
        }
        for event in self.detector.update(&self.state, &self.aliases, now) {
            out.push(now, event);
        }
        self.block_all(verdicts.block, now, out);
    }

    fn fan_out(&mut self, now: UnixMillis, rng: &mut impl Rng, out: &mut GossipOutcome) {
        let busy = self.pending.busy_targets();
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
        let token = self.pending.insert(target.clone(), delta.watermarks, now);
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
