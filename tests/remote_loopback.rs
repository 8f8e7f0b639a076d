//! Rust ↔ Rust over loopback: requests, routing, endpoints, block list,
//! batching and shutdown. Every wait has a deadline; nothing sleeps.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use protogossip::{
    remote::{
        BackoffConfig, Handlers, Remote, RemoteConfig, RemoteEvent, RemoteHandle,
        RemoteMetricsSnapshot, TerminationReason, TransportError,
    },
    wire::{
        WireMessage,
        proto::{
            actor::Pid,
            cluster::{
                ActivationRequest, ActivationResponse, GossipRequest, GossipResponse, GossipState,
                GrainResponse,
            },
        },
    },
};
use tokio::{
    sync::{Notify, broadcast},
    time::timeout,
};

const DEADLINE: Duration = Duration::from_secs(10);
const REQ: Duration = Duration::from_secs(5);

fn pid(address: &str, id: &str) -> Pid {
    Pid {
        address: address.into(),
        id: id.into(),
        request_id: 0,
    }
}

fn req() -> GossipRequest {
    GossipRequest {
        from_member_id: "t".into(),
        state: Some(GossipState::default()),
    }
}

/// A node whose gossip handler answers and counts.
async fn node(config: RemoteConfig) -> (RemoteHandle, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    let handlers = Handlers::new().with_gossip(move |sender: Option<Pid>, _r: GossipRequest| {
        c.fetch_add(1, Ordering::SeqCst);
        async move {
            assert!(sender.is_some());
            GossipResponse {
                state: Some(GossipState::default()),
            }
        }
    });
    (Remote::start(config, handlers).await.unwrap(), count)
}

async fn wait_for(
    rx: &mut broadcast::Receiver<RemoteEvent>,
    pred: impl Fn(&RemoteEvent) -> bool,
) -> RemoteEvent {
    timeout(DEADLINE, async {
        loop {
            match rx.recv().await {
                Ok(e) if pred(&e) => return e,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event channel closed: {e}"),
            }
        }
    })
    .await
    .expect("event not seen before the deadline")
}

async fn wait_metric(h: &RemoteHandle, pred: impl Fn(&RemoteMetricsSnapshot) -> bool) {
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

fn fast_backoff() -> BackoffConfig {
    BackoffConfig {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(20),
        max_attempts: 2,
    }
}

#[tokio::test]
async fn gossip_request_is_answered_over_the_responders_own_connection() {
    let (a, _) = node(RemoteConfig::default()).await;
    let (b, b_calls) = node(RemoteConfig::default()).await;
    let answer = a.request(pid(b.address(), "gossip"), req(), REQ).await;
    assert_eq!(
        answer,
        Ok(WireMessage::GossipResponse(GossipResponse {
            state: Some(GossipState::default())
        }))
    );
    assert_eq!(b_calls.load(Ordering::SeqCst), 1);
    // Two one-directional connections: A dialled B, B dialled A back.
    assert_eq!(a.endpoints(), [b.address().to_owned()]);
    assert_eq!(b.endpoints(), [a.address().to_owned()]);
    assert_eq!(a.metrics().inbound_handshakes, 1);
    assert_eq!(b.metrics().inbound_handshakes, 1);
    // The handshakes taught each side the other's system id.
    assert_eq!(
        a.block_list().system_id_at(b.address()).as_deref(),
        Some(b.system_id())
    );
    assert_eq!(
        b.block_list().system_id_at(a.address()).as_deref(),
        Some(a.system_id())
    );
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn routing_of_standard_ids() {
    let (a, _) = node(RemoteConfig::default()).await;
    let (b, _) = node(RemoteConfig::default()).await;
    let mut b_events = b.subscribe_eventstream();

    // Unknown id: DeadLetterResponse with the target set.
    let err = a.request(pid(b.address(), "nobody"), req(), REQ).await;
    assert_eq!(
        err,
        Err(TransportError::DeadLetter {
            target: Some(pid(b.address(), "nobody"))
        })
    );

    // partition-activator: a refusal the Go caller understands.
    let act = a
        .request(
            pid(b.address(), "partition-activator"),
            ActivationRequest {
                topology_hash: 42,
                ..Default::default()
            },
            REQ,
        )
        .await;
    assert_eq!(
        act,
        Ok(WireMessage::ActivationResponse(ActivationResponse {
            pid: None,
            failed: true,
            topology_hash: 42
        }))
    );

    // eventstream: published to subscribers, never answered.
    a.send(
        pid(b.address(), "eventstream"),
        GossipResponse::default(),
        None,
    )
    .unwrap();
    let ev = timeout(DEADLINE, b_events.recv()).await.unwrap().unwrap();
    assert_eq!(
        ev.message,
        WireMessage::GossipResponse(GossipResponse::default())
    );

    // A DeadLetterResponse for an unknown id is dropped, not answered.
    a.send(
        pid(b.address(), "nobody"),
        protogossip::wire::proto::actor::DeadLetterResponse::default(),
        Some(a.pid("future$zz")),
    )
    .unwrap();
    wait_metric(&b, |m| m.envelopes_dead_lettered >= 2).await;
    assert_eq!(
        b.metrics().dead_letter_responses_sent,
        1,
        "only the first request"
    );
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn own_address_is_local_and_aliases_are_delivered_by_id() {
    let (a, a_calls) = node(RemoteConfig::default()).await;
    // Exactly our address: handled locally, no endpoint, no connection.
    let local = a.request(a.pid("gossip"), req(), REQ).await;
    assert!(
        matches!(local, Ok(WireMessage::GossipResponse(_))),
        "{local:?}"
    );
    assert!(a.endpoints().is_empty());
    assert_eq!(a_calls.load(Ordering::SeqCst), 1);

    // localhost:<port> is another string: a remote endpoint to ourselves,
    // and the envelope (target address localhost) is still delivered by id.
    let port = a.local_addr().port();
    let alias = a
        .request(pid(&format!("localhost:{port}"), "gossip"), req(), REQ)
        .await;
    assert!(
        matches!(alias, Ok(WireMessage::GossipResponse(_))),
        "{alias:?}"
    );
    assert_eq!(a.endpoints(), [format!("localhost:{port}")]);
    assert_eq!(a.metrics().envelopes_foreign_address, 1);
    a.shutdown(true).await;
}

#[tokio::test]
async fn request_timeout_and_late_response() {
    let release = Arc::new(Notify::new());
    let r = Arc::clone(&release);
    let b = Remote::start(
        RemoteConfig::default(),
        Handlers::new().with_gossip(move |_s, _r| {
            let r = Arc::clone(&r);
            async move {
                r.notified().await;
                GossipResponse::default()
            }
        }),
    )
    .await
    .unwrap();
    let (a, _) = node(RemoteConfig::default()).await;
    let res = a
        .request(
            pid(b.address(), "gossip"),
            req(),
            Duration::from_millis(200),
        )
        .await;
    assert_eq!(res, Err(TransportError::Timeout));
    assert_eq!(a.metrics().requests_timed_out, 1);
    wait_metric(&b, |m| m.gossip_requests == 1).await;
    release.notify_one();
    wait_metric(&a, |m| m.late_responses == 1).await;
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn blocked_peer_gets_blocked_handshake_and_its_batches_are_dropped() {
    let (a, _) = node(RemoteConfig::default()).await;
    let (b, b_calls) = node(RemoteConfig::default()).await;
    let mut a_events = a.subscribe_events();
    b.block(a.system_id());
    let res = a
        .request(
            pid(b.address(), "gossip"),
            req(),
            Duration::from_millis(300),
        )
        .await;
    assert_eq!(res, Err(TransportError::Timeout));
    let ev = wait_for(&mut a_events, |e| {
        matches!(e, RemoteEvent::EndpointConnected { .. })
    })
    .await;
    assert_eq!(
        ev,
        RemoteEvent::EndpointConnected {
            address: b.address().into(),
            member_id: b.system_id().into(),
            blocked: true
        }
    );
    assert_eq!(a.metrics().blocked_by_peer, 1);
    wait_metric(&b, |m| m.inbound_batches_blocked >= 1).await;
    assert_eq!(b_calls.load(Ordering::SeqCst), 0);
    assert_eq!(b.metrics().inbound_handshakes_blocked, 1);

    // Blocking by id also stops us dialling its (learned) address.
    a.block(b.system_id());
    wait_for(&mut a_events, |e| {
        matches!(
            e,
            RemoteEvent::EndpointTerminated {
                reason: TerminationReason::Blocked,
                ..
            }
        )
    })
    .await;
    assert_eq!(
        a.send(pid(b.address(), "gossip"), req(), None),
        Err(TransportError::Blocked {
            address: b.address().into()
        })
    );
    assert_eq!(a.metrics().outbound_refused_blocked, 1);
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn remove_endpoint_terminates_and_next_send_redials() {
    let (a, _) = node(RemoteConfig::default()).await;
    let (b, _) = node(RemoteConfig::default()).await;
    let mut events = a.subscribe_events();
    a.request(pid(b.address(), "gossip"), req(), REQ)
        .await
        .unwrap();
    assert!(a.remove_endpoint(b.address()));
    assert!(!a.remove_endpoint(b.address()));
    let ev = wait_for(&mut events, |e| {
        matches!(e, RemoteEvent::EndpointTerminated { .. })
    })
    .await;
    assert_eq!(
        ev,
        RemoteEvent::EndpointTerminated {
            address: b.address().into(),
            reason: TerminationReason::Removed
        }
    );
    assert!(a.endpoints().is_empty());
    a.request(pid(b.address(), "gossip"), req(), REQ)
        .await
        .unwrap();
    assert_eq!(a.metrics().endpoints_connected, 2);
    assert_eq!(b.metrics().inbound_handshakes, 2);
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn peer_shutdown_terminates_endpoint_and_restart_reconnects() {
    let (a, _) = node(RemoteConfig::default()).await;
    let (b, _) = node(RemoteConfig::default()).await;
    let bound = b.local_addr();
    let mut events = a.subscribe_events();
    a.request(pid(b.address(), "gossip"), req(), REQ)
        .await
        .unwrap();
    b.shutdown(true).await;
    let ev = wait_for(&mut events, |e| {
        matches!(e, RemoteEvent::EndpointTerminated { .. })
    })
    .await;
    assert_eq!(
        ev,
        RemoteEvent::EndpointTerminated {
            address: b.address().into(),
            reason: TerminationReason::DisconnectRequest
        }
    );
    // A hard shutdown ends the stream with an error status, no DisconnectRequest.
    let (b2, _) = node(RemoteConfig {
        bind: bound,
        ..RemoteConfig::default()
    })
    .await;
    a.request(pid(b2.address(), "gossip"), req(), REQ)
        .await
        .unwrap();
    b2.shutdown(false).await;
    let ev = wait_for(&mut events, |e| {
        matches!(e, RemoteEvent::EndpointTerminated { .. })
    })
    .await;
    assert!(
        matches!(
            ev,
            RemoteEvent::EndpointTerminated {
                reason: TerminationReason::StreamEnded(_),
                ..
            }
        ),
        "{ev:?}"
    );
    let (b3, _) = node(RemoteConfig {
        bind: bound,
        ..RemoteConfig::default()
    })
    .await;
    a.request(pid(b3.address(), "gossip"), req(), REQ)
        .await
        .unwrap();
    assert_eq!(a.metrics().endpoints_connected, 3);
    a.shutdown(true).await;
    b3.shutdown(true).await;
}

#[tokio::test]
async fn unreachable_peer_fails_queued_requests_after_backoff() {
    let (a, _) = node(RemoteConfig {
        backoff: fast_backoff(),
        connect_timeout: Duration::from_millis(500),
        ..RemoteConfig::default()
    })
    .await;
    let mut events = a.subscribe_events();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("127.0.0.1:{port}");
    let res = a.request(pid(&dead, "gossip"), req(), REQ).await;
    assert_eq!(
        res,
        Err(TransportError::EndpointTerminated {
            address: dead.clone()
        })
    );
    let ev = wait_for(&mut events, |e| {
        matches!(e, RemoteEvent::EndpointTerminated { .. })
    })
    .await;
    assert!(
        matches!(ev, RemoteEvent::EndpointTerminated { ref address, reason: TerminationReason::ConnectFailed(_) } if *address == dead),
        "{ev:?}"
    );
    assert_eq!(a.metrics().connect_failures, 2);
    assert!(a.endpoints().is_empty());
    a.shutdown(true).await;
}

#[tokio::test]
async fn many_messages_are_batched_in_order_below_the_limits() {
    let (a, _) = node(RemoteConfig::default()).await;
    // The eventstream broadcast must hold all 2500 for this reader.
    let (b, _) = node(RemoteConfig {
        event_capacity: 4096,
        ..RemoteConfig::default()
    })
    .await;
    let mut evs = b.subscribe_eventstream();
    // Make sure the endpoint is up so the messages queue together.
    a.request(pid(b.address(), "gossip"), req(), REQ)
        .await
        .unwrap();
    let n = 2500u32;
    for i in 0..n {
        a.send(
            pid(b.address(), "eventstream"),
            GrainResponse {
                message_type_name: i.to_string(),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    }
    for i in 0..n {
        let ev = timeout(DEADLINE, evs.recv()).await.unwrap().unwrap();
        match ev.message {
            WireMessage::GrainResponse(g) => assert_eq!(g.message_type_name, i.to_string()),
            other => panic!("{other:?}"),
        }
    }
    let m = a.metrics();
    assert!(m.outbound_batches >= 3, "{m:?}");
    assert!(m.outbound_batches < 2500, "messages were batched: {m:?}");

    // 30 × 300 KB cannot fit in one 4 MiB message: split by size.
    let before = a.metrics().outbound_batches;
    for _ in 0..30 {
        a.send(
            pid(b.address(), "eventstream"),
            GrainResponse {
                message_data: vec![1; 300_000],
                ..Default::default()
            },
            None,
        )
        .unwrap();
    }
    for _ in 0..30 {
        timeout(DEADLINE, evs.recv()).await.unwrap().unwrap();
    }
    assert!(a.metrics().outbound_batches - before >= 3);
    assert_eq!(b.metrics().inbound_oversized_messages, 0);

    // One message over the limit is dropped, and its request fails at once.
    let big = a
        .request(
            pid(b.address(), "eventstream"),
            GrainResponse {
                message_data: vec![1; 5 << 20],
                ..Default::default()
            },
            REQ,
        )
        .await;
    assert!(
        matches!(big, Err(TransportError::MessageTooLarge { .. })),
        "{big:?}"
    );
    assert_eq!(a.metrics().outbound_dropped_too_large, 1);
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn peer_that_comes_up_during_backoff_is_connected() {
    let (a, _) = node(RemoteConfig {
        backoff: BackoffConfig {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(100),
            max_attempts: 50,
        },
        ..RemoteConfig::default()
    })
    .await;
    let bound = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let address = bound.to_string();
    let a2 = a.clone();
    let target = pid(&address, "gossip");
    let pending = tokio::spawn(async move { a2.request(target, req(), DEADLINE).await });
    wait_metric(&a, |m| m.connect_failures >= 1).await;
    let (b, b_calls) = node(RemoteConfig {
        bind: bound,
        ..RemoteConfig::default()
    })
    .await;
    let r = pending.await.unwrap();
    assert!(matches!(r, Ok(WireMessage::GossipResponse(_))), "{r:?}");
    assert_eq!(b_calls.load(Ordering::SeqCst), 1);
    assert_eq!(a.metrics().endpoints_connected, 1);
    a.shutdown(true).await;
    b.shutdown(true).await;
}
