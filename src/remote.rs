//! protoactor-go's Remoting protocol over tonic: a peer that Go nodes cannot
//! tell from a Go node.
//!
//! The protocol is asymmetric and unforgiving (see docs/wire-protocol.md#transport
//! and docs/go-quirks.md#transport): every node dials its own connection to each peer and opens
//! one `remote.Remoting/Receive` stream on it; all its traffic to that peer
//! flows client → server on that stream, and answers come back over the
//! peer's *own* connection to us. A server sends nothing on an inbound stream
//! but one `ConnectResponse` and, on graceful shutdown, one
//! `DisconnectRequest`. The pieces:
//!
//! - [`RemoteHandle`] — the API the node uses: `send`, `request`, `block`,
//!   `remove_endpoint`, events, metrics, `shutdown`; and the API
//!   applications use to host actors Go can reach ([`RemoteHandle::spawn_named`])
//!   and to send to and request any PID ([`RemoteHandle::send_message`],
//!   [`RemoteHandle::request_message`]).
//! - `actor` — hosted actors: a table of handlers by id, one bounded
//!   mailbox and task each, `Watch`/`Terminated` both ways (docs/actors.md).
//! - `message` — [`ActorMessage`], [`RawMessage`] and the application's
//!   [`TypeRegistry`].
//! - `server` — the tonic service for inbound streams, served on a
//!   listener bound before anything starts (a port in use is
//!   [`TransportError::Bind`], naming it); `conn` admits connections
//!   within the caps `admission` keeps, closes those that open no stream
//!   and lets the hard stop close the rest.
//! - `endpoint`, `endpoint_manager`, `outbound` — one lazily created,
//!   reconnecting endpoint per peer address, batching queued messages into
//!   `MessageBatch`es below 4 MiB and 1000 envelopes. Endpoints report
//!   their end to the manager over a channel.
//! - `router` — the one place that routes by target: `gossip` (to the
//!   node's [`GossipHandler`]), our request futures, `eventstream`,
//!   `partition-activator` (the grain activator, or refused politely when
//!   no kind is hosted), hosted actors, dead letters
//!   for the rest. `inbound` checks and decodes inbound batches for it.
//! - `tasks` — every task the remote runs, and the one way to stop them:
//!   [`RemoteHandle::shutdown`] returns when all have ended.
//! - [`BlockList`] — blocked system ids and the id ↔ address map.
//! - `RemoteMetrics` — counters for everything dropped or refused.
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

mod actor;
mod address;
mod admission;
mod block_list;
mod config;
mod conn;
mod dead_letter;
mod endpoint;
mod endpoint_manager;
mod error;
mod event;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod handler;
mod identity;
mod inbound;
mod message;
mod metrics;
mod outbound;
pub(crate) mod pending;
mod router;
mod server;
mod tasks;
mod tls;

use std::{
    sync::{Arc, Mutex, PoisonError, Weak, atomic::Ordering},
    time::Duration,
};

use tokio::{net::TcpListener, task::JoinHandle};
use tracing::{info, warn};

pub use actor::{Actor, ActorContext, ActorOptions, DEFAULT_MAILBOX_CAPACITY, FnActor, from_fn};
pub use address::parse_address;
pub use block_list::BlockList;
pub use config::{
    BackoffConfig, GO_BATCH_SIZE, GO_MAX_MESSAGE_SIZE, GO_MIN_KEEPALIVE, RemoteConfig,
};
pub use error::{ActorError, TransportError};
pub use event::{EventStreamMessage, RemoteEvent, TerminationReason};
pub use handler::{GossipHandler, HandlerFuture, Handlers};
pub use message::{ActorMessage, Header, RawMessage, TypeRegistry};
pub(crate) use metrics::RemoteMetrics;
pub use metrics::RemoteMetricsSnapshot;
pub use router::{EVENTSTREAM_ID, GOSSIP_ID, PARTITION_ACTIVATOR_ID};
pub use tls::TlsConfig;
/// The channel of [`RemoteHandle::subscribe_events`] and
/// [`RemoteHandle::subscribe_eventstream`], re-exported so a user can name
/// its `Receiver` and `error::RecvError` without matching our tokio
/// dependency.
#[doc(no_inline)]
pub use tokio::sync::broadcast;

use crate::wire::{WireMessage, proto::actor::Pid};
use actor::Host;
use admission::Admission;
use conn::Incoming;
use endpoint::EndpointContext;
use endpoint_manager::EndpointManager;
use event::{EventListener, EventSink};
use identity::Identity;
use outbound::OutboundBody;
use pending::PendingRequests;
use router::{Router, RouterLink};
use server::{InboundServer, StreamContext};
use tasks::Tasks;

/// How long a hard shutdown lets tasks end by themselves before cancelling
/// them.
const HARD_SHUTDOWN_GRACE: Duration = Duration::from_millis(100);

/// How long a graceful shutdown waits for hosted actors' last
/// `Terminated` messages to leave the endpoint queues.
const FLUSH_LIMIT: Duration = Duration::from_secs(1);

/// Starts remotes.
#[derive(Debug)]
pub struct Remote;

impl Remote {
    /// Validates `config`, binds the server and starts serving.
    ///
    /// # Errors
    /// [`TransportError::InvalidConfig`], [`TransportError::Bind`] (naming
    /// the address and port) or [`TransportError::Tls`].
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
        // Each piece gets the handles it needs; nothing holds them all but
        // the `RemoteHandle`.
        let tasks = Tasks::new();
        let metrics = Arc::new(RemoteMetrics::default());
        let block_list = Arc::new(BlockList::default());
        let pending = Arc::new(PendingRequests::default());
        let events = EventSink::new(config.event_capacity);
        let identity = Arc::new(Identity::new(config.system_id.clone()));
        let endpoints = Arc::new(EndpointManager::new(
            Arc::new(
                EndpointContext::new(
                    config.clone(),
                    address.clone(),
                    Arc::clone(&metrics),
                    Arc::clone(&block_list),
                    Arc::clone(&pending),
                    events.clone(),
                    tasks.clone(),
                )
                .with_identity(Arc::clone(&identity)),
            ),
            Arc::clone(&block_list),
            Arc::clone(&metrics),
            config.endpoint_queue_capacity,
            tasks.clone(),
        ));
        let host = Arc::new(Host::new(
            address.clone(),
            Arc::clone(&pending),
            Arc::clone(&metrics),
            tasks.clone(),
        ));
        let router = Arc::new(Router::new(
            address.clone(),
            handlers,
            Arc::clone(&endpoints),
            config.event_capacity,
            Arc::clone(&metrics),
            tasks.clone(),
            Arc::clone(&host),
        ));
        host.set_transmit(Box::new(RouterLink(Arc::downgrade(&router))));
        let host_listener: Weak<dyn EventListener> = Arc::downgrade(&host) as _;
        events.set_listener(host_listener);
        let inbound = Arc::new(StreamContext::new(
            Arc::clone(&router),
            Arc::clone(&block_list),
            Arc::clone(&metrics),
            events.clone(),
            tasks.clone(),
            Arc::clone(&identity),
            config.max_inbound_streams,
        ));
        let server = InboundServer::new(
            Arc::clone(&inbound),
            config.max_message_size,
            config.tls.as_ref(),
        )?;
        let incoming = Incoming::new(
            listener,
            Admission::new(
                config.max_inbound_connections,
                config.max_inbound_connections_per_ip,
            ),
            tasks.clone(),
            config.inbound_idle_timeout,
            Arc::clone(&metrics),
        );
        let server = tasks.spawn_uncancelled(server.run(incoming, tasks.clone()));
        info!(%address, bound = %local, system_id = %config.system_id, "remote started");
        Ok(RemoteHandle {
            inner: Arc::new(Inner {
                router,
                host,
                endpoints,
                pending,
                block_list,
                metrics,
                events,
                tasks,
                identity,
                shutdown_grace: config.shutdown_grace,
                local_addr: local,
                server: Mutex::new(Some(server)),
                #[cfg(test)]
                inbound,
            }),
        })
    }
}

/// What the handle reaches: the facade's own state, never passed to tasks.
struct Inner {
    router: Arc<Router>,
    host: Arc<Host>,
    endpoints: Arc<EndpointManager>,
    pending: Arc<PendingRequests>,
    block_list: Arc<BlockList>,
    metrics: Arc<RemoteMetrics>,
    events: EventSink,
    tasks: Tasks,
    identity: Arc<Identity>,
    shutdown_grace: Duration,
    local_addr: std::net::SocketAddr,
    /// The last resort if the server outlives even the hard stop.
    server: Mutex<Option<JoinHandle<()>>>,
    #[cfg(test)]
    inbound: Arc<StreamContext>,
}

/// A running remote; cheap to clone (all clones drive the same remote).
/// Dropping the handles without [`RemoteHandle::shutdown`] leaves the server
/// running until the runtime stops.
#[derive(Clone)]
pub struct RemoteHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RemoteHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteHandle")
            .field("address", &self.address())
            .field("system_id", &self.inner.identity.get())
            .finish_non_exhaustive()
    }
}

impl RemoteHandle {
    /// The one address we publish (`host:port`).
    pub fn address(&self) -> &str {
        self.inner.router.address()
    }

    /// The socket the server is bound to.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.inner.local_addr
    }

    /// Our system id (sent in handshakes, answered as `member_id`); it
    /// changes only through [`Self::rejoin`].
    pub fn system_id(&self) -> String {
        self.inner.identity.get()
    }

    /// Takes `system_id` as ours from now on, as a node does when it rejoins
    /// the cluster under a fresh member id: later handshakes (ours and our
    /// answers) carry it, the block list is emptied (the ids it held were
    /// blocked by the member we no longer are; the node's new gossip core
    /// starts with none), and every outbound endpoint is closed so that the
    /// next message dials afresh with the new id. The address, the server,
    /// inbound streams and hosted actors stay as they are. Returns the old id.
    pub fn rejoin(&self, system_id: &str) -> String {
        let old = self.inner.identity.replace(system_id.to_owned());
        self.inner.block_list.clear();
        for address in self.inner.endpoints.addresses() {
            self.inner
                .endpoints
                .remove(&address, TerminationReason::Removed);
        }
        info!(%old, new = %system_id, "transport takes a new system id");
        old
    }

    /// A PID on our address.
    pub fn pid(&self, id: &str) -> Pid {
        Pid {
            address: self.address().to_owned(),
            id: id.into(),
            request_id: 0,
        }
    }

    /// True when `address` is exactly our published address.
    pub fn is_own_address(&self, address: &str) -> bool {
        address == self.address()
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
        self.inner.router.send(target, message.into(), sender)
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
        let body = OutboundBody::Wire(message.into());
        let answer = self
            .inner
            .host
            .ask_body(target, body, Header::new(), timeout)
            .await?;
        answer
            .into_wire()
            .map_err(|m| TransportError::UnexpectedType {
                expected: "a cluster message".into(),
                found: m.type_name().to_owned(),
            })
    }

    /// The application's message types: register a type before messages of
    /// it can reach an actor or answer a request (`types().register::<M>()`).
    pub fn types(&self) -> &TypeRegistry {
        self.inner.host.types()
    }

    /// Hosts `actor` under the id `name` (Go's `SpawnNamed`) and returns its
    /// PID `{our address, name}`, which Go can send to, request and watch.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use protogossip::remote::{Actor, ActorContext, ActorMessage, Handlers, Remote, RemoteConfig};
    /// use protogossip::wire::proto::actor::Pid;
    /// use std::time::Duration;
    ///
    /// let remote = Remote::start(RemoteConfig::default(), Handlers::new()).await?;
    ///
    /// struct Echo;
    /// impl Actor for Echo {
    ///     async fn receive(&mut self, ctx: &mut ActorContext, message: ActorMessage) {
    ///         if let Ok(pid) = message.into_message::<Pid>() {
    ///             let _ = ctx.respond(&pid);
    ///         }
    ///     }
    /// }
    ///
    /// let echo = remote.spawn_named("echo", Echo)?;
    /// // Any PID, here our own: a Go node's PID works the same way.
    /// let answer: Pid = remote
    ///     .request_message(echo.clone(), &echo, Duration::from_secs(1))
    ///     .await?;
    /// assert_eq!(answer, echo);
    /// remote.shutdown(true).await;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ActorError::NameTaken`], [`ActorError::ReservedName`] (empty,
    /// `gossip`, `eventstream`, `partition-activator`, `future$…`),
    /// [`ActorError::ShuttingDown`].
    pub fn spawn_named(&self, name: &str, actor: impl Actor) -> Result<Pid, ActorError> {
        self.spawn_with(Some(name), actor, ActorOptions::default())
    }

    /// Hosts `actor` under a fresh id spelled as Go's process registry
    /// spells them (`$1`, `$2`, … `$a`, … in Go's base-64 alphabet).
    ///
    /// # Errors
    /// [`ActorError::ShuttingDown`].
    pub fn spawn(&self, actor: impl Actor) -> Result<Pid, ActorError> {
        self.spawn_with(None, actor, ActorOptions::default())
    }

    /// [`Self::spawn_named`] (or [`Self::spawn`] for `None`) with options.
    ///
    /// # Errors
    /// As [`Self::spawn_named`].
    pub fn spawn_with(
        &self,
        name: Option<&str>,
        actor: impl Actor,
        options: ActorOptions,
    ) -> Result<Pid, ActorError> {
        if let Some(n) = name
            && Router::is_reserved(n)
        {
            return Err(ActorError::ReservedName(n.to_owned()));
        }
        self.inner.host.spawn(name, actor, options)
    }

    /// Hosts `actor` at the reserved id `partition-activator`, where Go's
    /// disthash identity lookup sends `ActivationRequest`s (the grain
    /// activator, `crate::grain`). Without one, the router refuses
    /// activations with `failed: true`.
    pub(crate) fn spawn_partition_activator(&self, actor: impl Actor) -> Result<Pid, ActorError> {
        self.inner
            .host
            .spawn(Some(PARTITION_ACTIVATOR_ID), actor, ActorOptions::default())
    }

    /// Unregisters and stops the actor `id`: it finishes its current
    /// message, queued messages are dead-lettered, and its watchers get
    /// `actor.Terminated{Stopped}`. False when no such actor is hosted.
    pub fn stop_actor(&self, id: &str) -> bool {
        self.inner.host.stop(id)
    }

    /// Ids of the hosted actors, sorted.
    pub fn actor_ids(&self) -> Vec<String> {
        self.inner.host.ids()
    }

    /// Sends `message` to any PID with no sender (Go's `Root.Send`),
    /// serialized as [`TypeRegistry::encode`] says. Fire and forget.
    ///
    /// # Errors
    /// As [`Self::send`], and [`TransportError::Encode`].
    pub fn send_message<M: prost::Message + prost::Name + 'static>(
        &self,
        target: Pid,
        message: &M,
    ) -> Result<(), TransportError> {
        let raw = self.types().encode(message)?;
        self.tell(target, raw, None, Header::new())
    }

    /// Sends an already serialized message to any PID, with any sender and
    /// header (an empty header is left out, as Go does).
    ///
    /// # Errors
    /// As [`Self::send`].
    pub fn tell(
        &self,
        target: Pid,
        message: RawMessage,
        sender: Option<Pid>,
        header: Header,
    ) -> Result<(), TransportError> {
        self.inner.host.tell(target, message, sender, header)
    }

    /// Requests `message` from any PID through a fresh `future$N` sender
    /// and decodes the answer as `R` (Go's `RequestFuture(...).Result()`).
    ///
    /// # Errors
    /// [`TransportError::Timeout`], [`TransportError::DeadLetter`] (no such
    /// target there, or its actor failed), [`TransportError::UnexpectedType`]
    /// (the answer is not an `R`), [`TransportError::Decode`], and any
    /// [`Self::send`] error.
    pub async fn request_message<R, M>(
        &self,
        target: Pid,
        message: &M,
        timeout: Duration,
    ) -> Result<R, TransportError>
    where
        R: prost::Message + prost::Name + Default + 'static,
        M: prost::Message + prost::Name + 'static,
    {
        self.inner.host.request(target, message, timeout).await
    }

    /// Requests an already serialized message with a header; the answer
    /// comes as it arrived.
    ///
    /// # Errors
    /// As [`Self::request_message`], without the decoding ones.
    pub async fn ask(
        &self,
        target: Pid,
        message: RawMessage,
        header: Header,
        timeout: Duration,
    ) -> Result<ActorMessage, TransportError> {
        self.inner.host.ask(target, message, header, timeout).await
    }

    /// Blocks `system_id` for good: its handshakes are answered
    /// `blocked = true`, its batches dropped, and its address (if known) is
    /// no longer dialled; an open endpoint to it is closed, and hosted
    /// actors watching PIDs there get `Terminated{AddressTerminated}`.
    pub fn block(&self, system_id: &str) {
        let address = self.inner.block_list.block(system_id);
        warn!(%system_id, ?address, "blocking peer");
        if let Some(a) = address {
            self.inner.endpoints.remove(&a, TerminationReason::Blocked);
            // Our actors watching PIDs there hear it now, endpoint or not.
            self.inner.host.address_terminated(&a);
        }
    }

    /// The block list (e.g. to [`BlockList::learn`] system id ↔ address
    /// pairs from the topology, or to read it).
    pub fn block_list(&self) -> &BlockList {
        &self.inner.block_list
    }

    /// Closes and forgets the endpoint to `address` (the peer left the
    /// topology). Queued messages fail; a later send dials afresh; hosted
    /// actors watching PIDs there get `Terminated{AddressTerminated}`. True
    /// when there was an endpoint.
    pub fn remove_endpoint(&self, address: &str) -> bool {
        let removed = self
            .inner
            .endpoints
            .remove(address, TerminationReason::Removed);
        self.inner.host.address_terminated(address);
        removed
    }

    /// Addresses we currently have an endpoint for.
    pub fn endpoints(&self) -> Vec<String> {
        self.inner.endpoints.addresses()
    }

    /// Endpoint life-cycle events.
    pub fn subscribe_events(&self) -> broadcast::Receiver<RemoteEvent> {
        self.inner.events.subscribe()
    }

    /// Messages peers send to our `eventstream` PID.
    pub fn subscribe_eventstream(&self) -> broadcast::Receiver<EventStreamMessage> {
        self.inner.router.subscribe_eventstream()
    }

    /// The counters.
    pub fn metrics(&self) -> RemoteMetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// Stops the remote and returns once every task it ran has ended
    /// (server, connections, inbound streams, endpoints, handler calls).
    /// Graceful: every inbound stream gets `DisconnectRequest` and then an
    /// error status (so Go peers drop their endpoint to us at once), our
    /// endpoints half-close, and tasks get at most `shutdown_grace` to end.
    /// Not graceful: streams end with an error status only, and tasks get
    /// 100 ms. What has not ended by then is cancelled, and awaited. Waiting
    /// requests fail with `ShuttingDown`. A second call waits for the first.
    pub async fn shutdown(&self, graceful: bool) {
        let inner = &self.inner;
        if graceful && inner.tasks.is_running() {
            // Before our inbound streams say goodbye (after which peers
            // report AddressTerminated), watchers of our actors get
            // Terminated{Stopped}.
            self.stop_actors_and_flush().await;
        }
        if !inner.tasks.begin_shutdown(graceful) {
            inner.tasks.ended().await;
            return;
        }
        info!(address = %self.address(), graceful, "remote shutting down");
        inner.host.stop_all(graceful);
        inner.endpoints.close_all(&TerminationReason::Shutdown);
        inner.pending.fail_all(&TransportError::ShuttingDown);
        let grace = if graceful {
            inner.shutdown_grace
        } else {
            HARD_SHUTDOWN_GRACE
        };
        if !inner.tasks.finish(grace).await {
            // Cancelled tasks end at once; only the server (waiting for
            // tonic's connection tasks) can still be running.
            warn!("remote tasks did not end after cancelling; aborting the server");
            let server = inner
                .server
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(server) = server {
                server.abort();
                let _ = server.await;
            }
            inner.tasks.ended().await;
        }
    }

    /// Stops every hosted actor, telling their watchers, and waits (at most
    /// [`FLUSH_LIMIT`]) until the `Terminated` for other nodes have been
    /// handed to their streams.
    async fn stop_actors_and_flush(&self) {
        let inner = &self.inner;
        let batches = || inner.metrics.outbound_batches.load(Ordering::Relaxed);
        let before = batches();
        if inner.host.stop_all(true) == 0 {
            return;
        }
        let limit = inner.shutdown_grace.min(FLUSH_LIMIT);
        let deadline = tokio::time::Instant::now() + limit;
        inner.endpoints.drained(limit).await;
        while batches() == before && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::proto::cluster::{GossipRequest, GossipResponse, GossipState};

    fn gossip_request() -> GossipRequest {
        GossipRequest {
            from_member_id: "t".into(),
            state: Some(GossipState::default()),
        }
    }

    /// Virtual time: an actor with an idle timeout stops when no message
    /// has reached it for that long, each message starting the wait again;
    /// one without keeps running.
    #[tokio::test(start_paused = true)]
    async fn an_idle_actor_stops_after_its_idle_timeout() {
        let h = Remote::start(RemoteConfig::default(), Handlers::new())
            .await
            .unwrap();
        let idle = ActorOptions::default().with_idle_timeout(Duration::from_secs(60));
        let quiet = || from_fn(|_ctx: ActorContext, _m: ActorMessage| async {});
        let pid = h.spawn_with(Some("idle"), quiet(), idle).unwrap();
        h.spawn_named("forever", quiet()).unwrap();
        let ids = |h: &RemoteHandle| h.actor_ids();

        tokio::time::sleep(Duration::from_secs(59)).await;
        assert_eq!(ids(&h), ["forever", "idle"]);
        h.send(pid, Pid::default(), None).unwrap();
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert_eq!(
            ids(&h),
            ["forever", "idle"],
            "the message restarts the wait"
        );
        assert_eq!(h.metrics().actor_idle_stops, 0);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(ids(&h), ["forever"]);
        assert_eq!(h.metrics().actor_idle_stops, 1);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(ids(&h), ["forever"]);
        h.shutdown(false).await;
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
        assert_eq!(h.inner.pending.len(), 0);
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
        assert_eq!(h.inner.inbound.open_streams(), 0);
        assert_eq!(h.metrics().inbound_handshakes, 0);
        h.shutdown(true).await;
        assert_eq!(
            h.send(h.pid(GOSSIP_ID), gossip_request(), None),
            Err(TransportError::ShuttingDown)
        );
    }

    #[tokio::test]
    async fn port_in_use_is_an_error_naming_the_port() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bind = taken.local_addr().unwrap();
        let err = Remote::start(
            RemoteConfig {
                bind,
                ..RemoteConfig::default()
            },
            Handlers::new(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, TransportError::Bind { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("cannot listen on {bind}: ")),
            "{text}"
        );
    }
}
