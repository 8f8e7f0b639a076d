//! How inbound requests reach the node.
//!
//! The transport owns only the ids protoactor-go members address on every
//! member (`gossip`, `eventstream`, `partition-activator`, futures); the
//! answers to gossip come from the node, through [`GossipHandler`].

use std::{future::Future, pin::Pin, sync::Arc};

use crate::wire::proto::{
    actor::Pid,
    cluster::{GossipRequest, GossipResponse},
};

/// A boxed future returned by handlers.
pub type HandlerFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Answers `cluster.GossipRequest`s sent to our `gossip` PID.
///
/// Implemented for any `Fn(Option<Pid>, GossipRequest) -> impl Future<Output
/// = GossipResponse>`. The answer goes to `sender` over our own connection
/// to its address; Go waits 500 ms for it. A call still running when the
/// remote's shutdown grace is over is dropped.
pub trait GossipHandler: Send + Sync + 'static {
    /// Handles one request; `sender` is the requester's future PID.
    fn on_gossip_request(
        &self,
        sender: Option<Pid>,
        request: GossipRequest,
    ) -> HandlerFuture<GossipResponse>;
}

impl<F, Fut> GossipHandler for F
where
    F: Fn(Option<Pid>, GossipRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = GossipResponse> + Send + 'static,
{
    fn on_gossip_request(
        &self,
        sender: Option<Pid>,
        request: GossipRequest,
    ) -> HandlerFuture<GossipResponse> {
        Box::pin(self(sender, request))
    }
}

/// The node's handlers. Without a gossip handler, gossip requests are
/// answered with `DeadLetterResponse` (the requester fails fast).
#[derive(Clone, Default)]
pub struct Handlers {
    pub(crate) gossip: Option<Arc<dyn GossipHandler>>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers")
            .field("gossip", &self.gossip.is_some())
            .finish()
    }
}

impl Handlers {
    /// No handlers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the gossip handler.
    #[must_use]
    pub fn with_gossip(mut self, handler: impl GossipHandler) -> Self {
        self.gossip = Some(Arc::new(handler));
        self
    }
}
