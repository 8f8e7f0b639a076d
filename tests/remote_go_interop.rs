//! The transport against a real protoactor-go node (`go-interop/cmd/remotepeer`).
//!
//! Each test builds the Go command once (Go's build cache makes rebuilds
//! cheap), starts it on a free loopback port and drives it over stdin. Every
//! wait has a deadline; on failure the Go process's output is printed.

#[path = "support/child_lines.rs"]
mod child_lines;
#[path = "remote_support/fixture.rs"]
mod fixture;
#[path = "support/go_build.rs"]
mod go_build;
#[path = "remote_support/go_peer.rs"]
mod go_peer;
#[path = "support/net.rs"]
mod net;

use std::time::Duration;

use fixture::{config_bound_to, gossip_node, next_event, pid};
use go_peer::{DEADLINE, GoPeer, free_port};
use protogossip::{
    remote::{
        EventStreamMessage, RemoteConfig, RemoteEvent, RemoteHandle, TerminationReason,
        TransportError,
    },
    wire::{
        WireMessage,
        proto::{
            actor::Pid,
            cluster::{GossipKeyValue, GossipMemberState, GossipRequest, GossipState},
        },
    },
};
use tokio::{sync::broadcast, time::timeout};

fn gossip_request() -> GossipRequest {
    let mut members = std::collections::BTreeMap::new();
    let mut values = std::collections::BTreeMap::new();
    values.insert(
        "heartbeat".to_owned(),
        GossipKeyValue {
            sequence_number: 7,
            value: None,
            local_timestamp_unix_milliseconds: 1,
        },
    );
    members.insert("rust-node".to_owned(), GossipMemberState { values });
    GossipRequest {
        from_member_id: "go-node".into(),
        state: Some(GossipState { members }),
    }
}

/// Starts a Rust node with the default config and a Go peer on a free port.
async fn rust_and_go() -> (RemoteHandle, GoPeer) {
    let rust = gossip_node(RemoteConfig::default()).await;
    let go = GoPeer::start(free_port(), &[]).await;
    (rust, go)
}

/// Quits Go cleanly, then shuts the Rust node down gracefully.
async fn finish(go: GoPeer, rust: RemoteHandle) {
    go.quit().await;
    rust.shutdown(true).await;
}

/// The first event matching `pred`; panics with Go's output after `DEADLINE`.
async fn wait_event(
    rx: &mut broadcast::Receiver<RemoteEvent>,
    go: &GoPeer,
    pred: impl Fn(&RemoteEvent) -> bool,
) -> RemoteEvent {
    next_event(rx, DEADLINE, pred)
        .await
        .unwrap_or_else(|| panic!("expected event not seen; Go output:\n{}", go.output()))
}

/// Asks Go's `echo` actor, asserts an answer, and returns the member id of
/// the endpoint that connected for it.
async fn echo_and_connected_member_id(
    rust: &RemoteHandle,
    echo: &Pid,
    events: &mut broadcast::Receiver<RemoteEvent>,
    go: &GoPeer,
) -> String {
    let answer = rust
        .request(echo.clone(), gossip_request(), Duration::from_secs(10))
        .await;
    assert!(answer.is_ok(), "{answer:?}\n{}", go.output());
    let RemoteEvent::EndpointConnected { member_id, .. } = wait_event(events, go, |e| {
        matches!(e, RemoteEvent::EndpointConnected { .. })
    })
    .await
    else {
        unreachable!()
    };
    member_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_request_to_go_echo_gets_the_go_answer() {
    let (rust, mut go) = rust_and_go().await;
    let mut events = rust.subscribe_events();

    let request = gossip_request();
    let answer = rust
        .request(
            pid(&go.address, "echo"),
            request.clone(),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        answer,
        Ok(WireMessage::GossipRequest(request)),
        "Go output:\n{}",
        go.output()
    );
    go.expect(|l| l == "echo cluster.GossipRequest").await;

    // Our endpoint's handshake was answered by Go, and Go answered over its
    // own connection to us (an inbound stream with Go's address).
    let go_addr = go.address.clone();
    let connected = wait_event(
        &mut events,
        &go,
        |e| matches!(e, RemoteEvent::EndpointConnected { address, .. } if *address == go_addr),
    )
    .await;
    let RemoteEvent::EndpointConnected {
        member_id, blocked, ..
    } = connected
    else {
        unreachable!()
    };
    assert!(!member_id.is_empty());
    assert!(!blocked);
    wait_event(
        &mut events,
        &go,
        |e| matches!(e, RemoteEvent::InboundConnected { address, .. } if *address == go_addr),
    )
    .await;

    // A request to an id Go does not host comes back as a dead letter.
    let missing = rust
        .request(
            pid(&go.address, "nobody"),
            gossip_request(),
            Duration::from_secs(10),
        )
        .await;
    assert!(
        matches!(missing, Err(TransportError::DeadLetter { .. })),
        "{missing:?}\n{}",
        go.output()
    );
    let m = rust.metrics();
    assert_eq!(
        m.envelopes_bad_index + m.envelopes_unknown_type + m.envelopes_malformed,
        0
    );
    finish(go, rust).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_requests_to_rust_get_rust_answers() {
    let (rust, mut go) = rust_and_go().await;
    let mut eventstream = rust.subscribe_eventstream();
    let addr = rust.address().to_owned();

    go.assert_reply("gossip", &addr, "reply gossip cluster.GossipResponse")
        .await;

    go.assert_reply(
        "activate",
        &addr,
        "reply activate cluster.ActivationResponse failed=true",
    )
    .await;

    let reply = go
        .assert_reply_starts("missing", &addr, "error missing")
        .await;
    assert!(reply.contains("dead letter"), "{reply}\n{}", go.output());

    go.cmd(&format!("event {addr}")).await;
    let ev: EventStreamMessage = timeout(DEADLINE, eventstream.recv())
        .await
        .expect("eventstream message")
        .unwrap();
    assert!(
        matches!(ev.message, WireMessage::ActivationTerminated(ref t) if t.cluster_identity.as_ref().is_some_and(|c| c.identity == "ev")),
        "{ev:?}"
    );
    assert!(ev.sender.is_none());

    let m = rust.metrics();
    assert_eq!(m.gossip_requests, 1);
    assert_eq!(m.activation_requests_refused, 1);
    assert_eq!(m.dead_letter_responses_sent, 1);
    assert_eq!(m.eventstream_messages, 1);
    assert_eq!(m.inbound_handshakes, 1, "Go uses one stream for all of it");
    finish(go, rust).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_graceful_shutdown_terminates_our_endpoint_and_a_restarted_go_is_reconnected() {
    let rust = gossip_node(RemoteConfig::default()).await;
    let mut events = rust.subscribe_events();
    let port = free_port();
    let go = GoPeer::start(port, &[]).await;
    let go_addr = go.address.clone();
    let echo = pid(&go_addr, "echo");

    let first_id = echo_and_connected_member_id(&rust, &echo, &mut events, &go).await;

    let log = go.log();
    go.quit().await;
    let terminated = next_event(
        &mut events,
        DEADLINE,
        |e| matches!(e, RemoteEvent::EndpointTerminated { address, .. } if *address == go_addr),
    )
    .await;
    let Some(RemoteEvent::EndpointTerminated {
        reason: terminated, ..
    }) = terminated
    else {
        panic!(
            "no EndpointTerminated; Go:\n{}",
            log.lock().unwrap().join("\n")
        )
    };
    assert_eq!(terminated, TerminationReason::DisconnectRequest);

    // A new Go process (fresh system id) on the same address.
    let go = GoPeer::start(port, &[]).await;
    let second_id = echo_and_connected_member_id(&rust, &echo, &mut events, &go).await;
    assert_ne!(
        first_id, second_id,
        "the restarted Go node has a new system id"
    );
    finish(go, rust).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_graceful_shutdown_makes_go_drop_its_endpoint_and_redial_us() {
    let (rust, mut go) = rust_and_go().await;
    let bound = rust.local_addr();
    let addr = rust.address().to_owned();

    go.assert_reply_starts("gossip", &addr, "reply gossip")
        .await;

    // DisconnectRequest + error status: the Go writer publishes
    // EndpointTerminatedEvent (instead of keeping a dead stream, Q-T3).
    rust.shutdown(true).await;
    go.expect(|l| l == format!("endpoint-terminated {addr}"))
        .await;

    // Same address, new process: Go dials again and gets answers.
    let rust = gossip_node(config_bound_to(bound)).await;
    assert_eq!(rust.address(), addr);
    go.assert_reply("gossip", &addr, "reply gossip cluster.GossipResponse")
        .await;
    finish(go, rust).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_a_go_node_drops_its_traffic_and_stops_our_dialling() {
    let (rust, mut go) = rust_and_go().await;
    let mut events = rust.subscribe_events();
    let addr = rust.address().to_owned();
    let go_addr = go.address.clone();

    // Go dials us (its handshake tells us its system id and address), and we
    // answer over our own endpoint to Go.
    go.assert_reply_starts("gossip", &addr, "reply gossip")
        .await;
    let RemoteEvent::InboundConnected {
        system_id,
        address,
        blocked,
    } = wait_event(&mut events, &go, |e| {
        matches!(e, RemoteEvent::InboundConnected { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(address, go_addr);
    assert!(!blocked);

    rust.block(&system_id);
    let ev = wait_event(&mut events, &go, |e| {
        matches!(e, RemoteEvent::EndpointTerminated { .. })
    })
    .await;
    assert_eq!(
        ev,
        RemoteEvent::EndpointTerminated {
            address: go_addr.clone(),
            reason: TerminationReason::Blocked
        }
    );
    assert_eq!(
        rust.send(pid(&go_addr, "echo"), gossip_request(), None),
        Err(TransportError::Blocked { address: go_addr })
    );

    // Go keeps its stream (blocking is advisory in Go); its batches are
    // dropped, so its request times out instead of being answered.
    go.assert_reply_starts("gossip", &addr, "error gossip")
        .await;
    assert!(rust.metrics().inbound_batches_blocked >= 1);
    assert_eq!(rust.metrics().gossip_requests, 1);
    finish(go, rust).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_and_large_requests_to_go_are_batched_within_gos_limits() {
    use protogossip::wire::proto::cluster::GrainResponse;
    // Go batches its answers by count only, so three 1.5 MiB answers may
    // arrive as one 4.5 MiB batch: we accept up to 16 MiB inbound here.
    let rust = gossip_node(RemoteConfig::default().with_max_message_size(16 << 20)).await;
    let go = GoPeer::start(free_port(), &[]).await;
    let echo = pid(&go.address, "echo");

    // Three 1.5 MiB messages queued before the endpoint has connected
    // cannot share one 4 MiB batch: we split them, and Go (which refuses
    // more than 4 MiB) accepts every one.
    let big = |i: u8| GrainResponse {
        message_data: vec![i; 1536 * 1024],
        ..Default::default()
    };
    let t = Duration::from_secs(15);
    let (r0, r1, r2) = tokio::join!(
        rust.request(echo.clone(), big(0), t),
        rust.request(echo.clone(), big(1), t),
        rust.request(echo.clone(), big(2), t),
    );
    for (i, got) in [r0, r1, r2].into_iter().enumerate() {
        assert_eq!(
            got,
            Ok(WireMessage::GrainResponse(big(i as u8))),
            "{}",
            go.output()
        );
    }
    assert_eq!(
        rust.metrics().outbound_batches,
        2,
        "split by size, not by count"
    );

    // 1500 requests at once: more than one 1000-envelope batch each way.
    let mut tasks = Vec::new();
    for i in 0..1500u32 {
        let (r, echo) = (rust.clone(), echo.clone());
        tasks.push(tokio::spawn(async move {
            let m = GrainResponse {
                message_type_name: i.to_string(),
                ..Default::default()
            };
            (r.request(echo, m.clone(), Duration::from_secs(15)).await, m)
        }));
    }
    for t in tasks {
        let (got, sent) = t.await.unwrap();
        assert_eq!(got, Ok(WireMessage::GrainResponse(sent)), "{}", go.output());
    }

    let m = rust.metrics();
    assert!(m.outbound_batches >= 4, "{m:?}");
    assert_eq!(m.inbound_oversized_messages, 0, "{m:?}");
    assert_eq!(
        m.endpoints_terminated, 0,
        "Go never dropped our stream: {m:?}"
    );
    finish(go, rust).await;
}
