//! What the transport tells the node: endpoint life cycle and messages that
//! Go members broadcast to every member's `eventstream`.

use std::sync::{Arc, OnceLock, Weak};

use tokio::sync::broadcast;
use tracing::debug;

use crate::wire::{WireMessage, proto::actor::Pid};

/// Why an outbound endpoint terminated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TerminationReason {
    /// The peer sent `DisconnectRequest` (its graceful shutdown).
    DisconnectRequest,
    /// The peer sent another frame after `ConnectResponse` (Go treats any
    /// such frame as a disconnect, and so do we).
    UnexpectedMessage,
    /// The stream ended (status or reset), e.g. the peer process died.
    StreamEnded(String),
    /// Every connection attempt of one cycle failed.
    ConnectFailed(String),
    /// [`crate::remote::RemoteHandle::remove_endpoint`] was called (e.g. the
    /// peer left the topology).
    Removed,
    /// The peer's system id was blocked.
    Blocked,
    /// Our own shutdown.
    Shutdown,
}

/// An endpoint life-cycle event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteEvent {
    /// Our outbound endpoint to `address` completed its handshake.
    EndpointConnected {
        /// The peer's address.
        address: String,
        /// `ConnectResponse.member_id`: the peer's system id.
        member_id: String,
        /// `ConnectResponse.blocked`: the peer has blocked us for good
        /// (only a restart with a fresh system id helps).
        blocked: bool,
    },
    /// Our outbound endpoint to `address` terminated. Queued messages are
    /// kept if it reconnects, failed if it is gone for good.
    EndpointTerminated {
        /// The peer's address.
        address: String,
        /// Why.
        reason: TerminationReason,
    },
    /// A peer opened a stream to us and identified itself.
    InboundConnected {
        /// `ServerConnection.SystemId`.
        system_id: String,
        /// `ServerConnection.Address`.
        address: String,
        /// Whether we answered `blocked = true`.
        blocked: bool,
    },
}

/// A message a peer sent to our `eventstream` PID.
#[derive(Debug, Clone, PartialEq)]
pub struct EventStreamMessage {
    /// The sender, if the peer gave one.
    pub sender: Option<Pid>,
    /// The message.
    pub message: WireMessage,
}

/// A part of the remote that must see every event, in order and without
/// the loss a lagging broadcast receiver can suffer (the hosted actors'
/// watch table, for `AddressTerminated`).
pub(crate) trait EventListener: Send + Sync {
    /// Called synchronously by the publisher; must not block.
    fn on_event(&self, event: &RemoteEvent);
}

/// Where [`RemoteEvent`]s are published; cheap to clone.
#[derive(Clone)]
pub(crate) struct EventSink {
    events: broadcast::Sender<RemoteEvent>,
    listener: Arc<OnceLock<Weak<dyn EventListener>>>,
}

impl EventSink {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            events: broadcast::channel(capacity).0,
            listener: Arc::new(OnceLock::new()),
        }
    }

    /// Sets the one listener (once; later calls are ignored).
    pub(crate) fn set_listener(&self, listener: Weak<dyn EventListener>) {
        let _ = self.listener.set(listener);
    }

    /// Publishes an event; nobody listening is fine.
    pub(crate) fn publish(&self, event: RemoteEvent) {
        debug!(?event, "remote event");
        if let Some(l) = self.listener.get().and_then(Weak::upgrade) {
            l.on_event(&event);
        }
        let _ = self.events.send(event);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<RemoteEvent> {
        self.events.subscribe()
    }
}
