//! Loopback transport fixtures shared by the `remote_*` tests: PIDs, a
//! gossip request, nodes that answer gossip, and deadline-bounded waits on
//! events and metrics. Included with `#[path]` by the test files that need it.

#![allow(dead_code)]

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use protogossip::{
    remote::{
        BackoffConfig, Handlers, Remote, RemoteConfig, RemoteEvent, RemoteHandle,
        RemoteMetricsSnapshot,
    },
    wire::proto::{
        actor::Pid,
        cluster::{GossipRequest, GossipResponse, GossipState},
    },
};
use tokio::{sync::broadcast, time::timeout};

/// How long the loopback tests wait for an event or a metric.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A PID with no request id.
pub fn pid(address: &str, id: &str) -> Pid {
    Pid {
        address: address.into(),
        id: id.into(),
        request_id: 0,
    }
}

/// The default config, listening on `bind` (to restart a node at the same address).
pub fn config_bound_to(bind: SocketAddr) -> RemoteConfig {
    RemoteConfig::default().with_bind(bind)
}

/// Reconnect backoff of a flat 10 ms, giving up after `max_attempts` dials.
pub fn quick_backoff(max_attempts: u32) -> BackoffConfig {
    BackoffConfig::default()
        .with_initial(Duration::from_millis(10))
        .with_max(Duration::from_millis(10))
        .with_max_attempts(max_attempts)
}

/// A gossip request from member `t` with an empty state.
pub fn gossip_request() -> GossipRequest {
    GossipRequest {
        from_member_id: "t".into(),
        state: Some(GossipState::default()),
    }
}

/// The answer of the fixture nodes' gossip handlers: an empty state.
pub fn empty_gossip_response() -> GossipResponse {
    GossipResponse {
        state: Some(GossipState::default()),
    }
}

/// Starts a node on loopback whose gossip handler answers `empty_gossip_response()`.
pub async fn gossip_node(config: RemoteConfig) -> RemoteHandle {
    let handlers = Handlers::new().with_gossip(|_s, _r| async { empty_gossip_response() });
    Remote::start(config, handlers).await.expect("start remote")
}

/// Like `gossip_node`, and counts the gossip requests it answers (each must name a sender).
pub async fn counting_gossip_node(config: RemoteConfig) -> (RemoteHandle, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    let handlers = Handlers::new().with_gossip(move |sender: Option<Pid>, _r: GossipRequest| {
        c.fetch_add(1, Ordering::SeqCst);
        async move {
            assert!(sender.is_some());
            empty_gossip_response()
        }
    });
    let handle = Remote::start(config, handlers).await.expect("start remote");
    (handle, count)
}

/// Shuts the handles down gracefully, one after the other.
pub async fn shutdown_all(handles: impl IntoIterator<Item = RemoteHandle>) {
    for h in handles {
        h.shutdown(true).await;
    }
}

/// The first event matching `pred` within `deadline`; `None` if the deadline
/// passes or the channel closes first.
pub async fn next_event(
    rx: &mut broadcast::Receiver<RemoteEvent>,
    deadline: Duration,
    pred: impl Fn(&RemoteEvent) -> bool,
) -> Option<RemoteEvent> {
    timeout(deadline, async {
        loop {
            match rx.recv().await {
                Ok(e) if pred(&e) => return Some(e),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// The first event matching `pred`; panics if none comes within `DEADLINE`.
pub async fn wait_event(
    rx: &mut broadcast::Receiver<RemoteEvent>,
    pred: impl Fn(&RemoteEvent) -> bool,
) -> RemoteEvent {
    next_event(rx, DEADLINE, pred)
        .await
        .expect("event not seen before the deadline (or the event channel closed)")
}

/// Waits until `h`'s metrics satisfy `pred`; panics with them after `DEADLINE`.
pub async fn wait_metric(h: &RemoteHandle, pred: impl Fn(&RemoteMetricsSnapshot) -> bool) {
    timeout(DEADLINE, async {
        loop {
            if pred(&h.metrics()) {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("metric condition not met: {:?}", h.metrics()));
}
