//! One outbound endpoint per peer address, created lazily on first send.
//!
//! Each entry carries a generation number so that a terminating endpoint
//! removes only itself, never a fresh endpoint created for the same address
//! meanwhile (Go's address-keyed removal has exactly that race, Q-T9).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::{mpsc, watch};
use tracing::warn;

use super::{
    RemoteMetrics, TerminationReason, TransportError, address::parse_address, endpoint,
    outbound::Outbound, shared::Shared,
};

struct Entry {
    generation: u64,
    queue: mpsc::Sender<Outbound>,
    close: watch::Sender<Option<TerminationReason>>,
}

/// The table of outbound endpoints.
#[derive(Default)]
pub(crate) struct EndpointManager {
    next_generation: AtomicU64,
    map: Mutex<HashMap<String, Entry>>,
}

impl EndpointManager {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `message` on the endpoint of its target's address.
    pub(crate) fn enqueue(
        &self,
        shared: &Arc<Shared>,
        message: Outbound,
    ) -> Result<(), TransportError> {
        let address = message.target.address.clone();
        if shared.block_list.is_address_blocked(&address) {
            RemoteMetrics::inc(&shared.metrics.outbound_refused_blocked);
            return Err(TransportError::Blocked { address });
        }
        parse_address(&address)?;
        let mut message = message;
        // Two tries: the first may hit an endpoint that just terminated.
        for _ in 0..2 {
            let queue = self.queue_for(shared, &address);
            match queue.try_send(message) {
                Ok(()) => {
                    RemoteMetrics::inc(&shared.metrics.outbound_envelopes);
                    return Ok(());
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    RemoteMetrics::inc(&shared.metrics.outbound_dropped_queue_full);
                    warn!(%address, "outbound queue full, dropping message");
                    return Err(TransportError::QueueFull { address });
                }
                Err(mpsc::error::TrySendError::Closed(m)) => {
                    self.remove_closed(&address);
                    message = m;
                }
            }
        }
        RemoteMetrics::inc(&shared.metrics.outbound_dropped_terminated);
        Err(TransportError::EndpointTerminated { address })
    }

    fn queue_for(&self, shared: &Arc<Shared>, address: &str) -> mpsc::Sender<Outbound> {
        let mut map = self.lock();
        if let Some(e) = map.get(address)
            && !e.queue.is_closed()
        {
            return e.queue.clone();
        }
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let (queue, rx) = mpsc::channel(shared.config.endpoint_queue_capacity);
        let (close, close_rx) = watch::channel(None);
        map.insert(
            address.to_owned(),
            Entry {
                generation,
                queue: queue.clone(),
                close,
            },
        );
        shared.runtime.spawn(endpoint::run(
            Arc::clone(shared),
            address.to_owned(),
            generation,
            rx,
            close_rx,
        ));
        queue
    }

    fn remove_closed(&self, address: &str) {
        let mut map = self.lock();
        if map.get(address).is_some_and(|e| e.queue.is_closed()) {
            map.remove(address);
        }
    }

    /// Removes the endpoint if it is still generation `generation`.
    pub(crate) fn remove_generation(&self, address: &str, generation: u64) {
        let mut map = self.lock();
        if map.get(address).is_some_and(|e| e.generation == generation) {
            map.remove(address);
        }
    }

    /// Closes and removes the endpoint of `address`. True when there was one.
    pub(crate) fn remove(&self, address: &str, reason: TerminationReason) -> bool {
        match self.lock().remove(address) {
            Some(e) => {
                let _ = e.close.send(Some(reason));
                true
            }
            None => false,
        }
    }

    /// Closes every endpoint.
    pub(crate) fn close_all(&self, reason: &TerminationReason) {
        for (_, e) in self.lock().drain() {
            let _ = e.close.send(Some(reason.clone()));
        }
    }

    /// Addresses with an endpoint.
    pub(crate) fn addresses(&self) -> Vec<String> {
        let mut v: Vec<_> = self.lock().keys().cloned().collect();
        v.sort();
        v
    }
}
