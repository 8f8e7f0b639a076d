//! Cluster providers: where the member list comes from.
//!
//! protoactor-go's membership is provider-driven: gossip spreads state and
//! detects failures, but who *is* a member is decided by a provider — an
//! automanaged HTTP poll, an etcd directory, a static list. A provider
//! registers this node and publishes full member snapshots; the node feeds
//! each snapshot to the gossip core, which diffs it into joined/left and
//! applies the block list.
//!
//! Our providers are interoperable with protoactor-go's (same `/_health`
//! JSON, same etcd keys, values and leases), so a Go node and a Rust node
//! using the same provider settings see each other. Where Go's provider has a
//! bug that costs a healthy member its membership, ours does not copy it
//! (see each provider's docs).
//!
//! Snapshots go out on a `tokio::sync::watch` channel: only the newest
//! member list matters, so a slow consumer skips intermediate lists instead
//! of queueing them.

pub mod automanaged;
#[cfg(feature = "etcd")]
pub mod etcd;
#[cfg(feature = "k8s")]
pub mod k8s;
pub mod static_list;

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::task::JoinHandle;
/// The tokio types of this module's API, re-exported so a user can name them
/// without matching our tokio dependency: the [`watch`] receiver of
/// [`ProviderHandle::members`] and the [`TcpListener`] of [`bind`] and
/// [`serve`].
#[doc(no_inline)]
pub use tokio::{net::TcpListener, sync::watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::wire::proto::cluster::Member;

/// This node as it registers with a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfMember {
    /// The cluster name; providers only report members of the same cluster.
    pub cluster_name: String,
    /// This process's system id (fresh on every start).
    pub system_id: String,
    /// The advertised host (no port), exactly as peers must dial it.
    pub host: String,
    /// The advertised remoting (gRPC) port.
    pub port: u16,
    /// Cluster kinds this node hosts (none for a pure gossip member).
    pub kinds: Vec<String>,
}

impl SelfMember {
    /// The advertised `host:port`, as it appears in every PID this node owns.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// This node as a `cluster.Member` with the given member id.
    pub fn to_member(&self, member_id: &str) -> Member {
        Member {
            host: self.host.clone(),
            port: i32::from(self.port),
            id: member_id.to_owned(),
            kinds: self.kinds.clone(),
        }
    }
}

/// Which provider to run, with its settings.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProviderConfig {
    /// Static seeds by address (Rust-only clusters without discovery); ids
    /// are learned from handshakes and gossip.
    Static(static_list::StaticConfig),
    /// protoactor-go's automanaged provider: `/_health` served and polled over HTTP.
    Automanaged(automanaged::AutomanagedConfig),
    /// protoactor-go's etcd provider.
    #[cfg(feature = "etcd")]
    Etcd(etcd::EtcdConfig),
    /// protoactor-go's Kubernetes provider (pod labels and a pod watch).
    #[cfg(feature = "k8s")]
    K8s(k8s::K8sConfig),
}

impl From<static_list::StaticConfig> for ProviderConfig {
    fn from(c: static_list::StaticConfig) -> Self {
        Self::Static(c)
    }
}

impl From<automanaged::AutomanagedConfig> for ProviderConfig {
    fn from(c: automanaged::AutomanagedConfig) -> Self {
        Self::Automanaged(c)
    }
}

#[cfg(feature = "etcd")]
impl From<etcd::EtcdConfig> for ProviderConfig {
    fn from(c: etcd::EtcdConfig) -> Self {
        Self::Etcd(c)
    }
}

#[cfg(feature = "k8s")]
impl From<k8s::K8sConfig> for ProviderConfig {
    fn from(c: k8s::K8sConfig) -> Self {
        Self::K8s(c)
    }
}

impl ProviderConfig {
    /// The member id this provider gives `me`. Automanaged, static and k8s
    /// use the system id (Go's k8s provider labels a random id instead: see
    /// `k8s`); etcd uses `<cluster>@<system id>`, as Go does.
    pub fn member_id(&self, me: &SelfMember) -> String {
        match self {
            #[cfg(feature = "etcd")]
            ProviderConfig::Etcd(_) => etcd::member_id(me),
            _ => me.system_id.clone(),
        }
    }

    /// Checks the settings without starting anything.
    ///
    /// # Errors
    /// [`ProviderError::Config`] naming the bad setting.
    pub fn validate(&self) -> Result<(), ProviderError> {
        match self {
            ProviderConfig::Static(c) => c.validate(),
            ProviderConfig::Automanaged(c) => c.validate(),
            #[cfg(feature = "etcd")]
            ProviderConfig::Etcd(c) => c.validate(),
            #[cfg(feature = "k8s")]
            ProviderConfig::K8s(c) => c.validate(),
        }
    }
}

/// A provider failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// A setting is invalid; the message says which and why.
    #[error("invalid provider configuration: {0}")]
    Config(String),
    /// A listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address that was asked for.
        address: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The etcd server could not be reached or refused an operation.
    #[cfg(feature = "etcd")]
    #[error("etcd {operation} failed: {source}")]
    Etcd {
        /// What we were doing.
        operation: &'static str,
        /// The client's error.
        source: etcd_client::Error,
    },
    /// The Kubernetes API server could not be reached or refused an
    /// operation.
    #[cfg(feature = "k8s")]
    #[error("kubernetes {operation} failed: {source}")]
    K8s {
        /// What we were doing.
        operation: &'static str,
        /// The client's error.
        source: Box<kube::Error>,
    },
}

/// How a provider's tasks are told to stop and how its owner learns that
/// they have: `leave` asks them to deregister and end, `halt` ends them at
/// once (a simulated crash, or a deregistration that takes too long) and
/// fires `leave` too, and `tracker` completes when every one has ended.
/// Every task a provider starts runs on `tracker`, the HTTP client's
/// connection tasks included, so none outlives the handle's `shutdown`.
#[derive(Debug, Clone)]
struct ProviderTasks {
    leave: CancellationToken,
    halt: CancellationToken,
    tracker: TaskTracker,
    metrics: Arc<ProviderMetrics>,
}

/// A provider's counters, shared by its tasks.
#[derive(Debug, Default)]
struct ProviderMetrics {
    /// Times the provider lost its feed of changes (etcd: a cancelled,
    /// compacted or ended watch) and read the directory again.
    watch_recoveries: Arc<AtomicU64>,
    /// Registrations skipped as malformed (k8s: a pod of the cluster with
    /// no member id or a port label that is not a port).
    malformed_members: Arc<AtomicU64>,
}

/// A provider's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderMetricsSnapshot {
    /// Times the provider lost its feed of changes (etcd: a cancelled,
    /// compacted or ended watch) and read the directory again.
    pub watch_recoveries: u64,
    /// Registrations skipped as malformed (k8s: a pod of the cluster with
    /// no member id or a port label that is not a port).
    pub malformed_members: u64,
}

impl ProviderTasks {
    fn new() -> Self {
        let halt = CancellationToken::new();
        Self {
            leave: halt.child_token(),
            halt,
            tracker: TaskTracker::new(),
            metrics: Arc::default(),
        }
    }

    /// Runs `task` on the tracker until it ends or `halt` fires.
    fn spawn<F>(&self, task: F) -> JoinHandle<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker
            .spawn(self.halt.clone().run_until_cancelled_owned(task))
    }

    /// Halts every task and waits until they have ended.
    async fn halt(&self) {
        self.halt.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// A running provider: its member snapshots and a way to stop it.
pub struct ProviderHandle {
    members: watch::Receiver<Vec<Member>>,
    static_feed: Option<static_list::StaticFeed>,
    health_hints: Option<automanaged::HintSender>,
    tasks: ProviderTasks,
}

impl fmt::Debug for ProviderHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderHandle")
            .field("members", &*self.members.borrow())
            .finish_non_exhaustive()
    }
}

impl ProviderHandle {
    /// A receiver of member snapshots (sorted by id, this node included once
    /// it is registered). `changed()` fires on every new snapshot.
    pub fn members(&self) -> watch::Receiver<Vec<Member>> {
        self.members.clone()
    }

    /// Where the node reports members it learns (static provider only: the
    /// others learn members themselves).
    pub fn static_feed(&self) -> Option<static_list::StaticFeed> {
        self.static_feed.clone()
    }

    /// Where the node reports evidence that a member may be gone
    /// (automanaged provider only: it answers with a confirming poll).
    pub fn health_hints(&self) -> Option<automanaged::HintSender> {
        self.health_hints.clone()
    }

    /// The provider's counters.
    pub fn metrics(&self) -> ProviderMetricsSnapshot {
        ProviderMetricsSnapshot {
            watch_recoveries: self.tasks.metrics.watch_recoveries.load(Ordering::Relaxed),
            malformed_members: self.tasks.metrics.malformed_members.load(Ordering::Relaxed),
        }
    }

    /// Deregisters this node and stops the provider; returns when every one
    /// of its tasks has ended. Waits at most `timeout` for the
    /// deregistration (an unreachable etcd must not hang shutdown), then
    /// halts what is left.
    pub async fn shutdown(&mut self, timeout: Duration) {
        self.tasks.leave.cancel();
        self.tasks.tracker.close();
        if tokio::time::timeout(timeout, self.tasks.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(?timeout, "provider did not stop in time; halted");
        }
        self.tasks.halt().await;
    }

    /// Stops the provider at once *without* deregistering, as a crash would:
    /// peers learn of it only when its registration expires (etcd lease,
    /// failed `/_health` polls). Returns when every one of its tasks has
    /// ended. For tests and emergency exits.
    pub async fn abort(self) {
        self.tasks.halt().await;
    }
}

impl Drop for ProviderHandle {
    /// A handle dropped without `shutdown` or `abort` halts its tasks
    /// (without waiting for them).
    fn drop(&mut self) {
        self.tasks.halt.cancel();
    }
}

/// Binds the listener the configured provider serves on, if it has one: the
/// automanaged provider's `/_health`, on its `bind_host` or `host`. Bind it
/// before anything else starts and pass it to [`serve`].
///
/// # Errors
/// [`ProviderError::Bind`] naming the address.
pub async fn bind(
    config: &ProviderConfig,
    host: &str,
) -> Result<Option<TcpListener>, ProviderError> {
    match config {
        ProviderConfig::Automanaged(c) => automanaged::bind(c, host).await.map(Some),
        _ => Ok(None),
    }
}

/// Starts the configured provider for `me` on the current tokio runtime,
/// binding its listener first (see [`bind`] and [`serve`]).
///
/// # Errors
/// Invalid configuration, a port that cannot be bound, or (etcd) a server
/// that cannot be reached for the first registration.
pub async fn start(
    config: ProviderConfig,
    me: SelfMember,
) -> Result<ProviderHandle, ProviderError> {
    config.validate()?;
    let listener = bind(&config, &me.host).await?;
    serve(config, me, listener).await
}

/// Starts the configured provider for `me` on a listener from [`bind`]
/// (`None` for providers that serve nothing).
///
/// # Errors
/// Invalid configuration, a listener missing or given where the provider
/// has none, or (etcd) a server that cannot be reached for the first
/// registration.
pub async fn serve(
    config: ProviderConfig,
    me: SelfMember,
    listener: Option<TcpListener>,
) -> Result<ProviderHandle, ProviderError> {
    config.validate()?;
    let tasks = ProviderTasks::new();
    #[cfg(feature = "k8s")]
    let member_id = config.member_id(&me);
    let (mut static_feed, mut health_hints) = (None, None);
    let members = match (config, listener) {
        (ProviderConfig::Automanaged(c), Some(l)) => {
            let (members, hints) = automanaged::serve(c, me, l, &tasks)?;
            health_hints = Some(hints);
            members
        }
        (ProviderConfig::Automanaged(_), None) => {
            return Err(ProviderError::Config(
                "the automanaged provider needs its /_health listener".into(),
            ));
        }
        (_, Some(l)) => {
            return Err(ProviderError::Config(format!(
                "a listener ({:?}) was given to a provider that serves nothing",
                l.local_addr().ok()
            )));
        }
        (ProviderConfig::Static(c), None) => {
            let (members, feed) = static_list::serve(c, me, &tasks);
            static_feed = Some(feed);
            members
        }
        #[cfg(feature = "etcd")]
        (ProviderConfig::Etcd(c), None) => etcd::serve(c, me, &tasks).await?,
        #[cfg(feature = "k8s")]
        (ProviderConfig::K8s(c), None) => k8s::serve(c, me, member_id, &tasks).await?,
    };
    Ok(ProviderHandle {
        members,
        static_feed,
        health_hints,
        tasks,
    })
}

/// Sorts members by id (Go's topology order) and publishes them if they
/// differ from the last snapshot.
fn publish(tx: &watch::Sender<Vec<Member>>, mut members: Vec<Member>) {
    members.sort_by(|a, b| a.id.as_bytes().cmp(b.id.as_bytes()));
    members.dedup_by(|a, b| a.id == b.id);
    tx.send_if_modified(|current| {
        if *current == members {
            false
        } else {
            *current = members;
            true
        }
    });
}
