//! Rust nodes on loopback form a cluster through a provider, agree on the
//! topology hash (consensus), and detect a graceful leave and a crash.
//! Real time and real sockets; every wait is bounded.

#[path = "support/http.rs"]
mod http;
#[path = "support/net.rs"]
mod net;

use net::{free_port, wait_topology};

use std::time::{Duration, Instant};

use protogossip::{
    gossip::{BlockReason, ClusterEvent, GossipConfig},
    node::{NodeConfig, NodeHandle, SubscriptionItem},
    provider::{ProviderConfig, automanaged::AutomanagedConfig},
};

fn fast_gossip() -> GossipConfig {
    GossipConfig::default().with_heartbeat_expiration(Duration::from_secs(3))
}

async fn wait_until<F: FnMut() -> bool>(what: &str, deadline: Duration, mut ok: F) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn views(nodes: &[NodeHandle]) -> String {
    let mut out = String::new();
    for n in nodes {
        match n.status().await {
            Ok(s) => out.push_str(&format!("{}: {:?}\n", n.id(), s.topology)),
            Err(e) => out.push_str(&format!("{}: {e}\n", n.id())),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_automanaged_nodes_converge_and_detect_leave_and_crash() {
    let health: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let hosts: Vec<String> = health.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut nodes = Vec::new();
    for (i, port) in health.iter().enumerate() {
        let config = NodeConfig::default()
            .with_cluster_name("convergence")
            .with_provider(ProviderConfig::Automanaged(
                AutomanagedConfig::default()
                    .with_port(*port)
                    .with_hosts(hosts.clone())
                    .with_refresh(Duration::from_millis(200))
                    // Keep unreachable members listed, so that only the gossip
                    // heartbeat rule can detect the crash below.
                    .with_missed_polls_before_leave(10_000),
            ))
            .with_gossip(fast_gossip())
            .with_http((i == 0).then(|| "127.0.0.1:0".parse().unwrap()));
        nodes.push(NodeHandle::start(config).await.unwrap());
    }

    // Consensus: every node lists all five and reports the same hash.
    let mut hashes = Vec::new();
    for n in &nodes {
        let topo = n.topology();
        let start = Instant::now();
        while !(topo.borrow().members.len() == 5 && topo.borrow().consensus.reached) {
            if start.elapsed() > Duration::from_secs(30) {
                panic!(
                    "{}: no consensus over 5 members\n{}",
                    n.id(),
                    views(&nodes).await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        hashes.push(
            n.wait_for_topology_consensus(Duration::from_secs(1))
                .await
                .unwrap(),
        );
    }
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");
    let all_ids: Vec<String> = nodes.iter().map(NodeHandle::id).collect();
    let expected = protogossip::wire::topology_hash(all_ids.iter().map(String::as_str));
    assert_eq!(hashes[0], expected);

    // /status and /metrics answer; statuses move to Up on a tick after the
    // first heartbeat, so poll for that.
    let http = nodes[0].http_address().unwrap();
    let start = Instant::now();
    let status: serde_json::Value = loop {
        let s: serde_json::Value =
            serde_json::from_str(&http::get(&http.to_string(), "/status").await.unwrap().body)
                .unwrap();
        let up = s["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["status"] == "Up")
            .count();
        if up == 4 {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "members not Up: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status["id"], nodes[0].id());
    assert_eq!(status["members"].as_array().unwrap().len(), 5);
    assert_eq!(status["topology"]["consensus"]["reached"], true);
    assert_eq!(status["state_digest_stable"].as_str().unwrap().len(), 64);
    let metrics = http::get(&http.to_string(), "/metrics").await.unwrap().body;
    assert!(
        metrics.contains("protogossip_topology_consensus 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("protogossip_members{status=\"Up\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("protogossip_remote_inbound_handshakes_total"),
        "{metrics}"
    );

    // Graceful leave: the others block the leaver well before heartbeat expiry.
    let leaver = nodes.pop().unwrap();
    let leaver_id = leaver.id().to_owned();
    let started = Instant::now();
    leaver.shutdown(true).await.unwrap();
    for n in &nodes {
        let topo = n.topology();
        wait_until("the leaver blocked", Duration::from_secs(5), || {
            let v = topo.borrow();
            v.blocked.contains(&leaver_id) && !v.members.contains(&leaver_id)
        })
        .await;
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // Crash: stops without `left` and without deregistering. Its `/_health`
    // now refuses connections: the automanaged detector confirms the
    // refusal and drops it (docs/architecture.md, Providers), so every
    // survivor blocks it well before heartbeat expiry (3 s here), either
    // from its own provider or from a peer's gossiped block list.
    let mut events: Vec<_> = nodes.iter().map(NodeHandle::subscribe).collect();
    let crashed = nodes.pop().unwrap();
    events.pop();
    let crashed_id = crashed.id().to_owned();
    crashed.shutdown(false).await.unwrap();
    let crashed_at = Instant::now();
    for n in &nodes {
        let topo = n.topology();
        wait_until(
            "the crashed node blocked",
            Duration::from_secs(3 + 5),
            || topo.borrow().blocked.contains(&crashed_id),
        )
        .await;
    }
    let detected = crashed_at.elapsed();
    assert!(
        detected < Duration::from_secs(3),
        "blocked after {detected:?}: by heartbeat expiry, not by the refused /_health?"
    );
    for rx in &mut events {
        let mut reason = None;
        while let Some(item) = rx.try_recv() {
            let SubscriptionItem::Event(ev) = item else {
                panic!("the event stream lagged: {item:?}");
            };
            if let ClusterEvent::MemberBlocked { id, reason: r } = ev.event
                && id.as_str() == crashed_id
            {
                reason = Some(r);
            }
        }
        assert!(
            matches!(
                reason,
                Some(BlockReason::RemovedByProvider | BlockReason::GossipedBlockList { .. })
            ),
            "{reason:?}"
        );
    }
    // The three survivors agree again, on the three of them.
    for n in &nodes {
        wait_topology(
            n,
            "consensus over the survivors",
            Duration::from_secs(10),
            |v| v.members.len() == 3 && v.consensus.reached,
        )
        .await;
    }
    for n in nodes {
        n.shutdown(true).await.unwrap();
    }
}

#[tokio::test]
async fn bad_configuration_says_what_to_fix() {
    let bad = |c: NodeConfig| async move { NodeHandle::start(c).await.unwrap_err().to_string() };
    let e = bad(NodeConfig::default().with_cluster_name(String::new())).await;
    assert!(e.contains("cluster name"), "{e}");
    let e = bad(NodeConfig::default().with_host("127.0.0.1:8090")).await;
    assert!(e.contains("port is set separately"), "{e}");
    let e = bad(NodeConfig::default()
        .with_gossip(GossipConfig::default().with_gossip_interval(Duration::ZERO)))
    .await;
    assert!(e.contains("gossip"), "{e}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let e = bad(NodeConfig::default().with_port(port).with_http(None)).await;
    assert!(e.contains(&port.to_string()), "{e}");
}

/// `NodeConfig::default()` binds no fixed port: two default nodes start
/// side by side in one process, each a lone member of its own.
#[tokio::test]
async fn two_default_nodes_start_in_one_process() {
    let a = NodeHandle::start(NodeConfig::default()).await.unwrap();
    let b = NodeHandle::start(NodeConfig::default()).await.unwrap();
    assert_ne!(a.id(), b.id());
    assert!(a.http_address().is_none() && b.http_address().is_none());
    assert_eq!(a.status().await.unwrap().id, a.id());
    assert_eq!(b.status().await.unwrap().id, b.id());
    a.shutdown(false).await.unwrap();
    b.shutdown(false).await.unwrap();
}

#[test]
fn cluster_gossiper_starts_at_once_and_stops_cleanly() {
    use protogossip::{gossiper::Gossiper, node::ClusterGossiper};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = NodeConfig::default()
        .with_provider(ProviderConfig::Automanaged(AutomanagedConfig::default()))
        .with_http(None);
    let mut g = ClusterGossiper::new(config, runtime.handle().clone());
    let slot = g.node_slot();
    g.start().unwrap();
    assert_eq!(g.start(), Err("gossiper already started"));
    let start = Instant::now();
    let node = loop {
        if let Some(n) = slot.get() {
            break n;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "node did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = runtime.block_on(node.status()).unwrap();
    assert_eq!(status.id, node.id());
    g.stop().unwrap();
    assert!(slot.get().is_none());
    assert!(
        runtime.block_on(node.status()).is_err(),
        "the node has stopped"
    );
    assert_eq!(g.stop(), Err("gossiper not started"));
}

/// Issue 15, self-healing rejoin, in process: when a peer answers our
/// handshake with `blocked = true` (as every Go member does once it has
/// blocked us), the node rejoins under a fresh id: the `Rejoined` event,
/// the new id everywhere (handle, `/status`, the peer's topology), and the
/// application's keys published again under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_answered_blocked_rejoins_under_a_fresh_id() {
    use protogossip::{
        gossip::{EventKind, RejoinReason},
        node::EventFilter,
    };
    let health: Vec<u16> = (0..2).map(|_| free_port()).collect();
    let hosts: Vec<String> = health.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut nodes = Vec::new();
    for port in &health {
        let config = NodeConfig::default()
            .with_cluster_name("rejoin")
            .with_provider(
                AutomanagedConfig::default()
                    .with_port(*port)
                    .with_hosts(hosts.clone())
                    .with_refresh(Duration::from_millis(200)),
            )
            .with_gossip(fast_gossip())
            .with_http(None);
        nodes.push(NodeHandle::start(config).await.unwrap());
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    b.wait_for_members(2, Duration::from_secs(30))
        .await
        .unwrap();
    a.set_state_message("role", &"api".to_owned())
        .await
        .unwrap();
    let old = a.id();
    let mut rejoins = a.subscribe_filtered(EventFilter::kinds([EventKind::Rejoined]));

    // B's transport refuses A's id; A dials B afresh and hears `blocked`.
    let started = Instant::now();
    b.remote().block(&old);
    a.remote().remove_endpoint(b.address());
    let event = tokio::time::timeout(Duration::from_secs(10), rejoins.recv())
        .await
        .expect("no Rejoined event within 10 s");
    let Some(SubscriptionItem::Event(event)) = event else {
        panic!("{event:?}");
    };
    let ClusterEvent::Rejoined {
        old_id,
        new_id,
        reason,
    } = &event.event
    else {
        panic!("{event}");
    };
    assert_eq!(old_id.as_str(), old);
    assert_eq!(new_id.as_str(), a.id());
    assert_ne!(a.id(), old);
    assert!(
        matches!(reason, RejoinReason::BlockedByPeer { address } if address == b.address()),
        "{reason:?}"
    );
    assert_eq!(a.remote().system_id(), a.id());
    assert_eq!(
        a.status().await.unwrap().previous_ids,
        std::slice::from_ref(&old)
    );
    eprintln!("{event} after {:?}", started.elapsed());

    // B admits the new id (its provider polls A's /_health, which answers
    // with it) and gets A's application key under it.
    let new = a.id();
    let members = b.wait_for_members(2, Duration::from_secs(30)).await;
    let start = Instant::now();
    loop {
        let state = b.get_state_message::<String>("role").await.unwrap();
        let topology = b.topology().borrow().clone();
        if topology.members.contains(&new)
            && !topology.members.contains(&old)
            && state
                .get(&new)
                .is_some_and(|(_, v)| matches!(v.as_deref(), Ok("api")))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "B never admitted {new} with its key: {topology:?} {state:?} {members:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "B has A's new id and its key {:?} after the block",
        started.elapsed()
    );
    for n in nodes {
        n.shutdown(true).await.unwrap();
    }
}
