//! Swapping a host runtime's `NoopGossiper` for a real cluster member.
//!
//! An actor runtime's cluster module holds a `Box<dyn Gossiper>`; today it
//! is built with `NoopGossiper`. The one-line change is the marked line:
//! build a `ClusterGossiper` instead. Run with `cargo run --example
//! gossiper_swap`; it starts one member on loopback, prints its status and
//! leaves again.

use std::time::{Duration, Instant};

use protogossip::{
    gossiper::{Gossiper, NoopGossiper},
    node::{ClusterGossiper, NodeConfig},
    provider::{ProviderConfig, automanaged::AutomanagedConfig},
};

/// Stands in for the host runtime's cluster, which owns a gossiper.
struct HostCluster {
    gossiper: Box<dyn Gossiper>,
}

impl HostCluster {
    fn start(&mut self) -> Result<(), &'static str> {
        self.gossiper.start()
    }

    fn stop(&mut self) -> Result<(), &'static str> {
        self.gossiper.stop()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;

    // Before: a cluster that never gossips.
    let mut before = HostCluster { gossiper: Box::new(NoopGossiper) };
    before.start()?;
    before.stop()?;

    // After: the same host, one line different.
    let config = NodeConfig {
        provider: ProviderConfig::Automanaged(AutomanagedConfig {
            port: 0,
            hosts: vec![],
            ..Default::default()
        }),
        http: None,
        ..Default::default()
    };
    let gossiper = ClusterGossiper::new(config, runtime.handle().clone());
    let node = gossiper.node_slot();
    let mut after = HostCluster { gossiper: Box::new(gossiper) }; // <- the one-line change
    after.start()?;
    let started = Instant::now();
    let handle = loop {
        if let Some(h) = node.get() {
            break h;
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err("the node did not start within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = runtime.block_on(handle.status())?;
    println!("member {} at {} sees {} member(s)", status.id, status.address, status.topology.members.len());
    after.stop()?;
    println!("left the cluster");
    Ok(())
}
