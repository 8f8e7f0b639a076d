//! `protogossip`: a protoactor-go compatible cluster member.
//!
//! - `protogossip` / `protogossip node [OPTIONS]` runs one node (with no
//!   options: one node on loopback, automanaged on :6330, `/status` on
//!   127.0.0.1:6331) until Ctrl-C or SIGTERM, then leaves gracefully.
//! - `protogossip demo --nodes 5` runs a small cluster in one process and
//!   shows it converge, then a crash being detected.
//! - `protogossip self-check` prints wire bytes without a network.

mod args;
mod demo;
mod self_check;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use protogossip::node::NodeHandle;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "protogossip",
    version,
    about = "A protoactor-go compatible cluster member (gossip, heartbeats, topology, consensus)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    node: args::NodeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one cluster node (the default).
    Node(Box<args::NodeArgs>),
    /// Run several nodes in this process and watch them converge.
    Demo(demo::DemoArgs),
    /// Print wire bytes of a handshake and gossip values.
    SelfCheck,
}

fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run_node(args: args::NodeArgs) -> ExitCode {
    init_logging("info,protogossip=info");
    let config = match args.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let node = match NodeHandle::start(config.clone()).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!(
                "hint: `protogossip node --help` lists every option; ports must be free (see docs/operations.md)"
            );
            return ExitCode::from(1);
        }
    };
    println!(
        "protogossip node {} at {} in cluster {:?} ({}); status: {}",
        node.id(),
        node.address(),
        config.cluster_name,
        config.gossip.wire_profile,
        node.http_address()
            .map_or_else(|| "off".to_owned(), |a| format!("http://{a}/status")),
    );
    shutdown_signal().await;
    println!("leaving the cluster…");
    match node.shutdown(true).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        None => runtime.block_on(run_node(cli.node)),
        Some(Command::Node(args)) => runtime.block_on(run_node(*args)),
        Some(Command::Demo(args)) => {
            init_logging("error");
            runtime.block_on(demo::run(args))
        }
        Some(Command::SelfCheck) => {
            self_check::run();
            ExitCode::SUCCESS
        }
    }
}
