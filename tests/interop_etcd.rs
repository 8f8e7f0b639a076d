//! Go and Rust members that find each other through one real etcd server:
//! protoactor-go's etcd provider (in the Go harness) and ours register under
//! the same prefix, read each other's keys, and form one cluster.
//!
//! The id question is the interesting part. Go's etcd provider names a
//! member `<cluster>@<actor system id>` while Go's gossip owner (and
//! handshake system id) stays the bare actor system id, so inside a Go
//! cluster on etcd the member list and the gossip state never use the same
//! key for one member. We use `<cluster>@<id>` as our one id everywhere.
//!
//! The second test cuts a Rust member off from etcd (through a TCP proxy
//! the test can cut) for longer than its lease: the Go members drop and
//! block its id for good (protoactor-go issues 1083 and 1133), and the
//! member gets back in by rejoining under a fresh id (issue 15).

#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/go_build.rs"]
mod go_build;
#[path = "support/go_harness.rs"]
mod go_harness;
#[path = "support/mixed.rs"]
mod mixed;
#[path = "support/net.rs"]
mod net;

use std::time::{Duration, Instant};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

use go_harness::GoNode;
use mixed::{
    block_reasons, blocked, converged, events_about, expected_hash, members, node_config,
    wait_go_and_rust,
};
use protogossip::{
    gossip::{ClusterEvent, EventKind},
    node::{EventFilter, NodeHandle, SubscriptionItem},
    provider::{ProviderConfig, etcd::EtcdConfig},
};
use serde_json::Value;

const CLUSTER: &str = "mixedetcd";
const HEARTBEAT_EXPIRATION: Duration = Duration::from_secs(4);

/// `n` Go harness nodes on etcd at `endpoint`, one after the other, with
/// their member ids (`<cluster>@<actor system id>`, checked).
async fn start_go(cluster: &str, endpoint: &str, n: usize) -> (Vec<GoNode>, Vec<String>) {
    let mut go = Vec::new();
    for _ in 0..n {
        let args: Vec<String> = [
            "-cluster",
            cluster,
            "-provider",
            "etcd",
            "-etcd-endpoints",
            endpoint,
            "-heartbeat-expiration",
            &format!("{}ms", HEARTBEAT_EXPIRATION.as_millis()),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        go.push(GoNode::start(&args).await);
    }
    let mut ids = Vec::new();
    for g in &go {
        let v = g.view().await.unwrap();
        ids.push(v["member_id"].as_str().unwrap().to_owned());
    }
    assert!(
        ids.iter()
            .zip(&go)
            .all(|(m, g)| *m == format!("{cluster}@{}", g.id)),
        "{ids:?}"
    );
    (go, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_and_rust_members_form_one_cluster_through_etcd() {
    let etcd = etcd::start_etcd().await;
    let provider =
        ProviderConfig::Etcd(EtcdConfig::default().with_endpoints(vec![etcd.endpoint.clone()]));
    let config = node_config(CLUSTER, provider, HEARTBEAT_EXPIRATION);
    let mut rust = Vec::new();
    for _ in 0..2 {
        rust.push(NodeHandle::start(config.clone()).await.unwrap());
    }
    // The Go nodes start one after the other, after ours: protoactor-go's
    // etcd provider reads the directory, then opens its watch from "now"
    // (not from the read's revision), so a member registering in between
    // is never seen by that Go node (docs/wire-protocol.md, bugs). A Go
    // node is past that window once it prints READY.
    let (mut go, mut go_member_ids) = start_go(CLUSTER, &etcd.endpoint, 2).await;
    let all: Vec<String> = {
        let mut v: Vec<String> = go_member_ids
            .iter()
            .cloned()
            .chain(rust.iter().map(|r| r.id().to_owned()))
            .collect();
        v.sort();
        v
    };
    let hash = expected_hash(&all);
    wait_go_and_rust(
        "one cluster of four through etcd",
        &go,
        &rust,
        Duration::from_secs(30),
        |g, v| converged(g, v, &all, &hash) && blocked(g, v).is_empty(),
    )
    .await;
    eprintln!("one cluster of four through etcd: {all:?}");
    // Our nodes found the Go members' heartbeats and topology hashes under
    // their bare ids.
    wait_go_and_rust(
        "Go members Up on our nodes",
        &go,
        &rust,
        Duration::from_secs(5),
        |g, v| {
            g || v["members"].as_array().is_some_and(|ms| {
                go_member_ids.iter().all(|id| {
                    ms.iter().any(|m| {
                        m["id"] == id.as_str()
                            && m["status"] == "Up"
                            && m["heartbeat_age_ms"].as_u64().is_some_and(|a| a < 1500)
                            && m["topology_hash"] == hash.as_str()
                    })
                })
            })
        },
    )
    .await;

    // A Rust node joining the running cluster: the Go nodes find it
    // through their watch (and see its re-announcements as no change).
    rust.push(NodeHandle::start(config).await.unwrap());
    let all: Vec<String> = {
        let mut v = all;
        v.push(rust[2].id().to_owned());
        v.sort();
        v
    };
    let hash = expected_hash(&all);
    let joined_at = Instant::now();
    wait_go_and_rust(
        "a late Rust node joins the cluster through etcd",
        &go,
        &rust,
        Duration::from_secs(30),
        |g, v| converged(g, v, &all, &hash) && blocked(g, v).is_empty(),
    )
    .await;
    eprintln!("a late Rust node joined after {:?}", joined_at.elapsed());
    // A second after its last re-announcement (5 s), nothing changed.
    tokio::time::sleep(Duration::from_secs(6).saturating_sub(joined_at.elapsed())).await;
    wait_go_and_rust(
        "still one cluster of five",
        &go,
        &rust,
        Duration::ZERO,
        |g, v| converged(g, v, &all, &hash) && blocked(g, v).is_empty(),
    )
    .await;

    let gone = |id: &str| {
        let id = id.to_owned();
        move |g: bool, v: &Value| !members(g, v).contains(&id) && blocked(g, v).contains(&id)
    };

    // A Rust node's graceful leave: its etcd key goes, and every Go node
    // drops and blocks it.
    let rust_leaver = rust.pop().unwrap();
    let rust_leaver_id = rust_leaver.id().to_owned();
    let left_at = Instant::now();
    rust_leaver.shutdown(true).await.unwrap();
    wait_go_and_rust(
        "the leaving Rust node dropped by Go",
        &go,
        &rust,
        LEAVE_BOUND,
        gone(&rust_leaver_id),
    )
    .await;
    eprintln!(
        "a Rust node's graceful leave seen by Go after {:?}",
        left_at.elapsed()
    );

    // A Go node's graceful shutdown: our node blocks and drops its member id.
    let mut events: Vec<_> = rust.iter().map(NodeHandle::subscribe).collect();
    let mut leaver = go.pop().unwrap();
    let leaver_id = go_member_ids.pop().unwrap();
    let left_at = Instant::now();
    leaver.shutdown(true).await;
    wait_go_and_rust(
        "the leaving Go node blocked and dropped",
        &go,
        &rust,
        LEAVE_BOUND,
        gone(&leaver_id),
    )
    .await;
    let reasons: Vec<_> = events
        .iter_mut()
        .map(|rx| block_reasons(&events_about(rx, &leaver_id)))
        .collect();
    eprintln!(
        "a Go node's graceful shutdown handled after {:?}; our reasons {reasons:?}",
        left_at.elapsed()
    );
    assert!(reasons.iter().all(|r| r.len() == 1), "{reasons:?}");
    assert_eq!(leaver.wait_exit(Duration::from_secs(10)).await, Some(true));

    // kill -9 of the other Go node: our heartbeat rule (4 s) or the etcd
    // lease finds it.
    let mut victim = go.pop().unwrap();
    let victim_id = go_member_ids.pop().unwrap();
    let killed = Instant::now();
    victim.kill().await;
    wait_go_and_rust(
        "the killed Go node blocked and dropped",
        &go,
        &rust,
        CRASH_BOUND,
        gone(&victim_id),
    )
    .await;
    let reasons: Vec<_> = events
        .iter_mut()
        .map(|rx| block_reasons(&events_about(rx, &victim_id)))
        .collect();
    eprintln!(
        "a killed Go node blocked after {:?}; our reasons {reasons:?}",
        killed.elapsed()
    );
    assert!(reasons.iter().all(|r| r.len() == 1), "{reasons:?}");
}

/// Graceful leave bound (seen: 0.1 s both ways).
const LEAVE_BOUND: Duration = Duration::from_secs(6);
/// Crash bound: heartbeat expiration + 2 s.
const CRASH_BOUND: Duration = Duration::from_secs(6);

/// A TCP proxy to `upstream` on a free loopback port, and its switch:
/// `true` cuts every open connection and drops new ones at once (as a dead
/// route would, but fast), `false` carries traffic again.
async fn cuttable_proxy(upstream: String) -> (String, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (cut, cut_rx) = watch::channel(false);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let mut cut = cut_rx.clone();
            if *cut.borrow() {
                continue; // dropped: the client sees a reset
            }
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = cut.wait_for(|c| *c) => {}
                }
            });
        }
    });
    (address, cut)
}

/// Issue 15: a Rust member cut off from etcd for longer than its lease
/// (3 s) is dropped and blocked by the Go members for good; it sees their
/// topologies leave it out, and rejoins under a fresh id once etcd is
/// back: one cluster again, the old id blocked on the Go side, and the
/// `Rejoined` event seen by the application.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_member_cut_off_from_etcd_longer_than_its_lease_rejoins() {
    const CUT_CLUSTER: &str = "etcdcut";
    let etcd = etcd::start_etcd().await;
    let (via_proxy, cut) = cuttable_proxy(etcd.endpoint.clone()).await;
    let mut config = node_config(
        CUT_CLUSTER,
        EtcdConfig::default().with_endpoints([via_proxy]).into(),
        HEARTBEAT_EXPIRATION,
    );
    // Attempts during the cut fail (no etcd); retry every 2 s.
    config.rejoin.min_interval = Duration::from_secs(2);
    let rust = vec![NodeHandle::start(config).await.unwrap()];
    let mut rejoins = rust[0].subscribe_filtered(EventFilter::kinds([EventKind::Rejoined]));
    let (go, go_ids) = start_go(CUT_CLUSTER, &etcd.endpoint, 2).await;
    let old_id = rust[0].id();
    let sorted_with = |id: &str| {
        let mut v: Vec<String> = go_ids.iter().cloned().chain([id.to_owned()]).collect();
        v.sort();
        v
    };
    let all = sorted_with(&old_id);
    let hash = expected_hash(&all);
    wait_go_and_rust(
        "one cluster of three through etcd",
        &go,
        &rust,
        Duration::from_secs(30),
        |g, v| converged(g, v, &all, &hash),
    )
    .await;

    cut.send_replace(true);
    let cut_at = Instant::now();
    wait_go_and_rust(
        "the Go members drop and block the cut-off member",
        &go,
        &[],
        Duration::from_secs(20),
        |_, v| !members(true, v).contains(&old_id) && blocked(true, v).contains(&old_id),
    )
    .await;
    eprintln!(
        "the lease expired: Go blocked {old_id} {:?} after the cut",
        cut_at.elapsed()
    );
    cut.send_replace(false);
    let healed = Instant::now();

    let event = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match rejoins.recv().await {
                Some(SubscriptionItem::Event(e)) => return e,
                Some(_) => {}
                None => panic!("the node stopped"),
            }
        }
    })
    .await
    .expect("no Rejoined event within 30 s of etcd coming back");
    let ClusterEvent::Rejoined {
        old_id: was,
        new_id,
        reason,
    } = &event.event
    else {
        panic!("not a rejoin: {event}");
    };
    assert_eq!(was.as_str(), old_id);
    assert_eq!(new_id.as_str(), rust[0].id());
    eprintln!(
        "{event} ({:?} after etcd came back; the cut lasted {:?}); reason: {reason}",
        healed.elapsed(),
        healed - cut_at
    );
    let new_id = rust[0].id();
    let all = sorted_with(&new_id);
    let hash = expected_hash(&all);
    wait_go_and_rust(
        "one cluster of three again, the old id blocked by Go",
        &go,
        &rust,
        Duration::from_secs(30),
        |g, v| converged(g, v, &all, &hash) && (!g || blocked(g, v) == [old_id.clone()]),
    )
    .await;
    eprintln!(
        "back in the cluster {:?} after etcd came back",
        healed.elapsed()
    );
    for g in go {
        g.shutdown(true).await;
    }
    rust[0].shutdown(true).await.unwrap();
}
