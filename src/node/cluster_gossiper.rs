//! [`ClusterGossiper`]: the node behind the host runtime's `Gossiper` seam.
//!
//! A host that today builds its cluster with `NoopGossiper` swaps in
//! `ClusterGossiper::new(config, runtime_handle)`; `start` spawns the node
//! on that runtime and returns at once, `stop` leaves gracefully and waits.

use std::sync::{Arc, Mutex};

use tokio::{runtime::Handle, task::JoinHandle};

use super::{NodeConfig, NodeHandle};
use crate::gossiper::Gossiper;

/// Where a [`ClusterGossiper`] puts its node once started; cloneable, so a
/// host can keep one after boxing the gossiper as `dyn Gossiper`.
#[derive(Debug, Clone, Default)]
pub struct NodeSlot(Arc<Mutex<Option<NodeHandle>>>);

impl NodeSlot {
    /// The running node, if it has started (and not stopped).
    pub fn get(&self) -> Option<NodeHandle> {
        self.0.lock().ok().and_then(|n| n.clone())
    }

    fn set(&self, node: Option<NodeHandle>) -> Option<NodeHandle> {
        self.0.lock().ok().and_then(|mut n| std::mem::replace(&mut *n, node))
    }
}

/// A [`Gossiper`] that runs a full cluster member.
#[derive(Debug)]
pub struct ClusterGossiper {
    config: NodeConfig,
    runtime: Handle,
    node: NodeSlot,
    starting: Option<JoinHandle<bool>>,
}

impl ClusterGossiper {
    /// A gossiper for `config` that will run on `runtime`.
    pub fn new(config: NodeConfig, runtime: Handle) -> Self {
        Self {
            config,
            runtime,
            node: NodeSlot::default(),
            starting: None,
        }
    }

    /// The running node, once `start` has completed in the background.
    pub fn node(&self) -> Option<NodeHandle> {
        self.node.get()
    }

    /// A handle on the node slot that outlives boxing the gossiper.
    pub fn node_slot(&self) -> NodeSlot {
        self.node.clone()
    }
}

impl Gossiper for ClusterGossiper {
    fn start(&mut self) -> Result<(), &'static str> {
        if self.starting.is_some() {
            return Err("gossiper already started");
        }
        self.config.validate().map_err(|e| {
            tracing::error!(error = %e, "gossiper configuration is invalid");
            "invalid gossiper configuration (see log)"
        })?;
        let config = self.config.clone();
        let slot = self.node.clone();
        self.starting = Some(self.runtime.spawn(async move {
            match NodeHandle::start(config).await {
                Ok(node) => {
                    slot.set(Some(node));
                    true
                }
                Err(e) => {
                    tracing::error!(error = %e, "gossiper failed to start");
                    false
                }
            }
        }));
        Ok(())
    }

    /// Blocks the calling thread until the node has left. Call it from
    /// outside the runtime or from a multi-threaded runtime's worker.
    fn stop(&mut self) -> Result<(), &'static str> {
        let starting = self.starting.take().ok_or("gossiper not started")?;
        let slot = self.node.clone();
        let stop = async move {
            let started = starting.await.unwrap_or(false);
            let node = slot.set(None);
            match (started, node) {
                (true, Some(node)) => node.shutdown(true).await.map_err(|e| {
                    tracing::error!(error = %e, "gossiper did not stop cleanly");
                    "gossiper did not stop cleanly (see log)"
                }),
                _ => Err("gossiper had failed to start (see log)"),
            }
        };
        if Handle::try_current().is_ok() {
            let runtime = self.runtime.clone();
            tokio::task::block_in_place(move || runtime.block_on(stop))
        } else {
            self.runtime.block_on(stop)
        }
    }
}
