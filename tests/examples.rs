//! The library examples run as users run them: `examples/two_nodes.rs` (the
//! ≤ 30-line program of docs/library.md) and `examples/join_go_cluster.rs`
//! beside a real protoactor-go member. The example files are compiled into
//! this test unchanged (`#[path]`), so what runs is what the docs show.

#[path = "support/go_build.rs"]
mod go_build;
#[path = "support/go_harness.rs"]
mod go_harness;
#[path = "../examples/join_go_cluster.rs"]
mod join_go_cluster;
#[path = "support/mixed.rs"]
mod mixed;
#[path = "support/net.rs"]
mod net;
#[path = "../examples/two_nodes.rs"]
mod two_nodes;

use std::time::{Duration, Instant};

use go_harness::GoNode;
use mixed::{blocked, go_automanaged_args, members};
use net::free_port;

const DEADLINE: Duration = Duration::from_secs(30);

/// docs/library.md shows `examples/two_nodes.rs` as it is, and it is the
/// ≤ 30-line program issue 13 asks for.
#[test]
fn docs_show_the_two_nodes_example() {
    let example = include_str!("../examples/two_nodes.rs");
    assert!(
        example.lines().count() <= 30,
        "two_nodes.rs grew past 30 lines"
    );
    let body = &example[example.find("\nuse ").expect("a use line") + 1..];
    assert!(
        include_str!("../docs/library.md").contains(body),
        "docs/library.md does not show examples/two_nodes.rs as it is"
    );
}

#[test]
fn two_nodes_example_runs() {
    two_nodes::main().expect("examples/two_nodes.rs");
}

/// Polls the Go member's `/view` until `check` holds, within [`DEADLINE`].
async fn go_view_until(go: &GoNode, what: &str, check: impl Fn(&serde_json::Value) -> bool) {
    let start = Instant::now();
    loop {
        if let Ok(view) = go.view().await
            && check(&view)
        {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "Go member: {what} not within {DEADLINE:?}\nGo log:\n{}",
            go.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_go_cluster_example_joins_and_leaves_a_go_member() {
    let health = [free_port(), free_port()];
    let hosts: Vec<String> = health.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let go = GoNode::start(&go_automanaged_args(
        "example",
        health[0],
        &hosts.join(","),
        Duration::from_millis(500),
        Duration::from_secs(20),
    ))
    .await;
    let node = join_go_cluster::join("example", health[1], hosts, 2)
        .await
        .expect("the example joins the Go member");
    let id = node.id().to_owned();
    go_view_until(&go, "lists our member", |v| members(true, v).contains(&id)).await;
    node.shutdown(true).await.unwrap();
    go_view_until(&go, "blocks our member after its graceful leave", |v| {
        blocked(true, v).contains(&id)
    })
    .await;
}
