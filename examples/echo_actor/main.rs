//! A Rust echo actor that protoactor-go programs call.
//!
//! Hosts an actor under the id `echo` on a protogossip remote; it answers
//! every `interop.Ping` (go-interop/proto/interop/echo.proto) with an
//! `interop.Pong` carrying the same payload, text and seq, and
//! `responder: "rust"`. A request that came with a message header is
//! answered with that header plus `echoed-by: rust`.
//!
//! ```text
//! cargo run --example echo_actor                  # prints: echo actor at 127.0.0.1:PORT/echo
//! cd go-interop && go run ./cmd/echoclient -target 127.0.0.1:PORT/echo
//! ```
//!
//! `--bind ADDR` picks the listening address (default `127.0.0.1:0`, a free
//! port). SIGINT or SIGTERM shut the remote down gracefully: Go actors
//! watching `echo` get `actor.Terminated{why: Stopped}`. The same binary is
//! the Rust side of scripts/bench-actors-vs-go.sh and is run by
//! tests/actors_go_interop.rs.

mod interop;

use std::net::SocketAddr;

use interop::Ping;
use protogossip::remote::{Actor, ActorContext, ActorMessage, Handlers, Remote, RemoteConfig};
use tokio::signal::unix::{SignalKind, signal};

/// Answers each `interop.Ping` with its `interop.Pong`.
struct Echo;

impl Actor for Echo {
    async fn receive(&mut self, ctx: &mut ActorContext, message: ActorMessage) {
        let Ok(ping) = message.into_message::<Ping>() else {
            return; // not a Ping: nothing to answer
        };
        // A one-way Ping (no sender) has nobody to answer: that error is
        // expected and ignored.
        let _ = interop::answer(ctx, &ping, "rust");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut bind: SocketAddr = "127.0.0.1:0".parse()?;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--bind", Some(addr)) => bind = addr.parse()?,
            _ => return Err(format!("usage: echo_actor [--bind ADDR]; got {arg:?}").into()),
        }
    }

    let remote = Remote::start(RemoteConfig::default().with_bind(bind), Handlers::new()).await?;
    remote.types().register::<Ping>()?;
    let echo = remote.spawn_named("echo", Echo)?;
    println!("echo actor at {}/{}", echo.address, echo.id);

    let (mut int, mut term) = (
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    );
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    remote.shutdown(true).await;
    println!("bye");
    Ok(())
}
