//! Real protoactor-go callers (go-interop/cmd/graincaller: the pinned
//! version, disthash identity lookup, the client protoc-gen-go-grain
//! generates for go-interop/proto/interop/grains.proto) call the kind
//! `Greeter` hosted only by Rust nodes (examples/grain_host/greeter.rs):
//!
//! - spread and failover: two Rust members host the kind; every identity
//!   answers, through the generated client and through plain
//!   `cluster.Request`, from the member Go's own rendezvous names, and both
//!   members get some. Then one Rust member stops hard (its sockets close,
//!   as when its process is killed) and the same Go caller re-activates
//!   every identity on the survivor within `FAILOVER_BOUND`.
//! - bad input from Go: unknown kind, undecodable `GrainRequest`, unknown
//!   method index, a method's error and its panic; the node keeps serving.
//!
//! Real sockets on loopback, every wait bounded.

#[path = "support/child_lines.rs"]
mod child_lines;
#[path = "support/go_build.rs"]
mod go_build;
#[path = "../examples/grain_host/greeter.rs"]
mod greeter;
#[path = "support/net.rs"]
mod net;

use std::{
    collections::BTreeSet,
    path::PathBuf,
    process::Stdio,
    sync::OnceLock,
    time::{Duration, Instant},
};

use child_lines::ChildLines;
use greeter::{Greeter, KIND, WhereRequest};
use net::free_port;
use protogossip::{
    gossip::GossipConfig,
    grain::{GrainHost, GrainHostHandle},
    node::{NodeConfig, NodeHandle},
    provider::automanaged::AutomanagedConfig,
};
use serde_json::Value;
use tokio::{io::AsyncWriteExt, process::Command};

/// How long Go callers may take to re-activate every identity of a killed
/// member on the survivor (measured: see the test's output and
/// docs/grains.md). Go needs to drop the member from its topology
/// (automanaged poll every 500 ms, heartbeat expiry 3 s) and its calls to the
/// dead PIDs to fail (request timeout 2 s, then retries).
const FAILOVER_BOUND: Duration = Duration::from_secs(30);

fn graincaller() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| go_build::build_go_command("graincaller"))
}

/// A member hosting `Greeter` that also advertises `extra_kinds` without
/// hosting them.
async fn start_host(
    cluster: &str,
    health: u16,
    hosts: &[String],
    extra_kinds: &[&str],
) -> (NodeHandle, GrainHostHandle) {
    let config = NodeConfig::default()
        .with_kinds(extra_kinds.iter().copied())
        .with_cluster_name(cluster)
        .with_provider(
            AutomanagedConfig::default()
                .with_port(health)
                .with_hosts(hosts.to_vec())
                .with_refresh(Duration::from_millis(500)),
        )
        .with_gossip(GossipConfig::default().with_heartbeat_expiration(Duration::from_secs(3)))
        .with_http(None);
    GrainHost::new()
        .kind(KIND, |_identity| Greeter::default())
        .message::<WhereRequest>()
        .start(config)
        .await
        .unwrap()
}

fn caller(cluster: &str, health: u16, hosts: &[String], args: &[&str]) -> ChildLines {
    let mut cmd = Command::new(graincaller());
    cmd.args([
        "-cluster",
        cluster,
        "-automanaged-port",
        &health.to_string(),
    ])
    .args(["-automanaged-hosts", &hosts.join(",")])
    .args(args)
    .stdin(Stdio::piped());
    ChildLines::spawn(&mut cmd).unwrap()
}

/// The next JSON line from the caller, failing with its output.
async fn next_json(go: &mut ChildLines, deadline: Duration) -> Value {
    match go
        .next_matching(deadline, |l| serde_json::from_str::<Value>(l).ok())
        .await
    {
        Some(v) => v,
        None => panic!(
            "graincaller said nothing within {deadline:?}:\n{}",
            go.output()
        ),
    }
}

fn text(v: &Value, path: &[&str]) -> String {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_callers_spread_over_two_rust_hosts_and_fail_over() {
    let (ha, hb, hg) = (free_port(), free_port(), free_port());
    let hosts: Vec<String> = [ha, hb, hg]
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let (a, grains_a) = start_host("grains-go", ha, &hosts, &[]).await;
    let (b, grains_b) = start_host("grains-go", hb, &hosts, &[]).await;
    let count = 30;
    let mut go = caller(
        "grains-go",
        hg,
        &hosts,
        &[
            "-mode",
            "failover",
            "-count",
            &count.to_string(),
            "-members",
            "2",
            "-wait",
            "60s",
        ],
    );

    // Phase 1: every identity answers from the owner Go's placement names.
    let mut used = BTreeSet::new();
    for _ in 0..count {
        let line = next_json(&mut go, Duration::from_secs(90)).await;
        let id = text(&line, &["identity"]);
        let owner = text(&line, &["owner"]);
        assert!(!owner.is_empty(), "{line}");
        assert_eq!(
            text(&line, &["generated", "address"]),
            owner,
            "generated client: {line}"
        );
        assert_eq!(
            text(&line, &["plain", "address"]),
            owner,
            "cluster.Request: {line}"
        );
        assert!(!id.is_empty());
        used.insert(owner);
    }
    let expected: BTreeSet<String> = [a.address().to_owned(), b.address().to_owned()].into();
    assert_eq!(used, expected, "both Rust members host some identities");
    let phase = next_json(&mut go, Duration::from_secs(10)).await;
    assert_eq!(text(&phase, &["phase"]), "called", "{phase}");
    let on_b = grains_b.activations().len();
    assert_eq!(grains_a.activations().len() + on_b, count);
    eprintln!(
        "activations: {} on A, {on_b} on B",
        grains_a.activations().len()
    );

    // Kill B (a hard stop: its connections close at once) and tell Go.
    let killed = b.address().to_owned();
    let started = Instant::now();
    b.shutdown(false).await.unwrap();
    let stdin = go.child.stdin.as_mut().unwrap();
    stdin
        .write_all(format!("{killed}\n").as_bytes())
        .await
        .unwrap();
    stdin.flush().await.unwrap();
    let mut recovered = 0;
    let recovered_ms = loop {
        let line = next_json(&mut go, FAILOVER_BOUND + Duration::from_secs(10)).await;
        if text(&line, &["phase"]) == "recovered" {
            break line["ms"].as_u64().unwrap();
        }
        assert!(line.get("error").is_none(), "{line}\n{}", go.output());
        assert_eq!(text(&line, &["address"]), a.address(), "{line}");
        recovered += 1;
    };
    assert_eq!(recovered, count);
    eprintln!(
        "failover: all {count} identities answered by the survivor {recovered_ms} ms after the kill ({on_b} had been on the killed member; test saw {:?})",
        started.elapsed()
    );
    assert!(Duration::from_millis(recovered_ms) < FAILOVER_BOUND);
    assert_eq!(grains_a.activations().len(), count);
    let done = next_json(&mut go, Duration::from_secs(10)).await;
    assert_eq!(done["done"], Value::Bool(true), "{done}");
    go.kill(Duration::from_secs(5)).await;
    a.shutdown(true).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_from_go_callers() {
    let (ha, hg) = (free_port(), free_port());
    let hosts: Vec<String> = [ha, hg].iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let (a, grains) = start_host("grains-bad", ha, &hosts, &["Ghost"]).await;
    let mut go = caller(
        "grains-bad",
        hg,
        &hosts,
        &["-mode", "bad", "-unknown-kind", "Ghost", "-wait", "60s"],
    );
    let mut cases = std::collections::BTreeMap::new();
    for _ in 0..6 {
        let line = next_json(&mut go, Duration::from_secs(90)).await;
        eprintln!("{line}");
        cases.insert(text(&line, &["case"]), line);
    }
    // A kind we advertise but do not host: we answer failed: true, Go's
    // lookup sees no PID, retries and fails at once (not after a timeout).
    assert!(cases["unknown_kind"].get("error").is_some(), "{cases:?}");
    assert!(
        cases["unknown_kind"]["ms"].as_u64().unwrap() < 1000,
        "{cases:?}"
    );
    // An undecodable GrainRequest: INVALID_ARGUMENT, as Go's generated server.
    assert_eq!(text(&cases["malformed"], &["reason"]), "INVALID_ARGUMENT");
    assert_eq!(text(&cases["malformed"], &["metadata", "argument"]), "");
    // An unknown method index: UNIMPLEMENTED (Go's server stays silent).
    assert_eq!(text(&cases["unknown_method"], &["reason"]), "UNIMPLEMENTED");
    // A method's error reaches the generated client as its error.
    assert_eq!(text(&cases["handler_error"], &["reason"]), "NOT_FOUND");
    assert!(text(&cases["handler_error"], &["error"]).contains("has nothing"));
    // A panic: INTERNAL, and the activation stops.
    assert_eq!(text(&cases["handler_panic"], &["reason"]), "INTERNAL");
    // And the node still serves: a fresh activation answers.
    assert!(
        cases["after"].get("error").is_none(),
        "{:?}",
        cases["after"]
    );
    assert_eq!(text(&cases["after"], &["answer"]), "*interop.WhereReply");
    let m = grains.metrics();
    assert!(m.activations_unknown_kind >= 1, "{m:?}");
    assert_eq!(m.grain_requests_malformed, 1);
    assert_eq!(m.grain_requests_unknown_method, 1);
    assert_eq!(m.grain_method_errors, 1);
    assert_eq!(m.grain_method_panics, 1);
    assert_eq!(m.activations_started, 2, "{m:?}");
    let done = next_json(&mut go, Duration::from_secs(10)).await;
    assert_eq!(done["done"], Value::Bool(true), "{done}");
    go.kill(Duration::from_secs(5)).await;
    a.shutdown(true).await.unwrap();
}

/// The README's grain commands: the `grain_host` example (the binary
/// `cargo test` builds beside this test) and the Go caller, as two
/// processes; every identity the caller asks for answers from the example,
/// through the generated client and plain `cluster.Request`, and the example
/// leaves on SIGTERM having hosted them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grain_host_example_answers_the_go_caller() {
    // target/debug/deps/<this test> → target/debug/examples/grain_host
    let example = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|deps| deps.parent())
        .map(|debug| debug.join("examples").join("grain_host"))
        .unwrap();
    assert!(
        example.exists(),
        "{} missing: `cargo test` builds the examples (run the suite through cargo)",
        example.display()
    );
    let (hr, hg) = (free_port(), free_port());
    let hosts = [format!("127.0.0.1:{hr}"), format!("127.0.0.1:{hg}")];
    let mut host = ChildLines::spawn(
        Command::new(&example)
            .args([
                "--cluster",
                "grain-example",
                "--automanaged-port",
                &hr.to_string(),
            ])
            .args(["--automanaged-hosts", &hosts.join(",")])
            .stdin(Stdio::null()),
    )
    .unwrap();
    let address = host
        .next_matching(Duration::from_secs(30), |l| {
            l.strip_prefix("grain host at ")
                .and_then(|rest| rest.split(' ').next())
                .map(str::to_owned)
        })
        .await
        .unwrap_or_else(|| panic!("no start line from the example:\n{}", host.output()));

    let count = 5;
    let mut go = caller(
        "grain-example",
        hg,
        &hosts,
        &["-count", &count.to_string(), "-wait", "60s"],
    );
    for _ in 0..count {
        let line = next_json(&mut go, Duration::from_secs(90)).await;
        assert_eq!(text(&line, &["owner"]), address, "{line}");
        assert_eq!(text(&line, &["generated", "address"]), address, "{line}");
        assert_eq!(text(&line, &["plain", "address"]), address, "{line}");
    }
    go.kill(Duration::from_secs(5)).await;

    let pid = host.child.id().expect("the example is running");
    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(term.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), host.child.wait())
        .await
        .unwrap_or_else(|_| panic!("the example did not leave on SIGTERM:\n{}", host.output()))
        .unwrap();
    assert!(exit.success(), "{exit:?}\n{}", host.output());
    // Its last words are on stderr, read by a task that may lag the exit.
    let said = Instant::now();
    while !host.output().contains("err: activations at exit: 5") {
        assert!(
            said.elapsed() < Duration::from_secs(5),
            "no `activations at exit: 5`:\n{}",
            host.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
