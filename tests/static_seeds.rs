//! Static seeds by address, with real `protogossip` processes: two nodes
//! given each other's `host:port` form one cluster whichever starts first
//! (the first one's seed is not up yet), and a third node given only one
//! seed joins both. Every wait is bounded.

#[path = "support/http.rs"]
mod http;
#[path = "support/net.rs"]
mod net;

use net::free_port;

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_protogossip");
/// Generous for 2 shared cores: a join takes a probe (≤ 5 s backoff), a
/// topology change and a few 300 ms gossip rounds.
const DEADLINE: Duration = Duration::from_secs(40);

/// A node process, killed on drop so a failing test leaves nothing behind.
struct Node {
    child: Child,
    address: String,
    http: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn start(cluster: &str, port: u16, seeds: &[&str]) -> Node {
        let http = format!("127.0.0.1:{}", free_port());
        let child = Command::new(BIN)
            .args(["node", "--cluster", cluster, "--provider", "static"])
            .args(["--port", &port.to_string(), "--http", &http])
            .args(["--seeds", &seeds.join(",")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Node {
            child,
            address: format!("127.0.0.1:{port}"),
            http,
        }
    }

    async fn status(&self) -> Option<serde_json::Value> {
        let r = http::get(&self.http, "/status").await.ok()?;
        (r.status == 200)
            .then(|| serde_json::from_str(&r.body).ok())
            .flatten()
    }
}

/// (id, sorted topology member ids, hash, consensus reached with nobody
/// blocked) of a node.
fn view(s: &serde_json::Value) -> (String, Vec<String>, u64, bool) {
    let mut members: Vec<String> = s["topology"]["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    members.sort();
    (
        s["id"].as_str().unwrap_or_default().to_owned(),
        members,
        // Hashes are strings in JSON (u64 does not fit a JS number).
        s["topology"]["hash"]
            .as_str()
            .and_then(|h| h.parse().ok())
            .unwrap_or_default(),
        s["topology"]["consensus"]["reached"] == true
            && s["topology"]["blocked"]
                .as_array()
                .is_some_and(|b| b.is_empty()),
    )
}

/// Waits until every node lists exactly every node's id, with one hash
/// and consensus; returns that hash.
async fn wait_one_cluster(nodes: &[&Node]) -> u64 {
    let start = Instant::now();
    loop {
        let mut views = Vec::new();
        for n in nodes {
            views.push(n.status().await.map(|s| view(&s)));
        }
        if views.iter().all(Option::is_some) {
            let views: Vec<_> = views.into_iter().flatten().collect();
            let mut ids: Vec<String> = views.iter().map(|v| v.0.clone()).collect();
            ids.sort();
            let hash = views[0].2;
            if hash != 0
                && views
                    .iter()
                    .all(|(_, members, h, reached)| *members == ids && *h == hash && *reached)
            {
                eprintln!(
                    "{} nodes formed one cluster in {:?}",
                    nodes.len(),
                    start.elapsed()
                );
                return hash;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "no single cluster of {} within {DEADLINE:?}: {views:#?}",
                nodes.len()
            );
        } else {
            assert!(
                start.elapsed() < DEADLINE,
                "a node's /status did not answer within {DEADLINE:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn two_nodes_given_each_others_address(a_first: bool) {
    let cluster = format!("seeds-{}", if a_first { "ab" } else { "ba" });
    let (pa, pb) = (free_port(), free_port());
    let (aa, ab) = (format!("127.0.0.1:{pa}"), format!("127.0.0.1:{pb}"));
    let start_a = || Node::start(&cluster, pa, &[&ab]);
    let start_b = || Node::start(&cluster, pb, &[&aa]);
    let first = if a_first { start_a() } else { start_b() };
    // Long enough for the first node to probe its seed, fail and back off.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = if a_first { start_b() } else { start_a() };
    let hash = wait_one_cluster(&[&first, &second]).await;

    if a_first {
        // A third node given only A's address joins both.
        let a = [&first, &second]
            .into_iter()
            .find(|n| n.address == aa)
            .unwrap();
        let third = Node::start(&cluster, free_port(), &[&a.address]);
        let hash3 = wait_one_cluster(&[&first, &second, &third]).await;
        assert_ne!(hash3, hash, "a new member changes the topology hash");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_join_when_a_starts_first_and_a_third_joins_through_one_seed() {
    two_nodes_given_each_others_address(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_join_when_b_starts_first() {
    two_nodes_given_each_others_address(false).await;
}
