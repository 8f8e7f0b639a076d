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
//! (the grain activator when the application hosts kinds, see
//! `crate::grain`; refused politely otherwise). Everything else is a dead letter: a
//! requester gets `DeadLetterResponse` so Go futures fail fast instead of
//! timing out, and a `DeadLetterResponse` is never answered (no ping-pong).
//!
//! # Hosted actors
//!
//! [`Router::resolve`] is the only function that maps an id to a [`Route`]:
//! the built-in ids first, then the hosted actors' table
//! ([`Route::Actor`]), whose messages go to [`Host::deliver`]. The host
//! sends through [`RouterLink`], its [`Transmit`], so it never names the
//! router.

use std::sync::{Arc, Weak};

use tokio::sync::broadcast;
use tracing::{debug, warn};

use super::{
    EventStreamMessage, Handlers, RemoteMetrics, TransportError,
    actor::{Cell, Host, Transmit},
    dead_letter,
    endpoint_manager::EndpointManager,
    message::{ActorMessage, Header},
    outbound::{Outbound, OutboundBody},
    pending::{FUTURE_PREFIX, PendingRequests},
    tasks::Tasks,
};
use crate::wire::{
    DecodeError, WireMessage,
    proto::{
        actor::{Pid, Terminated, TerminatedReason},
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
#[derive(Clone)]
pub(crate) enum Route<'a> {
    /// [`GOSSIP_ID`]: gossip requests go to the node's handler.
    Gossip,
    /// [`EVENTSTREAM_ID`]: published to eventstream subscribers.
    EventStream,
    /// [`PARTITION_ACTIVATOR_ID`] with no activator hosted: activations
    /// are refused.
    PartitionActivator,
    /// `future$N`: the answer to one of our requests.
    Future(&'a str),
    /// A hosted actor.
    Actor(Arc<Cell>),
    /// Nobody here: a dead letter.
    Unknown,
}

impl Route<'_> {
    /// True for built-in ids an actor lives at (a watch on them is not
    /// answered).
    fn is_hosted(&self) -> bool {
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
    host: Arc<Host>,
}

impl Router {
    pub(crate) fn new(
        address: String,
        handlers: Handlers,
        endpoints: Arc<EndpointManager>,
        eventstream_capacity: usize,
        metrics: Arc<RemoteMetrics>,
        tasks: Tasks,
        host: Arc<Host>,
    ) -> Self {
        Self {
            address,
            handlers,
            pending: Arc::clone(host.pending()),
            endpoints,
            eventstream: broadcast::channel(eventstream_capacity).0,
            metrics,
            tasks,
            host,
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
        self.send_body(target, message.into(), sender, Header::new())
    }

    /// [`Self::send`] for any body, with a header.
    pub(crate) fn send_body(
        self: &Arc<Self>,
        target: Pid,
        body: OutboundBody,
        sender: Option<Pid>,
        header: Header,
    ) -> Result<(), TransportError> {
        if !self.tasks.is_running() {
            return Err(TransportError::ShuttingDown);
        }
        self.dispatch(target, body, sender, header)
    }

    /// Local delivery or the endpoint, without the running check.
    fn dispatch(
        self: &Arc<Self>,
        target: Pid,
        body: OutboundBody,
        sender: Option<Pid>,
        header: Header,
    ) -> Result<(), TransportError> {
        if target.address == self.address {
            let message = match body {
                OutboundBody::Wire(m) => ActorMessage::from(m),
                OutboundBody::Raw(raw) => {
                    match self
                        .host
                        .types()
                        .decode(&raw.type_name, raw.serializer_id, &raw.data)
                    {
                        Ok(m) => m,
                        Err(e) => {
                            self.undecodable(&e, "local");
                            self.dead_letter(target, sender, &raw.type_name);
                            return Ok(());
                        }
                    }
                }
            };
            self.deliver(target, sender, header, message);
            return Ok(());
        }
        self.endpoints.enqueue(Outbound {
            target,
            sender,
            message: body,
            header: (!header.is_empty()).then_some(header),
        })
    }

    /// Counts and logs a body that could not be decoded.
    pub(crate) fn undecodable(&self, e: &DecodeError, peer: &str) {
        match e {
            DecodeError::UnknownTypeName(_) => {
                RemoteMetrics::inc(&self.metrics.envelopes_unknown_type);
            }
            DecodeError::UnsupportedSerializer(_) => {
                RemoteMetrics::inc(&self.metrics.envelopes_bad_serializer);
            }
            _ => RemoteMetrics::inc(&self.metrics.envelopes_malformed),
        }
        warn!(%peer, error = %e, "skipping undecodable envelope");
    }

    /// The hosted actors.
    pub(crate) fn host(&self) -> &Arc<Host> {
        &self.host
    }

    /// True for ids no actor may be registered under: empty, or one the
    /// transport answers itself.
    pub(crate) fn is_reserved(id: &str) -> bool {
        id.is_empty() || !matches!(Self::builtin(id), Route::Unknown)
    }

    fn builtin(id: &str) -> Route<'_> {
        match id {
            GOSSIP_ID => Route::Gossip,
            EVENTSTREAM_ID => Route::EventStream,
            PARTITION_ACTIVATOR_ID => Route::PartitionActivator,
            id if id.starts_with(FUTURE_PREFIX) => Route::Future(id),
            _ => Route::Unknown,
        }
    }

    /// The one mapping from a target id to where its messages go. The
    /// `partition-activator` id goes to the actor hosted there (the grain
    /// activator) when there is one.
    pub(crate) fn resolve<'a>(&self, id: &'a str) -> Route<'a> {
        match Self::builtin(id) {
            Route::Unknown => self.host.get(id).map_or(Route::Unknown, Route::Actor),
            Route::PartitionActivator => self
                .host
                .get(id)
                .map_or(Route::PartitionActivator, Route::Actor),
            route => route,
        }
    }

    /// Delivers one message to the local id it targets.
    pub(crate) fn deliver(
        self: &Arc<Self>,
        target: Pid,
        sender: Option<Pid>,
        header: Header,
        message: ActorMessage,
    ) {
        let metrics = &self.metrics;
        if target.address != self.address {
            RemoteMetrics::inc(&metrics.envelopes_foreign_address);
            debug!(target_address = %target.address, our_address = %self.address,
                "envelope for another address delivered locally by id (never forwarded)");
        }
        let route = self.resolve(&target.id);
        if let Route::Actor(cell) = &route {
            self.host.deliver(cell, target, sender, header, message);
            return;
        }
        if let Route::Future(id) = route {
            let is_dead_letter =
                matches!(message.as_wire(), Some(WireMessage::DeadLetterResponse(_)));
            let result = match message.into_wire() {
                Ok(WireMessage::DeadLetterResponse(d)) => {
                    Err(TransportError::DeadLetter { target: d.target })
                }
                Ok(m) => Ok(ActorMessage::from(m)),
                Err(m) => Ok(m),
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
            return;
        }
        let message = match message.into_wire() {
            Ok(m) => m,
            Err(m) => {
                self.dead_letter(target, sender, m.type_name());
                return;
            }
        };
        match (route, message) {
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
        dead_letter::answer(&self.metrics, target, sender, what, |to, answer| {
            self.reply(to, answer);
        });
    }
}

/// The host's way to send through the router without naming it.
pub(crate) struct RouterLink(pub(crate) Weak<Router>);

impl Transmit for RouterLink {
    fn transmit(
        &self,
        target: Pid,
        body: OutboundBody,
        sender: Option<Pid>,
        header: Header,
    ) -> Result<(), TransportError> {
        match self.0.upgrade() {
            Some(r) => r.send_body(target, body, sender, header),
            None => Err(TransportError::ShuttingDown),
        }
    }

    fn transmit_final(&self, target: Pid, body: OutboundBody) -> Result<(), TransportError> {
        match self.0.upgrade() {
            Some(r) => r.dispatch(target, body, None, Header::new()),
            None => Err(TransportError::ShuttingDown),
        }
    }
}
