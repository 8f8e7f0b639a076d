//! Carrying out a rejoin (the decision is `rejoin.rs`'s): the driver's
//! part that swaps the node's identity while everything else keeps running.
//!
//! Order, so that a failure leaves the node as it was: register the new id
//! with a new provider first (etcd: a new key under a new lease; automanaged:
//! `/_health` answers with the new id, served on a duplicate of the same
//! socket, so the port is never closed); only then stop the old provider
//! (deregistering the old id: etcd deletes its key), start a fresh gossip
//! core for the new id, give the transport the new id (its handshakes carry
//! it and its block list starts empty, as the core's does), publish every
//! key the application set under the new owner id, and tell the
//! application (`ClusterEvent::Rejoined`, a counter, a log line, `/status`'s
//! `previous_ids`). The remoting address and hosted actors do not change.
//!
//! The static provider is left out: its seeds task reports to the
//! provider it was started with, so it keeps its id (rejoin is skipped with
//! a log line; Rust-only clusters readmit an id after `block_retention`).

use std::collections::{BTreeMap, BTreeSet};

use crate::wire::Any;
use tokio::sync::{broadcast, watch};

use super::{
    NodeMetrics,
    driver::{Driver, now},
    rejoin::{ListsUs, RejoinDecision, RejoinPolicy, exclusion},
};
use crate::{
    gossip::{ClusterEvent, GossipConfig, GossipCore, RejoinReason, TimedEvent},
    provider::{self, ProviderConfig, SelfMember},
    remote::RemoteEvent,
    system_id::new_system_id,
};

/// What the driver needs to rejoin, and the rejoin history.
pub(super) struct Rejoin {
    pub(super) policy: RejoinPolicy,
    pub(super) lists_us: ListsUs,
    /// This node as the provider registers it (its system id changes).
    pub(super) me: SelfMember,
    pub(super) provider: ProviderConfig,
    pub(super) gossip: GossipConfig,
    /// A duplicate of the automanaged `/_health` socket, for the next
    /// provider (the running one serves on another handle of it).
    pub(super) health: Option<std::net::TcpListener>,
    /// Keys the application set (re-published under a new id).
    pub(super) app_keys: BTreeSet<String>,
    /// The id [`super::NodeHandle::id`] reads.
    pub(super) id: watch::Sender<String>,
    /// Ids this node had before, oldest first.
    pub(super) previous_ids: Vec<String>,
    /// The transport's events: a `blocked` handshake answer is a signal.
    pub(super) remote_events: broadcast::Receiver<RemoteEvent>,
    /// Where the node's health hints go: the current provider's poller
    /// (replaced with the provider).
    pub(super) health_hints: watch::Sender<Option<provider::automanaged::HintSender>>,
    /// A decision taken while applying an outcome (our id in a gossiped
    /// block list), carried out once the input is handled.
    pub(super) pending: Option<RejoinDecision>,
}

impl Driver {
    /// A transport event: a peer answering our handshake with `blocked`.
    pub(super) async fn on_remote_event(
        &mut self,
        event: Result<RemoteEvent, broadcast::error::RecvError>,
    ) {
        if let Ok(RemoteEvent::EndpointConnected {
            address,
            blocked: true,
            ..
        }) = event
        {
            let decision = self
                .rejoin
                .policy
                .on_signal(RejoinReason::BlockedByPeer { address }, now());
            self.carry_out(decision).await;
        }
    }

    /// Our id in a peer's gossiped block list: decided now, carried out
    /// once the input that raised it is handled.
    pub(super) fn note_listed_as_blocked(&mut self, event: &ClusterEvent) {
        if let ClusterEvent::SelfBlockedByPeer { by } = event
            && self.rejoin.pending.is_none()
        {
            self.rejoin.pending = Some(
                self.rejoin
                    .policy
                    .on_signal(RejoinReason::ListedAsBlocked { by: by.clone() }, now()),
            );
        }
    }

    /// Once per round: who excludes us, and for how long.
    pub(super) async fn check_exclusion(&mut self) {
        if !self.rejoin.policy.enabled() {
            return;
        }
        let seen = exclusion(
            &self.core,
            &self.members_rx.borrow(),
            &mut self.rejoin.lists_us,
        );
        match self.rejoin.policy.on_exclusion(seen, now()) {
            // Seen every round while it lasts: acted on when the wait ends.
            RejoinDecision::Wait { .. } => {}
            decision => self.carry_out(decision).await,
        }
    }

    /// Acts on a decision; a signal within the wait is counted and logged.
    pub(super) async fn carry_out(&mut self, decision: RejoinDecision) {
        match decision {
            RejoinDecision::Stay => {}
            RejoinDecision::Wait { reason, until } => {
                NodeMetrics::inc(&self.metrics.rejoins_deferred);
                tracing::info!(%reason, not_before = until.0, "excluded, but the last rejoin was too recent");
            }
            RejoinDecision::Rejoin(reason) => self.rejoin_now(reason).await,
        }
    }

    async fn rejoin_now(&mut self, reason: RejoinReason) {
        let at = now();
        if matches!(self.rejoin.provider, ProviderConfig::Static(_)) {
            self.rejoin.policy.failed(at);
            tracing::warn!(%reason, "excluded from the cluster; rejoin is not supported with the static provider");
            return;
        }
        let old_id = self.core.self_id().as_str().to_owned();
        tracing::warn!(%reason, old_id, "excluded from the cluster: rejoining under a fresh id");
        let Some((new_id, provider, core)) = self.register_fresh().await else {
            self.rejoin.policy.failed(at);
            NodeMetrics::inc(&self.metrics.rejoin_failures);
            return;
        };
        self.rejoin.policy.rejoined(at);
        let app_state = self.app_state();
        self.rejoin
            .health_hints
            .send_replace(provider.health_hints());
        if let Some(mut old) = self.provider.replace(provider) {
            old.shutdown(std::time::Duration::from_secs(5)).await;
        }
        self.members_rx = self.provider.as_ref().map_or_else(
            || watch::channel(Vec::new()).1,
            provider::ProviderHandle::members,
        );
        self.seed_feed = None;
        self.core = core;
        self.rejoin.lists_us = ListsUs::default();
        self.remote.rejoin(&new_id);
        let now = now();
        for (key, value) in app_state {
            let out = self.core.set_state(&key, value, now);
            self.apply(out);
        }
        let members = self.members_rx.borrow_and_update().clone();
        if !members.is_empty() {
            self.snapshot(members);
        }
        self.rejoin.id.send_replace(new_id.clone());
        self.rejoin.previous_ids.push(old_id.clone());
        NodeMetrics::inc(&self.metrics.rejoins);
        tracing::warn!(old_id, new_id, %reason, "rejoined under a fresh id");
        let _ = self.events.send(TimedEvent {
            at: now,
            event: ClusterEvent::Rejoined {
                old_id: old_id.as_str().into(),
                new_id: new_id.as_str().into(),
                reason,
            },
        });
    }

    /// Registers a fresh system id with a new provider; its member id, the
    /// provider and a gossip core for it, or `None` (logged) if that failed.
    async fn register_fresh(&mut self) -> Option<(String, provider::ProviderHandle, GossipCore)> {
        let system_id = match new_system_id() {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "no randomness for a fresh id; rejoin skipped");
                return None;
            }
        };
        let me = SelfMember {
            system_id,
            ..self.rejoin.me.clone()
        };
        let listener = match &self.rejoin.health {
            None => None,
            Some(l) => match l.try_clone().and_then(tokio::net::TcpListener::from_std) {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::error!(error = %e, "cannot share the /_health socket; rejoin skipped");
                    return None;
                }
            },
        };
        let new_id = self.rejoin.provider.member_id(&me);
        let core = match GossipCore::new(&new_id, self.rejoin.gossip.clone()) {
            Ok(c) => c,
            Err(e) => {
                // Validated at start; not reachable in practice.
                tracing::error!(error = %e, "no gossip core for a new id; rejoin skipped");
                return None;
            }
        };
        match provider::serve(self.rejoin.provider.clone(), me.clone(), listener).await {
            Ok(p) => {
                self.rejoin.me = me;
                Some((new_id, p, core))
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot register a fresh id; still excluded, will try again");
                None
            }
        }
    }

    /// Our values of every key the application set.
    fn app_state(&self) -> BTreeMap<String, Any> {
        let Some(own) = self.core.owner_state_of(self.core.self_id().as_str()) else {
            return BTreeMap::new();
        };
        (self.rejoin.app_keys.iter())
            .filter_map(|k| own.get(k).map(|e| (k.clone(), e.value.clone())))
            .collect()
    }
}
