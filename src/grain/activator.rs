//! The activator: the actor at `partition-activator` that activates grains
//! when Go's (or our) disthash identity lookup asks, and keeps the table of
//! activations, as protoactor-go's disthash `placementActor` does.
//!
//! - `ActivationRequest{cluster_identity}`: the activation of `kind/identity`
//!   if there is one, else a new grain of the kind, spawned under Go's
//!   child name `partition-activator/<identity>$<n>` (Go's `SpawnPrefix`
//!   from the placement actor) and watched; answered
//!   `ActivationResponse{pid}`. A kind we do not host, or a request with no
//!   identity, is answered `ActivationResponse{failed: true}` at once: Go's
//!   caller (`Manager.Get`) then sees a nil PID and retries or fails, where
//!   Go itself answers nil (nothing reaches the caller; it waits 5 s) or
//!   dereferences nil.
//! - `actor.Terminated` of an activation (it stopped for any reason):
//!   `ActivationTerminated{pid, cluster_identity}` is sent to the
//!   `eventstream` of every member, us included (Go's
//!   `MemberList.BroadcastEvent(…, true)`), and the activation is forgotten.
//!   A `Terminated` for a PID we do not know is ignored (Go dereferences nil).
//! - A topology change (the grain host's subscription pokes us with an
//!   empty `ClusterTopology`; the member list is read from the node's own
//!   view, never from the message): every activation whose identity the new
//!   topology places on another member is poisoned (`actor.PoisonPill`: it
//!   finishes what is queued, then stops and is forgotten as above).
//!
//! One actor, one message at a time, so two requests for one identity can
//! never activate it twice.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, PoisonError},
};

use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::{GrainMetrics, host::HostedKind};
use crate::{
    placement::{Rendezvous, member_address},
    remote::{
        Actor, ActorContext, ActorMessage, EVENTSTREAM_ID, PARTITION_ACTIVATOR_ID, RemoteHandle,
        pending::go_base64,
    },
    wire::{
        WireMessage,
        proto::{
            actor::{Pid, PoisonPill, Terminated},
            cluster::{
                ActivationRequest, ActivationResponse, ActivationTerminated, ClusterIdentity,
                Member,
            },
        },
    },
};

/// The current activations, `kind/identity` → PID: written by the
/// activator only, read by [`super::GrainHostHandle::activations`].
pub(crate) type ActivationTable = Arc<Mutex<BTreeMap<String, Pid>>>;

/// One activation.
struct Activation {
    identity: ClusterIdentity,
    pid: Pid,
}

/// The kinds hosted here, by name.
pub(crate) type Kinds = BTreeMap<String, Arc<dyn HostedKind>>;

pub(crate) struct Activator {
    remote: RemoteHandle,
    kinds: Kinds,
    /// The active members as the node last reported them.
    members: watch::Receiver<Vec<Member>>,
    metrics: Arc<GrainMetrics>,
    table: ActivationTable,
    /// By `kind/identity`.
    activations: HashMap<String, Activation>,
    /// Activation PID id → `kind/identity`.
    by_pid: HashMap<String, String>,
    /// The `$n` suffix of the next child name.
    next_child: u64,
}

/// Go's `ClusterIdentity.AsKey()`.
pub(crate) fn key_of(identity: &ClusterIdentity) -> String {
    format!("{}/{}", identity.kind, identity.identity)
}

impl Activator {
    pub(crate) fn new(
        remote: RemoteHandle,
        kinds: Kinds,
        members: watch::Receiver<Vec<Member>>,
        metrics: Arc<GrainMetrics>,
        table: ActivationTable,
    ) -> Self {
        Self {
            remote,
            kinds,
            members,
            metrics,
            table,
            activations: HashMap::new(),
            by_pid: HashMap::new(),
            next_child: 0,
        }
    }

    fn failed(request: &ActivationRequest) -> ActivationResponse {
        ActivationResponse {
            pid: None,
            failed: true,
            topology_hash: request.topology_hash,
        }
    }

    /// The answer to one `ActivationRequest`.
    fn activate(&mut self, ctx: &ActorContext, request: &ActivationRequest) -> ActivationResponse {
        let metrics = &self.metrics;
        let Some(identity) = request
            .cluster_identity
            .as_ref()
            .filter(|ci| !ci.kind.is_empty())
        else {
            GrainMetrics::inc(&metrics.activations_malformed);
            warn!(sender = ?ctx.sender(), "ActivationRequest without a cluster identity or kind");
            return Self::failed(request);
        };
        let key = key_of(identity);
        if let Some(a) = self.activations.get(&key) {
            GrainMetrics::inc(&metrics.activations_found);
            return ActivationResponse {
                pid: Some(a.pid.clone()),
                ..ActivationResponse::default()
            };
        }
        let Some(kind) = self.kinds.get(&identity.kind) else {
            GrainMetrics::inc(&metrics.activations_unknown_kind);
            warn!(kind = %identity.kind, identity = %identity.identity, sender = ?ctx.sender(),
                "ActivationRequest for a kind this node does not host");
            return Self::failed(request);
        };
        self.next_child += 1;
        let name = format!(
            "{PARTITION_ACTIVATOR_ID}/{}${}",
            identity.identity,
            go_base64(self.next_child)
        );
        let pid = match kind.activate(&self.remote, &name, identity.clone(), metrics) {
            Ok(pid) => pid,
            Err(e) => {
                GrainMetrics::inc(&metrics.activations_failed);
                warn!(%key, error = %e, "cannot activate grain");
                return Self::failed(request);
            }
        };
        GrainMetrics::inc(&metrics.activations_started);
        debug!(%key, ?pid, "grain activated");
        ctx.watch(&pid);
        self.by_pid.insert(pid.id.clone(), key.clone());
        self.table().insert(key.clone(), pid.clone());
        self.activations.insert(
            key,
            Activation {
                identity: identity.clone(),
                pid: pid.clone(),
            },
        );
        ActivationResponse {
            pid: Some(pid),
            ..ActivationResponse::default()
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Pid>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An activation stopped: tell every member and forget it.
    fn terminated(&mut self, t: &Terminated) {
        let Some(who) = &t.who else { return };
        if who.address != self.remote.address() {
            debug!(?who, "Terminated for a PID on another node");
            return;
        }
        let Some(key) = self.by_pid.remove(&who.id) else {
            debug!(?who, "Terminated for a PID that is not an activation");
            return;
        };
        let Some(activation) = self.activations.remove(&key) else {
            return;
        };
        self.table().remove(&key);
        GrainMetrics::inc(&self.metrics.activations_terminated);
        debug!(%key, "activation terminated");
        let event = ActivationTerminated {
            pid: Some(activation.pid),
            cluster_identity: Some(activation.identity),
        };
        for address in self.member_addresses() {
            let target = Pid {
                address,
                id: EVENTSTREAM_ID.into(),
                request_id: 0,
            };
            if let Err(e) = self
                .remote
                .send(target, WireMessage::from(event.clone()), None)
            {
                debug!(error = %e, "cannot broadcast ActivationTerminated");
            }
        }
    }

    /// Where `BroadcastEvent` goes: every active member, us included.
    fn member_addresses(&self) -> Vec<String> {
        let own = self.remote.address().to_owned();
        let mut addresses: Vec<String> = self.members.borrow().iter().map(member_address).collect();
        if !addresses.contains(&own) {
            addresses.push(own);
        }
        addresses
    }

    /// The topology changed: poison every activation placed elsewhere now.
    fn topology_changed(&mut self) {
        let members = self.members.borrow_and_update().clone();
        let placement = Rendezvous::new(&members);
        let own = self.remote.address();
        let mut moved = 0;
        for (key, a) in &self.activations {
            let owner = placement.owner_address(&a.identity.kind, &a.identity.identity);
            if owner == Some(own) {
                continue;
            }
            moved += 1;
            GrainMetrics::inc(&self.metrics.activations_moved);
            debug!(%key, ?owner, "activation moved to another member; poisoning it");
            if let Err(e) = self
                .remote
                .send(a.pid.clone(), WireMessage::from(PoisonPill {}), None)
            {
                debug!(error = %e, "cannot poison a moved activation");
            }
        }
        if moved > 0 {
            info!(
                moved,
                members = members.len(),
                "topology changed: activations moved away"
            );
        }
    }
}

impl Actor for Activator {
    async fn receive(&mut self, ctx: &mut ActorContext, message: ActorMessage) {
        match message.into_wire() {
            Ok(WireMessage::ActivationRequest(request)) => {
                let response = self.activate(ctx, &request);
                if let Err(e) = ctx.respond(&response) {
                    debug!(error = %e, "cannot answer ActivationRequest");
                }
            }
            Ok(WireMessage::Terminated(t)) => self.terminated(&t),
            Ok(WireMessage::ClusterTopology(_)) => self.topology_changed(),
            Ok(other) => {
                debug!(type_name = other.type_name(), "activator ignores message");
            }
            Err(m) => {
                debug!(type_name = m.type_name(), "activator ignores message");
            }
        }
    }
}
