//! Starting a node on bound listeners, in protoactor-go's order: transport,
//! gossip core (with the topology consensus check), provider, then
//! `/status` and the driver.
//!
//! The listeners are bound already, so only two steps can fail once
//! something runs: the transport (TLS material) and the provider (an
//! unreachable etcd). The one thing to undo is then the transport, in one
//! place.

use std::{collections::BTreeSet, sync::Arc};

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    Listener, NodeConfig, NodeError, NodeHandle, NodeListeners, NodeMetrics, TopologyView,
    driver::{Command, Driver, INBOUND_ANSWER_DEADLINE, seeded_rng},
    health_hints, http,
    rejoin::{ListsUs, RejoinPolicy},
    rejoin_exec::Rejoin,
    seeds::Seeds,
};
use crate::{
    gossip::GossipCore,
    provider::{self, ProviderConfig, SelfMember},
    remote::{Handlers, Remote},
    wire::proto::{
        actor::Pid,
        cluster::{GossipRequest, GossipResponse},
    },
};

pub(super) async fn start(
    config: NodeConfig,
    base_id: String,
    listeners: NodeListeners,
) -> Result<NodeHandle, NodeError> {
    let automanaged = matches!(config.provider, ProviderConfig::Automanaged(_));
    if automanaged != listeners.health.is_some() {
        return Err(NodeError::Config(if automanaged {
            "the automanaged provider needs a /_health listener".into()
        } else {
            "a /_health listener was given, but the provider is not automanaged".into()
        }));
    }
    let remote_bound = listeners
        .remote
        .local_addr()
        .map_err(|source| NodeError::Listen {
            what: Listener::Remoting,
            address: format!("{:?}", listeners.remote),
            source,
        })?;
    // The advertised address is exactly host:port.
    let me = SelfMember {
        cluster_name: config.cluster_name.clone(),
        system_id: base_id,
        host: config.host.clone(),
        port: if config.port == 0 {
            remote_bound.port()
        } else {
            config.port
        },
        kinds: config.kinds.clone(),
    };
    let id = config.provider.member_id(&me);
    let core = GossipCore::new(&id, config.gossip.clone())?;
    let (id_tx, id_rx) = watch::channel(id.clone());
    // The automanaged `/_health` socket, twice: one handle for the provider,
    // one kept for the provider a rejoin starts (the port is never closed).
    let (health, health_spare) = match listeners.health {
        Some(l) => {
            let (l, spare) = share(l).map_err(|source| NodeError::Listen {
                what: Listener::AutomanagedHealth,
                address: "the bound /_health listener".into(),
                source,
            })?;
            (Some(l), Some(spare))
        }
        None => (None, None),
    };
    let (cmd_tx, cmd_rx) = mpsc::channel(1024);

    // 1. Transport.
    let mut remote_config = config.remote.clone();
    remote_config.system_id = id.clone();
    remote_config.bind = remote_bound;
    remote_config.advertised_address = Some(me.address());
    let remote = Remote::serve(listeners.remote, remote_config, handlers(&cmd_tx)).await?;
    let address = remote.address().to_owned();
    let remote_events = remote.subscribe_events();

    // 2. The gossip core exists; 3. the provider.
    let provider = match provider::serve(config.provider.clone(), me.clone(), health).await {
        Ok(p) => p,
        Err(e) => {
            remote.shutdown(false).await;
            return Err(e.into());
        }
    };

    // Nothing below fails: the node's tasks start.
    let tasks = TaskTracker::new();
    let stop = CancellationToken::new();
    let (events, _) = broadcast::channel(1024);
    let (topology_tx, topology_rx) = watch::channel(TopologyView::of(&core));
    let metrics = Arc::new(NodeMetrics::default());
    let mut handle = NodeHandle {
        commands: cmd_tx.clone(),
        events: events.downgrade(),
        topology: topology_rx,
        id: id_rx,
        address: address.clone(),
        http: None,
        tasks: tasks.clone(),
        remote: remote.clone(),
        metrics: Arc::clone(&metrics),
    };

    // 4. /status and /metrics.
    if let Some(listener) = listeners.http {
        handle.http = listener.local_addr().ok();
        let app = http::app(handle.clone(), remote.clone(), Arc::clone(&metrics));
        tasks.spawn(crate::http_server::serve(
            listener,
            app,
            stop.clone(),
            "/status",
        ));
    }

    let members_rx = provider.members();
    let seed_feed = provider.static_feed();
    if let (Some(feed), ProviderConfig::Static(c)) = (&seed_feed, &config.provider) {
        Seeds {
            seeds: c
                .seeds
                .iter()
                .filter(|s| !remote.is_own_address(s))
                .cloned()
                .collect(),
            remote: remote.clone(),
            events: remote_events,
            feed: feed.clone(),
            commands: cmd_tx.clone(),
            request_timeout: config.gossip.gossip_request_timeout,
            stop: stop.clone(),
            tasks: tasks.clone(),
        }
        .spawn();
    }
    // The poller that takes hints changes with a rejoin (a new provider):
    // the forwarder reads the current one from this watch.
    let (hints_tx, hints_rx) = watch::channel(provider.health_hints());
    let forward = health_hints::forward(remote.subscribe_events(), events.subscribe(), hints_rx);
    tasks.spawn(stop.clone().run_until_cancelled_owned(forward));
    let rejoin = Rejoin {
        policy: RejoinPolicy::new(config.rejoin.clone(), config.gossip.heartbeat_expiration),
        lists_us: ListsUs::default(),
        me,
        provider: config.provider.clone(),
        gossip: config.gossip.clone(),
        health: health_spare,
        app_keys: BTreeSet::new(),
        id: id_tx,
        previous_ids: Vec::new(),
        remote_events: remote.subscribe_events(),
        health_hints: hints_tx,
        pending: None,
    };
    let driver = Driver {
        interval: config.gossip.gossip_interval,
        request_timeout: config.gossip.gossip_request_timeout,
        leave_rounds: config.leave_rounds,
        cluster: config.cluster_name,
        core,
        remote,
        provider: Some(provider),
        members_rx,
        cmd_tx,
        events,
        topology: topology_tx,
        metrics,
        seed_feed,
        rng: seeded_rng(),
        address,
        stop,
        tasks: tasks.clone(),
        rejoin,
    };
    tracing::info!(id = %handle.id(), address = %handle.address, http = ?handle.http, "node started");
    tasks.spawn(driver.run(cmd_rx));
    // Closed now, `wait()` returns when the last task has ended; the driver
    // outlives every task it spawns, so the tracker is never empty before.
    tasks.close();
    Ok(handle)
}

/// A listener and a second handle of the same socket.
fn share(
    listener: tokio::net::TcpListener,
) -> std::io::Result<(tokio::net::TcpListener, std::net::TcpListener)> {
    let std = listener.into_std()?;
    let spare = std.try_clone()?;
    Ok((tokio::net::TcpListener::from_std(std)?, spare))
}

/// The transport's gossip handler: hands a peer's request to the driver and
/// answers with the driver's response (empty if the driver is slow or gone).
fn handlers(commands: &mpsc::Sender<Command>) -> Handlers {
    let commands = commands.clone();
    Handlers::new().with_gossip(move |sender: Option<Pid>, request: GossipRequest| {
        let tx = commands.clone();
        async move {
            let (reply, answer) = oneshot::channel();
            let from = sender.map(|p| p.address).unwrap_or_default();
            if tx
                .send(Command::Inbound {
                    from,
                    request,
                    reply,
                })
                .await
                .is_err()
            {
                return GossipResponse::default();
            }
            tokio::time::timeout(INBOUND_ANSWER_DEADLINE, answer)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default()
        }
    })
}
