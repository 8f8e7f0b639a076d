//! Issue 15 item 5: a graceful leave crosses a Rust member. Two real Go
//! members, A and B, meet only through one Rust member, R:
//!
//! ```text
//! Go A  ——  Rust R  ——  Go B        (no A–B link)
//! ```
//!
//! Every node uses the automanaged provider, on loopback. A polls the
//! `/_health` of {A, R}, B polls {B, R}, R polls all three: A and B are
//! not in each other's topology, so neither ever sends the other anything
//! (Go gossips only to its topology members), and all each knows of the
//! other is what R relays. Go merges and keeps every owner's entries it
//! receives, and blocks any owner with a `left` entry (`blockGracefullyLeft`
//! reads the key over all owners, members or not).
//!
//! A announces its leave with the entry Go's `Cluster.Shutdown` writes,
//! the `left` key (Go and we read only the key, never its value), through
//! the harness' `/set`, and stays up: a Go node's own final round often
//! never leaves the process (docs/operations.md), which would make this
//! test about Go's shutdown instead of our relay.
//!
//! Asserted: R blocks A for `Left` and keeps relaying A's entries, so B
//! holds A's `left` entry and blocks A within [`RELAY_BOUND`], far below
//! the heartbeat expiration ([`EXPIRATION`], 30 s), so B's heartbeat rule
//! cannot be what blocked A; R then purges A's state after its
//! `blocked_state_retention`. A control run with the relay off
//! (`blocked_state_retention` = 0, R's behaviour before) shows B does not
//! learn of the leave within the same bound.

#[path = "support/go_build.rs"]
mod go_build;
#[path = "support/go_harness.rs"]
mod go_harness;
#[path = "support/mixed.rs"]
mod mixed;
#[path = "support/net.rs"]
mod net;

use std::time::{Duration, Instant};

use go_harness::GoNode;
use mixed::{
    block_reasons, blocked, events_about, go_automanaged_args, go_seq, members, node_config,
};
use net::free_port;
use protogossip::{
    gossip::BlockReason,
    node::NodeHandle,
    provider::{ProviderConfig, automanaged::AutomanagedConfig},
};
use serde_json::Value;

const REFRESH: Duration = Duration::from_millis(400);
const EXPIRATION: Duration = Duration::from_secs(30);
/// From A's `left` to B blocking A: a few gossip rounds (R receives, R
/// relays; a pure-Go chain takes 0.3–0.6 s) plus slack for a loaded CI
/// machine; well below [`EXPIRATION`].
const RELAY_BOUND: Duration = Duration::from_secs(6);
const CONVERGE_DEADLINE: Duration = Duration::from_secs(30);
/// R's `blocked_state_retention` in the relay run (short, so the purge is
/// seen quickly).
const RETENTION: Duration = Duration::from_secs(3);

struct Chain {
    a: GoNode,
    b: GoNode,
    r: NodeHandle,
}

impl Chain {
    async fn start(cluster: &str, retention: Duration) -> Chain {
        let (a_port, b_port, r_port) = (free_port(), free_port(), free_port());
        let h = |p: u16| format!("127.0.0.1:{p}");
        let a = GoNode::start(&go_automanaged_args(
            cluster,
            a_port,
            &[h(a_port), h(r_port)].join(","),
            REFRESH,
            EXPIRATION,
        ))
        .await;
        let b = GoNode::start(&go_automanaged_args(
            cluster,
            b_port,
            &[h(b_port), h(r_port)].join(","),
            REFRESH,
            EXPIRATION,
        ))
        .await;
        let provider = ProviderConfig::Automanaged(
            AutomanagedConfig::default()
                .with_port(r_port)
                .with_hosts(vec![h(a_port), h(r_port), h(b_port)])
                .with_refresh(REFRESH),
        );
        let mut config = node_config(cluster, provider, EXPIRATION);
        config.gossip.blocked_state_retention = retention;
        let r = NodeHandle::start(config).await.unwrap();
        Chain { a, b, r }
    }

    async fn views(&self) -> (Value, Value, Value) {
        let a = self.a.view().await.unwrap_or(Value::Null);
        let b = self.b.view().await.unwrap_or(Value::Null);
        let r = serde_json::to_value(self.r.status().await.unwrap()).unwrap();
        (a, b, r)
    }

    /// Polls every 100 ms until `ok` holds; its time, or a panic naming
    /// `what` with the three views after `deadline`.
    async fn wait(
        &self,
        what: &str,
        deadline: Duration,
        ok: impl Fn(&Value, &Value, &Value) -> bool,
    ) -> Duration {
        let start = Instant::now();
        loop {
            let (a, b, r) = self.views().await;
            if ok(&a, &b, &r) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < deadline,
                "{what}: not within {deadline:?}\nA: {a}\nB: {b}\nR: {r}\nA log:\n{}\nB log:\n{}",
                self.a.log_tail(),
                self.b.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The chain is up: A and B see only themselves and R, R sees all
    /// three, and B holds A's heartbeat (relayed by R, the only way).
    async fn wait_up(&self) {
        let (a_id, b_id, r_id) = (self.a.id.clone(), self.b.id.clone(), self.r.id().to_owned());
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        let a_sees = sorted(vec![a_id.clone(), r_id.clone()]);
        let b_sees = sorted(vec![b_id.clone(), r_id.clone()]);
        let r_sees = sorted(vec![a_id.clone(), b_id.clone(), r_id.clone()]);
        let took = self
            .wait("the chain A — R — B", CONVERGE_DEADLINE, |a, b, r| {
                members(true, a) == a_sees
                    && members(true, b) == b_sees
                    && members(false, r) == r_sees
                    && b["heartbeat_ages_ms"].get(&a_id).is_some()
            })
            .await;
        eprintln!("chain up after {took:?}; B holds A's heartbeat through R");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_go_members_leave_reaches_another_go_member_only_through_a_rust_member() {
    let c = Chain::start("relay", RETENTION).await;
    c.wait_up().await;
    let mut events = c.r.subscribe();
    let a_id = c.a.id.clone();
    let owners_before = c.r.status().await.unwrap().gossip_owners;

    let left_at = Instant::now();
    c.a.set("left", "bye").await;
    let took = c
        .wait("B learns A's leave through R", RELAY_BOUND, |_, b, r| {
            blocked(false, r).contains(&a_id)
                && go_seq(b, "left", &a_id).is_some()
                && blocked(true, b).contains(&a_id)
        })
        .await;
    eprintln!(
        "relay: B (Go) holds A's left entry and blocks A {:?} after A set it (R in between)",
        left_at.elapsed()
    );
    assert!(took < RELAY_BOUND);
    let reasons = block_reasons(&events_about(&mut events, &a_id));
    assert_eq!(reasons, [BlockReason::Left], "R blocked A for its left");

    // R purges A's entries once its retention is over.
    let purged = c
        .wait(
            "R purges A's state after the retention",
            RETENTION + Duration::from_secs(5),
            |_, _, r| r["gossip_owners"].as_u64() == Some(owners_before as u64 - 1),
        )
        .await;
    eprintln!(
        "R purged A's state {purged:?} after B learned of the leave (retention {RETENTION:?})"
    );
    let (_, _, r) = c.views().await;
    assert!(blocked(false, &r).contains(&a_id), "A stays blocked");
    c.r.shutdown(true).await.unwrap();
}

/// The control: the same chain with R purging a blocked member's state at
/// once (the behaviour before the relay). B never receives A's `left`
/// within the bound and keeps A unblocked: what the relay fixes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_relay_the_go_member_behind_r_never_learns_of_the_leave() {
    let c = Chain::start("norelay", Duration::ZERO).await;
    c.wait_up().await;
    let a_id = c.a.id.clone();
    c.a.set("left", "bye").await;
    c.wait("R blocks A", RELAY_BOUND, |_, _, r| {
        blocked(false, r).contains(&a_id)
    })
    .await;
    let start = Instant::now();
    while start.elapsed() < RELAY_BOUND {
        let (_, b, _) = c.views().await;
        assert!(
            go_seq(&b, "left", &a_id).is_none() && !blocked(true, &b).contains(&a_id),
            "B learned of A's leave without a relay: {b}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.r.shutdown(true).await.unwrap();
}
