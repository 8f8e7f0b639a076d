//! Rust nodes hosting a kind: activation, generated-style grain calls,
//! plain requests, every kind of bad input, `ActivationTerminated` and
//! activations moving when the topology changes. A plain Rust remote plays
//! the Go caller (the same envelopes Go sends). Real sockets on loopback;
//! every wait is bounded.

#[path = "support/http.rs"]
mod http;
#[path = "support/net.rs"]
mod net;
#[path = "support/promtool.rs"]
mod promtool;

use std::time::{Duration, Instant};

use net::free_port;
use prost::Message as _;
use protogossip::{
    gossip::GossipConfig,
    grain::{
        Grain, GrainContext, GrainError, GrainHost, GrainHostHandle, GrainMethods, KindOptions,
        reason,
    },
    node::{NodeConfig, NodeHandle},
    placement::Rendezvous,
    provider::automanaged::AutomanagedConfig,
    remote::{ActorMessage, Handlers, Header, RawMessage, Remote, RemoteConfig, RemoteHandle},
    wire::{
        WireMessage,
        proto::{
            actor::Pid,
            cluster::{
                ActivationRequest, ActivationResponse, ClusterIdentity, GrainErrorResponse,
                GrainRequest, Member,
            },
        },
    },
};

const KIND: &str = "Hello";
const WAIT: Duration = Duration::from_secs(5);

/// Method 0 answers its node and identity; 1 fails; 2 panics. A plain
/// `actor.PID` is answered with `plain:<identity>`.
struct Hello;

impl Grain for Hello {
    fn methods() -> GrainMethods<Self> {
        GrainMethods::new()
            .method(
                0,
                "WhoAmI",
                |_g: &mut Hello, ctx: &mut GrainContext, _req: Pid| {
                    Ok(Pid {
                        address: ctx.self_pid().address.clone(),
                        id: ctx.identity().to_owned(),
                        request_id: 0,
                    })
                },
            )
            .method(
                1,
                "Fail",
                |_g: &mut Hello, _ctx: &mut GrainContext, _req: Pid| {
                    Err::<Pid, _>(
                        GrainError::new(reason::NOT_FOUND, "nothing here").with_metadata("k", "v"),
                    )
                },
            )
            .method(
                2,
                "Panic",
                |_g: &mut Hello, _ctx: &mut GrainContext, _req: Pid| {
                    if true {
                        panic!("grain bug");
                    }
                    Ok(Pid::default())
                },
            )
    }

    async fn receive(&mut self, ctx: &mut GrainContext, message: ActorMessage) {
        if message.into_message::<Pid>().is_ok() {
            let answer = Pid {
                id: format!("plain:{}", ctx.identity()),
                ..Pid::default()
            };
            let _ = ctx.respond(&answer);
        }
    }
}

fn node_config(cluster: &str, health: u16, hosts: &[String]) -> NodeConfig {
    NodeConfig::default()
        .with_cluster_name(cluster)
        .with_provider(
            AutomanagedConfig::default()
                .with_port(health)
                .with_hosts(hosts.to_vec())
                .with_refresh(Duration::from_millis(200)),
        )
        .with_gossip(GossipConfig::default().with_heartbeat_expiration(Duration::from_secs(3)))
        .with_http(Some("127.0.0.1:0".parse().unwrap()))
}

async fn start_host(cluster: &str, health: u16, hosts: &[String]) -> (NodeHandle, GrainHostHandle) {
    GrainHost::new()
        .kind(KIND, |_ci: &ClusterIdentity| Hello)
        .start(node_config(cluster, health, hosts))
        .await
        .unwrap()
}

async fn caller() -> RemoteHandle {
    Remote::start(RemoteConfig::default(), Handlers::new())
        .await
        .unwrap()
}

fn identity(kind: &str, id: &str) -> ClusterIdentity {
    ClusterIdentity {
        identity: id.into(),
        kind: kind.into(),
    }
}

/// What Go's disthash `Manager.Get` sends.
async fn activate(
    caller: &RemoteHandle,
    node: &str,
    ci: Option<ClusterIdentity>,
) -> ActivationResponse {
    let activator = Pid {
        address: node.into(),
        id: "partition-activator".into(),
        request_id: 0,
    };
    let request = ActivationRequest {
        cluster_identity: ci,
        request_id: String::new(),
        topology_hash: 0,
    };
    caller
        .request_message(activator, &request, WAIT)
        .await
        .unwrap()
}

/// What a generated Go client sends.
async fn grain_call(caller: &RemoteHandle, pid: &Pid, index: i32, data: Vec<u8>) -> ActorMessage {
    let request = GrainRequest {
        method_index: index,
        message_data: data,
        message_type_name: String::new(),
    };
    caller
        .ask(
            pid.clone(),
            RawMessage::from(WireMessage::from(request)),
            Header::new(),
            WAIT,
        )
        .await
        .unwrap()
}

fn grain_error(answer: ActorMessage) -> GrainErrorResponse {
    answer.into_message::<GrainErrorResponse>().unwrap()
}

/// The next `ActivationTerminated` on our eventstream, within [`WAIT`]
/// (`when` names the step in the failure).
async fn activation_terminated(
    eventstream: &mut protogossip::remote::broadcast::Receiver<
        protogossip::remote::EventStreamMessage,
    >,
    when: &str,
) -> protogossip::wire::proto::cluster::ActivationTerminated {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = tokio::time::timeout(left, eventstream.recv())
            .await
            .unwrap_or_else(|_| panic!("no ActivationTerminated {when}"))
            .unwrap();
        if let WireMessage::ActivationTerminated(t) = m.message {
            return t;
        }
    }
}

async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_calls_and_bad_input() {
    let health = free_port();
    let (node, grains) = start_host("grains-one", health, &[format!("127.0.0.1:{health}")]).await;
    let mut eventstream = node.remote().subscribe_eventstream();
    let c = caller().await;
    let address = node.address().to_owned();

    // Activation: a new grain, named as Go's SpawnPrefix names it; the same
    // identity again is the same activation.
    let first = activate(&c, &address, Some(identity(KIND, "alice"))).await;
    let pid = first.pid.clone().unwrap();
    assert!(!first.failed);
    assert_eq!(pid.address, address);
    assert_eq!(pid.id, "partition-activator/alice$1");
    let again = activate(&c, &address, Some(identity(KIND, "alice"))).await;
    assert_eq!(again.pid, Some(pid.clone()));
    let bob = activate(&c, &address, Some(identity(KIND, "bob")))
        .await
        .pid
        .unwrap();
    assert_eq!(bob.id, "partition-activator/bob$2");
    assert_eq!(grains.activations().len(), 2);

    // A generated-client call: the typed answer, not a GrainResponse.
    let who: Pid = grain_call(&c, &pid, 0, Pid::default().encode_to_vec())
        .await
        .into_message()
        .unwrap();
    assert_eq!(
        (who.address.as_str(), who.id.as_str()),
        (address.as_str(), "alice")
    );

    // A plain cluster.Request with a registered message.
    let plain: Pid = c
        .request_message(pid.clone(), &Pid::default(), WAIT)
        .await
        .unwrap();
    assert_eq!(plain.id, "plain:alice");

    // Bad input, each answered and counted.
    let unknown_kind = activate(&c, &address, Some(identity("Nope", "x"))).await;
    assert!(unknown_kind.failed && unknown_kind.pid.is_none());
    let no_identity = activate(&c, &address, None).await;
    assert!(no_identity.failed && no_identity.pid.is_none());
    let malformed = grain_error(grain_call(&c, &pid, 0, vec![0xff, 0xff, 0xff]).await);
    assert_eq!(malformed.reason, reason::INVALID_ARGUMENT);
    assert_eq!(
        malformed.metadata.get("argument").map(String::as_str),
        Some("")
    );
    let unknown_method = grain_error(grain_call(&c, &pid, 7, Vec::new()).await);
    assert_eq!(unknown_method.reason, reason::UNIMPLEMENTED);
    let failed = grain_error(grain_call(&c, &pid, 1, Vec::new()).await);
    assert_eq!(
        (failed.reason.as_str(), failed.message.as_str()),
        (reason::NOT_FOUND, "nothing here")
    );
    assert_eq!(failed.metadata.get("k").map(String::as_str), Some("v"));
    let panicked = grain_error(grain_call(&c, &pid, 2, Vec::new()).await);
    assert_eq!(panicked.reason, reason::INTERNAL);
    assert!(
        panicked.message.contains("grain bug"),
        "{}",
        panicked.message
    );

    // The panicked grain stopped: ActivationTerminated reached our
    // eventstream (Go's BroadcastEvent includes self) and it is forgotten.
    let terminated = activation_terminated(&mut eventstream, "after the panic").await;
    assert_eq!(terminated.pid, Some(pid.clone()));
    assert_eq!(terminated.cluster_identity, Some(identity(KIND, "alice")));
    wait_until("alice forgotten", || grains.activations().len() == 1).await;

    // The node keeps serving: alice is activated afresh.
    let fresh = activate(&c, &address, Some(identity(KIND, "alice")))
        .await
        .pid
        .unwrap();
    assert_ne!(fresh, pid);
    let who: Pid = grain_call(&c, &fresh, 0, Vec::new())
        .await
        .into_message()
        .unwrap();
    assert_eq!(who.id, "alice");

    let m = grains.metrics();
    assert_eq!(m.activations_started, 3);
    assert_eq!(m.activations_found, 1);
    assert_eq!(m.activations_unknown_kind, 1);
    assert_eq!(m.activations_malformed, 1);
    assert_eq!(m.grain_requests_malformed, 1);
    assert_eq!(m.grain_requests_unknown_method, 1);
    assert_eq!(m.grain_method_errors, 1);
    assert_eq!(m.grain_method_panics, 1);
    assert_eq!(m.activations_terminated, 1);
    assert_eq!(m.grain_requests, 6);
    // The same counters on the node's /metrics, which promtool accepts.
    let page = http::get(&node.http_address().unwrap().to_string(), "/metrics")
        .await
        .unwrap();
    for (name, value) in m.fields() {
        let series = format!(
            "protogossip_grain_{}_total",
            name.strip_prefix("grain_").unwrap_or(name)
        );
        assert!(
            page.body.lines().any(|l| l == format!("{series} {value}")),
            "{series} {value} not on /metrics:\n{}",
            page.body
        );
    }
    promtool::check_metrics(&promtool::require(), &page.body);

    c.shutdown(true).await;
    node.shutdown(true).await.unwrap();
}

/// A second member hosting the kind joins: the first poisons exactly the
/// activations Go's placement now gives the newcomer, and keeps the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activations_move_when_the_topology_places_them_elsewhere() {
    let (ha, hb) = (free_port(), free_port());
    let hosts = [format!("127.0.0.1:{ha}"), format!("127.0.0.1:{hb}")];
    let (a, grains_a) = start_host("grains-move", ha, &hosts).await;
    let c = caller().await;
    let ids: Vec<String> = (0..40).map(|i| format!("user-{i}")).collect();
    for id in &ids {
        let r = activate(&c, a.address(), Some(identity(KIND, id))).await;
        assert!(r.pid.is_some());
    }
    assert_eq!(grains_a.activations().len(), ids.len());

    let (b, _grains_b) = start_host("grains-move", hb, &hosts).await;
    // Who owns what once both are members, by the same placement as Go.
    let member = |n: &NodeHandle| {
        let (host, port) = n.address().rsplit_once(':').unwrap();
        Member {
            host: host.into(),
            port: port.parse().unwrap(),
            id: n.id(),
            kinds: vec![KIND.into()],
        }
    };
    let placement = Rendezvous::new(&[member(&a), member(&b)]);
    // Sorted as the activation table's keys are.
    let stay: std::collections::BTreeSet<String> = ids
        .iter()
        .filter(|id| placement.owner_address(KIND, id) == Some(a.address()))
        .map(|id| format!("{KIND}/{id}"))
        .collect();
    assert!(!stay.is_empty() && stay.len() < ids.len(), "{stay:?}");
    wait_until("moved activations stopped", || {
        grains_a
            .activations()
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            == stay
    })
    .await;
    let m = grains_a.metrics();
    assert_eq!(m.activations_moved as usize, ids.len() - stay.len());
    assert_eq!(m.activations_terminated as usize, ids.len() - stay.len());

    c.shutdown(true).await;
    b.shutdown(true).await.unwrap();
    a.shutdown(true).await.unwrap();
}

/// Passivation, as Go's generated kinds do it: an activation that gets no
/// message for its kind's idle timeout stops, its `ActivationTerminated` is
/// broadcast, and the next `ActivationRequest` activates the identity
/// afresh. (The timer itself is tested on virtual time in `remote`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_activation_is_passivated_and_activated_afresh() {
    let health = free_port();
    let idle = Duration::from_millis(300);
    let (node, grains) = GrainHost::new()
        .kind_with(
            KIND,
            KindOptions::default().with_idle_timeout(idle),
            |_ci: &ClusterIdentity| Hello,
        )
        .start(node_config(
            "grains-idle",
            health,
            &[format!("127.0.0.1:{health}")],
        ))
        .await
        .unwrap();
    let mut eventstream = node.remote().subscribe_eventstream();
    let c = caller().await;
    let first = activate(&c, node.address(), Some(identity(KIND, "carol")))
        .await
        .pid
        .unwrap();
    let terminated = activation_terminated(&mut eventstream, "after the idle timeout").await;
    assert_eq!(terminated.pid, Some(first.clone()));
    wait_until("carol forgotten", || grains.activations().is_empty()).await;
    assert_eq!(node.remote().metrics().actor_idle_stops, 1);

    let fresh = activate(&c, node.address(), Some(identity(KIND, "carol")))
        .await
        .pid
        .unwrap();
    assert_ne!(fresh, first);
    assert_eq!(grains.metrics().activations_started, 2);

    c.shutdown(true).await;
    node.shutdown(true).await.unwrap();
}
