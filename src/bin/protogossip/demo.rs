//! `protogossip demo`: a small cluster in one process, on loopback.
//!
//! Starts N nodes with the automanaged provider (each polling all the
//! others' `/_health`), prints a member table every second until every node
//! agrees on the topology, then crashes one node (no `left`, no
//! deregistration) and keeps printing until every survivor has suspected
//! and blocked it. Heartbeat expiration is shortened to 5 s so the demo
//! takes seconds, not the 20 s Go uses.

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::Args;
use protogossip::{
    gossip::GossipConfig,
    node::{NodeConfig, NodeHandle, NodeListeners, NodeStatus},
    provider::{ProviderConfig, automanaged::AutomanagedConfig},
};
use tokio::net::TcpListener;

/// Options of `protogossip demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// How many nodes to run (2 to 20).
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout_secs: u64,
}

/// Every node's `/_health` listener, bound first so each node's host list
/// can name all of them, and its port.
async fn bind_health(n: usize) -> std::io::Result<Vec<(TcpListener, u16)>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        out.push((listener, port));
    }
    Ok(out)
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

fn print_table(t: f64, statuses: &[NodeStatus]) {
    println!(
        "\nt={t:5.1}s  node      members  up  suspect  blocked  topology hash         consensus"
    );
    for s in statuses {
        let count = |st: &str| s.members.iter().filter(|m| m.status == st).count();
        println!(
            "          {:<8}  {:>7}  {:>2}  {:>7}  {:>7}  {:<20}  {}",
            short(&s.id),
            s.topology.members.len(),
            count("Up"),
            count("Suspect"),
            s.topology.blocked.len(),
            s.topology.hash,
            if s.topology.consensus.reached {
                "yes"
            } else {
                "no"
            },
        );
    }
}

async fn statuses(nodes: &[NodeHandle]) -> Vec<NodeStatus> {
    let mut out = Vec::new();
    for n in nodes {
        if let Ok(s) = n.status().await {
            out.push(s);
        }
    }
    out
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> ExitCode {
    if !(2..=20).contains(&args.nodes) {
        eprintln!("error: --nodes must be between 2 and 20");
        return ExitCode::from(2);
    }
    let health = match bind_health(args.nodes).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: cannot listen on loopback: {e}");
            return ExitCode::from(1);
        }
    };
    let hosts: Vec<String> = health
        .iter()
        .map(|(_, p)| format!("127.0.0.1:{p}"))
        .collect();
    let mut nodes = Vec::new();
    for (listener, port) in health {
        let config = NodeConfig::default()
            .with_cluster_name("demo")
            .with_provider(ProviderConfig::Automanaged(
                AutomanagedConfig::default()
                    .with_port(port)
                    .with_hosts(hosts.clone())
                    .with_refresh(Duration::from_millis(500))
                    // Keep a silent node listed so the heartbeat rule shows.
                    .with_missed_polls_before_leave(1000),
            ))
            .with_gossip(GossipConfig::default().with_heartbeat_expiration(Duration::from_secs(5)))
            .with_http(None);
        let remote = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on loopback: {e}");
                return ExitCode::from(1);
            }
        };
        let listeners = NodeListeners {
            remote,
            health: Some(listener),
            http: None,
        };
        match NodeHandle::start_with(config, listeners).await {
            Ok(n) => nodes.push(n),
            Err(e) => {
                eprintln!("error: starting a node: {e}");
                return ExitCode::from(1);
            }
        }
    }
    println!(
        "started {} nodes on loopback (automanaged provider, heartbeat expiration 5 s)",
        nodes.len()
    );
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.timeout_secs);
    let n = nodes.len();

    // Phase 1: converge.
    loop {
        let st = statuses(&nodes).await;
        print_table(start.elapsed().as_secs_f64(), &st);
        let converged = st.len() == n
            && st
                .iter()
                .all(|s| s.topology.members.len() == n && s.topology.consensus.reached)
            && st
                .windows(2)
                .all(|w| w[0].topology.hash == w[1].topology.hash);
        if converged {
            println!(
                "\nconverged: {n} members, one topology hash, consensus on every node after {:.1}s",
                start.elapsed().as_secs_f64()
            );
            break;
        }
        if Instant::now() > deadline {
            eprintln!("error: no convergence within {}s", args.timeout_secs);
            return ExitCode::from(1);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // Phase 2: crash one node and watch the others suspect and block it.
    let victim = nodes.pop().expect("at least two nodes");
    let victim_id = victim.id().to_owned();
    let _ = victim.shutdown(false).await;
    let crashed = Instant::now();
    println!(
        "\ncrashed node {} (no `left`, no deregistration)",
        short(&victim_id)
    );
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let st = statuses(&nodes).await;
        print_table(start.elapsed().as_secs_f64(), &st);
        for s in &st {
            if let Some(m) = s.members.iter().find(|m| m.id == victim_id) {
                println!(
                    "          {} sees {}: {}",
                    short(&s.id),
                    short(&victim_id),
                    m.status
                );
            }
        }
        if st.iter().all(|s| s.topology.blocked.contains(&victim_id)) {
            println!(
                "\nblocked by every survivor {:.1}s after the crash (heartbeat expiration 5 s + detection)",
                crashed.elapsed().as_secs_f64()
            );
            break;
        }
        if Instant::now() > deadline {
            eprintln!(
                "error: the crash was not detected within {}s",
                args.timeout_secs
            );
            return ExitCode::from(1);
        }
    }
    for node in nodes {
        let _ = node.shutdown(true).await;
    }
    ExitCode::SUCCESS
}
