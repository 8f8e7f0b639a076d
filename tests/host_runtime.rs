//! `ClusterGossiper` used the way a host actor runtime uses a gossiper.
//!
//! [`Host`] stands in for the runtime's cluster module: it gets its gossiper
//! from a factory as `Box<dyn Gossiper>`, keeps it behind a mutex that it
//! holds (with its own core lock) across `start` and `stop`, and keeps a
//! member table of its own, in its own member states, fed only by the
//! gossiper's membership bridge. The tests run it outside any runtime, on a
//! multi-thread runtime's worker and on a current-thread runtime, start it
//! with a taken port, and compare its table with a real protoactor-go
//! member's view of a mixed cluster through joins, a kill -9 and a graceful
//! leave. Every wait is bounded.

#[path = "support/go_build.rs"]
mod go_build;
#[path = "support/go_harness.rs"]
mod go_harness;
#[path = "support/mixed.rs"]
mod mixed;
#[path = "support/net.rs"]
mod net;

use std::{
    collections::BTreeMap,
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

use go_harness::GoNode;
use net::free_port;
use protogossip::{
    gossip::{GossipConfig, MemberStatus},
    gossiper::Gossiper,
    node::{ClusterGossiper, GossiperConfig, MembershipChange, MembershipEvent, NodeConfig},
    provider::{ProviderConfig, automanaged::AutomanagedConfig},
};
use serde_json::Value;
use tokio::sync::broadcast::{self, error::TryRecvError};

/// A member's state in the host's own terms (an actor runtime's
/// membership table: joining, up, unreachable, leaving, then gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostState {
    Joining,
    Up,
    Unreachable,
    Leaving,
}

/// A row of the host's member table, keyed by member id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostMember {
    address: String,
    kinds: Vec<String>,
    state: HostState,
}

/// The host's cluster core: the table and what it learned on the way.
#[derive(Debug, Default)]
struct HostCore {
    members: BTreeMap<String, HostMember>,
    /// Ids the host quarantined (blocked members: never admitted again).
    quarantined: Vec<String>,
    /// Ids that left gracefully.
    removed: Vec<String>,
    topology_hash: u64,
    consensus: Option<u64>,
    /// Every (id, state name) transition, for failure messages.
    log: Vec<String>,
}

impl HostCore {
    /// The adapter: one bridge event onto the host's table.
    fn apply(&mut self, event: &MembershipEvent) {
        match &event.change {
            MembershipChange::Status { member, .. } => {
                self.log.push(format!("{} {:?}", member.id, member.status));
                let state = match member.status {
                    MemberStatus::Joining => HostState::Joining,
                    MemberStatus::Up => HostState::Up,
                    MemberStatus::Suspect => HostState::Unreachable,
                    MemberStatus::Leaving => HostState::Leaving,
                    MemberStatus::Blocked => {
                        self.members.remove(&member.id);
                        self.quarantined.push(member.id.clone());
                        return;
                    }
                    MemberStatus::Removed => {
                        self.members.remove(&member.id);
                        self.removed.push(member.id.clone());
                        return;
                    }
                };
                self.members.insert(
                    member.id.clone(),
                    HostMember {
                        address: member.address(),
                        kinds: member.kinds.clone(),
                        state,
                    },
                );
            }
            MembershipChange::Topology { hash, .. } => self.topology_hash = *hash,
            MembershipChange::Consensus { hash } => self.consensus = *hash,
            MembershipChange::Stopped => {
                self.members.clear();
                self.topology_hash = 0;
                self.consensus = None;
                self.log.push("stopped".into());
            }
            // Changes added later (the enum is non_exhaustive) do not move
            // the host's table.
            _ => {}
        }
    }

    /// Active members: everyone in the table but those leaving.
    fn active_ids(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, m)| m.state != HostState::Leaving)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// The host runtime's cluster module, as far as gossip goes.
struct Host {
    core: Mutex<HostCore>,
    gossiper: Mutex<Box<dyn Gossiper>>,
    events: Mutex<broadcast::Receiver<MembershipEvent>>,
}

/// What the host's cluster config says about this member (the factory's
/// input).
struct HostClusterConfig {
    advertised_host: String,
    advertised_port: u16,
    node: NodeConfig,
}

impl Host {
    /// Builds the gossiper as a host's factory would and wires its
    /// membership into the host's table before anything starts.
    fn new(config: &HostClusterConfig, runtime: Option<tokio::runtime::Handle>) -> Host {
        let mut gconfig = GossiperConfig::new(config.node.clone())
            .advertised(config.advertised_host.clone(), config.advertised_port);
        gconfig.runtime = runtime;
        let gossiper = ClusterGossiper::with_config(gconfig);
        let (snapshot, events) = gossiper.membership().subscribe_with_snapshot();
        assert!(snapshot.members.is_empty());
        Host {
            core: Mutex::new(HostCore::default()),
            gossiper: Mutex::new(Box::new(gossiper)),
            events: Mutex::new(events),
        }
    }

    /// `start_member`: both locks held while the gossiper starts.
    fn start(&self) -> Result<(), &'static str> {
        let _core = self.core.lock().unwrap();
        self.gossiper.lock().unwrap().start()
    }

    /// Cluster shutdown: both locks held while the gossiper stops.
    fn stop(&self) -> Result<(), &'static str> {
        let _core = self.core.lock().unwrap();
        self.gossiper.lock().unwrap().stop()
    }

    /// Polls the table (from the calling thread, as a host's pump would)
    /// until `ok` holds, for at most 10 s.
    fn wait_for(&self, what: &str, ok: impl Fn(&HostCore) -> bool) {
        let start = Instant::now();
        loop {
            let table = self.table();
            if ok(&table) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{what}: table {:?}, log {:?}",
                table.members,
                table.log
            );
            drop(table);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The host's event pump: applies what the bridge published.
    fn table(&self) -> MutexGuard<'_, HostCore> {
        let mut core = self.core.lock().unwrap();
        let mut events = self.events.lock().unwrap();
        loop {
            match events.try_recv() {
                Ok(e) => core.apply(&e),
                Err(TryRecvError::Empty) => return core,
                Err(e) => panic!("the host's membership stream failed: {e:?}"),
            }
        }
    }
}

/// A single member on loopback: automanaged on a free port polling only
/// itself, no HTTP server.
fn lone_member(cluster: &str) -> HostClusterConfig {
    let health = free_port();
    HostClusterConfig {
        advertised_host: "127.0.0.1".into(),
        advertised_port: free_port(),
        node: NodeConfig::default()
            .with_cluster_name(cluster)
            .with_provider(ProviderConfig::Automanaged(
                AutomanagedConfig::default()
                    .with_port(health)
                    .with_hosts(vec![format!("127.0.0.1:{health}")])
                    .with_refresh(Duration::from_millis(200)),
            ))
            .with_http(None),
    }
}

/// Starts and stops a lone member through `host`, from the calling thread,
/// checking the host's table on the way and the documented stop bound.
fn lone_member_lifecycle(host: &Host, config: &HostClusterConfig) {
    let started = Instant::now();
    host.start().expect("start");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "start is bounded"
    );
    // The provider lists us on its first poll, shortly after start.
    host.wait_for("our own member", |t| !t.members.is_empty());
    {
        let table = host.table();
        let (id, me) = table.members.iter().next().expect("our own member");
        assert_eq!(table.members.len(), 1, "{:?}", table.log);
        assert_eq!(
            me.address,
            format!("127.0.0.1:{}", config.advertised_port),
            "one identity: the host's advertised address is the member's"
        );
        assert_eq!(me.state, HostState::Up, "{id}: {:?}", table.log);
        assert_ne!(table.topology_hash, 0);
    }
    assert_eq!(host.start(), Err("gossiper already started"));
    let bound = GossiperConfig::new(config.node.clone()).stop_bound();
    let stopping = Instant::now();
    host.stop().expect("stop");
    assert!(stopping.elapsed() < bound, "stop within {bound:?}");
    let table = host.table();
    assert!(table.members.is_empty(), "{:?}", table.log);
    assert_eq!(table.removed.len(), 1, "our own member was removed");
    assert_eq!(table.log.last().map(String::as_str), Some("stopped"));
    drop(table);
    assert_eq!(host.stop(), Err("gossiper not started"));
}

#[test]
fn outside_any_runtime() {
    let config = lone_member("host-plain");
    let host = Host::new(&config, None);
    lone_member_lifecycle(&host, &config);
    // The same gossiper starts again (a fresh member id).
    host.start().expect("restart");
    host.wait_for("our own member again", |t| t.members.len() == 1);
    host.stop().expect("stop again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_multi_thread_worker_with_either_runtime() {
    // Called straight from the worker thread, as a host's synchronous
    // start_member would be: first on the gossiper's own runtime, then on
    // this very runtime.
    for runtime in [None, Some(tokio::runtime::Handle::current())] {
        let config = lone_member("host-multi");
        let host = Host::new(&config, runtime);
        lone_member_lifecycle(&host, &config);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn on_a_current_thread_runtime() {
    let config = lone_member("host-current");
    let host = Host::new(&config, None);
    lone_member_lifecycle(&host, &config);

    // This runtime's own handle: nothing could run the node while start
    // waited on this thread, so start refuses instead of hanging.
    let config = lone_member("host-current");
    let mut g = ClusterGossiper::with_config(
        GossiperConfig::new(config.node).runtime(tokio::runtime::Handle::current()),
    );
    let e = g.start().unwrap_err();
    assert!(e.contains("runtime"), "{e}");
    assert_eq!(g.last_error().unwrap().stage(), "runtime");
    assert_eq!(g.stop(), Err("gossiper not started"));
}

#[test]
fn a_taken_port_fails_start_with_the_stage_named() {
    // The automanaged (/_health) port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut config = lone_member("host-taken");
    config.node.provider =
        ProviderConfig::Automanaged(AutomanagedConfig::default().with_port(port));
    let host = Host::new(&config, None);
    let started = Instant::now();
    let e = host.start().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "start is bounded"
    );
    assert!(e.contains("provider"), "{e}");
    assert!(host.table().members.is_empty());
    assert_eq!(host.stop(), Err("gossiper not started"));

    // The same through the accessor, with the full error.
    let mut g = ClusterGossiper::with_config(GossiperConfig::new(config.node.clone()));
    assert!(g.start().unwrap_err().contains("provider"));
    let full = g.last_error().expect("the full error");
    assert_eq!(full.stage(), "provider");
    assert!(full.to_string().contains(&port.to_string()), "{full}");

    // The remoting port is taken.
    let mut config = lone_member("host-taken");
    config.advertised_port = port;
    let host = Host::new(&config, None);
    let e = host.start().unwrap_err();
    assert!(e.contains("transport"), "{e}");

    // An invalid configuration.
    let mut config = lone_member("host-taken");
    config.node.cluster_name = String::new();
    let mut g = ClusterGossiper::with_config(GossiperConfig::new(config.node));
    assert!(g.start().unwrap_err().contains("configuration"));
    assert_eq!(g.last_error().unwrap().stage(), "configuration");
}

// --- A mixed cluster: the host's table against a Go member's view. ------

const CLUSTER: &str = "host-mixed";
const REFRESH: Duration = Duration::from_millis(400);
const EXPIRATION: Duration = Duration::from_secs(4);
const DEADLINE: Duration = Duration::from_secs(30);

/// Go's `/view`: (sorted member ids, topology hash as a decimal string).
fn go_members(v: &Value) -> (Vec<String>, String) {
    (mixed::members(true, v), mixed::topology_hash(true, v))
}

/// Polls until the host's table and `go`'s view agree on `want` (the
/// member ids, sorted) and the topology hash, and `extra` holds on the
/// table.
async fn wait_agree(
    host: &Host,
    go: &GoNode,
    want: &[String],
    what: &str,
    extra: impl Fn(&HostCore) -> bool,
) {
    let start = Instant::now();
    loop {
        let view = go.view().await;
        let ok = {
            let table = host.table();
            let ours = (table.active_ids(), table.topology_hash.to_string());
            match &view {
                Ok(v) => {
                    go_members(v) == ours
                        && ours.0 == want
                        && table.consensus.is_some()
                        && extra(&table)
                }
                Err(_) => false,
            }
        };
        if ok {
            return;
        }
        if start.elapsed() > DEADLINE {
            let table = host.table();
            panic!(
                "{what}: not within {DEADLINE:?}\nhost table: {:?}\nhash {} consensus {:?}\nlog {:?}\nGo view: {view:?}\nGo log:\n{}",
                table.members,
                table.topology_hash,
                table.consensus,
                table.log,
                go.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_table_matches_a_go_members_view() {
    let health: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let hosts = health
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut starts = Vec::new();
    for port in &health[..3] {
        let args = mixed::go_automanaged_args(CLUSTER, *port, &hosts, REFRESH, EXPIRATION);
        starts.push(tokio::spawn(async move { GoNode::start(&args).await }));
    }
    let config = HostClusterConfig {
        advertised_host: "127.0.0.1".into(),
        advertised_port: free_port(),
        node: NodeConfig::default()
            .with_cluster_name(CLUSTER)
            .with_kinds(["echo"])
            .with_provider(ProviderConfig::Automanaged(
                AutomanagedConfig::default()
                    .with_port(health[3])
                    .with_hosts(hosts.split(','))
                    .with_refresh(REFRESH),
            ))
            .with_gossip(GossipConfig::default().with_heartbeat_expiration(EXPIRATION))
            .with_http(None),
    };
    let host = Host::new(&config, None);
    host.start().expect("start");
    host.wait_for("our own member", |t| !t.members.is_empty());
    let self_id = host.table().members.keys().next().cloned().unwrap();
    let mut go = Vec::new();
    for s in starts {
        go.push(s.await.unwrap());
    }

    // Joins: four members, the same ids and hash on both sides.
    let mut want: Vec<String> = go.iter().map(|g| g.id.clone()).collect();
    want.push(self_id.clone());
    want.sort();
    wait_agree(&host, &go[0], &want, "joins", |t| {
        t.members.values().all(|m| m.state == HostState::Up)
    })
    .await;
    {
        let table = host.table();
        for g in &go {
            assert_eq!(table.members[&g.id].address, g.address);
        }
        assert_eq!(table.members[&self_id].kinds, vec!["echo".to_owned()]);
    }

    // kill -9 of a Go member: quarantined on the host's side.
    let killed = go[1].id.clone();
    go[1].kill().await;
    want.retain(|id| *id != killed);
    wait_agree(&host, &go[0], &want, "kill -9", |t| {
        t.quarantined.contains(&killed)
    })
    .await;

    // A Go member's graceful leave: gone from the host's table, either as
    // a leave or as a block (whichever the provider or `left` shows first).
    let leaving = go[2].id.clone();
    go[2].shutdown(true).await;
    want.retain(|id| *id != leaving);
    wait_agree(&host, &go[0], &want, "graceful leave", |t| {
        t.removed.contains(&leaving) || t.quarantined.contains(&leaving)
    })
    .await;

    {
        let log = &host.table().log;
        let about = |id: &str| {
            log.iter()
                .filter(|l| l.starts_with(id))
                .cloned()
                .collect::<Vec<_>>()
        };
        eprintln!(
            "host saw: killed {:?}, left {:?}",
            about(&killed),
            about(&leaving)
        );
    }

    // Our own graceful leave, from the host's shutdown on this worker.
    let bound = GossiperConfig::new(config.node.clone()).stop_bound();
    let stopping = Instant::now();
    host.stop().expect("stop");
    assert!(stopping.elapsed() < bound);
    assert!(host.table().removed.contains(&self_id));
    let start = Instant::now();
    loop {
        if let Ok(v) = go[0].view().await
            && !go_members(&v).0.contains(&self_id)
        {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the Go member still lists us:\n{}",
            go[0].log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
