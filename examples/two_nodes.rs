//! Two members in one process (docs/library.md): B joins A by address, A
//! shares a value, B reads it. `cargo run --example two_nodes`.
use prost_types::Duration as Timeout;
use protogossip::node::{NodeConfig, NodeHandle};
use protogossip::provider::static_list::StaticConfig;
use std::time::{Duration, Instant};

#[tokio::main]
pub async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = |seeds: Vec<&str>| NodeConfig::default().with_provider(StaticConfig::seeds(seeds));
    let a = NodeHandle::start(config(vec![])).await?;
    let b = NodeHandle::start(config(vec![a.address()])).await?;
    let members = b.wait_for_members(2, Duration::from_secs(10)).await?;
    assert!(members.contains(&a.id()), "b lists a");
    let timeout = Timeout::try_from(Duration::from_secs(5))?;
    let expected = Some((a.set_state_message("timeout", &timeout).await?, Ok(timeout)));
    let read = || b.get_state_message::<Timeout>("timeout");
    let start = Instant::now();
    while read().await?.remove(&a.id()) != expected {
        assert!(start.elapsed() < Duration::from_secs(10), "b never saw it");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("b sees a's value: {expected:?}");
    b.shutdown(true).await?;
    Ok(a.shutdown(true).await?)
}
