//! A Rust node calls grains that only real protoactor-go members host
//! (issue 12, the calling half). Two `go-interop/cmd/grainhost` members host
//! kind `echo` with Go's disthash identity lookup; their grain answers a Ping
//! with `responder = "<member address>/<identity>"`, which says where the
//! identity was activated. An in-process Rust node hosting no kind calls
//! them with `grain::GrainClient`:
//!
//! 1. many identities: each answers from the member that
//!    `placement::Rendezvous` over Go's own member list names, and both Go
//!    members get some;
//! 2. each Go member, calling the same identities through Go's
//!    `cluster.Request`, reaches the same member (the same activation);
//! 3. both languages host a kind in one cluster: the Rust node hosts
//!    `rust-echo` (its grain answers a Ping the same way), and both Go
//!    members' `cluster.Request` calls of it are activated on the Rust node;
//! 4. the Go member owning some identities is killed: within
//!    [`REACTIVATION_BOUND`] the Rust calls answer from the survivor (the
//!    PID cache dropped the dead member's PIDs), and Go agrees.

#[path = "support/go_build.rs"]
mod go_build;
#[path = "support/go_harness.rs"]
mod go_harness;
#[path = "../examples/echo_actor/interop.rs"]
mod interop;
#[path = "support/mixed.rs"]
mod mixed;
#[path = "support/net.rs"]
mod net;

use std::{
    collections::BTreeSet,
    path::PathBuf,
    sync::OnceLock,
    time::{Duration, Instant},
};

use go_harness::{GoNode, request};
use interop::{Ping, Pong};
use mixed::{go_automanaged_args, node_config};
use net::free_port;
use protogossip::{
    grain::{Grain, GrainCallOptions, GrainClient, GrainContext, GrainHost},
    placement::Rendezvous,
    provider::{ProviderConfig, automanaged::AutomanagedConfig},
    wire::proto::cluster::Member,
};
use serde_json::Value;

const CLUSTER: &str = "grains-call";
const KIND: &str = "echo";
/// The kind only the Rust node hosts.
const RUST_KIND: &str = "rust-echo";
const REFRESH: Duration = Duration::from_millis(500);
const EXPIRATION: Duration = Duration::from_secs(20);
/// Joining: Go's StartMember alone takes about 1 s per member.
const JOIN_DEADLINE: Duration = Duration::from_secs(45);
/// From the kill of a Go member until every identity it owned answers from
/// the survivor, through our client (automanaged polls every 500 ms and
/// drops a member after one failed poll; a call retries 3 times in 5 s).
const REACTIVATION_BOUND: Duration = Duration::from_secs(30);
const IDENTITIES: usize = 40;

/// The Rust node's `rust-echo` grain: a Ping gets a Pong naming where the
/// identity was activated, as the Go grain answers.
struct RustEcho;

impl Grain for RustEcho {
    async fn receive(
        &mut self,
        ctx: &mut GrainContext,
        message: protogossip::remote::ActorMessage,
    ) {
        if let Ok(ping) = message.into_message::<Ping>() {
            let pong = Pong {
                responder: format!("{}/{}", ctx.self_pid().address, ctx.identity()),
                text: ping.text,
                ..Default::default()
            };
            let _ = ctx.respond(&pong);
        }
    }
}

fn grainhost_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| go_build::build_go_command("grainhost"))
        .clone()
}

/// The members (with kinds) a Go member's `/view` shows.
async fn go_members(go: &GoNode) -> Vec<Member> {
    let Ok(view) = go.view().await else {
        return Vec::new();
    };
    view["members"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| Member {
                    host: m["host"].as_str().unwrap_or_default().into(),
                    port: m["port"].as_i64().unwrap_or_default() as i32,
                    id: m["id"].as_str().unwrap_or_default().into(),
                    kinds: m["kinds"]
                        .as_array()
                        .map(|ks| {
                            ks.iter()
                                .filter_map(|k| k.as_str().map(Into::into))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Go's `cluster.Request(identity, KIND, Ping)` on `go`: the responder.
async fn go_call(go: &GoNode, identity: &str) -> Result<String, String> {
    go_call_kind(go, KIND, identity).await
}

/// Go's `cluster.Request(identity, kind, Ping)` on `go`: the responder.
async fn go_call_kind(go: &GoNode, kind: &str, identity: &str) -> Result<String, String> {
    let path = format!("/grain?kind={kind}&identity={identity}&text=from-go");
    match request("GET", &go.http, &path).await {
        Ok((200, body)) => {
            let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
            Ok(v["responder"].as_str().unwrap_or_default().to_owned())
        }
        Ok((status, body)) => Err(format!("{status}: {body}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn rust_call(grains: &GrainClient, identity: &str) -> Result<Pong, String> {
    let ping = Ping {
        text: format!("hello {identity}"),
        ..Default::default()
    };
    grains
        .request(identity, KIND, &ping)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_calls_go_grains_by_identity() {
    let test_start = Instant::now();
    let health = [free_port(), free_port(), free_port()];
    let hosts: Vec<String> = health.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let host_list = hosts.join(",");

    let mut go_starts = Vec::new();
    for port in &health[..2] {
        let mut args = go_automanaged_args(CLUSTER, *port, &host_list, REFRESH, EXPIRATION);
        args.extend(["-kinds".into(), KIND.into()]);
        go_starts.push(tokio::spawn(async move {
            GoNode::start_program(grainhost_binary, None, &args).await
        }));
    }
    let provider: ProviderConfig = AutomanagedConfig::default()
        .with_port(health[2])
        .with_hosts(hosts.clone())
        .with_refresh(REFRESH)
        .into();
    let (node, rust_grains) = GrainHost::new()
        .kind(RUST_KIND, |_| RustEcho)
        .start(node_config(CLUSTER, provider, EXPIRATION))
        .await
        .unwrap();
    node.remote().types().register::<Pong>().unwrap();
    node.remote().types().register::<Ping>().unwrap();
    let mut gos = Vec::new();
    for s in go_starts {
        gos.push(s.await.unwrap());
    }
    let grains = GrainClient::start(&node).await.unwrap();

    // Everyone sees the three members, and our placement knows both hosts.
    let go_addresses: BTreeSet<String> = gos.iter().map(|g| g.address.clone()).collect();
    loop {
        let mut views_ok = true;
        for g in &gos {
            views_ok &= go_members(g).await.len() == 3;
        }
        let owners: BTreeSet<String> = (0..IDENTITIES)
            .filter_map(|i| grains.owner(KIND, &format!("user-{i}")))
            .collect();
        if views_ok && owners == go_addresses {
            break;
        }
        assert!(
            test_start.elapsed() < JOIN_DEADLINE,
            "cluster not joined within {JOIN_DEADLINE:?}: our owners {owners:?}, Go {go_addresses:?}\n{}",
            gos[0].log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let joined = test_start.elapsed();

    // 1. Rust calls every identity; each lands where Go's placement says.
    let go_view = Rendezvous::new(&go_members(&gos[0]).await);
    let phase = Instant::now();
    let mut by_owner: Vec<(String, String)> = Vec::new();
    for i in 0..IDENTITIES {
        let identity = format!("user-{i}");
        let pong = rust_call(&grains, &identity).await.unwrap_or_else(|e| {
            panic!(
                "{identity}: {e}\n{}\n{}",
                gos[0].log_tail(),
                gos[1].log_tail()
            )
        });
        let owner = go_view.owner_address(KIND, &identity).unwrap().to_owned();
        assert_eq!(pong.responder, format!("{owner}/{identity}"));
        assert_eq!(pong.text, format!("hello {identity}"));
        by_owner.push((identity, owner));
    }
    let first_calls = phase.elapsed();
    let used: BTreeSet<&String> = by_owner.iter().map(|(_, o)| o).collect();
    assert_eq!(
        used.len(),
        2,
        "both Go members own identities: {by_owner:?}"
    );
    // Second round: from the PID cache, no new activation.
    let before = grains.metrics();
    for (identity, owner) in &by_owner {
        let pong = rust_call(&grains, identity).await.unwrap();
        assert_eq!(pong.responder, format!("{owner}/{identity}"));
    }
    let after = grains.metrics();
    assert_eq!(after.activations, before.activations);
    assert_eq!(after.cache_hits - before.cache_hits, IDENTITIES as u64);

    // 2. Go, calling the same identities, reaches the same activations.
    for (identity, owner) in by_owner.iter().take(10) {
        for g in &gos {
            assert_eq!(
                go_call(g, identity).await,
                Ok(format!("{owner}/{identity}"))
            );
        }
    }

    // 3. Both languages host a kind: Go calls the kind only Rust hosts, and
    // every identity is activated on the Rust node.
    for i in 0..10 {
        let identity = format!("rust-{i}");
        for g in &gos {
            assert_eq!(
                go_call_kind(g, RUST_KIND, &identity).await,
                Ok(format!("{}/{identity}", node.address())),
                "{}",
                g.log_tail()
            );
        }
    }
    assert_eq!(rust_grains.activations().len(), 10);
    assert_eq!(rust_grains.metrics().activations_started, 10);
    assert_eq!(rust_grains.metrics().activations_found, 10);

    // 4. Kill the member owning user-0; its identities move to the survivor.
    let victim = by_owner[0].1.clone();
    let v = gos.iter().position(|g| g.address == victim).unwrap();
    let mut dead = gos.remove(v);
    let survivor = gos[0].address.clone();
    let moved: Vec<String> = by_owner
        .iter()
        .filter(|(_, o)| *o == victim)
        .map(|(i, _)| i.clone())
        .collect();
    let kill = Instant::now();
    dead.kill().await;
    let quick = GrainCallOptions::default().with_timeout(Duration::from_secs(2));
    let mut pending: Vec<String> = moved.clone();
    let mut last_error = String::new();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for identity in pending {
            let ping = Ping::default();
            match grains
                .request_with::<Pong, _>(&identity, KIND, &ping, &quick)
                .await
            {
                Ok(p) if p.responder == format!("{survivor}/{identity}") => {}
                Ok(p) => {
                    last_error = format!("{identity}: answered by {}", p.responder);
                    still.push(identity);
                }
                Err(e) => {
                    last_error = format!("{identity}: {e}");
                    still.push(identity);
                }
            }
        }
        pending = still;
        assert!(
            kill.elapsed() < REACTIVATION_BOUND,
            "{} identities not re-activated on {survivor} within {REACTIVATION_BOUND:?}; last: {last_error}",
            pending.len()
        );
    }
    let reactivated = kill.elapsed();
    assert!(grains.metrics().invalidated > 0, "{:?}", grains.metrics());
    assert_eq!(
        grains.owner(KIND, &moved[0]).as_deref(),
        Some(survivor.as_str())
    );
    // Go's survivor agrees (its placement moved too). Its first call may
    // still go to the PID it cached for the dead member: Go drops cached
    // PIDs of a member only when its topology lists the member as left, and
    // a call to a dead PID waits out the whole 5 s request timeout
    // ("context deadline exceeded"), so Go is asked again until it answers
    // from the survivor, within the same bound.
    let want = format!("{survivor}/{}", moved[0]);
    let mut go_answers = Vec::new();
    loop {
        let answer = go_call(&gos[0], &moved[0]).await;
        if answer.as_deref() == Ok(want.as_str()) {
            break;
        }
        go_answers.push(answer);
        assert!(
            kill.elapsed() < REACTIVATION_BOUND,
            "Go's survivor did not reach {want} within {REACTIVATION_BOUND:?}: {go_answers:?}\n{}",
            gos[0].log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let go_agrees = kill.elapsed();

    println!(
        "grains: joined in {joined:?}; {IDENTITIES} first calls in {first_calls:?}; \
         {} identities re-activated {reactivated:?} after the kill (Go's survivor agreed \
         after {go_agrees:?}, {} failed Go calls first); metrics {:?}",
        moved.len(),
        go_answers.len(),
        grains.metrics()
    );
    node.shutdown(false).await.unwrap();
}
