//! [`ClusterGossiper`]: the node behind the host runtime's `Gossiper` seam.
//!
//! A host that today builds its cluster with `NoopGossiper` swaps in
//! `ClusterGossiper::new(config, runtime_handle)`; `start` spawns the node
//! on that runtime and returns at once, `stop` leaves gracefully and waits.

use std::sync::{Arc, Mutex};

use tokio::{runtime::Handle, task::JoinHandle};

use super::{NodeConfig, NodeHandle};
use crate::gossiper::Gossiper;

/// A [`Gossiper`] that runs a full cluster member.
#[derive(Debug)]
pub struct ClusterGossiper {
    config: NodeConfig,
    runtime: Handle,
    node: Arc<Mutex<Option<NodeHandle>>>,
    starting: Option<JoinHandle<bool>>,
}

impl ClusterGossiper {
    /// A gossiper for `config` that will run on `runtime`.
    pub fn new(config: NodeConfig, runtime: Handle) -> Self {
        Self {
            config,
            runtime,
            node: Arc::new(Mutex::new(None)),
            starting: None,
        }
    }

    /// The running node, once `start` has completed in the background.
    pub fn node(&self) -> Option<NodeHandle> {
        self.node.lock().ok().and_then(|n| n.clone())
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
        let slot = Arc::clone(&self.node);
        self.starting = Some(self.runtime.spawn(async move {
            match NodeHandle::start(config).await {
                Ok(node) => {
                    if let Ok(mut s) = slot.lock() {
                        *s = Some(node);
                    }
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
        let slot = Arc::clone(&self.node);
        let stop = async move {
            let started = starting.await.unwrap_or(false);
            let node = slot.lock().ok().and_then(|mut n| n.take());
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
