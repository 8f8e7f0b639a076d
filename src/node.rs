//! The cluster member: the gossip core, the transport and a provider, driven
//! on tokio.
//!
//! [`crate::gossip::GossipCore`] decides, [`crate::remote`] moves bytes, a
//! [`crate::provider`] says who the members are; this module wires them the
//! way protoactor-go's `Cluster.StartMember` does (transport, then gossip and
//! the topology consensus check, then the provider) and adds what an
//! application needs around them: a handle to set and read gossip state,
//! typed events with timestamps, the current topology and block list,
//! topology consensus, `/status` and `/metrics`, and a graceful shutdown that
//! makes sure the `left` key actually reaches the peers (Go shuts down before
//! it does).
//!
//! One task owns the core (it is not `Sync` and needs no lock): timers,
//! provider snapshots, inbound gossip and API calls reach it as commands, and
//! its outcomes go out as transport requests and events. Requests run in
//! their own tasks and report back, so a slow peer never stalls the loop.
//!
//! Every socket is bound before anything starts ([`NodeListeners`]), and
//! every task the node starts is owned: the driver, the request tasks and
//! the `/status` server run on one `TaskTracker` and stop on one
//! `CancellationToken` (mini-redis's shutdown broadcast and completion
//! channel, in tokio-util's form); the provider and the transport join their
//! own tasks. [`NodeHandle::shutdown`] returns once all of them have ended.

mod cluster_gossiper;
mod driver;
mod health_hints;
mod http;
mod listeners;
mod metrics;
mod rejoin;
mod rejoin_exec;
mod seeds;
mod start;
mod state_view;
mod status;
mod subscription;

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use crate::wire::Any;
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

pub use cluster_gossiper::{
    ClusterGossiper, GossiperConfig, GossiperError, MemberInfo, Membership, MembershipChange,
    MembershipEvent, MembershipSnapshot, NodeSlot, StopHandle, StopOutcome,
};
pub use listeners::NodeListeners;
pub(crate) use metrics::NodeMetrics;
pub use rejoin::RejoinConfig;
pub use state_view::{StateValueView, StateView};
pub use status::{ConsensusView, MemberView, NodeStatus, TopologyView};
pub use subscription::{EventFilter, Subscription, SubscriptionItem};
/// The tokio types this module's API hands out or takes, re-exported so a
/// user can name them without matching our tokio dependency: the
/// [`watch`] receiver of [`NodeHandle::topology`], the [`broadcast`]
/// receiver of [`Membership::subscribe`], the [`runtime`] handle of
/// [`ClusterGossiper::new`] / [`GossiperConfig::runtime`] and the
/// [`TcpListener`]s of [`NodeListeners`].
#[doc(no_inline)]
pub use tokio::{
    net::TcpListener,
    runtime,
    sync::{broadcast, watch},
};

use crate::{
    gossip::{ConfigError, EventKind, GossipConfig, TimedEvent},
    provider::{ProviderConfig, ProviderError},
    remote::{RemoteConfig, TransportError},
    system_id::new_system_id,
    wire::DecodeError,
};
use driver::Command;

/// Everything a node needs to start. `Default` is one node on loopback
/// (`127.0.0.1`) that binds no fixed port, so several nodes can run in one
/// process: automanaged `/_health` on a free port polling only itself
/// ([`AutomanagedConfig::default`](crate::provider::automanaged::AutomanagedConfig)),
/// gRPC on a free port, and no `/status` / `/metrics` (`http: None`; set an
/// address to serve them). The CLI node sets its documented fixed ports
/// (6330, 6331) itself.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeConfig {
    /// The cluster name (providers only report members of the same name).
    pub cluster_name: String,
    /// The advertised host, exactly as peers must dial it (see
    /// `docs/operations.md` on `localhost` vs `127.0.0.1`).
    pub host: String,
    /// The gRPC (remoting) port; 0 picks a free one.
    pub port: u16,
    /// Where the gRPC server listens; `None` = `host:port`.
    pub bind: Option<SocketAddr>,
    /// Cluster kinds this node hosts (none: it receives no activations).
    pub kinds: Vec<String>,
    /// Where the member list comes from.
    pub provider: ProviderConfig,
    /// Gossip settings, wire profile included (defaults are Go's).
    pub gossip: GossipConfig,
    /// Transport settings; `system_id`, `bind` and `advertised_address` are
    /// filled in by the node.
    pub remote: RemoteConfig,
    /// Where `/status` and `/metrics` are served; `None` = not served.
    pub http: Option<SocketAddr>,
    /// After a graceful leave, how many gossip intervals to keep gossiping
    /// so the `left` key reaches everyone (at least 2).
    pub leave_rounds: u32,
    /// Self-healing rejoin under a fresh member id when the cluster
    /// excludes this node (on by default; see
    /// `docs/operations.md#self-healing-rejoin`).
    pub rejoin: RejoinConfig,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            cluster_name: "protogossip".into(),
            host: "127.0.0.1".into(),
            port: 0,
            bind: None,
            kinds: Vec::new(),
            provider: ProviderConfig::Automanaged(
                crate::provider::automanaged::AutomanagedConfig::default(),
            ),
            gossip: GossipConfig::default(),
            remote: RemoteConfig::default(),
            http: None,
            leave_rounds: 3,
            rejoin: RejoinConfig::default(),
        }
    }
}

with_fields!(NodeConfig {
    with_cluster_name => cluster_name: into String,
    with_host => host: into String,
    with_port => port: u16,
    with_bind => bind: into Option<SocketAddr>,
    with_kinds => kinds: [String],
    with_provider => provider: into ProviderConfig,
    with_gossip => gossip: GossipConfig,
    with_remote => remote: RemoteConfig,
    with_http => http: into Option<SocketAddr>,
    with_leave_rounds => leave_rounds: u32,
    with_rejoin => rejoin: RejoinConfig,
});

impl NodeConfig {
    /// Checks every part of the configuration without starting anything.
    ///
    /// # Errors
    /// The first problem found, saying which setting to fix.
    pub fn validate(&self) -> Result<(), NodeError> {
        if self.cluster_name.is_empty() {
            return Err(NodeError::Config("cluster name must not be empty".into()));
        }
        if self.host.is_empty() || self.host.contains(['/', ' ']) {
            return Err(NodeError::Config(format!(
                "host {:?} is not a host name or IP",
                self.host
            )));
        }
        if self.host.contains(':') {
            return Err(NodeError::Config(format!(
                "host {:?} looks like an IPv6 literal or host:port; protoactor-go cannot address IPv6 members and the port is set separately",
                self.host
            )));
        }
        if self.leave_rounds < 2 {
            return Err(NodeError::Config("leave_rounds must be at least 2".into()));
        }
        self.gossip.validate()?;
        self.provider.validate()?;
        self.rejoin.validate().map_err(NodeError::Config)?;
        Ok(())
    }
}

/// The servers a node listens on, as named in [`NodeError::Listen`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Listener {
    /// The Remoting (gRPC) port peers dial.
    Remoting,
    /// The automanaged provider's `/_health` port.
    AutomanagedHealth,
    /// The `/status` and `/metrics` server.
    Status,
}

impl std::fmt::Display for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Remoting => "remoting",
            Self::AutomanagedHealth => "automanaged /_health",
            Self::Status => "/status",
        })
    }
}

/// Why a node could not start or answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A setting is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The gossip settings are invalid.
    #[error("invalid gossip configuration: {0}")]
    Gossip(#[from] ConfigError),
    /// The transport could not start.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// The provider could not start.
    #[error("provider: {0}")]
    Provider(#[from] ProviderError),
    /// A port could not be bound (in use, or not ours to bind).
    #[error("cannot listen on {address} ({what}): {source}")]
    Listen {
        /// Which server.
        what: Listener,
        /// The address asked for.
        address: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The OS gave no randomness for a fresh id.
    #[error("no randomness for a system id: {0}")]
    Random(String),
    /// The node has stopped.
    #[error("the node has stopped")]
    Stopped,
    /// A wait ran out.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

/// What [`NodeHandle::get_state_message`] returns: owner id → (sequence
/// number, the owner's value decoded as `M`, or why it is not one).
pub type StateMessages<M> = BTreeMap<String, (i64, Result<M, DecodeError>)>;

/// A running node. Cheap to clone; every clone talks to the same node.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    commands: mpsc::Sender<Command>,
    /// Weak, so the channel closes (and subscriptions end) when the driver,
    /// which holds the only sender, ends.
    events: broadcast::WeakSender<TimedEvent>,
    topology: watch::Receiver<TopologyView>,
    /// Our member id; a rejoin replaces it.
    id: watch::Receiver<String>,
    address: String,
    http: Option<SocketAddr>,
    /// Every task of the node; closed once started, so `wait()` returns
    /// when the last one has ended.
    tasks: TaskTracker,
    /// The node's transport: hosted actors, send and request to any PID.
    remote: crate::remote::RemoteHandle,
    /// The counters `/metrics` shows (parts started later add theirs).
    metrics: std::sync::Arc<NodeMetrics>,
}

impl NodeHandle {
    /// Starts a node: binds every listener ([`NodeListeners::bind`]), then
    /// starts the transport, gossip core (with the topology consensus
    /// check), the provider and the `/status` server on them.
    ///
    /// # Errors
    /// Invalid configuration, a port that cannot be bound
    /// ([`NodeError::Listen`], naming it), or a provider that cannot register.
    pub async fn start(config: NodeConfig) -> Result<Self, NodeError> {
        config.validate()?;
        let listeners = NodeListeners::bind(&config).await?;
        Self::start_with(config, listeners).await
    }

    /// Starts a node on listeners the caller has bound; their addresses take
    /// the place of the ports in `config` (`config.port`, when not 0, is
    /// still the advertised port).
    ///
    /// # Errors
    /// Invalid configuration (a `/_health` listener missing for the
    /// automanaged provider, or given to another), or a provider that cannot
    /// register.
    pub async fn start_with(
        config: NodeConfig,
        listeners: NodeListeners,
    ) -> Result<Self, NodeError> {
        config.validate()?;
        let base_id = new_system_id().map_err(|e| NodeError::Random(e.to_string()))?;
        start::start(config, base_id, listeners).await
    }

    /// Our member id (also our gossip owner id and `ServerConnection.SystemId`).
    /// A rejoin (`ClusterEvent::Rejoined`) replaces it, so read it when
    /// needed rather than once.
    pub fn id(&self) -> String {
        self.id.borrow().clone()
    }

    /// Our advertised `host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The node's transport: host actors Go can reach
    /// ([`crate::remote::RemoteHandle::spawn_named`]), register message
    /// types, send to and request any PID. Shut it down through
    /// [`Self::shutdown`], not directly.
    pub fn remote(&self) -> &crate::remote::RemoteHandle {
        &self.remote
    }

    /// Shows `source`'s counters on `/metrics` as
    /// `protogossip_<prefix>_<name>_total` (a grain host, a grain client).
    pub(crate) fn add_counters(&self, prefix: &'static str, source: metrics::CounterSource) {
        self.metrics.extra.add(prefix, source);
    }

    /// Where `/status` and `/metrics` are served, if they are.
    pub fn http_address(&self) -> Option<SocketAddr> {
        self.http
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| NodeError::Stopped)?;
        rx.await.map_err(|_| NodeError::Stopped)
    }

    /// Sets our value under `key` (takes the next sequence number; Go's
    /// `SetState`). Returns the sequence number.
    ///
    /// # Errors
    /// [`NodeError::Stopped`].
    pub async fn set_state(&self, key: &str, value: Any) -> Result<i64, NodeError> {
        let key = key.to_owned();
        self.ask(|reply| Command::SetState { key, value, reply })
            .await
    }

    /// Sets our value under `key` to a protobuf message, packed as Go packs it.
    ///
    /// # Errors
    /// [`NodeError::Stopped`].
    pub async fn set_state_message<M: prost::Message + prost::Name>(
        &self,
        key: &str,
        message: &M,
    ) -> Result<i64, NodeError> {
        self.set_state(key, crate::wire::pack(message)).await
    }

    /// Every owner's value under `key` (Go's `GetState`): owner id →
    /// (sequence number, value).
    ///
    /// # Errors
    /// [`NodeError::Stopped`].
    pub async fn get_state(&self, key: &str) -> Result<BTreeMap<String, (i64, Any)>, NodeError> {
        let key = key.to_owned();
        self.ask(|reply| Command::GetState { key, reply }).await
    }

    /// Every owner's value under `key`, decoded as `M` (the typed read that
    /// matches [`NodeHandle::set_state_message`]): owner id → (sequence
    /// number, value). An owner whose value is not an `M` (another type
    /// under the same key, or bytes that do not decode) is kept, with its
    /// [`DecodeError`] as the value, so a mistake shows instead of a member
    /// silently missing; `.filter_map` the `Ok`s when only those matter.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), protogossip::node::NodeError> {
    /// use prost_types::Duration; // any prost message with a type name
    /// use protogossip::node::{NodeConfig, NodeHandle};
    /// use protogossip::provider::static_list::StaticConfig;
    ///
    /// let node = NodeHandle::start(NodeConfig::default().with_provider(StaticConfig::default()))
    ///     .await?;
    /// node.set_state_message("timeout", &Duration { seconds: 5, nanos: 0 }).await?;
    /// for (owner, (sequence, value)) in node.get_state_message::<Duration>("timeout").await? {
    ///     match value {
    ///         Ok(d) => println!("{owner} #{sequence}: {}s", d.seconds),
    ///         Err(e) => println!("{owner} #{sequence}: not a Duration: {e}"),
    ///     }
    /// }
    /// let ours = &node.get_state_message::<Duration>("timeout").await?[&node.id()];
    /// assert_eq!(ours.1.as_ref().unwrap().seconds, 5);
    /// node.shutdown(false).await
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`NodeError::Stopped`].
    pub async fn get_state_message<M: prost::Message + prost::Name + Default>(
        &self,
        key: &str,
    ) -> Result<StateMessages<M>, NodeError> {
        Ok(self
            .get_state(key)
            .await?
            .into_iter()
            .map(|(owner, (sequence, value))| (owner, (sequence, crate::wire::unpack::<M>(&value))))
            .collect())
    }

    /// Cluster events, each with the time it happened: every kind except
    /// the heartbeat `GossipUpdate`s ([`EventFilter::all`]). A subscriber
    /// that falls behind is told ([`SubscriptionItem::Lagged`]) and carries
    /// on; the subscription ends when the node stops.
    pub fn subscribe(&self) -> Subscription {
        self.subscribe_filtered(EventFilter::all())
    }

    /// Cluster events that `filter` asks for.
    ///
    /// ```no_run
    /// # async fn run(node: protogossip::node::NodeHandle) {
    /// use protogossip::{gossip::EventKind, node::{EventFilter, SubscriptionItem}};
    ///
    /// let mut updates = node.subscribe_filtered(
    ///     EventFilter::kinds([EventKind::GossipUpdate]).keys(["config"]),
    /// );
    /// while let Some(SubscriptionItem::Event(e)) = updates.recv().await {
    ///     println!("{e}"); // e.g. "gossip update: 6ijW1jbGXmkUDuA1ecyeEp/config #3"
    /// }
    /// # }
    /// ```
    pub fn subscribe_filtered(&self, filter: EventFilter) -> Subscription {
        Subscription::new(self.raw_events(), filter)
    }

    /// A receiver of every event; closed at once if the node has stopped.
    fn raw_events(&self) -> broadcast::Receiver<TimedEvent> {
        match self.events.upgrade() {
            Some(tx) => tx.subscribe(),
            // Its sender is dropped here: a closed channel.
            None => broadcast::channel(1).1,
        }
    }

    /// The current topology, block list and consensus; `changed()` fires on
    /// every change.
    pub fn topology(&self) -> watch::Receiver<TopologyView> {
        self.topology.clone()
    }

    /// Waits until every active member gossips the same topology hash as
    /// ours, and returns it.
    ///
    /// Consensus says the members agree on who the members are, not that
    /// there are any others: a node alone in its topology agrees with
    /// itself, so it reaches consensus at once. To know that a node has
    /// joined others, use [`NodeHandle::wait_for_members`] (then this).
    ///
    /// # Errors
    /// [`NodeError::Timeout`] or [`NodeError::Stopped`].
    pub async fn wait_for_topology_consensus(&self, timeout: Duration) -> Result<u64, NodeError> {
        let mut rx = self.topology.clone();
        let wait = async {
            loop {
                if let Some(hash) = rx.borrow_and_update().consensus.hash() {
                    return Ok(hash);
                }
                rx.changed().await.map_err(|_| NodeError::Stopped)?;
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| NodeError::Timeout(timeout))?
    }

    /// Waits until this node has joined `n` members, itself included, and
    /// returns their ids (ascending). A member counts when it is in our
    /// active topology (the provider lists it and it is not blocked) *and*
    /// its status is `Up`: its heartbeat has reached us, so we hold gossip
    /// state from it. `Joining` (listed, nothing heard yet) and `Suspect`
    /// (heartbeat silent) members do not count. `n` ≤ 1 returns at once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), protogossip::node::NodeError> {
    /// use std::time::Duration;
    /// use protogossip::node::{NodeConfig, NodeError, NodeHandle};
    /// use protogossip::provider::static_list::StaticConfig;
    ///
    /// let static_seeds =
    ///     |seeds: &[&str]| NodeConfig::default().with_provider(StaticConfig::seeds(seeds.to_vec()));
    /// let a = NodeHandle::start(static_seeds(&[])).await?;
    /// // Alone, `a` has consensus at once, but has joined nobody.
    /// a.wait_for_topology_consensus(Duration::from_secs(5)).await?;
    /// let early = a.wait_for_members(2, Duration::from_millis(100)).await;
    /// assert!(matches!(early, Err(NodeError::Timeout(_))));
    ///
    /// let b = NodeHandle::start(static_seeds(&[a.address()])).await?;
    /// let members = b.wait_for_members(2, Duration::from_secs(30)).await?;
    /// let hash = b.wait_for_topology_consensus(Duration::from_secs(30)).await?;
    /// println!("joined {members:?}, topology {hash}");
    /// b.shutdown(true).await?;
    /// a.shutdown(true).await
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`NodeError::Timeout`] or [`NodeError::Stopped`].
    pub async fn wait_for_members(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<String>, NodeError> {
        // Subscribed before the first read, so no change goes unnoticed.
        let mut changes = self.subscribe_filtered(
            EventFilter::kinds(EventKind::MEMBERSHIP).with_kinds([EventKind::TopologyUpdated]),
        );
        let wait = async {
            loop {
                let joined = self.status().await?.joined_members();
                if joined.len() >= n {
                    return Ok(joined);
                }
                // A lag notice also means "read again".
                changes.recv().await.ok_or(NodeError::Stopped)?;
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| NodeError::Timeout(timeout))?
    }

    /// A full status snapshot (what `/status` serves).
    ///
    /// # Errors
    /// [`NodeError::Stopped`].
    pub async fn status(&self) -> Result<NodeStatus, NodeError> {
        self.ask(|reply| Command::Status { reply }).await
    }

    /// Every key's value per owner (what `/state` serves): values of type
    /// `google.protobuf.StringValue` decoded, others in hex.
    ///
    /// # Errors
    /// [`NodeError::Stopped`].
    pub async fn state_view(&self) -> Result<StateView, NodeError> {
        self.ask(|reply| Command::State { reply }).await
    }

    /// Stops the node. Graceful: publish `left`, keep gossiping for
    /// `leave_rounds` intervals (pushing it to every member), deregister from
    /// the provider, then close the transport (peers get `DisconnectRequest`).
    /// Not graceful: stop at once, as a crash would look to peers, except
    /// that the transport still closes its streams. Either way it returns
    /// once every task of the node has ended.
    ///
    /// # Errors
    /// [`NodeError::Stopped`] if it had already stopped.
    pub async fn shutdown(&self, graceful: bool) -> Result<(), NodeError> {
        let asked = self
            .ask(|reply| Command::Shutdown { graceful, reply })
            .await;
        self.tasks.wait().await;
        asked
    }
}
