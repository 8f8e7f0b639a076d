//! No task of a node outlives its `shutdown()`: on a runtime of its own,
//! the number of alive tasks is back to what it was before the nodes
//! started, as soon as the last `shutdown()` returns.
//!
//! The runtime is current-thread on purpose: a task that has ended is then
//! already gone from the count when control returns to the test, so the
//! comparison is exact and needs no waiting (on a multi-thread runtime a
//! task may still be winding down on another worker).

#[path = "support/http.rs"]
mod http;
#[path = "support/net.rs"]
mod net;

use std::time::{Duration, Instant};

use net::wait_topology;
use protogossip::{
    gossip::GossipConfig,
    node::{NodeConfig, NodeHandle, NodeListeners},
    provider::{ProviderConfig, automanaged::AutomanagedConfig},
};
use tokio::net::{TcpListener, TcpStream};

const NODES: usize = 3;

async fn start_nodes() -> Vec<NodeHandle> {
    let mut health = Vec::new();
    for _ in 0..NODES {
        health.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let hosts: Vec<String> = health
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect();
    let mut nodes = Vec::new();
    for (i, listener) in health.into_iter().enumerate() {
        let config = NodeConfig::default()
            .with_cluster_name("tasks")
            .with_provider(ProviderConfig::Automanaged(
                AutomanagedConfig::default()
                    .with_port(listener.local_addr().unwrap().port())
                    .with_hosts(hosts.clone())
                    .with_refresh(Duration::from_millis(100)),
            ))
            .with_gossip(GossipConfig::default().with_heartbeat_expiration(Duration::from_secs(3)));
        let listeners = NodeListeners {
            remote: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            health: Some(listener),
            // One node serves /status, so its server and connections count too.
            http: if i == 0 {
                Some(TcpListener::bind("127.0.0.1:0").await.unwrap())
            } else {
                None
            },
        };
        nodes.push(NodeHandle::start_with(config, listeners).await.unwrap());
    }
    nodes
}

async fn wait_converged(nodes: &[NodeHandle]) {
    // One 30 s deadline for all of them.
    let deadline = Instant::now() + Duration::from_secs(30);
    let what = format!("consensus over {NODES} members");
    for n in nodes {
        let left = deadline.saturating_duration_since(Instant::now());
        wait_topology(n, &what, left, |v| {
            v.members.len() == NODES && v.consensus.reached
        })
        .await;
    }
}

#[test]
fn no_task_of_a_node_outlives_its_shutdown() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let metrics = tokio::runtime::Handle::current().metrics();
        let baseline = metrics.num_alive_tasks();

        let mut nodes = start_nodes().await;
        wait_converged(&nodes).await;
        let status = nodes[0].http_address().unwrap().to_string();
        let page = http::get(&status, "/status").await.unwrap();
        assert_eq!(page.status, 200, "{}", page.body);
        // An idle keep-alive connection left open: the /status server must
        // close it, not wait for it.
        let idle = TcpStream::connect(&status).await.unwrap();
        let running = metrics.num_alive_tasks();
        assert!(
            running > baseline + NODES,
            "{running} tasks alive while {NODES} nodes run (baseline {baseline})"
        );

        // One crash, then graceful leaves: both paths join their tasks.
        nodes.pop().unwrap().shutdown(false).await.unwrap();
        for n in nodes {
            n.shutdown(true).await.unwrap();
        }
        let after = metrics.num_alive_tasks();
        assert_eq!(
            after,
            baseline,
            "{} task(s) outlived shutdown ({running} alive while running)",
            after.saturating_sub(baseline)
        );
        drop(idle);
    });
}
