//! The state every task of one remote shares: config, our address, the
//! endpoint table, pending requests, block list, metrics and channels.

use std::sync::{Arc, atomic::AtomicUsize};

use tokio::sync::{broadcast, watch};
use tracing::debug;

use super::{
    BlockList, EventStreamMessage, Handlers, RemoteConfig, RemoteEvent, RemoteMetrics,
    TransportError, endpoint_manager::EndpointManager, inbound, outbound::Outbound,
    pending::PendingRequests,
};
use crate::wire::{WireMessage, proto::actor::Pid};

/// Where the remote is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    Running,
    /// Inbound streams get `DisconnectRequest` and an error status.
    ShuttingDownGracefully,
    /// Inbound streams get an error status only.
    ShuttingDownHard,
}

pub(crate) struct Shared {
    pub config: RemoteConfig,
    pub address: String,
    pub handlers: Handlers,
    pub metrics: RemoteMetrics,
    pub block_list: BlockList,
    pub pending: PendingRequests,
    pub endpoints: EndpointManager,
    pub events: broadcast::Sender<RemoteEvent>,
    pub eventstream: broadcast::Sender<EventStreamMessage>,
    pub lifecycle: watch::Sender<Lifecycle>,
    pub inbound_streams: AtomicUsize,
    pub runtime: tokio::runtime::Handle,
}

impl Shared {
    pub(crate) fn is_running(&self) -> bool {
        *self.lifecycle.borrow() == Lifecycle::Running
    }

    /// Publishes an event; nobody listening is fine.
    pub(crate) fn publish(&self, event: RemoteEvent) {
        debug!(?event, "remote event");
        let _ = self.events.send(event);
    }

    /// Sends `message` to `target`: locally when the target's address is
    /// exactly ours, else through the endpoint of the target's address.
    pub(crate) fn send(
        self: &Arc<Self>,
        target: Pid,
        message: WireMessage,
        sender: Option<Pid>,
    ) -> Result<(), TransportError> {
        if !self.is_running() {
            return Err(TransportError::ShuttingDown);
        }
        if target.address == self.address {
            inbound::route(self, target, sender, message);
            return Ok(());
        }
        self.endpoints.enqueue(
            self,
            Outbound {
                target,
                sender,
                message,
                header: None,
            },
        )
    }

    /// How many requests are waiting (tests).
    #[cfg(test)]
    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// A message that will never be sent: if its sender is one of our
    /// waiting requests, that request fails with `err`.
    pub(crate) fn fail_outbound(&self, message: &Outbound, err: &TransportError) {
        if let Some(s) = &message.sender
            && s.address == self.address
        {
            self.pending.complete(&s.id, Err(err.clone()));
        }
    }
}
