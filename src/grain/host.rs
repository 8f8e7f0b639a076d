//! Hosting kinds: the application registers a factory per kind
//! ([`GrainHost::kind`]), the node advertises those kinds, and the
//! activator (see `activator`) answers Go's `ActivationRequest`s for them.
//!
//! [`GrainHost::start`] is the one-call way: it adds the kinds to
//! `NodeConfig::kinds` (so the member the provider and the topology
//! publish says it hosts them), starts the node and attaches. For a node
//! started otherwise, [`GrainHost::advertise`] before the start and
//! [`GrainHost::attach`] after it do the same in two steps; until
//! `attach`, activations are refused with `failed: true` (Go retries).
//!
//! The host follows the node's topology (`TopologyUpdated` events) for two
//! things Go's disthash does: moving activations away when their identity
//! is placed elsewhere, and broadcasting `ActivationTerminated` to every
//! member.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::sync::watch;
use tracing::{debug, warn};

use super::{
    Grain, GrainMethods, GrainMetrics, GrainMetricsSnapshot,
    activator::{ActivationTable, Activator, Kinds},
    kind::GrainActor,
};
use crate::{
    gossip::{ClusterEvent, EventKind},
    node::{EventFilter, NodeConfig, NodeError, NodeHandle, SubscriptionItem},
    remote::{ActorError, ActorOptions, DEFAULT_MAILBOX_CAPACITY, RemoteHandle, TypeRegistry},
    wire::{
        WireMessage,
        proto::{
            actor::Pid,
            cluster::{ClusterIdentity, ClusterTopology, Member},
        },
    },
};

/// How the activations of one kind are hosted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KindOptions {
    /// Each activation's mailbox capacity (see `remote::ActorOptions`).
    pub mailbox_capacity: usize,
    /// Passivation: an activation that gets no message for this long
    /// stops (its `ActivationTerminated` is broadcast; the next call
    /// activates the identity afresh). 60 s by default, as the kinds
    /// protoc-gen-go-grain generates (`Get<Service>Kind`) set their
    /// `ReceiveTimeout`; `None` keeps activations until they stop
    /// themselves or move, as a plain Go `cluster.NewKind` does.
    pub idle_timeout: Option<Duration>,
}

/// [`KindOptions::idle_timeout`]'s default, Go's generated kinds' timeout.
pub const DEFAULT_GRAIN_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for KindOptions {
    fn default() -> Self {
        Self {
            mailbox_capacity: DEFAULT_MAILBOX_CAPACITY,
            idle_timeout: Some(DEFAULT_GRAIN_IDLE_TIMEOUT),
        }
    }
}

with_fields!(KindOptions {
    with_mailbox_capacity => mailbox_capacity: usize,
    with_idle_timeout => idle_timeout: into Option<Duration>,
});

/// A registered kind, as the activator uses it.
pub(crate) trait HostedKind: Send + Sync {
    /// Spawns a new activation of the kind under `name`.
    fn activate(
        &self,
        remote: &RemoteHandle,
        name: &str,
        identity: ClusterIdentity,
        metrics: &Arc<GrainMetrics>,
    ) -> Result<Pid, ActorError>;
}

struct Kind<G: Grain, F> {
    factory: F,
    methods: Arc<GrainMethods<G>>,
    options: KindOptions,
}

impl<G, F> HostedKind for Kind<G, F>
where
    G: Grain,
    F: Fn(&ClusterIdentity) -> G + Send + Sync + 'static,
{
    fn activate(
        &self,
        remote: &RemoteHandle,
        name: &str,
        identity: ClusterIdentity,
        metrics: &Arc<GrainMetrics>,
    ) -> Result<Pid, ActorError> {
        let actor = GrainActor {
            grain: (self.factory)(&identity),
            identity: Arc::new(identity),
            methods: Arc::clone(&self.methods),
            metrics: Arc::clone(metrics),
        };
        remote.spawn_with(
            Some(name),
            actor,
            ActorOptions::default()
                .with_mailbox_capacity(self.options.mailbox_capacity)
                .with_idle_timeout(self.options.idle_timeout),
        )
    }
}

/// The kinds a node hosts, before the node runs.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use protogossip::grain::{Grain, GrainContext, GrainHost, GrainMethods};
/// use protogossip::node::NodeConfig;
/// use protogossip::wire::proto::actor::Pid;
///
/// struct Hello;
/// impl Grain for Hello {
///     fn methods() -> GrainMethods<Self> {
///         GrainMethods::new().method(0, "SayHello", |_g: &mut Hello, ctx: &mut GrainContext, req: Pid| {
///             Ok(Pid { id: format!("hello {}", ctx.identity()), ..req })
///         })
///     }
/// }
///
/// let (node, grains) = GrainHost::new()
///     .kind("Hello", |_identity| Hello)
///     .start(NodeConfig::default())
///     .await?;
/// // Go's cluster.Request("someone", "Hello", …) now reaches a Hello here.
/// # let _ = grains; node.shutdown(true).await?; Ok(()) }
/// ```
#[derive(Default)]
pub struct GrainHost {
    kinds: Kinds,
    /// Message types to register with the remote before the activator runs.
    types: Vec<RegisterType>,
}

type RegisterType = fn(&TypeRegistry) -> Result<(), ActorError>;

impl fmt::Debug for GrainHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrainHost")
            .field("kinds", &self.kinds.keys().collect::<Vec<_>>())
            .field("types", &self.types.len())
            .finish()
    }
}

impl GrainHost {
    /// No kinds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hosts the kind `name`: each identity activated here gets a grain
    /// made by `factory` (which sees the identity, Go's `ClusterInit`).
    /// A second registration of a name replaces the first.
    #[must_use]
    pub fn kind<G, F>(self, name: impl Into<String>, factory: F) -> Self
    where
        G: Grain,
        F: Fn(&ClusterIdentity) -> G + Send + Sync + 'static,
    {
        self.kind_with(name, KindOptions::default(), factory)
    }

    /// [`Self::kind`] with options.
    #[must_use]
    pub fn kind_with<G, F>(
        mut self,
        name: impl Into<String>,
        options: KindOptions,
        factory: F,
    ) -> Self
    where
        G: Grain,
        F: Fn(&ClusterIdentity) -> G + Send + Sync + 'static,
    {
        let kind = Kind {
            factory,
            methods: Arc::new(G::methods()),
            options,
        };
        self.kinds.insert(name.into(), Arc::new(kind));
        self
    }

    /// Registers the application message type `M` with the node's type
    /// registry when attaching, before any activation: the messages of
    /// plain `cluster.Request`s to the grains (generated-client calls
    /// need no registration).
    #[must_use]
    pub fn message<M>(mut self) -> Self
    where
        M: prost::Message + prost::Name + Default + Send + Sync + 'static,
    {
        self.types.push(TypeRegistry::register::<M>);
        self
    }

    /// The kinds' names, ascending.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }

    /// Adds the kinds to `config.kinds` (once each), so the started node
    /// advertises them.
    pub fn advertise(&self, config: &mut NodeConfig) {
        for k in self.kinds() {
            if !config.kinds.iter().any(|c| c == k) {
                config.kinds.push(k.to_owned());
            }
        }
    }

    /// Advertises the kinds, starts the node and attaches.
    ///
    /// # Errors
    /// Any [`NodeHandle::start`] error; [`NodeError::Config`] when the
    /// activator cannot be hosted.
    pub async fn start(
        self,
        mut config: NodeConfig,
    ) -> Result<(NodeHandle, GrainHostHandle), NodeError> {
        self.advertise(&mut config);
        let node = NodeHandle::start(config).await?;
        match self.attach(&node).await {
            Ok(grains) => Ok((node, grains)),
            Err(e) => {
                let _ = node.shutdown(false).await;
                Err(NodeError::Config(format!(
                    "cannot host the grain activator: {e}"
                )))
            }
        }
    }

    /// Hosts the activator on `node`'s transport and follows its topology.
    /// The node should advertise the kinds ([`Self::advertise`]).
    ///
    /// # Errors
    /// [`ActorError::NameTaken`] when an activator is hosted already,
    /// [`ActorError::ShuttingDown`].
    pub async fn attach(self, node: &NodeHandle) -> Result<GrainHostHandle, ActorError> {
        let remote = node.remote().clone();
        for register in &self.types {
            register(remote.types())?;
        }
        // Subscribe before reading the current members, so no change is lost.
        let mut events = node.subscribe_filtered(EventFilter::kinds([EventKind::TopologyUpdated]));
        let current = current_members(node).await;
        let (members_tx, members_rx) = watch::channel(current);
        let metrics = Arc::new(GrainMetrics::default());
        let table: ActivationTable = Arc::new(Mutex::new(BTreeMap::new()));
        let activator = Activator::new(
            remote.clone(),
            self.kinds,
            members_rx,
            Arc::clone(&metrics),
            Arc::clone(&table),
        );
        let pid = remote.spawn_partition_activator(activator)?;
        let counted = Arc::clone(&metrics);
        // `protogossip_grain_requests_total`, not `…_grain_grain_requests_total`.
        node.add_counters(
            "grain",
            Box::new(move || {
                let mut described = counted.snapshot().described();
                for (name, _, _) in &mut described {
                    *name = name.strip_prefix("grain_").unwrap_or(name);
                }
                described
            }),
        );
        let poke_remote = remote.clone();
        let poke_pid = pid.clone();
        // Ends when the node stops (the subscription closes).
        tokio::spawn(async move {
            while let Some(item) = events.recv().await {
                match item {
                    SubscriptionItem::Event(e) => {
                        if let ClusterEvent::TopologyUpdated { members, .. } = e.event {
                            members_tx.send_replace(members);
                            let poke = WireMessage::from(ClusterTopology::default());
                            if let Err(e) = poke_remote.send(poke_pid.clone(), poke, None) {
                                debug!(error = %e, "cannot tell the activator about the topology");
                            }
                        }
                    }
                    SubscriptionItem::Lagged(n) => {
                        // The next TopologyUpdated carries the whole member list.
                        warn!(
                            lost = n,
                            "grain host missed node events; topology checks wait for the next change"
                        );
                    }
                }
            }
        });
        Ok(GrainHostHandle {
            activator: pid,
            metrics,
            table,
        })
    }
}

/// The active members now, for the `ActivationTerminated` broadcast until
/// the first topology change (kinds are not in the status; placement
/// checks only run on a change, which carries them).
async fn current_members(node: &NodeHandle) -> Vec<Member> {
    let Ok(status) = node.status().await else {
        return Vec::new();
    };
    status
        .members
        .into_iter()
        .filter(|m| matches!(m.status.as_str(), "Self" | "Up" | "Joining" | "Suspect"))
        .map(|m| Member {
            host: m.host,
            port: m.port,
            id: m.id,
            ..Member::default()
        })
        .collect()
}

/// A running grain host.
#[derive(Clone)]
pub struct GrainHostHandle {
    activator: Pid,
    metrics: Arc<GrainMetrics>,
    table: ActivationTable,
}

impl fmt::Debug for GrainHostHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrainHostHandle")
            .field("activator", &self.activator)
            .finish_non_exhaustive()
    }
}

impl GrainHostHandle {
    /// The activator's PID (`{our address, partition-activator}`).
    pub fn activator(&self) -> &Pid {
        &self.activator
    }

    /// The current activations: `kind/identity` → PID, ascending.
    pub fn activations(&self) -> BTreeMap<String, Pid> {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The counters.
    pub fn metrics(&self) -> GrainMetricsSnapshot {
        self.metrics.snapshot()
    }
}
