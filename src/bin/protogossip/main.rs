//! `protogossip`: a protoactor-go compatible cluster member.
//!
//! - `protogossip` / `protogossip node [OPTIONS]` runs one node (with no
//!   options: one node on loopback, automanaged on :6330, `/status` on
//!   127.0.0.1:6331) until Ctrl-C or SIGTERM, then leaves gracefully;
//!   `--state key=value` sets application keys, `/state` shows them.
//!   Unusable settings exit 2, a node that cannot start exits 1.
//! - `protogossip demo --nodes 5` runs a small cluster in one process and
//!   shows it converge, then a crash being detected.
//! - `protogossip self-check` prints wire bytes without a network.

mod args;
mod demo;
mod self_check;

use std::{io::IsTerminal, process::ExitCode};

use clap::{Parser, Subcommand};
use protogossip::{
    node::{NodeError, NodeHandle},
    provider::ProviderError,
};
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

/// Logs to stderr, coloured only on a terminal and never when `NO_COLOR`
/// has a value (no-color.org), so a log file or journal gets plain text.
fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .try_init();
}

/// Whether to colour: on a terminal, unless `NO_COLOR` is set and not empty.
fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
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

/// Exit status for an unusable setting (clap's own, for a bad flag).
const EXIT_SETTING: u8 = 2;
/// Exit status for a node that could not start or stop cleanly.
const EXIT_FAILURE: u8 = 1;

/// Reads the settings, then runs the node on the runtime they ask for.
fn node(args: args::NodeArgs) -> ExitCode {
    init_logging("info,protogossip=info");
    let settings = match args.into_settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_SETTING);
        }
    };
    match runtime(Some(settings.worker_threads)) {
        Ok(runtime) => runtime.block_on(run_node(settings)),
        Err(code) => code,
    }
}

/// `Some(0)`: tokio's current-thread runtime. A node's own work (gossip,
/// remoting, polls) is a few hundred small events a second; on one thread
/// a task woken by I/O runs where the I/O driver runs, with no cross-thread
/// wake-up (futex) and no idle worker to park, which measured 10–20 % less
/// CPU per node (docs/performance.md). `Some(n)`: n workers; `None`:
/// tokio's default (one per core), for the demo's several nodes.
fn runtime(worker_threads: Option<usize>) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut builder = match worker_threads {
        Some(0) => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the tokio runtime: {e}");
        ExitCode::from(EXIT_FAILURE)
    })
}

async fn run_node(settings: args::NodeSettings) -> ExitCode {
    let config = settings.config;
    let node = match NodeHandle::start(config.clone()).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!(
                "hint: `protogossip node --help` lists every option; ports must be free (see docs/operations.md)"
            );
            let setting = matches!(
                e,
                NodeError::Config(_)
                    | NodeError::Gossip(_)
                    | NodeError::Provider(ProviderError::Config(_))
            );
            return ExitCode::from(if setting { EXIT_SETTING } else { EXIT_FAILURE });
        }
    };
    for (key, value) in settings.state {
        match node.set_state_message(&key, &value).await {
            Ok(seq) => tracing::info!(%key, %value, seq, "application key set"),
            Err(e) => {
                eprintln!("error: cannot set {key:?}: {e}");
                let _ = node.shutdown(false).await;
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    }
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
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => node(cli.node),
        Some(Command::Node(args)) => node(*args),
        Some(Command::Demo(args)) => {
            init_logging("error");
            match runtime(None) {
                Ok(runtime) => runtime.block_on(demo::run(args)),
                Err(code) => code,
            }
        }
        Some(Command::SelfCheck) => {
            self_check::run();
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        assert!(colour(true, None));
        assert!(
            colour(true, Some(OsStr::new(""))),
            "empty NO_COLOR: ignored"
        );
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
        assert!(!colour(false, Some(OsStr::new(""))));
    }
}
