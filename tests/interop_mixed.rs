//! Mixed Go/Rust clusters: real protoactor-go members (the Go harness node,
//! `go-interop/cmd/harness`, built from the pinned protoactor-go) and our
//! nodes in one cluster.
//!
//! One cluster of three Go harness processes, two in-process Rust nodes and
//! one Rust `protogossip` binary process (so it can really be SIGKILLed),
//! started once and driven through a script of phases ([`SCRIPT`], each a
//! [`Phase`] logged with the time since the test began as it starts). The
//! letters are those of docs/interop.md:
//! f. the Go nodes run the protoactor-go that go-interop/go.mod pins;
//! a. everyone lists the same members and the same topology hash (Go's
//!    `/view` `topology_hash` vs our `topology.hash`, both decimal strings,
//!    and both equal to our own hash of the ids), and our nodes reach
//!    topology consensus over all six;
//! b. heartbeats cross both ways, a key set on a Rust node reaches every Go
//!    node with its sequence number, a key set on a Go node reaches every
//!    Rust node with its sequence number and value, and all six report the
//!    same `state_digest_stable`;
//! c. kill -9 of the Rust process: every node blocks it; kill -9 of a Go
//!    node: every node blocks it, both within [`CRASH_BOUND`];
//! e. (between the two kills of c) the killed Rust process restarts on the
//!    same ports and joins under a new id; its old id stays blocked on every
//!    node that knew it, and all six reconverge with consensus on our side;
//! d. graceful shutdown of a Rust node: every Go node blocks it and holds its
//!    `left` entry within [`LEAVE_BOUND`] (less than the heartbeat
//!    expiration); a Go node's graceful `/shutdown` makes every Rust node
//!    block it and drop it from the topology;
//! c'. (last) a hung Go node (SIGSTOP: sockets open, nothing answers):
//!    every Rust node blocks it by heartbeat expiry.
//!
//! Timing: every node uses the automanaged provider with every node's
//! `/_health` in its host list, polled every [`REFRESH`] (400 ms), and a
//! heartbeat expiration of [`HEARTBEAT_EXPIRATION`] (4 s instead of Go's
//! 20 s) on both sides, so crash scenarios finish quickly. With the
//! automanaged provider a crash is normally detected by the provider (Go
//! drops a member after one failed poll, ours after
//! `missed_polls_before_leave`, default 3; both block dropped members)
//! within one to three refreshes; the heartbeat rule is the fallback, hence
//! the bound "heartbeat expiration + 2 s + two refreshes". Measured
//! detection times are printed (`--nocapture`). Every wait is bounded and
//! every failure message prints every live node's `/view` or `/status`.

#[path = "support/go_build.rs"]
mod go_build;
#[path = "support/go_harness.rs"]
mod go_harness;
#[path = "support/mixed.rs"]
mod mixed;
#[path = "support/net.rs"]
mod net;

use net::free_port;

use std::{
    fmt,
    process::Stdio,
    time::{Duration, Instant},
};

use go_harness::GoNode;
use mixed::{
    RustProc, Views, block_reasons, blocked, converged, dump_views, events_about, expected_hash,
    first_seen, go_automanaged_args, go_seq, log_phase, members, node_config, removed,
    rust_automanaged_args, wait_views,
};
use protogossip::{
    gossip::{BlockReason, ClusterEvent},
    node::NodeHandle,
    provider::{ProviderConfig, automanaged::AutomanagedConfig},
    wire::proto::cluster::ClusterIdentity,
};
use serde_json::Value;

const CLUSTER: &str = "mixed";
const REFRESH: Duration = Duration::from_millis(400);
const HEARTBEAT_EXPIRATION: Duration = Duration::from_secs(4);
/// Crash detection bound: heartbeat expiration + 2 s + two provider polls.
const CRASH_BOUND: Duration = Duration::from_millis(4_000 + 2_000 + 2 * 400);
/// Graceful leave bound, from the shutdown request: below the heartbeat
/// expiration, so the heartbeat rule cannot be what detected it. (A Go
/// graceful shutdown sleeps 2 s before closing its transport.)
const LEAVE_BOUND: Duration = Duration::from_millis(3_500);
const CONVERGE_DEADLINE: Duration = Duration::from_secs(30);

/// One step of the scenario; `Display` is the line logged as it starts.
#[derive(Clone, Copy, Debug)]
enum Phase {
    PinnedGo,
    OneCluster,
    StateBothWays,
    RustCrash,
    RustRestart,
    GoCrash,
    RustLeave,
    GoLeave,
    GoHang,
}

/// The phases in the order they run, on one cluster (starting six
/// processes costs seconds, so they are started once). Why this order:
/// - f, a, b look at the whole cluster of six before anything fails;
/// - e follows the Rust process's crash at once: it restarts that process
///   on the same ports and checks the old id stays blocked;
/// - the Go crash comes after e, so the restarted process must detect it
///   too (every survivor is checked);
/// - the graceful leaves (d) come after the crashes; each removes a node;
/// - the hang (c') runs last, where it always ran: it needs only our nodes
///   and one Go node, and it leaves behind a stopped process whose open
///   sockets answer nobody (every `/_health` poll of it waits out its 2 s
///   timeout), which no later phase then has to poll around.
const SCRIPT: [Phase; 9] = [
    Phase::PinnedGo,
    Phase::OneCluster,
    Phase::StateBothWays,
    Phase::RustCrash,
    Phase::RustRestart,
    Phase::GoCrash,
    Phase::RustLeave,
    Phase::GoLeave,
    Phase::GoHang,
];

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::PinnedGo => "f. the Go nodes run the pinned protoactor-go",
            Phase::OneCluster => "a. one cluster of six: same members, same hash, our consensus",
            Phase::StateBothWays => "b. heartbeats and keys cross both ways; stable digests agree",
            Phase::RustCrash => "c. kill -9 of the Rust process: every node blocks it",
            Phase::RustRestart => "e. the killed Rust process restarts and joins under a new id",
            Phase::GoCrash => "c. kill -9 of a Go node: every node blocks it",
            Phase::RustLeave => "d. graceful leave of a Rust node: every Go node blocks it",
            Phase::GoLeave => "d. graceful /shutdown of a Go node: every Rust node blocks it",
            Phase::GoHang => "c'. a hung (SIGSTOPped) Go node: blocked by heartbeat expiry",
        })
    }
}

impl Phase {
    async fn run(self, c: &mut Cluster) {
        match self {
            Phase::PinnedGo => pinned_go(c),
            Phase::OneCluster => one_cluster(c).await,
            Phase::StateBothWays => state_both_ways(c).await,
            Phase::RustCrash => rust_crash(c).await,
            Phase::RustRestart => rust_restart(c).await,
            Phase::GoCrash => go_crash(c).await,
            Phase::RustLeave => rust_leave(c).await,
            Phase::GoLeave => go_leave(c).await,
            Phase::GoHang => go_hang(c).await,
        }
    }
}

enum Kind {
    Go(GoNode),
    Rust(NodeHandle),
    Binary(RustProc),
}

struct Node {
    name: String,
    id: String,
    kind: Kind,
}

impl Node {
    fn is_go(&self) -> bool {
        matches!(self.kind, Kind::Go(_))
    }

    /// Go: `/view`; Rust: the `/status` document.
    async fn view(&self) -> Result<Value, String> {
        match &self.kind {
            Kind::Go(g) => g.view().await,
            Kind::Rust(h) => h
                .status()
                .await
                .map(|s| serde_json::to_value(s).unwrap())
                .map_err(|e| e.to_string()),
            Kind::Binary(p) => p.status().await,
        }
    }

    #[track_caller]
    fn rust(&self) -> &NodeHandle {
        match &self.kind {
            Kind::Rust(h) => h,
            _ => panic!("{} is not an in-process Rust node", self.name),
        }
    }

    #[track_caller]
    fn go(&self) -> &GoNode {
        match &self.kind {
            Kind::Go(g) => g,
            _ => panic!("{} is not a Go node", self.name),
        }
    }

    #[track_caller]
    fn go_mut(&mut self) -> &mut GoNode {
        match &mut self.kind {
            Kind::Go(g) => g,
            _ => panic!("{} is not a Go node", self.name),
        }
    }
}

struct Cluster {
    /// When the test began (before any process started).
    started: Instant,
    /// The live nodes.
    nodes: Vec<Node>,
    /// Every node's automanaged `/_health` address, comma-separated.
    host_list: String,
    /// The binary node's automanaged and remoting ports (kept on restart).
    bin_ports: (u16, u16),
    /// The id of the binary node killed in phase c, for e to check.
    killed_bin_id: Option<String>,
}

impl Cluster {
    #[track_caller]
    fn get(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no live node {name}"))
    }

    #[track_caller]
    fn remove(&mut self, name: &str) -> Node {
        let i = (self.nodes.iter().position(|n| n.name == name))
            .unwrap_or_else(|| panic!("no live node {name}"));
        self.nodes.remove(i)
    }

    fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.nodes.iter().map(|n| n.id.clone()).collect();
        ids.sort();
        ids
    }

    /// The named live nodes' views (every live node's for `None`), named
    /// `<name> (<id>)`.
    async fn snapshot_of(&self, names: Option<&[&str]>) -> Views {
        let mut out = Vec::new();
        for n in &self.nodes {
            if names.is_none_or(|names| names.contains(&n.name.as_str())) {
                out.push((format!("{} ({})", n.name, n.id), n.is_go(), n.view().await));
            }
        }
        out
    }

    /// The Go nodes' log tails.
    fn tails(&self) -> Vec<(String, String)> {
        self.nodes
            .iter()
            .filter_map(|n| match &n.kind {
                Kind::Go(g) => Some((n.name.clone(), g.log_tail())),
                _ => None,
            })
            .collect()
    }

    async fn dump(&self) -> String {
        dump_views(&self.snapshot_of(None).await, &self.tails())
    }

    /// Polls every live node's view until `ok` holds for all of them.
    #[track_caller]
    fn wait_all(
        &self,
        what: &str,
        deadline: Duration,
        ok: impl Fn(bool, &Value) -> bool,
    ) -> impl Future<Output = ()> {
        wait_views(
            what,
            deadline,
            || self.snapshot_of(None),
            || self.tails(),
            ok,
        )
    }

    /// Polls the named nodes until `ok` holds for each; returns, per node
    /// (in the cluster's order), the time since `since` at which it was
    /// first seen to hold.
    #[track_caller]
    fn detection_times(
        &self,
        names: &[&str],
        since: Instant,
        deadline: Duration,
        what: &str,
        ok: impl Fn(bool, &Value) -> bool,
    ) -> impl Future<Output = Vec<(String, Duration)>> {
        for name in names {
            self.get(name);
        }
        let views = move || self.snapshot_of(Some(names));
        let times = first_seen(what, since, deadline, views, || self.tails(), ok);
        async move {
            let times = times.await;
            // `<name> (<id>)` -> `<name>`: the ids are in the phase's lines.
            (times.into_iter())
                .map(|(n, t)| (n.split(" (").next().unwrap_or(&n).to_owned(), t))
                .collect()
        }
    }
}

/// A `protogossip node` process on automanaged port `health_port` and
/// remoting port `port`, polling
/// `host_list`, with the scenario's refresh and heartbeat expiration.
async fn start_binary(ports: (u16, u16), host_list: String) -> RustProc {
    let args = rust_automanaged_args(CLUSTER, ports, &host_list, REFRESH, HEARTBEAT_EXPIRATION);
    let http = format!("127.0.0.1:{}", free_port());
    RustProc::start(http, &args, Stdio::null()).await
}

/// Starts the six nodes (the Go processes and the binary concurrently).
async fn start_cluster(started: Instant) -> Cluster {
    const GO: usize = 3;
    const RUST: usize = 2;
    let health: Vec<u16> = (0..GO + RUST + 1).map(|_| free_port()).collect();
    let hosts: Vec<String> = health.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let host_list = hosts.join(",");

    // Go harness processes, started concurrently (each takes > 1 s).
    let mut go_starts = Vec::new();
    for port in &health[..GO] {
        let mut args =
            go_automanaged_args(CLUSTER, *port, &host_list, REFRESH, HEARTBEAT_EXPIRATION);
        args.extend(["-watch-keys".into(), "app-key".into()]);
        go_starts.push(tokio::spawn(async move { GoNode::start(&args).await }));
    }

    // The Rust binary process (started beside the in-process nodes).
    let bin_ports = (health[GO + RUST], free_port());
    let bin_start = tokio::spawn(start_binary(bin_ports, host_list.clone()));

    let mut nodes = Vec::new();
    for (i, port) in health[GO..GO + RUST].iter().enumerate() {
        let provider = ProviderConfig::Automanaged(
            AutomanagedConfig::default()
                .with_port(*port)
                .with_hosts(hosts.clone())
                .with_refresh(REFRESH),
        );
        let config = node_config(CLUSTER, provider, HEARTBEAT_EXPIRATION);
        let h = NodeHandle::start(config).await.unwrap();
        nodes.push(Node {
            name: format!("rust{i}"),
            id: h.id().to_owned(),
            kind: Kind::Rust(h),
        });
    }
    for (i, start) in go_starts.into_iter().enumerate() {
        let g = start.await.unwrap();
        nodes.push(Node {
            name: format!("go{i}"),
            id: g.id.clone(),
            kind: Kind::Go(g),
        });
    }
    let bin = bin_start.await.unwrap();
    nodes.push(Node {
        name: "rustbin".into(),
        id: bin.id.clone(),
        kind: Kind::Binary(bin),
    });
    Cluster {
        started,
        nodes,
        host_list,
        bin_ports,
        killed_bin_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_and_rust_nodes_form_one_cluster_share_state_and_detect_failures() {
    let started = Instant::now();
    log_phase(
        started,
        "starting 3 Go harness processes, 2 Rust nodes, 1 Rust process",
    );
    let mut c = start_cluster(started).await;
    for phase in SCRIPT {
        log_phase(started, phase);
        phase.run(&mut c).await;
    }
    log_phase(started, "done");
}

/// f. Every Go node runs the protoactor-go that go-interop/go.mod pins.
fn pinned_go(c: &Cluster) {
    let pinned = go_harness::pinned_protoactor_versions();
    for n in c.nodes.iter().filter(|n| n.is_go()) {
        assert!(
            pinned.contains(&n.go().protoactor_go),
            "{} runs protoactor-go {}, go.mod pins {pinned:?}",
            n.name,
            n.go().protoactor_go
        );
    }
    eprintln!("f: Go nodes run protoactor-go {pinned:?} (every pinned version)");
}

/// a. One cluster: same members, same topology hash, our consensus.
async fn one_cluster(c: &Cluster) {
    let all = c.ids();
    let expected = expected_hash(&all);
    let formed = Instant::now();
    c.wait_all(
        "one cluster of 6 with one hash",
        CONVERGE_DEADLINE,
        |go, v| converged(go, v, &all, &expected) && blocked(go, v).is_empty(),
    )
    .await;
    eprintln!(
        "a: 3 Go + 3 Rust converged (consensus on our side) {:?} after the test started \
         ({:?} after all six were up)",
        c.started.elapsed(),
        formed.elapsed()
    );
}

/// b. Heartbeats both ways, a key each way, one stable digest.
async fn state_both_ways(c: &Cluster) {
    heartbeats_both_ways(c).await;
    let app_seq = rust_key_reaches_go(c).await;
    let go_seq_set = go_key_reaches_rust(c).await;
    stable_digests_agree(c).await;
    eprintln!(
        "b: heartbeats, app-key (seq {app_seq}), go-key (seq {go_seq_set}), stable digests agree"
    );
}

const GO_NAMES: [&str; 3] = ["go0", "go1", "go2"];
const RUST_NAMES: [&str; 2] = ["rust0", "rust1"];

/// Heartbeat sequence numbers advance on every Go node for every Rust node
/// and on the in-process Rust nodes for every Go node; the binary node
/// sees fresh Go heartbeats.
async fn heartbeats_both_ways(c: &Cluster) {
    let rust_ids: Vec<String> = c
        .nodes
        .iter()
        .filter(|n| !n.is_go())
        .map(|n| n.id.clone())
        .collect();
    let go_ids: Vec<String> = GO_NAMES.iter().map(|n| c.get(n).id.clone()).collect();
    let mut before = Vec::new();
    for name in GO_NAMES {
        let v = c.get(name).view().await.unwrap();
        let seqs: Vec<i64> = rust_ids
            .iter()
            .map(|id| go_seq(&v, "heartbeat", id).unwrap_or(-1))
            .collect();
        before.push(seqs);
    }
    let mut rust_before = Vec::new();
    for name in RUST_NAMES {
        let hb = c.get(name).rust().get_state("heartbeat").await.unwrap();
        let seqs: Vec<i64> = go_ids
            .iter()
            .map(|id| hb.get(id).map_or(-1, |(s, _)| *s))
            .collect();
        rust_before.push(seqs);
    }
    let start = Instant::now();
    loop {
        let mut ok = true;
        for (name, prev) in GO_NAMES.iter().zip(&before) {
            let v = c.get(name).view().await.unwrap();
            for (id, p) in rust_ids.iter().zip(prev) {
                ok &= go_seq(&v, "heartbeat", id).is_some_and(|s| s > *p && *p >= 0);
            }
        }
        for (name, prev) in RUST_NAMES.iter().zip(&rust_before) {
            let hb = c.get(name).rust().get_state("heartbeat").await.unwrap();
            for (id, p) in go_ids.iter().zip(prev) {
                ok &= hb.get(id).is_some_and(|(s, _)| *s > *p && *p >= 0);
            }
        }
        if ok {
            break;
        }
        if start.elapsed() > Duration::from_secs(5) {
            panic!(
                "heartbeats did not advance both ways (Go saw {before:?} for {rust_ids:?}, \
                 Rust saw {rust_before:?} for {go_ids:?})\n{}",
                c.dump().await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The binary node has no get_state over HTTP: its /status gives, per
    // member, the time since that member's heartbeat last advanced.
    c.wait_all(
        "the binary node sees fresh Go heartbeats",
        Duration::from_secs(5),
        |go, v| {
            go || v["members"].as_array().is_some_and(|ms| {
                go_ids.iter().all(|id| {
                    ms.iter().any(|m| {
                        m["id"] == id.as_str()
                            && m["heartbeat_age_ms"].as_u64().is_some_and(|a| a < 1500)
                    })
                })
            })
        },
    )
    .await;
}

/// A key set on a Rust node reaches every Go node with its sequence
/// number; returns that number.
async fn rust_key_reaches_go(c: &Cluster) -> i64 {
    let rust0_id = c.get("rust0").id.clone();
    let app = ClusterIdentity {
        identity: "mixed-app".into(),
        kind: "rust".into(),
    };
    let app_seq = c
        .get("rust0")
        .rust()
        .set_state_message("app-key", &app)
        .await
        .unwrap();
    c.wait_all(
        "app-key from rust0 on every Go node",
        Duration::from_secs(5),
        |go, v| !go || go_seq(v, "app-key", &rust0_id) == Some(app_seq),
    )
    .await;
    app_seq
}

/// A key set on a Go node reaches every Rust node with its sequence number
/// and its value (a google.protobuf.StringValue); returns that number.
async fn go_key_reaches_rust(c: &Cluster) -> i64 {
    let go0_id = c.get("go0").id.clone();
    let go_seq_set = c.get("go0").go().set("go-key", "hello-from-go").await;
    let start = Instant::now();
    loop {
        let mut ok = true;
        for name in RUST_NAMES {
            let st = c.get(name).rust().get_state("go-key").await.unwrap();
            ok &= st.get(&go0_id).is_some_and(|(seq, any)| {
                *seq == go_seq_set
                    && any.type_url == "type.googleapis.com/google.protobuf.StringValue"
                    && any.value == [&[0x0a, 13][..], b"hello-from-go"].concat()
            });
        }
        if ok {
            return go_seq_set;
        }
        if start.elapsed() > Duration::from_secs(5) {
            panic!(
                "go-key (seq {go_seq_set}) did not reach the Rust nodes\n{}",
                c.dump().await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// All six hold the same non-heartbeat entries at the same sequence
/// numbers (this covers the binary node too).
async fn stable_digests_agree(c: &Cluster) {
    let start = Instant::now();
    loop {
        let snap = c.snapshot_of(None).await;
        let digests: Vec<Option<String>> = snap
            .iter()
            .map(|(_, _, v)| {
                v.as_ref()
                    .ok()
                    .and_then(|v| v["state_digest_stable"].as_str().map(str::to_owned))
            })
            .collect();
        if digests[0].is_some() && digests.windows(2).all(|w| w[0] == w[1]) {
            return;
        }
        if start.elapsed() > Duration::from_secs(10) {
            panic!(
                "state_digest_stable differs: {digests:?}\n{}",
                c.dump().await
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// c. kill -9 of the Rust process: every node blocks it and drops it.
async fn rust_crash(c: &mut Cluster) {
    let victim = c.remove("rustbin");
    let victim_id = victim.id.clone();
    let killed = Instant::now();
    drop(victim); // SIGKILL
    let times = c
        .detection_times(
            &["go0", "go1", "go2", "rust0", "rust1"],
            killed,
            CRASH_BOUND,
            "the killed Rust process blocked",
            |go, v| blocked(go, v).contains(&victim_id) && !members(go, v).contains(&victim_id),
        )
        .await;
    eprintln!("c: kill -9 of the Rust process detected (blocked, not a member) after {times:?}");
    c.killed_bin_id = Some(victim_id);
}

/// e. The process killed in c restarts on the same ports (same `/_health`
/// and remoting address) and joins with a new id; its old id stays blocked
/// on every node that saw it, and the cluster reconverges.
async fn rust_restart(c: &mut Cluster) {
    let victim_id = c.killed_bin_id.clone().expect("phase c killed the binary");
    let restarted = Instant::now();
    let bin = start_binary(c.bin_ports, c.host_list.clone()).await;
    assert_ne!(bin.id, victim_id, "a restarted process must take a new id");
    let new_id = bin.id.clone();
    c.nodes.push(Node {
        name: "rustbin".into(),
        id: new_id.clone(),
        kind: Kind::Binary(bin),
    });
    let now_ids = c.ids();
    let expected = expected_hash(&now_ids);
    c.wait_all(
        "the restarted process rejoined under its new id",
        CONVERGE_DEADLINE,
        |go, v| {
            let fresh = v["id"] == new_id.as_str();
            converged(go, v, &now_ids, &expected) && (fresh || blocked(go, v).contains(&victim_id))
        },
    )
    .await;
    let rejoined = restarted.elapsed();
    // The old id must not come back: it is still blocked a while later.
    tokio::time::sleep(4 * REFRESH).await;
    c.wait_all(
        "the old id stays blocked",
        Duration::from_secs(1),
        |go, v| {
            let fresh = v["id"] == new_id.as_str();
            !members(go, v).contains(&victim_id) && (fresh || blocked(go, v).contains(&victim_id))
        },
    )
    .await;
    eprintln!(
        "e: the restarted process ({victim_id} -> {new_id}) rejoined, consensus on our side, after {rejoined:?}"
    );
}

/// c. kill -9 of a Go node: every node blocks it; each Rust node announces
/// the block once.
async fn go_crash(c: &mut Cluster) {
    let mut events: Vec<_> = RUST_NAMES
        .iter()
        .map(|n| c.get(n).rust().subscribe())
        .collect();
    let mut go_victim = c.remove("go2");
    let go_victim_id = go_victim.id.clone();
    let killed = Instant::now();
    go_victim.go_mut().kill().await;
    let times = c
        .detection_times(
            &["rust0", "rust1", "rustbin", "go0", "go1"],
            killed,
            CRASH_BOUND,
            "the killed Go node blocked",
            |go, v| {
                blocked(go, v).contains(&go_victim_id) && !members(go, v).contains(&go_victim_id)
            },
        )
        .await;
    let seen: Vec<Vec<ClusterEvent>> = events
        .iter_mut()
        .map(|rx| events_about(rx, &go_victim_id))
        .collect();
    assert!(seen.iter().all(|e| removed(e)), "{seen:?}");
    // Each Rust node announces the block once: the provider drops the dead
    // node first (three failed polls), unless its heartbeat expires first.
    let reasons: Vec<Vec<BlockReason>> = seen.iter().map(|e| block_reasons(e)).collect();
    eprintln!("c: kill -9 of a Go node detected after {times:?}; our block reasons {reasons:?}");
    assert!(
        reasons.iter().all(|r| matches!(
            r.as_slice(),
            [BlockReason::RemovedByProvider] | [BlockReason::HeartbeatExpired]
        )),
        "{reasons:?}"
    );
}

/// d. Graceful shutdown of a Rust node: every Go node blocks it and holds
/// its `left` entry, before the heartbeat could expire.
async fn rust_leave(c: &mut Cluster) {
    let leaver = c.remove("rust1");
    let leaver_id = leaver.id.clone();
    let left_at = Instant::now();
    let shutdown = tokio::spawn(async move {
        let r = leaver.rust().shutdown(true).await;
        (leaver, r)
    });
    let times = c
        .detection_times(
            &["go0", "go1"],
            left_at,
            LEAVE_BOUND,
            "the leaving Rust node blocked with its left entry",
            |go, v| {
                blocked(go, v).contains(&leaver_id)
                    && !members(go, v).contains(&leaver_id)
                    && go_seq(v, "left", &leaver_id).is_some()
            },
        )
        .await;
    let (_leaver, r) = shutdown.await.unwrap();
    r.unwrap();
    eprintln!("d: graceful leave of a Rust node seen by Go after {times:?}");
}

/// d. A Go node's graceful /shutdown: every Rust node blocks it and drops
/// it, the Go process exits cleanly, and the two survivors agree.
async fn go_leave(c: &mut Cluster) {
    let mut events = c.get("rust0").rust().subscribe();
    let mut go_leaver = c.remove("go1");
    let go_leaver_id = go_leaver.id.clone();
    let left_at = Instant::now();
    go_leaver.go().shutdown(true).await;
    let times = c
        .detection_times(
            &["rust0", "go0"],
            left_at,
            LEAVE_BOUND,
            "the leaving Go node blocked and removed",
            |go, v| {
                blocked(go, v).contains(&go_leaver_id) && !members(go, v).contains(&go_leaver_id)
            },
        )
        .await;
    let seen = events_about(&mut events, &go_leaver_id);
    assert!(removed(&seen), "{seen:?}");
    let reason = block_reasons(&seen);
    eprintln!("d: graceful /shutdown of a Go node handled after {times:?}; our reason {reason:?}");
    let g = go_leaver.go_mut();
    assert_eq!(
        g.wait_exit(Duration::from_secs(10)).await,
        Some(true),
        "the Go leaver did not exit cleanly\n{}",
        g.log_tail()
    );

    // The survivors agree on the survivors.
    let rest = c.ids();
    let expected = expected_hash(&rest);
    c.wait_all("the survivors agree", Duration::from_secs(10), |go, v| {
        converged(go, v, &rest, &expected)
    })
    .await;
}

/// c'. A hung Go process (SIGSTOP): its sockets stay open, so our
/// `/_health` polls time out (2 s each) instead of failing, and the
/// heartbeat rule must find it: every Rust node blocks it for
/// `HeartbeatExpired`, no sooner than the expiration allows.
async fn go_hang(c: &mut Cluster) {
    let mut events: Vec<_> = vec![c.get("rust0").rust().subscribe()];
    let hung = c.remove("go0");
    let hung_id = hung.id.clone();
    let last_heartbeat = Instant::now();
    hung.go().signal("STOP").await;
    let times = c
        .detection_times(
            &["rust0", "rustbin"],
            last_heartbeat,
            CRASH_BOUND,
            "the hung Go node blocked by heartbeat expiry",
            |go, v| blocked(go, v).contains(&hung_id) && !members(go, v).contains(&hung_id),
        )
        .await;
    let reasons: Vec<Vec<BlockReason>> = events
        .iter_mut()
        .map(|rx| block_reasons(&events_about(rx, &hung_id)))
        .collect();
    eprintln!("c': a SIGSTOPped Go node blocked after {times:?}; our reasons {reasons:?}");
    assert_eq!(reasons, [[BlockReason::HeartbeatExpired]], "{times:?}");
    // Its last heartbeat left it at most one gossip interval before the
    // stop; the expiration can only have run out after that.
    assert!(
        times
            .iter()
            .all(|(_, t)| *t + Duration::from_millis(400) >= HEARTBEAT_EXPIRATION),
        "blocked sooner than the heartbeat expiration allows: {times:?}"
    );
    drop(hung); // kill_on_drop
}
