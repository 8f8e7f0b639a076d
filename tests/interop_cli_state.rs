//! An operator checks state exchange with a Go member from the command line:
//! `protogossip node --state role=…` beside a real protoactor-go member (the
//! Go harness, automanaged). The key the Go member sets (`/set`, a
//! `wrapperspb.StringValue`) shows on our `GET /state` under its id,
//! decoded; ours reaches the Go member's gossip state under our id.

#[path = "support/go_build.rs"]
mod go_build;
#[path = "support/go_harness.rs"]
mod go_harness;
#[path = "support/mixed.rs"]
mod mixed;
#[path = "support/net.rs"]
mod net;

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use go_harness::{GoNode, request_in};
use mixed::{RustProc, go_automanaged_args, rust_automanaged_args};
use net::free_port;
use serde_json::Value;

const CLUSTER: &str = "cli-state";
const REFRESH: Duration = Duration::from_millis(500);
const EXPIRATION: Duration = Duration::from_secs(20);
const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_keys_cross_between_the_cli_node_and_a_go_member() {
    let health = [free_port(), free_port()];
    let host_list = health.map(|p| format!("127.0.0.1:{p}")).join(",");
    let mut go_args = go_automanaged_args(CLUSTER, health[0], &host_list, REFRESH, EXPIRATION);
    go_args.extend(["-watch-keys".into(), "role".into()]);
    let go = GoNode::start(&go_args).await;
    let mut args = rust_automanaged_args(
        CLUSTER,
        (health[1], free_port()),
        &host_list,
        REFRESH,
        EXPIRATION,
    );
    args.extend(["--state".into(), "role=rust-cli".into()]);
    let http = format!("127.0.0.1:{}", free_port());
    let rust = RustProc::start(http.clone(), &args, Stdio::null()).await;
    go.set("role", "go-harness").await;

    let start = Instant::now();
    let mut last = (Value::Null, Value::Null);
    loop {
        if let Ok((200, body)) = request_in(None, "GET", &http, "/state").await {
            last.0 = serde_json::from_str(&body).unwrap();
        }
        if let Ok(view) = go.view().await {
            last.1 = view;
        }
        let ours = &last.0["role"];
        let go_side = &last.1["gossip"]["role"];
        if ours[&go.id]["value"] == "go-harness"
            && ours[&go.id]["type"] == "google.protobuf.StringValue"
            && ours[&rust.id]["value"] == "rust-cli"
            && go_side[&rust.id]["seq"].as_i64().is_some_and(|s| s > 0)
        {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "keys not exchanged within {DEADLINE:?}\nour /state: {}\nGo /view: {}\nGo log:\n{}",
            last.0,
            last.1,
            go.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
