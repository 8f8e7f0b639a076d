//! [`ClusterGossiper`]: the node behind the host runtime's `Gossiper` seam.
//!
//! A host that builds its cluster with `NoopGossiper` swaps in a
//! `ClusterGossiper`. What the host can rely on:
//!
//! - `start` returns once the node is listening and registered with its
//!   provider (not once the cluster has formed), or with an error naming the
//!   stage that failed, within [`GossiperConfig::start_timeout`];
//! - `stop` leaves gracefully and returns within
//!   [`GossiperConfig::stop_bound`], from any thread, with any locks held: it
//!   never calls back into the host, and it never waits on a thread the
//!   node needs; [`ClusterGossiper::request_stop`] does the same without
//!   waiting;
//! - [`ClusterGossiper::membership`] hands the node's view of the cluster
//!   to the host (see [`Membership`]).
//!
//! The node runs on a runtime of the gossiper's own unless the host gives
//! its handle (see [`runtime`]); the host's advertised host and port become
//! the node's ([`GossiperConfig::advertised`]), so both see one address.

mod membership;
mod runtime;

use std::{sync::mpsc, time::Duration};

use tokio::{
    runtime::Handle,
    sync::{oneshot, watch},
    task::JoinHandle,
};

use super::{Listener, NodeConfig, NodeError, NodeHandle};
use crate::gossiper::Gossiper;
use membership::Bridge;
pub use membership::{
    MemberInfo, Membership, MembershipChange, MembershipEvent, MembershipSnapshot,
};
use runtime::NodeRuntime;

/// Slack on top of a bound for handing work to the node's runtime and back.
const HANDOFF_SLACK: Duration = Duration::from_secs(1);

/// How long a node's provider may take to deregister (the node's own cap).
const PROVIDER_STOP: Duration = Duration::from_secs(5);

/// How a [`ClusterGossiper`] is built.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GossiperConfig {
    /// The node. Its `host` and `port` are the member's advertised address.
    pub node: NodeConfig,
    /// The runtime to run the node on; `None` (default): one of the
    /// gossiper's own, a current-thread runtime on a thread of its own.
    pub runtime: Option<Handle>,
    /// Longest `start` waits for the node to listen and register (default
    /// 5 s).
    pub start_timeout: Duration,
    /// Longest `stop` waits for the leave; `None` (default):
    /// [`stop_bound`](Self::stop_bound)'s sum.
    pub stop_timeout: Option<Duration>,
}

impl GossiperConfig {
    /// A gossiper for `node` on a runtime of its own.
    pub fn new(node: NodeConfig) -> Self {
        Self {
            node,
            runtime: None,
            start_timeout: Duration::from_secs(5),
            stop_timeout: None,
        }
    }

    /// The host's advertised address becomes the node's, so the host's
    /// member and ours are one address (`port` 0: a free port).
    #[must_use]
    pub fn advertised(mut self, host: impl Into<String>, port: u16) -> Self {
        self.node.host = host.into();
        self.node.port = port;
        self
    }

    /// Runs the node on the host's runtime instead of one of its own.
    #[must_use]
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Returns this configuration with `start` waiting at most `timeout`.
    #[must_use]
    pub fn with_start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Returns this configuration with `stop` waiting at most `timeout`
    /// (`None`: [`stop_bound`](Self::stop_bound)'s sum).
    #[must_use]
    pub fn with_stop_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.stop_timeout = timeout.into();
        self
    }

    /// Longest `stop` takes: `stop_timeout` if set, else the graceful leave
    /// (`leave_rounds` × `gossip_interval`), the provider's deregistration
    /// (at most 5 s), the transport's drain (`remote.shutdown_grace`) and
    /// 1 s of slack. A plain leave takes about the first term.
    pub fn stop_bound(&self) -> Duration {
        self.stop_timeout.unwrap_or_else(|| {
            self.node.gossip.gossip_interval * self.node.leave_rounds
                + PROVIDER_STOP
                + self.node.remote.shutdown_grace
                + HANDOFF_SLACK
        })
    }
}

/// Why a [`ClusterGossiper`] could not start or stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GossiperError {
    /// `start` while running.
    #[error("the gossiper is already started")]
    AlreadyStarted,
    /// `stop` while not running.
    #[error("the gossiper is not started")]
    NotStarted,
    /// The gossiper's own runtime could not be created.
    #[error("cannot create the gossiper's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The caller runs on the only thread that could run the node, so it
    /// cannot wait for it: give the gossiper its own runtime.
    #[error(
        "cannot wait for the node on a thread of the runtime that runs it (current-thread or one worker); use the gossiper's own runtime"
    )]
    WouldBlock,
    /// The node could not start.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The node did not start in time (it is stopped once it does).
    #[error("the node did not start within {0:?}")]
    StartTimeout(Duration),
    /// The node did not finish leaving in time; it keeps leaving.
    #[error("the node did not stop within {0:?}; it keeps leaving in the background")]
    StopTimeout(Duration),
}

impl GossiperError {
    /// The stage that failed: `lifecycle`, `runtime`, `configuration`,
    /// `transport`, `provider`, `status server`, `system id`, `start
    /// timeout`, `stop timeout` or `node`.
    pub fn stage(&self) -> &'static str {
        match self {
            Self::AlreadyStarted | Self::NotStarted => "lifecycle",
            Self::Runtime(_) | Self::WouldBlock => "runtime",
            Self::StartTimeout(_) => "start timeout",
            Self::StopTimeout(_) => "stop timeout",
            Self::Node(e) => match e {
                NodeError::Config(_) | NodeError::Gossip(_) => "configuration",
                NodeError::Transport(_) => "transport",
                NodeError::Provider(_) => "provider",
                NodeError::Listen { what, .. } => match what {
                    Listener::Remoting => "transport",
                    Listener::AutomanagedHealth => "provider",
                    Listener::Status => "status server",
                },
                NodeError::Random(_) => "system id",
                _ => "node",
            },
        }
    }

    /// The host's `&'static str`: the stage, and where to read the rest.
    fn summary(&self) -> &'static str {
        match self {
            Self::AlreadyStarted => "gossiper already started",
            Self::NotStarted => "gossiper not started",
            _ => match self.stage() {
                "runtime" => "gossiper failed at runtime (see ClusterGossiper::last_error)",
                "configuration" => {
                    "gossiper failed at configuration (see ClusterGossiper::last_error)"
                }
                "transport" => "gossiper failed at transport (see ClusterGossiper::last_error)",
                "provider" => "gossiper failed at provider (see ClusterGossiper::last_error)",
                "status server" => {
                    "gossiper failed at status server (see ClusterGossiper::last_error)"
                }
                "system id" => "gossiper failed at system id (see ClusterGossiper::last_error)",
                "start timeout" => {
                    "gossiper failed at start timeout (see ClusterGossiper::last_error)"
                }
                "stop timeout" => {
                    "gossiper failed at stop timeout (see ClusterGossiper::last_error)"
                }
                _ => "gossiper failed at node (see ClusterGossiper::last_error)",
            },
        }
    }
}

/// How a stop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// The node left (or, not graceful, stopped at once).
    Stopped,
    /// The node had already stopped by itself.
    NodeHadStopped,
}

/// A stop under way, from [`ClusterGossiper::request_stop`]. Cloneable.
#[derive(Debug, Clone)]
pub struct StopHandle {
    done: watch::Receiver<Option<StopOutcome>>,
}

impl StopHandle {
    /// How the stop ended, or `None` while it is under way.
    pub fn outcome(&self) -> Option<StopOutcome> {
        *self.done.borrow()
    }

    /// Waits until the stop has ended.
    pub async fn finished(&mut self) -> StopOutcome {
        match self.done.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.unwrap_or(StopOutcome::Stopped),
            // The runtime running the stop ended first: the node is gone.
            Err(_) => StopOutcome::NodeHadStopped,
        }
    }
}

/// Where a [`ClusterGossiper`] keeps its node while it runs; cloneable, so
/// a host can keep one after boxing the gossiper as `dyn Gossiper`.
#[derive(Debug, Clone, Default)]
pub struct NodeSlot(std::sync::Arc<std::sync::Mutex<Option<NodeHandle>>>);

impl NodeSlot {
    /// The running node, if it has started (and not stopped).
    pub fn get(&self) -> Option<NodeHandle> {
        self.0.lock().ok().and_then(|n| n.clone())
    }

    fn set(&self, node: Option<NodeHandle>) {
        if let Ok(mut n) = self.0.lock() {
            *n = node;
        }
    }
}

/// A running node with its membership bridge.
#[derive(Debug)]
struct Started {
    node: NodeHandle,
    finish_bridge: oneshot::Sender<()>,
    bridge: JoinHandle<()>,
}

impl Started {
    /// Starts the node and its bridge (on the node's runtime).
    async fn new(
        config: NodeConfig,
        timeout: Duration,
        membership: Membership,
    ) -> Result<Self, GossiperError> {
        let mut starting = Box::pin(NodeHandle::start(config));
        let node = match tokio::time::timeout(timeout, &mut starting).await {
            Ok(started) => started?,
            Err(_) => {
                // Let it finish, then stop it: cancelled half-way it could
                // leave a listener behind.
                tokio::spawn(async move {
                    if let Ok(node) = starting.await {
                        let _ = node.shutdown(false).await;
                    }
                });
                return Err(GossiperError::StartTimeout(timeout));
            }
        };
        let bridge = match Bridge::attach(node.clone(), membership).await {
            Ok(b) => b,
            Err(e) => {
                let _ = node.shutdown(false).await;
                return Err(e.into());
            }
        };
        let (finish_bridge, finish) = oneshot::channel();
        Ok(Self {
            node,
            finish_bridge,
            bridge: tokio::spawn(bridge.run(finish)),
        })
    }

    /// Shuts the node down and lets the bridge publish its last changes.
    async fn stop(self, graceful: bool) -> StopOutcome {
        let outcome = match self.node.shutdown(graceful).await {
            Ok(()) => StopOutcome::Stopped,
            Err(_) => StopOutcome::NodeHadStopped,
        };
        let _ = self.finish_bridge.send(());
        let _ = self.bridge.await;
        outcome
    }
}

/// A [`Gossiper`] that runs a full cluster member (see the module docs).
#[derive(Debug)]
pub struct ClusterGossiper {
    config: GossiperConfig,
    runtime: Option<NodeRuntime>,
    running: Option<Started>,
    node: NodeSlot,
    membership: Membership,
    last_error: Option<GossiperError>,
}

impl ClusterGossiper {
    /// A gossiper for `config` that will run on the host's `runtime`.
    pub fn new(config: NodeConfig, runtime: Handle) -> Self {
        Self::with_config(GossiperConfig::new(config).runtime(runtime))
    }

    /// A gossiper as `config` says.
    pub fn with_config(config: GossiperConfig) -> Self {
        Self {
            config,
            runtime: None,
            running: None,
            node: NodeSlot::default(),
            membership: Membership::default(),
            last_error: None,
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &GossiperConfig {
        &self.config
    }

    /// The node's view of the cluster, for the host's member table. Valid
    /// before `start` and across restarts; take it before boxing.
    pub fn membership(&self) -> Membership {
        self.membership.clone()
    }

    /// The running node (after `start` returned `Ok`, until `stop`).
    pub fn node(&self) -> Option<NodeHandle> {
        self.node.get()
    }

    /// A handle on the node slot that outlives boxing the gossiper.
    pub fn node_slot(&self) -> NodeSlot {
        self.node.clone()
    }

    /// The full error behind the last `Err` of `start` or `stop` (cleared
    /// by the next success).
    pub fn last_error(&self) -> Option<&GossiperError> {
        self.last_error.as_ref()
    }

    fn node_runtime(&mut self) -> Result<&NodeRuntime, GossiperError> {
        let runtime = match (self.runtime.take(), &self.config.runtime) {
            (Some(r), _) => r,
            (None, Some(h)) => NodeRuntime::host(h.clone()),
            (None, None) => NodeRuntime::own().map_err(GossiperError::Runtime)?,
        };
        Ok(self.runtime.insert(runtime))
    }

    fn try_start(&mut self) -> Result<(), GossiperError> {
        if self.running.is_some() {
            return Err(GossiperError::AlreadyStarted);
        }
        self.config.node.validate()?;
        let (config, timeout) = (self.config.node.clone(), self.config.start_timeout);
        let membership = self.membership.clone();
        let runtime = self.node_runtime()?;
        if !runtime.can_wait() {
            return Err(GossiperError::WouldBlock);
        }
        let (tx, rx) = mpsc::channel();
        runtime.spawn(async move {
            let started = Started::new(config, timeout, membership).await;
            if let Err(mpsc::SendError(Ok(orphan))) = tx.send(started) {
                // The caller stopped waiting: nobody owns this node.
                orphan.stop(false).await;
            }
        });
        let started = rx
            .recv_timeout(timeout + HANDOFF_SLACK)
            .map_err(|_| GossiperError::StartTimeout(timeout))??;
        self.node.set(Some(started.node.clone()));
        self.running = Some(started);
        Ok(())
    }

    /// Begins stopping the node (gracefully: publishing `left` first) and
    /// returns at once; the handle reports when it is done. Safe from any
    /// thread, async context or not.
    ///
    /// # Errors
    /// [`GossiperError::NotStarted`].
    pub fn request_stop(&mut self, graceful: bool) -> Result<StopHandle, GossiperError> {
        let (handle, _) = self.begin_stop(graceful)?;
        Ok(handle)
    }

    fn begin_stop(
        &mut self,
        graceful: bool,
    ) -> Result<(StopHandle, mpsc::Receiver<StopOutcome>), GossiperError> {
        let started = self.running.take().ok_or(GossiperError::NotStarted)?;
        self.node.set(None);
        if graceful {
            self.membership.leaving(&started.node.id());
        }
        let (done_tx, done) = watch::channel(None);
        let (tx, rx) = mpsc::channel();
        let runtime = self.node_runtime()?;
        runtime.spawn(async move {
            let outcome = started.stop(graceful).await;
            done_tx.send_replace(Some(outcome));
            let _ = tx.send(outcome);
        });
        Ok((StopHandle { done }, rx))
    }

    fn try_stop(&mut self) -> Result<(), GossiperError> {
        if self.running.is_none() {
            return Err(GossiperError::NotStarted);
        }
        let bound = self.config.stop_bound();
        let can_wait = self.node_runtime()?.can_wait();
        let (_, rx) = self.begin_stop(true)?;
        if !can_wait {
            return Err(GossiperError::WouldBlock);
        }
        rx.recv_timeout(bound)
            .map(drop)
            .map_err(|_| GossiperError::StopTimeout(bound))
    }

    /// Logs and keeps `result`'s error; the host's `&'static str` for it.
    fn report(
        &mut self,
        what: &str,
        result: Result<(), GossiperError>,
    ) -> Result<(), &'static str> {
        match result {
            Ok(()) => {
                self.last_error = None;
                Ok(())
            }
            Err(e) => {
                tracing::error!(stage = e.stage(), error = %e, "gossiper {what} failed");
                let summary = e.summary();
                self.last_error = Some(e);
                Err(summary)
            }
        }
    }
}

impl Gossiper for ClusterGossiper {
    /// Starts the node and waits (at most `start_timeout`) until it listens
    /// and its provider has registered it.
    fn start(&mut self) -> Result<(), &'static str> {
        let result = self.try_start();
        self.report("start", result)
    }

    /// Leaves gracefully and waits (at most [`GossiperConfig::stop_bound`]).
    /// On a thread the node's runtime needs, it only begins the leave and
    /// returns the `runtime` error.
    fn stop(&mut self) -> Result<(), &'static str> {
        let result = self.try_stop();
        self.report("stop", result)
    }
}

impl Drop for ClusterGossiper {
    /// A gossiper dropped while running leaves in the background; its own
    /// runtime lives until the leave is done.
    fn drop(&mut self) {
        let Some(started) = self.running.take() else {
            return;
        };
        let Some(runtime) = self.runtime.as_mut() else {
            return;
        };
        let keep = runtime.keep_alive();
        runtime.spawn(async move {
            started.stop(true).await;
            drop(keep);
        });
    }
}
