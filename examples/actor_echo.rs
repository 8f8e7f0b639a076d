//! A Rust actor that Go calls: `echo` answers every request with the same
//! message (type, serializer, bytes) and the same header.
//!
//! Run with `cargo run --example actor_echo -- 127.0.0.1:8090`, then from
//! Go: `system.Root.RequestFuture(actor.NewPID("127.0.0.1:8090", "echo"),
//! msg, timeout)`. Any cluster message (`cluster.GrainRequest`, ...) is
//! echoed as is; an application's own types must be registered first
//! (`remote.types().register::<M>()`), or they are dead-lettered. Ctrl-C
//! stops it gracefully (watchers get `Terminated{Stopped}`). See
//! docs/actors.md.

use std::error::Error;

use protogossip::remote::{
    Actor, ActorContext, ActorMessage, Handlers, RawMessage, Remote, RemoteConfig,
};

/// Answers every message with itself.
struct Echo;

impl Actor for Echo {
    async fn receive(&mut self, ctx: &mut ActorContext, message: ActorMessage) {
        let answer = RawMessage::new(
            message.type_name(),
            message.serializer_id(),
            message.data().into_owned(),
        );
        if let Err(e) = ctx.respond_raw(answer, ctx.header().clone()) {
            eprintln!("cannot answer {}: {e}", message.type_name());
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into())
        .parse()?;
    let remote = Remote::start(
        RemoteConfig {
            bind,
            ..RemoteConfig::default()
        },
        Handlers::new(),
    )
    .await?;
    let echo = remote.spawn_named("echo", Echo)?;
    println!("echo actor at {}/{}", echo.address, echo.id);
    tokio::signal::ctrl_c().await?;
    remote.shutdown(true).await;
    Ok(())
}
