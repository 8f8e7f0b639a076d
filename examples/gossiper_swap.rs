//! Swapping a host runtime's `NoopGossiper` for a real cluster member.
//!
//! An actor runtime's cluster module holds a `Box<dyn Gossiper>`; today it
//! is built with `NoopGossiper`. The one-line change is the marked line:
//! build a `ClusterGossiper` instead. Its membership goes to the host's
//! table. Run with `cargo run --example gossiper_swap`: it starts one member
//! on loopback, prints what the host learns from the membership stream, and
//! leaves again. See docs/gossiper.md.

use std::time::Duration;

use protogossip::{
    gossiper::{Gossiper, NoopGossiper},
    node::{ClusterGossiper, GossiperConfig, MembershipChange, NodeConfig},
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Before: a cluster that never gossips.
    let mut before = HostCluster {
        gossiper: Box::new(NoopGossiper),
    };
    before.start()?;
    before.stop()?;

    // After: the same host, one line different. The host's advertised
    // address becomes the member's; the node runs on the gossiper's own
    // runtime, so `start` and `stop` may block this (current-thread) one.
    let config = GossiperConfig::new(NodeConfig::default()).advertised("127.0.0.1", 0);
    let gossiper = ClusterGossiper::with_config(config);
    let (_, mut changes) = gossiper.membership().subscribe_with_snapshot();
    let mut after = HostCluster {
        gossiper: Box::new(gossiper),
    }; // <- the one-line change
    after.start()?;

    // The host's event pump: wait (bounded) for our own member to be Up.
    let up = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = changes.recv().await?;
            println!("membership #{}: {:?}", event.seq, event.change);
            if let MembershipChange::Status { member, .. } = event.change
                && member.is_self
            {
                return Ok::<_, tokio::sync::broadcast::error::RecvError>(member);
            }
        }
    })
    .await??;
    println!("member {} at {} is {:?}", up.id, up.address(), up.status);

    after.stop()?;
    while let Ok(event) = changes.try_recv() {
        println!("membership #{}: {:?}", event.seq, event.change);
    }
    println!("left the cluster");
    Ok(())
}
