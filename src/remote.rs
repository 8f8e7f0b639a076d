//! protoactor-go's Remoting protocol over tonic: a peer that Go nodes cannot
//! tell from a Go node.
//!
//! The protocol is asymmetric and unforgiving (see the wire notes, sections
//! 1–3 and 8.3): every node dials its own connection to each peer and opens
//! one `remote.Remoting/Receive` stream on it; all its traffic to that peer
//! flows client → server on that stream, and answers come back over the
//! peer's *own* connection to us. A server sends nothing on an inbound stream
//! but one `ConnectResponse` and, on graceful shutdown, one
//! `DisconnectRequest`. The pieces:
//!
//! - [`RemoteHandle`] — the API the node uses: `send`, `request`, `block`,
//!   `remove_endpoint`, events, metrics, `shutdown`.
//! - `server` — the tonic service for inbound streams.
//! - `endpoint`, `endpoint_manager`, `outbound` — one lazily created,
//!   reconnecting endpoint per peer address, batching queued messages into
//!   `MessageBatch`es below 4 MiB and 1000 envelopes.
//! - `inbound` — routing by target id: `gossip` (to the node's
//!   [`GossipHandler`]), our request futures, `eventstream`,
//!   `partition-activator` (refused politely), dead letters for the rest.
//! - [`BlockList`] — blocked system ids and the id ↔ address map.
//! - [`RemoteMetrics`] — counters for everything dropped or refused.
//!
//! # Addresses
//!
//! We publish exactly one `host:port` string ([`RemoteHandle::address`]) and
//! put it in every PID we own. Go compares addresses byte for byte, so the
//! string must be the one peers dial *and* the one they see in our PIDs: if
//! we advertise `localhost:8090` but a Go node knows us as `127.0.0.1:8090`
//! (or the reverse), the Go node treats PIDs of one spelling as belonging to
//! another node, opens a second endpoint and may forward messages in a loop.
//! Pick one spelling (an IP for loopback tests), advertise it, and use the
//! same spelling for every peer. We recognise our own address only by exact
//! comparison, and deliver inbound envelopes by id whatever their address
//! says (never forwarding them).

mod address;
mod block_list;
mod config;
mod endpoint;
mod endpoint_manager;
mod error;
mod event;
mod handler;
mod inbound;
mod metrics;
mod outbound;
mod pending;
mod server;
mod shared;
mod tls;

use std::{
    sync::{Arc, atomic::AtomicUsize},
    time::Duration,
};

use tokio::{
    net::TcpListener,
    sync::{broadcast, oneshot, watch},
    task::JoinHandle,
};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;
use tracing::{info, warn};

pub use address::parse_address;
pub use block_list::BlockList;
pub use config::{
    BackoffConfig, GO_BATCH_SIZE, GO_MAX_MESSAGE_SIZE, GO_MIN_KEEPALIVE, RemoteConfig,
};
pub use error::TransportError;
pub use event::{EventStreamMessage, RemoteEvent, TerminationReason};
pub use handler::{GossipHandler, HandlerFuture, Handlers};
pub use inbound::{EVENTSTREAM_ID, GOSSIP_ID, PARTITION_ACTIVATOR_ID};
pub use metrics::{RemoteMetrics, RemoteMetricsSnapshot};
pub use pending::{FUTURE_PREFIX, go_base64};
pub use tls::TlsConfig;

use crate::wire::{WireMessage, proto::actor::Pid, proto::remote::remoting_server::RemotingServer};
use shared::{Lifecycle, Shared};

/// HTTP/2 receive window of each inbound stream.
const SERVER_STREAM_WINDOW: u32 = 4 << 20;
/// HTTP/2 receive window of each inbound connection.
const SERVER_CONNECTION_WINDOW: u32 = 8 << 20;

/// Starts remotes.
#[derive(Debug)]
pub struct Remote;

impl Remote {
    /// Validates `config`, binds the server and starts serving.
    ///
    /// # Errors
    /// [`TransportError::InvalidConfig`], [`TransportError::Bind`] or
    /// [`TransportError::Tls`].
    pub async fn start(
        config: RemoteConfig,
        handlers: Handlers,
    ) -> Result<RemoteHandle, TransportError> {
        config.validate()?;
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|e| TransportError::Bind {
                address: config.bind.to_string(),
                reason: e.to_string(),
            })?;
        Self::serve(listener, config, handlers).await
    }

    /// Starts serving on a listener the caller has already bound (so the
    /// caller knows the port before anything else starts, and nobody can
    /// take it in between). `config.bind` is ignored; the advertised address
    /// defaults to the listener's local address.
    ///
    /// # Errors
    /// [`TransportError::InvalidConfig`], [`TransportError::Bind`] (the
    /// listener has no local address) or [`TransportError::Tls`].
    pub async fn serve(
        listener: TcpListener,
        config: RemoteConfig,
        handlers: Handlers,
    ) -> Result<RemoteHandle, TransportError> {
        config.validate()?;
        let local = listener.local_addr().map_err(|e| TransportError::Bind {
            address: config.bind.to_string(),
            reason: e.to_string(),
        })?;
        let address = config
            .advertised_address
            .clone()
            .unwrap_or_else(|| local.to_string());
        let (events, _) = broadcast::channel(config.event_capacity);
        let (eventstream, _) = broadcast::channel(config.event_capacity);
        let (lifecycle, _) = watch::channel(Lifecycle::Running);
        // Larger HTTP/2 receive windows than h2's 64 KiB default: a peer can
        // then stream big batches without waiting a round trip per 64 KiB.
        // Fixed windows, not adaptive ones: adaptive windows send pings.
        let mut builder = Server::builder()
            .tcp_nodelay(true)
            .initial_stream_window_size(Some(SERVER_STREAM_WINDOW))
            .initial_connection_window_size(Some(SERVER_CONNECTION_WINDOW));
        if let Some(tls) = &config.tls {
            builder = builder
                .tls_config(tls.server())
                .map_err(|e| TransportError::Tls(e.to_string()))?;
        }
        let shared = Arc::new(Shared {
            address: address.clone(),
            handlers,
            metrics: RemoteMetrics::default(),
            block_list: BlockList::default(),
            pending: pending::PendingRequests::default(),
            endpoints: endpoint_manager::EndpointManager::default(),
            events,
            eventstream,
            lifecycle,
            inbound_streams: AtomicUsize::new(0),
            runtime: tokio::runtime::Handle::current(),
            config,
        });
        let service = RemotingServer::new(server::RemotingService {
            shared: Arc::clone(&shared),
        })
        .max_decoding_message_size(shared.config.max_message_size)
        .max_encoding_message_size(shared.config.max_message_size);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(builder.add_service(service).serve_with_incoming_shutdown(
            TcpListenerStream::new(listener),
            async {
                let _ = stop_rx.await;
            },
        ));
        info!(%address, bound = %local, system_id = %shared.config.system_id, "remote started");
        Ok(RemoteHandle {
            shared,
            local_addr: local,
            server: Arc::new(std::sync::Mutex::new(Some((stop_tx, server)))),
        })
    }
}

type ServerTask = (
    oneshot::Sender<()>,
    JoinHandle<Result<(), tonic::transport::Error>>,
);

/// A running remote; cheap to clone (all clones drive the same remote).
/// Dropping the handles without [`RemoteHandle::shutdown`] leaves the server
/// running until the runtime stops.
#[derive(Clone)]
pub struct RemoteHandle {
    shared: Arc<Shared>,
    local_addr: std::net::SocketAddr,
    server: Arc<std::sync::Mutex<Option<ServerTask>>>,
}

impl std::fmt::Debug for RemoteHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteHandle")
            .field("address", &self.shared.address)
            .field("system_id", &self.shared.config.system_id)
            .finish_non_exhaustive()
    }
}

impl RemoteHandle {
    /// The one address we publish (`host:port`).
    pub fn address(&self) -> &str {
        &self.shared.address
    }

    /// The socket the server is bound to.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local_addr
    }

    /// Our system id (sent in handshakes, answered as `member_id`).
    pub fn system_id(&self) -> &str {
        &self.shared.config.system_id
    }

    /// A PID on our address.
    pub fn pid(&self, id: &str) -> Pid {
        Pid {
            address: self.shared.address.clone(),
            id: id.into(),
            request_id: 0,
        }
    }

    /// True when `address` is exactly our published address.
    pub fn is_own_address(&self, address: &str) -> bool {
        address == self.shared.address
    }

    /// Sends `message` to `target` with an optional sender. Fire and forget:
    /// `Ok` means queued (or delivered locally), not received.
    ///
    /// # Errors
    /// [`TransportError::Blocked`], [`TransportError::QueueFull`],
    /// [`TransportError::InvalidAddress`], [`TransportError::ShuttingDown`].
    pub fn send(
        &self,
        target: Pid,
        message: impl Into<WireMessage>,
        sender: Option<Pid>,
    ) -> Result<(), TransportError> {
        self.shared.send(target, message.into(), sender)
    }

    /// Sends `message` to `target` with a fresh `future$N` sender PID on our
    /// address and waits for the first answer.
    ///
    /// # Errors
    /// [`TransportError::Timeout`], [`TransportError::DeadLetter`] when the
    /// peer has no such target, any [`Self::send`] error, or
    /// [`TransportError::EndpointTerminated`] when the message was lost with
    /// its endpoint.
    pub async fn request(
        &self,
        target: Pid,
        message: impl Into<WireMessage>,
        timeout: Duration,
    ) -> Result<WireMessage, TransportError> {
        let (id, rx) = self.shared.pending.register();
        let sender = self.pid(&id);
        if let Err(e) = self.shared.send(target, message.into(), Some(sender)) {
            self.shared.pending.remove(&id);
            return Err(e);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(TransportError::ShuttingDown),
            Err(_) => {
                self.shared.pending.remove(&id);
                RemoteMetrics::inc(&self.shared.metrics.requests_timed_out);
                Err(TransportError::Timeout)
            }
        }
    }

    /// Blocks `system_id` for good: its handshakes are answered
    /// `blocked = true`, its batches dropped, and its address (if known) is
    /// no longer dialled; an open endpoint to it is closed.
    pub fn block(&self, system_id: &str) {
        let address = self.shared.block_list.block(system_id);
        warn!(%system_id, ?address, "blocking peer");
        if let Some(a) = address {
            self.shared.endpoints.remove(&a, TerminationReason::Blocked);
        }
    }

    /// The block list (e.g. to [`BlockList::learn`] system id ↔ address
    /// pairs from the topology, or to read it).
    pub fn block_list(&self) -> &BlockList {
        &self.shared.block_list
    }

    /// Closes and forgets the endpoint to `address` (the peer left the
    /// topology). Queued messages fail; a later send dials afresh. True when
    /// there was an endpoint.
    pub fn remove_endpoint(&self, address: &str) -> bool {
        self.shared
            .endpoints
            .remove(address, TerminationReason::Removed)
    }

    /// Addresses we currently have an endpoint for.
    pub fn endpoints(&self) -> Vec<String> {
        self.shared.endpoints.addresses()
    }

    /// Endpoint life-cycle events.
    pub fn subscribe_events(&self) -> broadcast::Receiver<RemoteEvent> {
        self.shared.events.subscribe()
    }

    /// Messages peers send to our `eventstream` PID.
    pub fn subscribe_eventstream(&self) -> broadcast::Receiver<EventStreamMessage> {
        self.shared.eventstream.subscribe()
    }

    /// The counters.
    pub fn metrics(&self) -> RemoteMetricsSnapshot {
        self.shared.metrics.snapshot()
    }

    /// Stops the remote. Graceful: every inbound stream gets
    /// `DisconnectRequest` and then an error status (so Go peers drop their
    /// endpoint to us at once), our endpoints half-close, and the server
    /// drains for at most `shutdown_grace`. Not graceful: streams end with an
    /// error status only. Waiting requests fail with `ShuttingDown`.
    pub async fn shutdown(&self, graceful: bool) {
        let state = if graceful {
            Lifecycle::ShuttingDownGracefully
        } else {
            Lifecycle::ShuttingDownHard
        };
        if self.shared.lifecycle.send_replace(state) != Lifecycle::Running {
            return;
        }
        info!(address = %self.shared.address, graceful, "remote shutting down");
        self.shared
            .endpoints
            .close_all(&TerminationReason::Shutdown);
        self.shared.pending.fail_all(&TransportError::ShuttingDown);
        let task = self
            .server
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some((stop, mut join)) = task {
            let _ = stop.send(());
            let grace = if graceful {
                self.shared.config.shutdown_grace
            } else {
                Duration::from_millis(100)
            };
            if tokio::time::timeout(grace, &mut join).await.is_err() {
                warn!("server did not drain in time; aborting");
                join.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::proto::cluster::{GossipRequest, GossipResponse, GossipState};
    use std::sync::atomic::Ordering;

    fn gossip_request() -> GossipRequest {
        GossipRequest {
            from_member_id: "t".into(),
            state: Some(GossipState::default()),
        }
    }

    /// Virtual time: a 30 s request timeout elapses without waiting 30 s,
    /// and the answer that comes later is counted as late, not delivered.
    #[tokio::test(start_paused = true)]
    async fn request_timeout_in_virtual_time() {
        let release = Arc::new(tokio::sync::Notify::new());
        let r = Arc::clone(&release);
        let h = Remote::start(
            RemoteConfig::default(),
            Handlers::new().with_gossip(move |_s, _r| {
                let r = Arc::clone(&r);
                async move {
                    r.notified().await;
                    GossipResponse::default()
                }
            }),
        )
        .await
        .unwrap();
        let started = tokio::time::Instant::now();
        let res = h
            .request(h.pid(GOSSIP_ID), gossip_request(), Duration::from_secs(30))
            .await;
        assert_eq!(res, Err(TransportError::Timeout));
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        assert_eq!(h.metrics().requests_timed_out, 1);
        release.notify_one();
        while h.metrics().late_responses == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(h.shared.pending_len(), 0);
        h.shutdown(false).await;
    }

    #[tokio::test]
    async fn local_delivery_needs_no_connection() {
        let h = Remote::start(
            RemoteConfig::default(),
            Handlers::new().with_gossip(|_s, _r| async { GossipResponse::default() }),
        )
        .await
        .unwrap();
        let res = h
            .request(h.pid(GOSSIP_ID), gossip_request(), Duration::from_secs(5))
            .await;
        assert_eq!(res, Ok(GossipResponse::default().into()));
        assert!(h.endpoints().is_empty());
        assert_eq!(h.shared.inbound_streams.load(Ordering::Relaxed), 0);
        assert_eq!(h.metrics().inbound_handshakes, 0);
        h.shutdown(true).await;
        assert_eq!(
            h.send(h.pid(GOSSIP_ID), gossip_request(), None),
            Err(TransportError::ShuttingDown)
        );
    }
}
