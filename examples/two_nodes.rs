//! Two members in one process (docs/library.md): B joins A by address, A
//! shares a value, B reads it. `cargo run --example two_nodes`.
use prost_types::Duration as Timeout;
use protogossip::node::{NodeConfig, NodeHandle};
use protogossip::provider::{ProviderConfig, static_list::StaticConfig};
use std::time::Duration;

#[tokio::main]
pub async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = |seeds: &[&str]| NodeConfig {
        provider: ProviderConfig::Static(StaticConfig::seeds(seeds.iter().copied())),
        ..Default::default()
    };
    let a = NodeHandle::start(config(&[])).await?;
    let b = NodeHandle::start(config(&[a.address()])).await?;
    println!(
        "joined {:?}",
        b.wait_for_members(2, Duration::from_secs(10)).await?
    );
    a.set_state_message(
        "timeout",
        &Timeout {
            seconds: 5,
            nanos: 0,
        },
    )
    .await?;
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some((seq, Ok(t))) = b
                .get_state_message::<Timeout>("timeout")
                .await?
                .remove(a.id())
            {
                break Ok::<_, protogossip::node::NodeError>((seq, t.seconds));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    println!("b sees a's timeout (seq, seconds): {:?}", seen.await??);
    b.shutdown(true).await?;
    Ok(a.shutdown(true).await?)
}
