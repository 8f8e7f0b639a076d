//! A flood of 10 000 TCP connection attempts against a node while a real
//! protoactor-go node (`go-interop/cmd/remotepeer`) keeps sending it gossip
//! requests. Loopback only, bounded in count (10 000 attempts, at most
//! [`CONCURRENCY`] at a time) and in time ([`FLOOD_DEADLINE`]).
//!
//! What must hold throughout:
//! - **Go's peers keep their answers.** Every request the Go node sends is
//!   answered within 500 ms, as Go measures it. That is not a performance
//!   target but the bound protoactor-go enforces: its gossiper gives up on a
//!   member after `GossipRequestTimeout` (500 ms by default), so a slower
//!   answer is a lost gossip round to a Go cluster.
//! - **File descriptors are bounded.** The node's own sockets (its
//!   listener and the connections accepted on its port, counted from
//!   `/proc/self/fd` and `/proc/net/tcp`) never exceed
//!   `max_inbound_connections` + 2 (the listener, and a socket being
//!   refused).
//! - **Memory is bounded.** The process's resident set grows by less than
//!   [`RSS_GROWTH_LIMIT`] during the flood.
//! - **Counters show what was refused**: by the total cap, by the per-IP cap
//!   and by the idle timeout, and every admitted connection is closed again
//!   once the flood is over.
//!
//! The node runs on a runtime of its own (2 threads, like a small host) so
//! that the flood's client tasks do not share its scheduler; the flood comes
//! from `127.0.0.2` (one host over its per-IP cap) and from 64 addresses in
//! `127.0.1.0/24` (many hosts, together over the total cap). Its attempts
//! either close at once, or connect and stay silent, or send the HTTP/2
//! preface and stay silent, until the node closes them or 1.5 s pass.

#[path = "support/child_lines.rs"]
mod child_lines;
#[path = "remote_support/fixture.rs"]
mod fixture;
#[path = "support/go_build.rs"]
mod go_build;
#[path = "remote_support/go_peer.rs"]
mod go_peer;
#[path = "support/net.rs"]
mod net;

use std::{
    collections::HashSet,
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use fixture::{gossip_node, gossip_request, pid};
use go_peer::{GoPeer, free_port};
use protogossip::{
    remote::{RemoteConfig, RemoteHandle, RemoteMetricsSnapshot},
    wire::WireMessage,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpSocket,
    runtime::Runtime,
    time::{sleep, timeout},
};

const ATTEMPTS: usize = 10_000;
const CONCURRENCY: usize = 256;
const MAX_CONNECTIONS: usize = 200;
const MAX_PER_IP: usize = 16;
const IDLE_TIMEOUT: Duration = Duration::from_millis(800);
/// How long a silent attempt waits for the node to close it.
const HOLD: Duration = Duration::from_millis(1500);
/// The whole flood must be over by then (it takes about a tenth of that
/// when the machine is quiet).
const FLOOD_DEADLINE: Duration = Duration::from_secs(25);
/// protoactor-go's default `cluster.Config.GossipRequestTimeout`.
const GO_GOSSIP_TIMEOUT: Duration = Duration::from_millis(500);
/// Growth of the process's resident set during the flood.
const RSS_GROWTH_LIMIT: u64 = 64 << 20;
/// The HTTP/2 client connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the node did with one attempt, as the flooding client saw it.
#[derive(Debug, Default)]
struct Outcomes {
    connect_failed: AtomicUsize,
    /// Closed by the node within 100 ms of connecting (refused).
    closed_at_once: AtomicUsize,
    /// Closed by the node later (the idle timeout).
    closed_later: AtomicUsize,
    /// Still open when the client gave up or closed it itself.
    closed_by_us: AtomicUsize,
}

/// Sockets of this process bound to local port `port` (the listener and the
/// connections it accepted), by inode from `/proc/net/tcp`.
fn node_socket_fds(port: u16) -> usize {
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let inodes: HashSet<String> = tcp
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let local_port = cols.get(1)?.rsplit(':').next()?;
            (u16::from_str_radix(local_port, 16).ok()? == port)
                .then(|| cols.get(9).map(|s| (*s).to_owned()))?
        })
        .filter(|inode| inode != "0")
        .collect();
    fds()
        .iter()
        .filter(|target| {
            target
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .is_some_and(|inode| inodes.contains(inode))
        })
        .count()
}

/// The targets of every open descriptor of this process.
fn fds() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The process's resident set in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// One attempt: connect from `source`, then close at once, stay silent or
/// send the preface and stay silent, until the node closes or `HOLD` passes.
async fn attempt(i: usize, source: Ipv4Addr, node: SocketAddr, outcomes: &Outcomes) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::V4(SocketAddrV4::new(source, 0)))
        .expect("bind a loopback source address");
    let started = Instant::now();
    let mut stream = match timeout(Duration::from_secs(2), socket.connect(node)).await {
        Ok(Ok(s)) => s,
        _ => {
            outcomes.connect_failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    if i.is_multiple_of(3) {
        outcomes.closed_by_us.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if i % 3 == 2 && stream.write_all(PREFACE).await.is_err() {
        outcomes.closed_at_once.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut buf = [0u8; 1024];
    let closed = timeout(HOLD, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                // The server's SETTINGS frame after our preface.
                Ok(_) => {}
            }
        }
    })
    .await;
    let counter = match closed {
        Err(_) => &outcomes.closed_by_us,
        Ok(()) if started.elapsed() < Duration::from_millis(100) => &outcomes.closed_at_once,
        Ok(()) => &outcomes.closed_later,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The source address of attempt `i`: every fourth from one host, the rest
/// spread over 64 others.
fn source(i: usize) -> Ipv4Addr {
    if i.is_multiple_of(4) {
        Ipv4Addr::new(127, 0, 0, 2)
    } else {
        Ipv4Addr::new(127, 0, 1, 1 + (i % 64) as u8)
    }
}

async fn on(rt: &Runtime, f: impl Future<Output = RemoteHandle> + Send + 'static) -> RemoteHandle {
    rt.spawn(f).await.expect("node runtime")
}

fn open_connections(m: &RemoteMetricsSnapshot) -> u64 {
    m.inbound_connections_accepted - m.inbound_connections_closed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_of_connections_leaves_go_peers_answered_and_resources_bounded() {
    let node_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("node")
        .enable_all()
        .build()
        .expect("node runtime");
    let config = RemoteConfig::default()
        .with_max_inbound_connections(MAX_CONNECTIONS)
        .with_max_inbound_connections_per_ip(MAX_PER_IP)
        .with_inbound_idle_timeout(IDLE_TIMEOUT);
    let node = on(&node_rt, gossip_node(config)).await;
    let node_addr = node.local_addr();
    let mut go = GoPeer::start(free_port(), &[]).await;
    // Go connects (and opens its stream) before the flood.
    go.assert_reply_starts(
        "timed-gossip",
        node.address(),
        "reply timed-gossip cluster.GossipResponse",
    )
    .await;
    let before = node.metrics();
    assert_eq!(
        open_connections(&before),
        1,
        "only Go's connection: {before:?}"
    );
    let fds_before = fds().len();
    let rss_before = rss();

    // Sample descriptors and memory until the flood is over.
    let flooding = Arc::new(AtomicBool::new(true));
    let peaks = Arc::new(Mutex::new((0usize, 0usize, 0u64)));
    let sampler = {
        let (flooding, peaks) = (Arc::clone(&flooding), Arc::clone(&peaks));
        tokio::spawn(async move {
            while flooding.load(Ordering::Acquire) {
                let sample = (node_socket_fds(node_addr.port()), fds().len(), rss());
                {
                    let mut p = peaks.lock().unwrap();
                    *p = (p.0.max(sample.0), p.1.max(sample.1), p.2.max(sample.2));
                }
                sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // The flood: CONCURRENCY workers taking attempt numbers until ATTEMPTS.
    let outcomes = Arc::new(Outcomes::default());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (outcomes, next) = (Arc::clone(&outcomes), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= ATTEMPTS {
                        return;
                    }
                    attempt(i, source(i), node_addr, &outcomes).await;
                }
            })
        })
        .collect();
    let flood = tokio::spawn(async move {
        for w in workers {
            w.await.expect("flood worker");
        }
    });

    // Meanwhile, Go keeps asking, one request at a time as its gossiper does
    // per member.
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    let flood_done = timeout(FLOOD_DEADLINE, async {
        while !flood.is_finished() {
            let reply = go.ask("timed-gossip", node.address()).await;
            let us = reply
                .rsplit_once("us=")
                .and_then(|(_, us)| us.trim().parse::<u64>().ok());
            match us {
                Some(us) if reply.starts_with("reply timed-gossip cluster.GossipResponse") => {
                    latencies.push(Duration::from_micros(us));
                }
                _ => failures.push(reply),
            }
            sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let flood_time = started.elapsed();
    flooding.store(false, Ordering::Release);
    sampler.await.expect("sampler");
    assert!(
        flood_done.is_ok(),
        "the flood did not end within {FLOOD_DEADLINE:?}: {} attempts started",
        next.load(Ordering::Relaxed)
    );
    let (peak_node_fds, peak_fds, peak_rss) = *peaks.lock().unwrap();
    let after = node.metrics();
    let mut sorted = latencies.clone();
    sorted.sort();
    let pct = |p: usize| sorted.get((sorted.len() * p / 100).min(sorted.len().saturating_sub(1)));
    println!(
        "flood: {ATTEMPTS} attempts in {flood_time:?}; client saw {outcomes:?}\n\
         go: {} requests answered, {} failed; latency p50 {:?} p99 {:?} max {:?}\n\
         fds: node sockets peak {peak_node_fds} (cap {MAX_CONNECTIONS} + listener), \
         process {fds_before} before, peak {peak_fds}\n\
         rss: {} KiB before, peak {} KiB (+{} KiB)\n\
         counters: accepted {}, refused at cap {}, refused at ip cap {}, idle closed {}, closed {}, \
         accept errors {}",
        latencies.len(),
        failures.len(),
        pct(50),
        pct(99),
        sorted.last(),
        rss_before / 1024,
        peak_rss / 1024,
        peak_rss.saturating_sub(rss_before) / 1024,
        after.inbound_connections_accepted - before.inbound_connections_accepted,
        after.inbound_connections_refused_at_cap,
        after.inbound_connections_refused_at_ip_cap,
        after.inbound_connections_idle_closed,
        after.inbound_connections_closed - before.inbound_connections_closed,
        after.inbound_accept_errors,
    );

    // Go's peers kept their answers.
    assert!(
        failures.is_empty(),
        "Go's requests failed: {failures:?}\n{}",
        go.output()
    );
    assert!(
        latencies.len() >= 10,
        "too few Go requests during the flood: {}",
        latencies.len()
    );
    let max = sorted.last().copied().unwrap_or_default();
    assert!(max < GO_GOSSIP_TIMEOUT, "a Go request took {max:?}");

    // Bounded descriptors and memory.
    // The listener, the admitted connections and the one socket the accept
    // loop may be refusing at the moment of a sample.
    assert!(
        peak_node_fds <= MAX_CONNECTIONS + 2,
        "node sockets peaked at {peak_node_fds}"
    );
    // The whole process: the node's sockets, the flood's and a few of the
    // runtime's and the test's own.
    assert!(
        peak_fds <= fds_before + MAX_CONNECTIONS + 2 + CONCURRENCY + 16,
        "descriptors peaked at {peak_fds}"
    );
    assert!(
        peak_rss.saturating_sub(rss_before) < RSS_GROWTH_LIMIT,
        "RSS grew from {rss_before} to {peak_rss}"
    );

    // The counters show what was refused, and why.
    let refused =
        after.inbound_connections_refused_at_cap + after.inbound_connections_refused_at_ip_cap;
    let accepted = after.inbound_connections_accepted - before.inbound_connections_accepted;
    let connected = (ATTEMPTS - outcomes.connect_failed.load(Ordering::Relaxed)) as u64;
    assert!(after.inbound_connections_refused_at_cap > 0, "{after:?}");
    assert!(after.inbound_connections_refused_at_ip_cap > 0, "{after:?}");
    assert!(after.inbound_connections_idle_closed > 0, "{after:?}");
    assert!(
        accepted + refused >= connected,
        "every connection the clients made was either admitted or refused: {after:?}"
    );
    assert!(
        outcomes.closed_at_once.load(Ordering::Relaxed) > 0,
        "{outcomes:?}"
    );

    // Once the flood is over every flood connection closes (by the idle
    // timeout at the latest): only Go's stays open.
    let deadline = Instant::now() + IDLE_TIMEOUT * 5;
    while open_connections(&node.metrics()) > 1 && Instant::now() < deadline {
        sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(open_connections(&node.metrics()), 1, "{:?}", node.metrics());
    assert!(
        node_socket_fds(node_addr.port()) <= 2,
        "listener and Go's connection only"
    );

    // And the node still serves: Go, and a new Rust peer.
    go.assert_reply_starts(
        "timed-gossip",
        node.address(),
        "reply timed-gossip cluster.GossipResponse",
    )
    .await;
    let probe = gossip_node(RemoteConfig::default()).await;
    let answer = probe
        .request(
            pid(node.address(), "gossip"),
            gossip_request(),
            go_peer::DEADLINE,
        )
        .await;
    assert!(
        matches!(answer, Ok(WireMessage::GossipResponse(_))),
        "{answer:?}"
    );
    probe.shutdown(true).await;
    go.quit().await;
    node_rt
        .spawn(async move { node.shutdown(true).await })
        .await
        .expect("node shutdown");
    node_rt.shutdown_background();
}
