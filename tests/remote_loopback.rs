//! Rust ↔ Rust over loopback: requests, routing, endpoints, block list,
//! batching and shutdown. Every wait has a deadline; nothing sleeps.

#[path = "remote_support/fixture.rs"]
mod fixture;
#[path = "support/net.rs"]
mod net;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use fixture::{
    DEADLINE, config_bound_to, counting_gossip_node, empty_gossip_response, gossip_request, pid,
    shutdown_all, wait_event, wait_metric,
};
use protogossip::{
    remote::{
        BackoffConfig, Handlers, Remote, RemoteConfig, RemoteEvent, RemoteHandle,
        TerminationReason, TransportError,
    },
    wire::{
        WireMessage,
        proto::cluster::{ActivationRequest, ActivationResponse, GossipResponse, GrainResponse},
    },
};
use tokio::{sync::Notify, time::timeout};

const REQ: Duration = Duration::from_secs(5);

/// Starts nodes A and B with the default config; returns B's gossip call counter too.
async fn two_nodes() -> (RemoteHandle, RemoteHandle, Arc<AtomicUsize>) {
    let (a, _) = counting_gossip_node(RemoteConfig::default()).await;
    let (b, b_calls) = counting_gossip_node(RemoteConfig::default()).await;
    (a, b, b_calls)
}

/// `from` asks the `gossip` actor at address `to`, waiting up to `within`.
async fn ask_gossip(
    from: &RemoteHandle,
    to: &str,
    within: Duration,
) -> Result<WireMessage, TransportError> {
    from.request(pid(to, "gossip"), gossip_request(), within)
        .await
}

/// Whether `e` is an `EndpointTerminated` event.
fn is_terminated(e: &RemoteEvent) -> bool {
    matches!(e, RemoteEvent::EndpointTerminated { .. })
}

fn fast_backoff() -> BackoffConfig {
    BackoffConfig::default()
        .with_initial(Duration::from_millis(10))
        .with_max(Duration::from_millis(20))
        .with_max_attempts(2)
}

#[tokio::test]
async fn gossip_request_is_answered_over_the_responders_own_connection() {
    let (a, b, b_calls) = two_nodes().await;
    let answer = ask_gossip(&a, b.address(), REQ).await;
    assert_eq!(
        answer,
        Ok(WireMessage::GossipResponse(empty_gossip_response()))
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
        Some(b.system_id().as_str())
    );
    assert_eq!(
        b.block_list().system_id_at(a.address()).as_deref(),
        Some(a.system_id().as_str())
    );
    shutdown_all([a, b]).await;
}

#[tokio::test]
async fn routing_of_standard_ids() {
    let (a, b, _) = two_nodes().await;
    let mut b_events = b.subscribe_eventstream();

    // Unknown id: DeadLetterResponse with the target set.
    let err = a
        .request(pid(b.address(), "nobody"), gossip_request(), REQ)
        .await;
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
    shutdown_all([a, b]).await;
}

#[tokio::test]
async fn own_address_is_local_and_aliases_are_delivered_by_id() {
    let (a, a_calls) = counting_gossip_node(RemoteConfig::default()).await;
    // Exactly our address: handled locally, no endpoint, no connection.
    let local = a.request(a.pid("gossip"), gossip_request(), REQ).await;
    assert!(
        matches!(local, Ok(WireMessage::GossipResponse(_))),
        "{local:?}"
    );
    assert!(a.endpoints().is_empty());
    assert_eq!(a_calls.load(Ordering::SeqCst), 1);

    // localhost:<port> is another string: a remote endpoint to ourselves,
    // and the envelope (target address localhost) is still delivered by id.
    let port = a.local_addr().port();
    let alias = ask_gossip(&a, &format!("localhost:{port}"), REQ).await;
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
    let handlers = Handlers::new().with_gossip(move |_s, _r| {
        let r = Arc::clone(&r);
        async move {
            r.notified().await;
            GossipResponse::default()
        }
    });
    let b = Remote::start(RemoteConfig::default(), handlers)
        .await
        .unwrap();
    let (a, _) = counting_gossip_node(RemoteConfig::default()).await;
    let res = ask_gossip(&a, b.address(), Duration::from_millis(200)).await;
    assert_eq!(res, Err(TransportError::Timeout));
    assert_eq!(a.metrics().requests_timed_out, 1);
    wait_metric(&b, |m| m.gossip_requests == 1).await;
    release.notify_one();
    wait_metric(&a, |m| m.late_responses == 1).await;
    shutdown_all([a, b]).await;
}

#[tokio::test]
async fn blocked_peer_gets_blocked_handshake_and_its_batches_are_dropped() {
    let (a, b, b_calls) = two_nodes().await;
    let mut a_events = a.subscribe_events();
    b.block(&a.system_id());
    let res = ask_gossip(&a, b.address(), Duration::from_millis(300)).await;
    assert_eq!(res, Err(TransportError::Timeout));
    let ev = wait_event(&mut a_events, |e| {
        matches!(e, RemoteEvent::EndpointConnected { .. })
    })
    .await;
    assert_eq!(
        ev,
        RemoteEvent::EndpointConnected {
            address: b.address().into(),
            member_id: b.system_id(),
            blocked: true
        }
    );
    assert_eq!(a.metrics().blocked_by_peer, 1);
    wait_metric(&b, |m| m.inbound_batches_blocked >= 1).await;
    assert_eq!(b_calls.load(Ordering::SeqCst), 0);
    assert_eq!(b.metrics().inbound_handshakes_blocked, 1);

    // Blocking by id also stops us dialling its (learned) address.
    a.block(&b.system_id());
    wait_event(&mut a_events, |e| {
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
        a.send(pid(b.address(), "gossip"), gossip_request(), None),
        Err(TransportError::Blocked {
            address: b.address().into()
        })
    );
    assert_eq!(a.metrics().outbound_refused_blocked, 1);
    shutdown_all([a, b]).await;
}

#[tokio::test]
async fn remove_endpoint_terminates_and_next_send_redials() {
    let (a, b, _) = two_nodes().await;
    let mut events = a.subscribe_events();
    ask_gossip(&a, b.address(), REQ).await.unwrap();
    assert!(a.remove_endpoint(b.address()));
    assert!(!a.remove_endpoint(b.address()));
    let ev = wait_event(&mut events, is_terminated).await;
    assert_eq!(
        ev,
        RemoteEvent::EndpointTerminated {
            address: b.address().into(),
            reason: TerminationReason::Removed
        }
    );
    assert!(a.endpoints().is_empty());
    ask_gossip(&a, b.address(), REQ).await.unwrap();
    assert_eq!(a.metrics().endpoints_connected, 2);
    assert_eq!(b.metrics().inbound_handshakes, 2);
    shutdown_all([a, b]).await;
}

#[tokio::test]
async fn peer_shutdown_terminates_endpoint_and_restart_reconnects() {
    let (a, b, _) = two_nodes().await;
    let bound = b.local_addr();
    let mut events = a.subscribe_events();
    ask_gossip(&a, b.address(), REQ).await.unwrap();
    b.shutdown(true).await;
    let ev = wait_event(&mut events, is_terminated).await;
    assert_eq!(
        ev,
        RemoteEvent::EndpointTerminated {
            address: b.address().into(),
            reason: TerminationReason::DisconnectRequest
        }
    );
    // A hard shutdown ends the stream with an error status, no DisconnectRequest.
    let (b2, _) = counting_gossip_node(config_bound_to(bound)).await;
    ask_gossip(&a, b2.address(), REQ).await.unwrap();
    b2.shutdown(false).await;
    let ev = wait_event(&mut events, is_terminated).await;
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
    let (b3, _) = counting_gossip_node(config_bound_to(bound)).await;
    ask_gossip(&a, b3.address(), REQ).await.unwrap();
    assert_eq!(a.metrics().endpoints_connected, 3);
    shutdown_all([a, b3]).await;
}

#[tokio::test]
async fn unreachable_peer_fails_queued_requests_after_backoff() {
    let (a, _) = counting_gossip_node(
        RemoteConfig::default()
            .with_backoff(fast_backoff())
            .with_connect_timeout(Duration::from_millis(500)),
    )
    .await;
    let mut events = a.subscribe_events();
    let dead = format!("127.0.0.1:{}", net::free_port());
    let res = a.request(pid(&dead, "gossip"), gossip_request(), REQ).await;
    assert_eq!(
        res,
        Err(TransportError::EndpointTerminated {
            address: dead.clone()
        })
    );
    let ev = wait_event(&mut events, is_terminated).await;
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
    let (a, _) = counting_gossip_node(RemoteConfig::default()).await;
    // The eventstream broadcast must hold all 2500 for this reader.
    let (b, _) = counting_gossip_node(RemoteConfig::default().with_event_capacity(4096)).await;
    let mut evs = b.subscribe_eventstream();
    // Make sure the endpoint is up so the messages queue together.
    ask_gossip(&a, b.address(), REQ).await.unwrap();
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
    shutdown_all([a, b]).await;
}

#[tokio::test]
async fn peer_that_comes_up_during_backoff_is_connected() {
    let (a, _) = counting_gossip_node(
        RemoteConfig::default().with_backoff(
            BackoffConfig::default()
                .with_initial(Duration::from_millis(50))
                .with_max(Duration::from_millis(100))
                .with_max_attempts(50),
        ),
    )
    .await;
    let bound = std::net::SocketAddr::from(([127, 0, 0, 1], net::free_port()));
    let address = bound.to_string();
    let a2 = a.clone();
    let target = pid(&address, "gossip");
    let pending = tokio::spawn(async move { a2.request(target, gossip_request(), DEADLINE).await });
    wait_metric(&a, |m| m.connect_failures >= 1).await;
    let (b, b_calls) = counting_gossip_node(config_bound_to(bound)).await;
    let r = pending.await.unwrap();
    assert!(matches!(r, Ok(WireMessage::GossipResponse(_))), "{r:?}");
    assert_eq!(b_calls.load(Ordering::SeqCst), 1);
    assert_eq!(a.metrics().endpoints_connected, 1);
    shutdown_all([a, b]).await;
}
