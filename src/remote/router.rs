//! Where every message goes: the one place that routes by target.
//!
//! Outbound, a message to our own address is delivered here at once and any
//! other goes to the endpoint of its address. Inbound (and local), a message
//! is delivered by target id only and never forwarded: a target address that
//! is not exactly ours (an alias like `localhost`) is counted and still
//! delivered locally, where Go would forward it and may loop (Q-M5).
//!
//! The ids we answer are those protoactor-go members address on every
//! member: `gossip` (the node's [`GossipHandler`](super::GossipHandler)),
//! our request futures (`future$N`), `eventstream` and `partition-activator`
//! (refused politely, we host no kinds). Everything else is a dead letter: a
//! requester gets `DeadLetterResponse` so Go futures fail fast instead of
//! timing out, and a `DeadLetterResponse` is never answered (no ping-pong).
//!
//! # Per-actor handlers
//!
//! [`Router::resolve`] is the only function that maps an id to a [`Route`].
//! Hosting actors that Go can message by PID adds a `Route::Actor(handler)`
//! variant, a table of handlers by id in the router (registered and
//! unregistered at runtime behind a lock), consulted in `resolve` after the
//! built-in ids, and one arm in [`Router::deliver`] that runs the handler on
//! [`Tasks`] as the gossip arm does. Watches on such ids then follow
//! [`Route::is_hosted`] with no further change.

use std::sync::Arc;

use tokio::sync::broadcast;
use tracing::debug;

use super::{
    EventStreamMessage, Handlers, RemoteMetrics, TransportError,
    endpoint_manager::EndpointManager,
    outbound::Outbound,
    pending::{FUTURE_PREFIX, PendingRequests},
    tasks::Tasks,
};
use crate::wire::{
    WireMessage,
    proto::{
        actor::{DeadLetterResponse, Pid, Terminated, TerminatedReason},
        cluster::ActivationResponse,
    },
};

/// The id of every member's gossip actor.
pub const GOSSIP_ID: &str = "gossip";
/// The id Go members broadcast cluster events to.
pub const EVENTSTREAM_ID: &str = "eventstream";
/// The id of the disthash placement actor Go sends `ActivationRequest`s to.
pub const PARTITION_ACTIVATOR_ID: &str = "partition-activator";

/// What a target id resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// [`GOSSIP_ID`]: gossip requests go to the node's handler.
    Gossip,
    /// [`EVENTSTREAM_ID`]: published to eventstream subscribers.
    EventStream,
    /// [`PARTITION_ACTIVATOR_ID`]: activations are refused.
    PartitionActivator,
    /// `future$N`: the answer to one of our requests.
    Future(&'a str),
    /// Nobody here: a dead letter.
    Unknown,
}

impl Route<'_> {
    /// True for ids an actor lives at (a watch on them is not answered).
    fn is_hosted(self) -> bool {
        matches!(
            self,
            Route::Gossip | Route::EventStream | Route::PartitionActivator
        )
    }
}

/// Routes messages by target; shared by the handle, inbound streams and
/// gossip handler tasks.
pub(crate) struct Router {
    /// Our published address.
    address: String,
    handlers: Handlers,
    pending: Arc<PendingRequests>,
    endpoints: Arc<EndpointManager>,
    eventstream: broadcast::Sender<EventStreamMessage>,
    metrics: Arc<RemoteMetrics>,
    tasks: Tasks,
}

impl Router {
    pub(crate) fn new(
        address: String,
        handlers: Handlers,
        pending: Arc<PendingRequests>,
        endpoints: Arc<EndpointManager>,
        eventstream_capacity: usize,
        metrics: Arc<RemoteMetrics>,
        tasks: Tasks,
    ) -> Self {
        Self {
            address,
            handlers,
            pending,
            endpoints,
            eventstream: broadcast::channel(eventstream_capacity).0,
            metrics,
            tasks,
        }
    }

    /// Our published address.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// Messages peers send to our `eventstream` PID.
    pub(crate) fn subscribe_eventstream(&self) -> broadcast::Receiver<EventStreamMessage> {
        self.eventstream.subscribe()
    }

    /// Sends `message` to `target`: delivered here when the target's address
    /// is exactly ours, else queued on the endpoint of the target's address.
    pub(crate) fn send(
        self: &Arc<Self>,
        target: Pid,
        message: WireMessage,
        sender: Option<Pid>,
    ) -> Result<(), TransportError> {
        if !self.tasks.is_running() {
            return Err(TransportError::ShuttingDown);
        }
        if target.address == self.address {
            self.deliver(target, sender, message);
            return Ok(());
        }
        self.endpoints.enqueue(Outbound {
            target,
            sender,
            message,
            header: None,
        })
    }

    /// The one mapping from a target id to where its messages go.
    pub(crate) fn resolve(id: &str) -> Route<'_> {
        match id {
            GOSSIP_ID => Route::Gossip,
            EVENTSTREAM_ID => Route::EventStream,
            PARTITION_ACTIVATOR_ID => Route::PartitionActivator,
            id if id.starts_with(FUTURE_PREFIX) => Route::Future(id),
            _ => Route::Unknown,
        }
    }

    /// Delivers one message to the local id it targets.
    pub(crate) fn deliver(
        self: &Arc<Self>,
        target: Pid,
        sender: Option<Pid>,
        message: WireMessage,
    ) {
        let metrics = &self.metrics;
        if target.address != self.address {
            RemoteMetrics::inc(&metrics.envelopes_foreign_address);
            debug!(target_address = %target.address, our_address = %self.address,
                "envelope for another address delivered locally by id (never forwarded)");
        }
        match (Self::resolve(&target.id), message) {
            (Route::Gossip, WireMessage::GossipRequest(request)) => {
                let Some(handler) = self.handlers.gossip.clone() else {
                    self.dead_letter(target, sender, "cluster.GossipRequest");
                    return;
                };
                RemoteMetrics::inc(&metrics.gossip_requests);
                RemoteMetrics::inc(&metrics.inbound_envelopes);
                let router = Arc::clone(self);
                self.tasks.spawn(async move {
                    let response = handler.on_gossip_request(sender.clone(), request).await;
                    if let Some(s) = sender {
                        router.reply(s, response.into());
                    }
                });
            }
            (Route::EventStream, message) => {
                RemoteMetrics::inc(&metrics.eventstream_messages);
                RemoteMetrics::inc(&metrics.inbound_envelopes);
                let _ = self
                    .eventstream
                    .send(EventStreamMessage { sender, message });
            }
            (Route::PartitionActivator, WireMessage::ActivationRequest(request)) => {
                RemoteMetrics::inc(&metrics.activation_requests_refused);
                RemoteMetrics::inc(&metrics.inbound_envelopes);
                debug!(identity = ?request.cluster_identity, "refusing activation: we host no kinds");
                if let Some(s) = sender {
                    self.reply(
                        s,
                        ActivationResponse {
                            pid: None,
                            failed: true,
                            topology_hash: request.topology_hash,
                        }
                        .into(),
                    );
                }
            }
            (Route::Future(id), message) => {
                let is_dead_letter = matches!(message, WireMessage::DeadLetterResponse(_));
                let result = match message {
                    WireMessage::DeadLetterResponse(d) => {
                        Err(TransportError::DeadLetter { target: d.target })
                    }
                    m => Ok(m),
                };
                if self.pending.complete(id, result) {
                    RemoteMetrics::inc(&metrics.inbound_envelopes);
                } else {
                    RemoteMetrics::inc(&metrics.late_responses);
                    debug!(%id, "response for a request that is no longer waiting");
                    if !is_dead_letter {
                        self.dead_letter(target, sender, "late response");
                    }
                }
            }
            (route, WireMessage::Watch(watch)) => {
                // Go answers a watch on a missing actor with Terminated{NotFound}.
                if route.is_hosted() {
                    return;
                }
                RemoteMetrics::inc(&metrics.envelopes_dead_lettered);
                if let Some(watcher) = watch.watcher {
                    self.reply(
                        watcher,
                        Terminated {
                            who: Some(target),
                            why: TerminatedReason::NotFound as i32,
                        }
                        .into(),
                    );
                }
            }
            (_, message) => {
                let name = message.type_name();
                if matches!(message, WireMessage::DeadLetterResponse(_)) {
                    RemoteMetrics::inc(&metrics.envelopes_dead_lettered);
                    return;
                }
                self.dead_letter(target, sender, name);
            }
        }
    }

    /// Sends an answer, with no sender of our own (so nobody answers it).
    fn reply(self: &Arc<Self>, to: Pid, message: WireMessage) {
        if let Err(e) = self.send(to, message, None) {
            debug!(error = %e, "could not send reply");
        }
    }

    /// An envelope nobody here handles: the requester (if any) gets
    /// `DeadLetterResponse{Target}`.
    pub(crate) fn dead_letter(self: &Arc<Self>, target: Pid, sender: Option<Pid>, what: &str) {
        RemoteMetrics::inc(&self.metrics.envelopes_dead_lettered);
        debug!(target_id = %target.id, %what, has_sender = sender.is_some(), "dead letter");
        if what == "actor.DeadLetterResponse" {
            return;
        }
        if let Some(s) = sender {
            RemoteMetrics::inc(&self.metrics.dead_letter_responses_sent);
            self.reply(
                s,
                DeadLetterResponse {
                    target: Some(target),
                }
                .into(),
            );
        }
    }
}
