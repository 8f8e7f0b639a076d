#![allow(dead_code)] // each test crate uses a different part of this helper
//! What the mixed Go/Rust cluster tests share: reading a node's view the
//! same way whether it is a Go harness (`/view`) or one of ours (`/status`),
//! and `protogossip node` child processes that can really be SIGKILLed.
//!
//! The two documents differ in shape: Go's `/view` has `members`,
//! `blocked` and `topology_hash` at the top level and gossip entries under
//! `gossip.<key>.<owner>.seq`; our `/status` keeps the first three under
//! `topology`. The accessors here hide that, so every scenario states its
//! conditions once for both languages.

use std::{
    panic::Location,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use protogossip::{
    gossip::{BlockReason, ClusterEvent, GossipConfig},
    node::{NodeConfig, Subscription, SubscriptionItem},
    provider::ProviderConfig,
};

use crate::go_harness::request_in;

/// The `protogossip` binary built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_protogossip");

/// The node binary to run: `PROTOGOSSIP_BIN` if set (a long soak runs a
/// copy, so rebuilding the worktree meanwhile does not change it), else
/// the one cargo built with the test.
pub fn bin() -> String {
    std::env::var("PROTOGOSSIP_BIN").unwrap_or_else(|_| BIN.to_owned())
}

/// How long a `protogossip node` process may take to serve `/status`.
pub const RUST_START_DEADLINE: Duration = Duration::from_secs(20);

/// A child process, SIGKILLed (and reaped) on drop.
pub struct Proc(pub Child);

impl Proc {
    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Sends SIGTERM (a graceful leave for `protogossip node`).
    #[track_caller]
    pub fn terminate(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -TERM {} failed", self.0.id());
    }

    /// Waits up to `deadline` for the process to exit; its exit code, or
    /// `None` if it is still running (or died by a signal).
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `protogossip node` process and the `/status` address it serves.
pub struct RustProc {
    pub proc: Proc,
    /// The network namespace it runs in (`None`: this process's own).
    pub netns: Option<String>,
    pub http: String,
    pub id: String,
}

impl RustProc {
    /// Starts `protogossip node --http <http> <args…>` (stdout and stderr to
    /// `stderr`, e.g. `Stdio::null()` or a log file) and waits until it
    /// serves `/status`, whose `id` it records.
    pub async fn start(http: String, args: &[String], stderr: Stdio) -> RustProc {
        RustProc::start_in(None, http, args, stderr).await
    }

    /// The same inside network namespace `netns` (with `ip netns exec`, so
    /// the child is the node itself), `/status` read from inside it.
    pub async fn start_in(
        netns: Option<&str>,
        http: String,
        args: &[String],
        stderr: Stdio,
    ) -> RustProc {
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, &bin()]);
                c
            }
            None => Command::new(bin()),
        };
        let proc = Proc(
            command
                .args(["node", "--http", &http])
                .args(args)
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("start the protogossip binary"),
        );
        let started = Instant::now();
        let id = loop {
            if let Ok((200, body)) = request_in(netns, "GET", &http, "/status").await {
                let v: Value = serde_json::from_str(&body).unwrap();
                break v["id"].as_str().unwrap().to_owned();
            }
            assert!(
                started.elapsed() < RUST_START_DEADLINE,
                "the protogossip process ({netns:?}, {args:?}) did not serve /status on {http}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        RustProc {
            proc,
            netns: netns.map(str::to_owned),
            http,
            id,
        }
    }

    /// Its `/status` document.
    pub async fn status(&self) -> Result<Value, String> {
        match request_in(self.netns.as_deref(), "GET", &self.http, "/status").await {
            Ok((200, body)) => serde_json::from_str(&body).map_err(|e| e.to_string()),
            Ok((s, body)) => Err(format!("status {s}: {body}")),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The events a node's stream gave about member `id` since the last call
/// (blocked, removed, left); a lagged stream fails the test.
#[track_caller]
pub fn events_about(rx: &mut Subscription, id: &str) -> Vec<ClusterEvent> {
    let mut out = Vec::new();
    loop {
        match rx.try_recv() {
            Some(SubscriptionItem::Event(ev)) => {
                let about = match &ev.event {
                    ClusterEvent::MemberBlocked { id: i, .. }
                    | ClusterEvent::MemberRemoved { id: i }
                    | ClusterEvent::MemberLeft { id: i } => i.as_str() == id,
                    _ => false,
                };
                if about {
                    out.push(ev.event);
                }
            }
            Some(SubscriptionItem::Lagged(n)) => {
                panic!("event stream lagged by {n}: events about {id} lost")
            }
            None => return out,
        }
    }
}

/// Whether `events` include a `MemberRemoved`.
pub fn removed(events: &[ClusterEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, ClusterEvent::MemberRemoved { .. }))
}

/// The reasons of the `MemberBlocked` events among `events`.
pub fn block_reasons(events: &[ClusterEvent]) -> Vec<BlockReason> {
    events
        .iter()
        .filter_map(|e| match e {
            ClusterEvent::MemberBlocked { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

/// Resident set size of process `pid` in KiB (`VmRSS` of /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Ids of a JSON array of ids or of objects with an `id`.
pub fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().or(x["id"].as_str()).unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Active member ids as a node reports them, sorted.
pub fn members(go: bool, v: &Value) -> Vec<String> {
    let mut m = if go {
        ids(&v["members"])
    } else {
        ids(&v["topology"]["members"])
    };
    m.sort();
    m
}

/// The topology hash as a node reports it (a decimal string on both sides).
pub fn topology_hash(go: bool, v: &Value) -> String {
    let h = if go {
        &v["topology_hash"]
    } else {
        &v["topology"]["hash"]
    };
    h.as_str().unwrap_or("?").to_owned()
}

/// Blocked member ids as a node reports them.
pub fn blocked(go: bool, v: &Value) -> Vec<String> {
    if go {
        ids(&v["blocked"])
    } else {
        ids(&v["topology"]["blocked"])
    }
}

/// Whether one of our nodes reports topology consensus on `hash`. (Go's
/// `/view` never reports it reached: protoactor-go's own check is broken,
/// docs/go-quirks.md#q-g3.)
pub fn rust_consensus_on(v: &Value, hash: &str) -> bool {
    v["topology"]["consensus"]["reached"] == true
        && v["topology"]["consensus"]["hash_value"] == hash
}

/// An in-process node's config: `provider`, heartbeat expiration
/// `expiration`, no HTTP server, defaults otherwise.
pub fn node_config(cluster: &str, provider: ProviderConfig, expiration: Duration) -> NodeConfig {
    NodeConfig::default()
        .with_cluster_name(cluster)
        .with_provider(provider)
        .with_gossip(GossipConfig::default().with_heartbeat_expiration(expiration))
        .with_http(None)
}

/// Whether a node's view shows exactly the members `ids` (sorted) with
/// their topology hash `hash`, and, on our nodes, consensus on it.
pub fn converged(go: bool, v: &Value, ids: &[String], hash: &str) -> bool {
    members(go, v) == ids && topology_hash(go, v) == hash && (go || rust_consensus_on(v, hash))
}

/// Go's sequence number for `owner`'s entry under `key`.
pub fn go_seq(v: &Value, key: &str, owner: &str) -> Option<i64> {
    v["gossip"][key][owner]["seq"].as_i64()
}

/// The topology hash of `ids` as a decimal string (what both sides report).
pub fn expected_hash(ids: &[String]) -> String {
    let mut sorted = ids.to_vec();
    sorted.sort();
    protogossip::wire::topology_hash(sorted.iter().map(String::as_str)).to_string()
}

/// Go harness flags for an automanaged member on `port` that polls
/// `host_list` every `refresh`, with heartbeat expiration `expiration`.
pub fn go_automanaged_args(
    cluster: &str,
    port: u16,
    host_list: &str,
    refresh: Duration,
    expiration: Duration,
) -> Vec<String> {
    vec![
        "-cluster".into(),
        cluster.into(),
        "-automanaged-port".into(),
        port.to_string(),
        "-automanaged-hosts".into(),
        host_list.into(),
        "-automanaged-refresh".into(),
        format!("{}ms", refresh.as_millis()),
        "-heartbeat-expiration".into(),
        format!("{}ms", expiration.as_millis()),
    ]
}

/// `protogossip node` flags for the same: an automanaged member on
/// `health_port` with remoting port `port`.
pub fn rust_automanaged_args(
    cluster: &str,
    (health_port, port): (u16, u16),
    host_list: &str,
    refresh: Duration,
    expiration: Duration,
) -> Vec<String> {
    vec![
        "--cluster".into(),
        cluster.into(),
        "--port".into(),
        port.to_string(),
        "--automanaged-port".into(),
        health_port.to_string(),
        "--automanaged-hosts".into(),
        host_list.into(),
        "--automanaged-refresh-ms".into(),
        refresh.as_millis().to_string(),
        "--heartbeat-expiration-ms".into(),
        expiration.as_millis().to_string(),
    ]
}

/// One line on what a node's view says: its member count and ids, topology
/// hash, block list and (ours only) consensus. A failed wait prints these
/// first, so a truncated CI log still shows which node disagrees.
pub fn summary(go: bool, v: &Value) -> String {
    let consensus = if go {
        String::new()
    } else {
        // Members whose gossiped topology hash is not ours hold consensus up.
        let own = &v["topology"]["hash"];
        let others: Vec<String> = v["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["topology_hash"] != *own)
            .map(|m| format!("{}={}", m["id"], m["topology_hash"]))
            .collect();
        format!(
            " consensus={}@{} other_hashes={others:?}",
            v["topology"]["consensus"]["reached"], v["topology"]["consensus"]["hash_value"]
        )
    };
    let ms = members(go, v);
    format!(
        "{} members={ms:?} hash={} blocked={:?}{consensus}",
        ms.len(),
        topology_hash(go, v),
        blocked(go, v),
    )
}

/// Every node's view, `(name, is_go, view)`.
pub type Views = Vec<(String, bool, Result<Value, String>)>;

/// How often [`wait_views`] polls.
const WAIT_POLL: Duration = Duration::from_millis(100);
/// How often [`first_seen`] polls: a measured time is at most this late.
const FIRST_SEEN_POLL: Duration = Duration::from_millis(50);

// The waits below panic on behalf of their caller. `#[track_caller]` on an
// `async fn` is a no-op (rustc warns, `ungated_async_fn_track_caller`), so
// each is a plain `#[track_caller]` fn that reads `Location::caller()` and
// returns the polling future: a timeout names the caller's line first.

/// Polls `views()` every 100 ms until `ok(is_go, view)` holds on every
/// node in one poll. Past `deadline`, panics with the caller's location,
/// the poll that failed (`dump_views`) and `tails()`.
#[track_caller]
pub fn wait_views<Fut: Future<Output = Views>>(
    what: &str,
    deadline: Duration,
    mut views: impl FnMut() -> Fut,
    tails: impl Fn() -> Vec<(String, String)>,
    ok: impl Fn(bool, &Value) -> bool,
) -> impl Future<Output = ()> {
    let at = Location::caller();
    async move {
        let start = Instant::now();
        loop {
            let vs = views().await;
            if vs
                .iter()
                .all(|(_, go, v)| v.as_ref().is_ok_and(|v| ok(*go, v)))
            {
                return;
            }
            if start.elapsed() > deadline {
                panic!(
                    "{at}: {what}: not within {deadline:?}\n{}",
                    dump_views(&vs, &tails())
                );
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }
}

/// Polls `views()` every 50 ms until `ok(is_go, view)` has held on every
/// node, each in some poll (not necessarily the same one); returns, per
/// node in the order `views()` lists them, its name and the time since
/// `since` at which `ok` was first seen to hold there. Past `deadline`
/// (counted from `since`), panics with the caller's location, the nodes
/// not seen yet, the last poll (`dump_views`) and `tails()`.
#[track_caller]
pub fn first_seen<Fut: Future<Output = Views>>(
    what: &str,
    since: Instant,
    deadline: Duration,
    mut views: impl FnMut() -> Fut,
    tails: impl Fn() -> Vec<(String, String)>,
    ok: impl Fn(bool, &Value) -> bool,
) -> impl Future<Output = Vec<(String, Duration)>> {
    let at = Location::caller();
    async move {
        let mut seen: Vec<(String, Option<Duration>)> = Vec::new();
        loop {
            let vs = views().await;
            for (name, go, v) in &vs {
                let i = match seen.iter().position(|(n, _)| n == name) {
                    Some(i) => i,
                    None => {
                        seen.push((name.clone(), None));
                        seen.len() - 1
                    }
                };
                if seen[i].1.is_none() && v.as_ref().is_ok_and(|v| ok(*go, v)) {
                    seen[i].1 = Some(since.elapsed());
                }
            }
            // (No node at all is a mistake in the test: it times out.)
            if !seen.is_empty() && seen.iter().all(|(_, t)| t.is_some()) {
                return seen.into_iter().map(|(n, t)| (n, t.unwrap())).collect();
            }
            if since.elapsed() > deadline {
                let missing: Vec<&str> = (seen.iter())
                    .filter(|(_, t)| t.is_none())
                    .map(|(n, _)| n.as_str())
                    .collect();
                panic!(
                    "{at}: {what}: not within {deadline:?} on {missing:?}\n{}",
                    dump_views(&vs, &tails())
                );
            }
            tokio::time::sleep(FIRST_SEEN_POLL).await;
        }
    }
}

/// The failure report of a wait over `views`: one summary line per node,
/// then every whole view, then `tails` (the Go nodes' log tails,
/// `(name, tail)`).
pub fn dump_views(
    views: &[(String, bool, Result<Value, String>)],
    tails: &[(String, String)],
) -> String {
    let mut out = String::new();
    for (name, go, v) in views {
        let line = match v {
            Ok(v) => summary(*go, v),
            Err(e) => format!("error: {e}"),
        };
        out.push_str(&format!("{name}: {line}\n"));
    }
    for (name, _, v) in views {
        let v = match v {
            Ok(v) => serde_json::to_string_pretty(v).unwrap(),
            Err(e) => format!("error: {e}"),
        };
        out.push_str(&format!("--- {name}:\n{v}\n"));
    }
    for (name, tail) in tails {
        out.push_str(&format!("--- {name} stderr tail:\n{tail}\n"));
    }
    out
}

/// Logs, on stderr, that a scenario phase starts, with the time since the
/// test began: a failed run's log (`--nocapture`, or the captured output
/// of a failed test) shows which phase was running.
pub fn log_phase(test_start: Instant, phase: impl std::fmt::Display) {
    eprintln!("[{:>6.2}s] --- {phase}", test_start.elapsed().as_secs_f64());
}

/// The views of Go harness nodes `go` (`/view`) and in-process nodes
/// `rust` (`status()`), named.
pub async fn go_and_rust_views(
    go: &[crate::go_harness::GoNode],
    rust: &[protogossip::node::NodeHandle],
) -> Views {
    let mut out = Vec::new();
    for g in go {
        out.push((format!("go {}", g.id), true, g.view().await));
    }
    for r in rust {
        let v = r
            .status()
            .await
            .map(|s| serde_json::to_value(s).unwrap())
            .map_err(|e| e.to_string());
        out.push((format!("rust {}", r.id()), false, v));
    }
    out
}

/// `wait_views` over `go_and_rust_views(go, rust)`, with the Go nodes'
/// stderr tails in a failure (a timeout names the caller's line).
#[track_caller]
pub fn wait_go_and_rust<'a>(
    what: &'a str,
    go: &'a [crate::go_harness::GoNode],
    rust: &'a [protogossip::node::NodeHandle],
    deadline: Duration,
    ok: impl Fn(bool, &Value) -> bool + 'a,
) -> impl Future<Output = ()> + 'a {
    let tails = || go.iter().map(|g| (g.id.clone(), g.log_tail())).collect();
    wait_views(what, deadline, || go_and_rust_views(go, rust), tails, ok)
}
