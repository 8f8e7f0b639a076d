//! One outbound endpoint per peer address, created lazily on first send.
//!
//! The manager owns the table; endpoint tasks never reach back into it. An
//! ending endpoint reports [`Ended`] over a channel, and the manager applies
//! those reports before every look-up. Each entry carries a generation number
//! so that a report removes only the endpoint that sent it, never a fresh
//! endpoint created for the same address meanwhile (Go's address-keyed
//! removal has exactly that race, Q-T9).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::{mpsc, watch};
use tracing::warn;

use super::{
    BlockList, RemoteMetrics, TerminationReason, TransportError,
    address::parse_address,
    endpoint::{self, Ended, EndpointContext},
    outbound::Outbound,
    tasks::Tasks,
};

struct Entry {
    generation: u64,
    queue: mpsc::Sender<Outbound>,
    close: watch::Sender<Option<TerminationReason>>,
}

struct Table {
    map: HashMap<String, Entry>,
    next_generation: u64,
    /// Endpoints' termination reports.
    ended: mpsc::UnboundedReceiver<Ended>,
    /// Set by [`EndpointManager::close_all`]: no endpoint starts after it.
    closed: bool,
}

impl Table {
    /// Forgets the endpoints that have reported their end.
    fn apply_ended(&mut self) {
        while let Ok(Ended {
            address,
            generation,
        }) = self.ended.try_recv()
        {
            if self
                .map
                .get(&address)
                .is_some_and(|e| e.generation == generation)
            {
                self.map.remove(&address);
            }
        }
    }
}

/// The table of outbound endpoints.
pub(crate) struct EndpointManager {
    context: Arc<EndpointContext>,
    block_list: Arc<BlockList>,
    metrics: Arc<RemoteMetrics>,
    queue_capacity: usize,
    tasks: Tasks,
    /// Cloned into every endpoint task for its [`Ended`] report.
    ended: mpsc::UnboundedSender<Ended>,
    table: Mutex<Table>,
}

impl EndpointManager {
    pub(crate) fn new(
        context: Arc<EndpointContext>,
        block_list: Arc<BlockList>,
        metrics: Arc<RemoteMetrics>,
        queue_capacity: usize,
        tasks: Tasks,
    ) -> Self {
        let (ended, ended_rx) = mpsc::unbounded_channel();
        Self {
            context,
            block_list,
            metrics,
            queue_capacity,
            tasks,
            ended,
            table: Mutex::new(Table {
                map: HashMap::new(),
                next_generation: 0,
                ended: ended_rx,
                closed: false,
            }),
        }
    }

    /// The table, with every termination reported so far applied.
    fn lock(&self) -> MutexGuard<'_, Table> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table.apply_ended();
        table
    }

    /// Queues `message` on the endpoint of its target's address.
    pub(crate) fn enqueue(&self, message: Outbound) -> Result<(), TransportError> {
        let address = message.target.address.clone();
        if self.block_list.is_address_blocked(&address) {
            RemoteMetrics::inc(&self.metrics.outbound_refused_blocked);
            return Err(TransportError::Blocked { address });
        }
        parse_address(&address)?;
        let mut message = message;
        // Two tries: the first may hit an endpoint that just terminated.
        for _ in 0..2 {
            let queue = self.queue_for(&address)?;
            match queue.try_send(message) {
                Ok(()) => {
                    RemoteMetrics::inc(&self.metrics.outbound_envelopes);
                    return Ok(());
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    RemoteMetrics::inc(&self.metrics.outbound_dropped_queue_full);
                    warn!(%address, "outbound queue full, dropping message");
                    return Err(TransportError::QueueFull { address });
                }
                Err(mpsc::error::TrySendError::Closed(m)) => {
                    self.remove_closed(&address);
                    message = m;
                }
            }
        }
        RemoteMetrics::inc(&self.metrics.outbound_dropped_terminated);
        Err(TransportError::EndpointTerminated { address })
    }

    /// The queue of the endpoint to `address`, starting the endpoint if
    /// there is none.
    fn queue_for(&self, address: &str) -> Result<mpsc::Sender<Outbound>, TransportError> {
        let mut table = self.lock();
        if table.closed {
            return Err(TransportError::ShuttingDown);
        }
        if let Some(e) = table.map.get(address)
            && !e.queue.is_closed()
        {
            return Ok(e.queue.clone());
        }
        let generation = table.next_generation;
        table.next_generation += 1;
        let (queue, rx) = mpsc::channel(self.queue_capacity);
        let (close, close_rx) = watch::channel(None);
        table.map.insert(
            address.to_owned(),
            Entry {
                generation,
                queue: queue.clone(),
                close,
            },
        );
        self.tasks.spawn(endpoint::run(
            Arc::clone(&self.context),
            address.to_owned(),
            generation,
            rx,
            close_rx,
            self.ended.clone(),
        ));
        Ok(queue)
    }

    fn remove_closed(&self, address: &str) {
        let mut table = self.lock();
        if table.map.get(address).is_some_and(|e| e.queue.is_closed()) {
            table.map.remove(address);
        }
    }

    /// Closes and removes the endpoint of `address`. True when there was one.
    pub(crate) fn remove(&self, address: &str, reason: TerminationReason) -> bool {
        match self.lock().map.remove(address) {
            Some(e) => {
                let _ = e.close.send(Some(reason));
                true
            }
            None => false,
        }
    }

    /// Closes every endpoint; none starts afterwards.
    pub(crate) fn close_all(&self, reason: &TerminationReason) {
        let mut table = self.lock();
        table.closed = true;
        for (_, e) in table.map.drain() {
            let _ = e.close.send(Some(reason.clone()));
        }
    }

    /// Resolves once every endpoint queue is empty (taken by its endpoint
    /// task), or after `limit`.
    pub(crate) async fn drained(&self, limit: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let busy = self
                .lock()
                .map
                .values()
                .any(|e| e.queue.capacity() < e.queue.max_capacity());
            if !busy || tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Addresses with an endpoint.
    pub(crate) fn addresses(&self) -> Vec<String> {
        let mut v: Vec<_> = self.lock().map.keys().cloned().collect();
        v.sort();
        v
    }
}
