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
pub mod static_list;

use std::{fmt, time::Duration};

use tokio::{sync::watch, task::JoinHandle};

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
pub enum ProviderConfig {
    /// A fixed member list (Rust-only clusters and tests).
    Static(static_list::StaticConfig),
    /// protoactor-go's automanaged provider: `/_health` served and polled over HTTP.
    Automanaged(automanaged::AutomanagedConfig),
    /// protoactor-go's etcd provider.
    #[cfg(feature = "etcd")]
    Etcd(etcd::EtcdConfig),
}

impl ProviderConfig {
    /// The member id this provider gives `me`. Automanaged and static use the
    /// system id; etcd uses `<cluster>@<system id>`, as Go does.
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
        }
    }
}

/// A provider failure.
#[derive(Debug, thiserror::Error)]
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
}

/// A running provider: its member snapshots and a way to stop it.
pub struct ProviderHandle {
    members: watch::Receiver<Vec<Member>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for ProviderHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderHandle")
            .field("members", &*self.members.borrow())
            .finish_non_exhaustive()
    }
}

impl ProviderHandle {
    fn new(
        members: watch::Receiver<Vec<Member>>,
        shutdown: tokio::sync::oneshot::Sender<()>,
        task: JoinHandle<()>,
    ) -> Self {
        Self {
            members,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// A receiver of member snapshots (sorted by id, this node included once
    /// it is registered). `changed()` fires on every new snapshot.
    pub fn members(&self) -> watch::Receiver<Vec<Member>> {
        self.members.clone()
    }

    /// Deregisters this node and stops the provider. Waits at most `timeout`
    /// for the deregistration (an unreachable etcd must not hang shutdown).
    pub async fn shutdown(&mut self, timeout: Duration) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(timeout, task).await.is_err() {
                tracing::warn!(?timeout, "provider did not stop in time; aborted");
                abort.abort();
            }
        }
    }
}

impl ProviderHandle {
    /// Stops the provider at once *without* deregistering, as a crash would:
    /// peers learn of it only when its registration expires (etcd lease,
    /// failed `/_health` polls). For tests and emergency exits.
    pub fn abort(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for ProviderHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Starts the configured provider for `me` on the current tokio runtime.
///
/// # Errors
/// Invalid configuration, a port that cannot be bound, or (etcd) a server
/// that cannot be reached for the first registration.
pub async fn start(
    config: ProviderConfig,
    me: SelfMember,
) -> Result<ProviderHandle, ProviderError> {
    config.validate()?;
    match config {
        ProviderConfig::Static(c) => static_list::start(c, me),
        ProviderConfig::Automanaged(c) => automanaged::start(c, me).await,
        #[cfg(feature = "etcd")]
        ProviderConfig::Etcd(c) => etcd::start(c, me).await,
    }
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
