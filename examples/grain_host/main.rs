//! A Rust node hosting the grain kind `Greeter` that protoactor-go programs
//! call by identity (go-interop/proto/interop/grains.proto).
//!
//! The node joins a cluster through the automanaged provider, advertises
//! `Greeter`, and activates a `Greeter` grain for each identity Go's
//! disthash placement gives it. Go calls it through the client
//! protoc-gen-go-grain generates and through plain `cluster.Request`:
//!
//! ```text
//! cargo run --example grain_host -- --automanaged-port 6330
//!     # prints: grain host at 127.0.0.1:PORT (automanaged 127.0.0.1:6330), kind Greeter
//! cd go-interop && go run ./cmd/graincaller -automanaged-hosts 127.0.0.1:6330 -count 5
//! ```
//!
//! `--automanaged-hosts` lists the peers (default: this node only; the Go
//! caller lists this node and itself is found by it). SIGINT or SIGTERM
//! leave the cluster gracefully.

mod greeter;

use std::time::Duration;

use greeter::{Greeter, KIND, WhereRequest};
use protogossip::{grain::GrainHost, node::NodeConfig, provider::automanaged::AutomanagedConfig};
use tokio::signal::unix::{SignalKind, signal};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let am_port: u16 = arg(&args, "--automanaged-port").map_or(Ok(6330), |p| p.parse())?;
    let hosts = arg(&args, "--automanaged-hosts").map_or_else(
        || vec![format!("127.0.0.1:{am_port}")],
        |h| h.split(',').map(str::to_owned).collect(),
    );
    let config = NodeConfig::default()
        .with_cluster_name(arg(&args, "--cluster").unwrap_or_else(|| "protogossip".into()))
        .with_provider(
            AutomanagedConfig::default()
                .with_port(am_port)
                .with_hosts(hosts)
                .with_refresh(Duration::from_millis(500)),
        )
        .with_http(None);
    let (node, grains) = GrainHost::new()
        .kind(KIND, |_identity| Greeter::default())
        // Plain cluster.Request calls carry a WhereRequest.
        .message::<WhereRequest>()
        .start(config)
        .await?;
    println!(
        "grain host at {} (automanaged 127.0.0.1:{am_port}), kind {KIND}",
        node.address()
    );
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("activations at exit: {}", grains.activations().len());
    node.shutdown(true).await?;
    Ok(())
}
