//! Joining a running protoactor-go cluster that uses Go's default
//! (automanaged) provider, as docs/library.md describes:
//!
//! ```sh
//! cargo run --example join_go_cluster -- CLUSTER HEALTH_PORT HOSTS
//! # e.g. -- mycluster 6332 127.0.0.1:6330,127.0.0.1:6331,127.0.0.1:6332
//! ```
//!
//! Automanaged members find each other by polling every member's
//! `/_health`, so every member — Go and ours — must list the same `HOSTS`,
//! ours (`127.0.0.1:HEALTH_PORT`) included, and use the same cluster name.
//! We advertise `127.0.0.1`, the spelling the Go members dial.
use std::time::Duration;

use protogossip::node::{NodeConfig, NodeError, NodeHandle};
use protogossip::provider::automanaged::AutomanagedConfig;

/// Starts a member of `cluster` serving `/_health` on `health_port` and
/// polling `hosts`, and returns it once it has joined `expected` members
/// (itself included) and they agree on the topology.
pub async fn join(
    cluster: &str,
    health_port: u16,
    hosts: Vec<String>,
    expected: usize,
) -> Result<NodeHandle, NodeError> {
    let config = NodeConfig::default()
        .with_cluster_name(cluster)
        .with_provider(
            AutomanagedConfig::default()
                .with_port(health_port)
                .with_hosts(hosts),
        );
    let node = NodeHandle::start(config).await?;
    node.wait_for_members(expected, Duration::from_secs(30))
        .await?;
    node.wait_for_topology_consensus(Duration::from_secs(30))
        .await?;
    Ok(node)
}

#[tokio::main]
#[allow(dead_code)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cluster, port, hosts] = args.as_slice() else {
        eprintln!("usage: join_go_cluster CLUSTER HEALTH_PORT HOST:PORT,HOST:PORT,...");
        std::process::exit(2);
    };
    let hosts: Vec<String> = hosts.split(',').map(str::to_owned).collect();
    let node = join(cluster, port.parse()?, hosts.clone(), hosts.len()).await?;
    let status = node.status().await?;
    println!("joined as {}: {:?}", node.id(), status.joined_members());
    node.shutdown(true).await?;
    Ok(())
}
