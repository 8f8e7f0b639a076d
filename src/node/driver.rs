//! The task that owns the gossip core and connects it to the world.
//!
//! Inputs arrive as [`Command`]s (inbound gossip from the transport, answers
//! to our requests, API calls) or from timers and the provider's watch
//! channel; each is applied to the core with the wall-clock time, and the
//! outcome is carried out: requests go out through the transport in tasks
//! of their own (which report back as commands), events are published and
//! acted on (a blocked member is blocked in the transport too; a member that
//! left the topology has its endpoint closed).

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::wire::Any;
use prost::Message;
use rand_xorshift::XorShiftRng;
use tokio::{
    sync::{broadcast, mpsc, oneshot, watch},
    time::{Instant, MissedTickBehavior},
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    NodeMetrics, NodeStatus, TopologyView,
    rejoin_exec::Rejoin,
    state_view::{StateView, state_view},
};
use crate::{
    gossip::{
        ClusterEvent, GossipCore, GossipOutcome, OutboundGossip, RequestToken, TimedEvent,
        UnixMillis,
    },
    provider::{
        ProviderHandle,
        static_list::{Learned, StaticFeed},
    },
    remote::{GOSSIP_ID, RemoteHandle},
    wire::{
        TOPOLOGY_KEY, WireMessage,
        proto::{
            actor::Pid,
            cluster::{ClusterTopology, GossipRequest, GossipResponse, Member},
        },
        unpack,
    },
};

/// How long an inbound gossip request may wait for the core before we
/// answer it empty (Go gives up after 500 ms).
pub(super) const INBOUND_ANSWER_DEADLINE: Duration = Duration::from_millis(400);

/// The token of a seed probe's answer: the core issues tokens counting up
/// from 0, so it never matches one; the core merges the state of an answer
/// it has no request for.
pub(super) const PROBE_TOKEN: RequestToken = RequestToken(u64::MAX);

/// An input for the driver.
pub(super) enum Command {
    /// A peer's `GossipRequest`, from the envelope sender's address.
    Inbound {
        from: String,
        request: GossipRequest,
        reply: oneshot::Sender<GossipResponse>,
    },
    /// How one of our requests ended.
    Answer {
        /// Which of our ids sent it (`Driver::generation`): after a rejoin,
        /// answers to the old core's requests are dropped.
        generation: usize,
        token: RequestToken,
        result: Result<GossipResponse, String>,
    },
    SetState {
        key: String,
        value: Any,
        reply: oneshot::Sender<i64>,
    },
    GetState {
        key: String,
        reply: oneshot::Sender<BTreeMap<String, (i64, Any)>>,
    },
    Status {
        reply: oneshot::Sender<NodeStatus>,
    },
    /// Every key's value per owner (`/state`).
    State {
        reply: oneshot::Sender<StateView>,
    },
    Shutdown {
        graceful: bool,
        reply: oneshot::Sender<()>,
    },
}

pub(super) fn now() -> UnixMillis {
    UnixMillis(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    )
}

pub(super) fn seeded_rng() -> XorShiftRng {
    use rand_core::SeedableRng;
    let mut seed = [0u8; 16];
    // On failure the seed stays fixed: fan-out is then less random, never wrong.
    let _ = getrandom::fill(&mut seed);
    seed[0] |= 1; // XorShift needs a non-zero state
    XorShiftRng::from_seed(seed)
}

/// The task that owns the core, with everything it drives.
pub(super) struct Driver {
    pub(super) interval: Duration,
    pub(super) request_timeout: Duration,
    pub(super) leave_rounds: u32,
    pub(super) cluster: String,
    pub(super) core: GossipCore,
    pub(super) remote: RemoteHandle,
    pub(super) provider: Option<ProviderHandle>,
    pub(super) members_rx: watch::Receiver<Vec<Member>>,
    pub(super) cmd_tx: mpsc::Sender<Command>,
    pub(super) events: broadcast::Sender<TimedEvent>,
    pub(super) topology: watch::Sender<TopologyView>,
    pub(super) metrics: Arc<NodeMetrics>,
    /// The static provider's feed: members learned from gossip and members
    /// gone for good are reported to it (see `node/seeds.rs`).
    pub(super) seed_feed: Option<StaticFeed>,
    pub(super) rng: XorShiftRng,
    pub(super) address: String,
    /// Fired when the node stops (or the driver ends): request tasks and
    /// the `/status` server stop on it.
    pub(super) stop: CancellationToken,
    /// Where request tasks run; the node's shutdown waits for them.
    pub(super) tasks: TaskTracker,
    /// Self-healing rejoin (`rejoin.rs` decides, `rejoin_exec.rs` acts).
    pub(super) rejoin: Rejoin,
}

impl Driver {
    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        // However the driver ends, the node's other tasks stop with it.
        let _stop_the_rest = self.stop.clone().drop_guard();
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let first = self.members_rx.borrow_and_update().clone();
        if !first.is_empty() {
            self.snapshot(first);
        }
        let mut provider_alive = true;
        let mut remote_alive = true;
        loop {
            let generation = self.generation();
            tokio::select! {
                _ = ticker.tick() => {
                    self.tick();
                    self.check_exclusion().await;
                }
                event = self.rejoin.remote_events.recv(), if remote_alive => {
                    remote_alive = !matches!(event, Err(broadcast::error::RecvError::Closed));
                    self.on_remote_event(event).await;
                }
                changed = self.members_rx.changed(), if provider_alive => {
                    if changed.is_ok() {
                        let members = self.members_rx.borrow_and_update().clone();
                        self.snapshot(members);
                    } else {
                        tracing::warn!("the provider stopped publishing members");
                        provider_alive = false;
                    }
                }
                cmd = commands.recv() => match cmd {
                    Some(Command::Shutdown { graceful, reply }) => {
                        self.shutdown(graceful, &mut ticker, &mut commands).await;
                        let _ = reply.send(());
                        break;
                    }
                    Some(cmd) => self.handle(cmd),
                    None => break,
                },
            }
            if let Some(decision) = self.rejoin.pending.take() {
                self.carry_out(decision).await;
            }
            if self.generation() != generation {
                // A rejoin replaced the provider, and with it `members_rx`.
                provider_alive = true;
            }
        }
    }

    /// The current id's number: how many rejoins came before it.
    fn generation(&self) -> usize {
        self.rejoin.previous_ids.len()
    }

    fn tick(&mut self) {
        NodeMetrics::inc(&self.metrics.gossip_rounds);
        let out = self.core.tick(now(), &mut self.rng);
        self.apply(out);
    }

    pub(super) fn snapshot(&mut self, members: Vec<Member>) {
        NodeMetrics::inc(&self.metrics.provider_snapshots);
        let out = self.core.on_provider_snapshot(members, now());
        self.apply(out);
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Inbound {
                from,
                request,
                reply,
            } => {
                NodeMetrics::inc(&self.metrics.gossip_requests_received);
                NodeMetrics::add(
                    &self.metrics.gossip_bytes_received,
                    request.encoded_len() as u64,
                );
                let handled = self.core.on_gossip_request(&from, request, now());
                let _ = reply.send(handled.response);
                self.apply(handled.outcome);
            }
            Command::Answer {
                generation,
                token,
                result,
            } => {
                if generation != self.generation() {
                    return;
                }
                let out = match result {
                    Ok(response) => {
                        NodeMetrics::inc(&self.metrics.gossip_responses_received);
                        NodeMetrics::add(
                            &self.metrics.gossip_bytes_received,
                            response.encoded_len() as u64,
                        );
                        self.core.on_gossip_response(token, response, now())
                    }
                    Err(reason) => {
                        NodeMetrics::inc(&self.metrics.gossip_requests_failed);
                        tracing::debug!(%reason, "gossip request failed; its delta will be resent");
                        self.core.on_request_failed(token, now())
                    }
                };
                self.apply(out);
            }
            Command::SetState { key, value, reply } => {
                self.rejoin.app_keys.insert(key.clone());
                let out = self.core.set_state(&key, value, now());
                let _ = reply.send(self.core.sequence_number());
                self.apply(out);
            }
            Command::GetState { key, reply } => {
                let values = self
                    .core
                    .state_for_key(&key)
                    .map(|(owner, e)| {
                        (
                            owner.as_str().to_owned(),
                            (e.sequence_number, e.value.clone()),
                        )
                    })
                    .collect();
                let _ = reply.send(values);
            }
            Command::Status { reply } => {
                let mut status = NodeStatus::of(&self.core, &self.address, &self.cluster, now());
                status.previous_ids.clone_from(&self.rejoin.previous_ids);
                let _ = reply.send(status);
            }
            Command::State { reply } => {
                let _ = reply.send(state_view(&self.core));
            }
            Command::Shutdown { reply, .. } => {
                // Only reached while a shutdown is already under way.
                let _ = reply.send(());
            }
        }
    }

    pub(super) fn apply(&mut self, out: GossipOutcome) {
        if !out.ignored_forgotten.is_empty() {
            NodeMetrics::add(
                &self.metrics.ignored_forgotten,
                out.ignored_forgotten.len() as u64,
            );
            tracing::debug!(ids = ?out.ignored_forgotten, "ignored relayed gossip of forgotten blocked ids (Q-M23)");
        }
        for request in out.requests {
            self.send(request);
        }
        for event in out.events {
            self.act_on(&event.event);
            self.note_listed_as_blocked(&event.event);
            let _ = self.events.send(event);
        }
        let view = TopologyView::of(&self.core);
        self.topology.send_if_modified(|current| {
            let changed = *current != view;
            if changed {
                *current = view;
            }
            changed
        });
    }

    fn act_on(&self, event: &ClusterEvent) {
        match event {
            ClusterEvent::MemberBlocked { id, reason } => {
                tracing::info!(member = %id.as_str(), ?reason, "member blocked");
                self.remote.block(id.as_str());
                if let Some(feed) = &self.seed_feed {
                    feed.report(Learned::Gone(id.as_str().to_owned()));
                }
            }
            ClusterEvent::TopologyUpdated {
                hash,
                members,
                joined,
                left,
                ..
            } => {
                tracing::info!(
                    hash,
                    members = members.len(),
                    joined = joined.len(),
                    left = left.len(),
                    "topology updated"
                );
                for m in left {
                    self.remote
                        .remove_endpoint(&format!("{}:{}", m.host, m.port));
                }
            }
            ClusterEvent::GossipUpdate { owner, key, .. } => {
                NodeMetrics::inc(&self.metrics.merge_updates);
                if key == TOPOLOGY_KEY
                    && let Some(feed) = &self.seed_feed
                {
                    self.report_listed(owner.as_str(), feed);
                }
            }
            ClusterEvent::SelfBlockedByPeer { by } => {
                tracing::warn!(by = %by.as_str(), "a peer lists this node as blocked; Go nodes will not admit it again under this id");
            }
            ClusterEvent::ConsensusReached { check, value } => {
                tracing::info!(%check, ?value, "consensus reached")
            }
            ClusterEvent::ConsensusLost { check, .. } => tracing::info!(%check, "consensus lost"),
            other => tracing::debug!(event = %other, "cluster event"),
        }
    }

    /// Reports the members `owner`'s gossiped topology lists to the static
    /// provider. A value that does not decode teaches us no members; it is
    /// kept in the state like any other value.
    fn report_listed(&self, owner: &str, feed: &StaticFeed) {
        let topology = self
            .core
            .state_for_key(TOPOLOGY_KEY)
            .find(|(o, _)| o.as_str() == owner)
            .and_then(|(_, e)| unpack::<ClusterTopology>(&e.value).ok());
        if let Some(t) = topology {
            feed.report(Learned::Listed(t.members));
        }
    }

    fn send(&self, request: OutboundGossip) {
        NodeMetrics::inc(&self.metrics.gossip_requests_sent);
        NodeMetrics::add(
            &self.metrics.gossip_bytes_sent,
            request.request.encoded_len() as u64,
        );
        let remote = self.remote.clone();
        let tx = self.cmd_tx.clone();
        let timeout = self.request_timeout;
        let generation = self.generation();
        let request = async move {
            let target = Pid {
                address: request.address,
                id: GOSSIP_ID.into(),
                request_id: 0,
            };
            let result = match remote.request(target, request.request, timeout).await {
                Ok(WireMessage::GossipResponse(r)) => Ok(r),
                Ok(other) => Err(format!("unexpected answer {}", other.type_name())),
                Err(e) => Err(e.to_string()),
            };
            let _ = tx
                .send(Command::Answer {
                    generation,
                    token: request.token,
                    result,
                })
                .await;
        };
        self.tasks
            .spawn(self.stop.clone().run_until_cancelled_owned(request));
    }

    async fn shutdown(
        &mut self,
        graceful: bool,
        ticker: &mut tokio::time::Interval,
        commands: &mut mpsc::Receiver<Command>,
    ) {
        if graceful {
            tracing::info!(
                rounds = self.leave_rounds,
                "leaving: publishing `left` to every member"
            );
            let out = self.core.leave(now());
            self.apply(out);
            let until = Instant::now() + self.interval * self.leave_rounds;
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(until) => break,
                    _ = ticker.tick() => self.tick(),
                    Some(cmd) = commands.recv() => self.handle(cmd),
                }
            }
            if let Some(mut p) = self.provider.take() {
                p.shutdown(Duration::from_secs(5)).await;
            }
        } else if let Some(p) = self.provider.take() {
            p.abort().await;
        }
        self.stop.cancel();
        self.remote.shutdown(graceful).await;
        tracing::info!(graceful, "node stopped");
    }
}
