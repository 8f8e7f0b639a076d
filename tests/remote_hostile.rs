//! Hostile and broken peers, spoken to with a raw gRPC client: each bad input
//! is counted, the stream (at worst) ends with an error status, and the
//! server keeps serving everyone else.

#[path = "remote_support/fixture.rs"]
mod fixture;

use std::time::Duration;

use fixture::{DEADLINE, gossip_node, gossip_request, pid, quick_backoff, wait_event, wait_metric};
use protogossip::{
    remote::{RemoteConfig, RemoteHandle, TransportError},
    wire::{
        WireMessage,
        proto::{
            cluster::GossipResponse,
            remote::{
                ClientConnection, ConnectRequest, ConnectResponse, DisconnectRequest,
                GetProcessDiagnosticsRequest, ListProcessesRequest, MessageBatch, MessageEnvelope,
                RemoteMessage, ServerConnection, connect_request::ConnectionType,
                remote_message::MessageType, remoting_client::RemotingClient,
            },
        },
    },
};
use tokio::{sync::mpsc, time::timeout};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Streaming, transport::Channel};

async fn client(addr: &str) -> RemotingClient<Channel> {
    RemotingClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
        .max_encoding_message_size(64 << 20)
}

fn frame(m: MessageType) -> RemoteMessage {
    RemoteMessage {
        message_type: Some(m),
    }
}

fn hello(system_id: &str) -> RemoteMessage {
    frame(MessageType::ConnectRequest(ConnectRequest {
        connection_type: Some(ConnectionType::ServerConnection(ServerConnection {
            system_id: system_id.into(),
            address: "127.0.0.1:1".into(),
        })),
    }))
}

/// Opens a raw stream; returns the sender and the server's half.
async fn open(
    c: &mut RemotingClient<Channel>,
    first: RemoteMessage,
) -> Result<(mpsc::Sender<RemoteMessage>, Streaming<RemoteMessage>), tonic::Status> {
    let (tx, rx) = mpsc::channel(8);
    tx.send(first).await.unwrap();
    let inbound = c.receive(ReceiverStream::new(rx)).await?.into_inner();
    Ok((tx, inbound))
}

async fn next(s: &mut Streaming<RemoteMessage>) -> Result<Option<RemoteMessage>, tonic::Status> {
    timeout(DEADLINE, s.message()).await.expect("server frame")
}

/// A good node still gets answers from `h`.
async fn still_serves(h: &RemoteHandle) {
    let probe = gossip_node(RemoteConfig::default()).await;
    let r = probe
        .request(pid(h.address(), "gossip"), gossip_request(), DEADLINE)
        .await;
    assert!(matches!(r, Ok(WireMessage::GossipResponse(_))), "{r:?}");
    probe.shutdown(true).await;
}

#[tokio::test]
async fn handshake_answer_only_then_disconnect_request_then_error_status() {
    let h = gossip_node(RemoteConfig::default()).await;
    let mut c = client(h.address()).await;
    let (tx, mut s) = open(&mut c, hello("peer-1")).await.unwrap();
    let first = next(&mut s).await.unwrap().unwrap();
    assert_eq!(
        first,
        frame(MessageType::ConnectResponse(ConnectResponse {
            member_id: h.system_id(),
            blocked: false
        }))
    );
    // A batch is processed without any answer on this stream.
    tx.send(frame(MessageType::MessageBatch(MessageBatch::default())))
        .await
        .unwrap();
    wait_metric(&h, |m| m.inbound_batches == 1).await;
    h.shutdown(true).await;
    let second = next(&mut s).await.unwrap().unwrap();
    assert_eq!(
        second,
        frame(MessageType::DisconnectRequest(DisconnectRequest {}))
    );
    let end = next(&mut s).await;
    assert!(
        matches!(end, Err(ref st) if st.code() == Code::Unavailable),
        "never OK on a live peer: {end:?}"
    );
}

#[tokio::test]
async fn unary_rpcs_are_unimplemented() {
    let h = gossip_node(RemoteConfig::default()).await;
    let mut c = client(h.address()).await;
    let e = c
        .list_processes(ListProcessesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented);
    let e = c
        .get_process_diagnostics(GetProcessDiagnosticsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented);
    h.shutdown(true).await;
}

#[tokio::test]
async fn oversized_message_ends_only_that_stream() {
    let h = gossip_node(RemoteConfig::default().with_max_message_size(64 * 1024)).await;
    let mut c = client(h.address()).await;
    let (tx, mut s) = open(&mut c, hello("big")).await.unwrap();
    next(&mut s).await.unwrap().unwrap();
    let batch = MessageBatch {
        type_names: vec!["x".repeat(100 * 1024)],
        ..Default::default()
    };
    tx.send(frame(MessageType::MessageBatch(batch)))
        .await
        .unwrap();
    let end = next(&mut s).await;
    assert!(
        matches!(end, Err(ref st) if st.code() == Code::OutOfRange),
        "{end:?}"
    );
    assert_eq!(h.metrics().inbound_oversized_messages, 1);
    still_serves(&h).await;
    h.shutdown(true).await;
}

/// Encodes as field 1 varint, where `RemoteMessage` has a message field.
#[derive(Clone, PartialEq, prost::Message)]
struct Bogus {
    #[prost(uint64, tag = "1")]
    x: u64,
}

#[tokio::test]
async fn malformed_protobuf_ends_only_that_stream() {
    let h = gossip_node(RemoteConfig::default()).await;
    let channel = Channel::from_shared(format!("http://{}", h.address()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let (tx, rx) = mpsc::channel(4);
    tx.send(Bogus { x: 5 }).await.unwrap();
    let mut s = grpc
        .streaming(
            tonic::Request::new(ReceiverStream::new(rx)),
            tonic::codegen::http::uri::PathAndQuery::from_static("/remote.Remoting/Receive"),
            tonic_prost::ProstCodec::<Bogus, RemoteMessage>::default(),
        )
        .await
        .unwrap()
        .into_inner();
    let end = next(&mut s).await;
    assert!(
        matches!(end, Err(ref st) if st.code() == Code::Internal),
        "{end:?}"
    );
    assert_eq!(h.metrics().inbound_malformed_messages, 1);
    still_serves(&h).await;
    h.shutdown(true).await;
}

#[tokio::test]
async fn bad_envelopes_are_skipped_counted_and_dead_lettered() {
    let h = gossip_node(RemoteConfig::default()).await;
    // The requester of bad envelopes: gets DeadLetterResponses for futures it
    // no longer waits for, counts them and never answers.
    let requester = gossip_node(RemoteConfig::default()).await;
    let mut events = h.subscribe_eventstream();
    let mut c = client(h.address()).await;
    let good_body = GossipResponse::default();
    let batch = MessageBatch {
        type_names: vec![
            "cluster.GossipResponse".into(),
            "myapp.Unknown".into(),
            "cluster.GossipRequest".into(),
        ],
        targets: vec![pid(h.address(), "eventstream")],
        senders: vec![pid(requester.address(), "future$99")],
        envelopes: vec![
            MessageEnvelope {
                type_id: 7,
                ..Default::default()
            },
            MessageEnvelope {
                target: 3,
                ..Default::default()
            },
            MessageEnvelope {
                sender: 9,
                ..Default::default()
            },
            MessageEnvelope {
                serializer_id: 7,
                ..Default::default()
            },
            MessageEnvelope {
                type_id: 1,
                sender: 1,
                ..Default::default()
            },
            MessageEnvelope {
                type_id: 2,
                sender: 1,
                message_data: vec![0x0a, 0x10, 0x01],
                ..Default::default()
            },
            MessageEnvelope {
                type_id: 0,
                message_data: prost::Message::encode_to_vec(&good_body),
                ..Default::default()
            },
        ],
    };
    // No handshake at all: Go does not require one, neither do we.
    let (_tx, _s) = open(&mut c, frame(MessageType::MessageBatch(batch)))
        .await
        .unwrap();
    let ev = timeout(DEADLINE, events.recv()).await.unwrap().unwrap();
    assert_eq!(ev.message, WireMessage::GossipResponse(good_body));
    let m = h.metrics();
    assert_eq!(m.envelopes_bad_index, 3, "{m:?}");
    assert_eq!(m.envelopes_bad_serializer, 1, "{m:?}");
    assert_eq!(m.envelopes_unknown_type, 1, "{m:?}");
    assert_eq!(m.envelopes_malformed, 1, "{m:?}");
    assert_eq!(m.dead_letter_responses_sent, 2, "{m:?}");
    assert_eq!(m.inbound_handshakes, 0);
    wait_metric(&requester, |m| m.late_responses == 2).await;
    assert_eq!(requester.metrics().dead_letter_responses_sent, 0);
    still_serves(&h).await;
    requester.shutdown(true).await;
    h.shutdown(true).await;
}

#[tokio::test]
async fn client_connection_variant_gets_no_answer_like_go() {
    let h = gossip_node(RemoteConfig::default()).await;
    let mut c = client(h.address()).await;
    let first = frame(MessageType::ConnectRequest(ConnectRequest {
        connection_type: Some(ConnectionType::ClientConnection(ClientConnection {
            system_id: "x".into(),
        })),
    }));
    let (tx, _s) = open(&mut c, first).await.unwrap();
    tx.send(hello("y")).await.unwrap();
    wait_metric(&h, |m| m.inbound_handshakes == 1).await;
    assert_eq!(h.metrics().inbound_handshakes_unsupported, 1);
    h.shutdown(true).await;
}

#[tokio::test]
async fn connection_flood_is_limited() {
    let h = gossip_node(RemoteConfig::default().with_max_inbound_streams(2)).await;
    let mut c = client(h.address()).await;
    let (tx1, mut s1) = open(&mut c, hello("a")).await.unwrap();
    next(&mut s1).await.unwrap().unwrap();
    let (_tx2, mut s2) = open(&mut c, hello("b")).await.unwrap();
    next(&mut s2).await.unwrap().unwrap();
    let third = open(&mut c, hello("c")).await;
    assert_eq!(third.err().map(|s| s.code()), Some(Code::ResourceExhausted));
    assert_eq!(h.metrics().inbound_streams_rejected, 1);
    // Closing one frees a slot.
    drop(tx1);
    assert_eq!(
        next(&mut s1).await.unwrap(),
        None,
        "half-close ends with OK"
    );
    timeout(DEADLINE, async {
        loop {
            if let Ok((_tx, mut s)) = open(&mut c, hello("d")).await {
                next(&mut s).await.unwrap().unwrap();
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("a slot frees up");
    h.shutdown(true).await;
}

/// Connects from `source` and waits until the node closes the connection;
/// returns how long that took.
async fn raw_until_closed(source: [u8; 4], node: std::net::SocketAddr) -> Duration {
    use tokio::io::AsyncReadExt;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(std::net::SocketAddr::from((source, 0)))
        .unwrap();
    let mut stream = socket.connect(node).await.unwrap();
    let started = std::time::Instant::now();
    // An admitted connection first gets the server's HTTP/2 SETTINGS.
    let mut buf = [0u8; 64];
    let closed = timeout(DEADLINE, async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                return;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the node should close the connection");
    started.elapsed()
}

#[tokio::test]
async fn connections_over_the_per_ip_cap_are_refused_and_idle_ones_closed() {
    const IDLE: Duration = Duration::from_millis(300);
    let h = gossip_node(
        RemoteConfig::default()
            .with_max_inbound_connections_per_ip(2)
            .with_inbound_idle_timeout(IDLE),
    )
    .await;
    let node = h.local_addr();
    // A connection with a stream: not idle, however long it stays quiet.
    let mut c = client(h.address()).await;
    let (tx, mut s) = open(&mut c, hello("a")).await.unwrap();
    next(&mut s).await.unwrap().unwrap();

    // A silent connection from the same address is closed after the idle
    // timeout; a third one at the same time is refused at once.
    let silent = tokio::spawn(raw_until_closed([127, 0, 0, 1], node));
    wait_metric(&h, |m| m.inbound_connections_accepted == 2).await;
    let refused = raw_until_closed([127, 0, 0, 1], node).await;
    assert!(
        refused < IDLE,
        "refused at once, not timed out: {refused:?}"
    );
    assert_eq!(h.metrics().inbound_connections_refused_at_ip_cap, 1);
    // Another address has slots of its own.
    let other = tokio::spawn(raw_until_closed([127, 0, 0, 3], node));
    assert!(silent.await.unwrap() >= IDLE - Duration::from_millis(50));
    assert!(other.await.unwrap() >= IDLE - Duration::from_millis(50));
    let m = h.metrics();
    assert_eq!(m.inbound_connections_idle_closed, 2, "{m:?}");
    assert_eq!(m.inbound_connections_refused_at_cap, 0, "{m:?}");

    // Long after the idle timeout the stream still works: a second hello is
    // answered on it.
    tokio::time::sleep(IDLE * 3).await;
    tx.send(hello("a")).await.unwrap();
    next(&mut s).await.unwrap().unwrap();
    assert_eq!(h.metrics().inbound_connections_idle_closed, 2);
    still_serves(&h).await;
    h.shutdown(true).await;
}

#[tokio::test]
async fn peer_that_never_answers_the_handshake_times_out() {
    // Accepts TCP and HTTP/2 never comes: the handshake must time out.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let a = gossip_node(
        RemoteConfig::default()
            .with_handshake_timeout(Duration::from_millis(200))
            .with_backoff(quick_backoff(2))
            .with_endpoint_queue_capacity(2),
    )
    .await;
    let target = pid(&addr, "gossip");
    let a2 = a.clone();
    let t2 = target.clone();
    let pending =
        tokio::spawn(async move { a2.request(t2, GossipResponse::default(), DEADLINE).await });
    wait_metric(&a, |m| m.outbound_envelopes == 1).await;
    // While the endpoint is stuck, its bounded queue fills and drops.
    let mut full = 0;
    for _ in 0..10 {
        if let Err(TransportError::QueueFull { .. }) =
            a.send(target.clone(), GossipResponse::default(), None)
        {
            full += 1;
        }
    }
    assert!(full >= 7, "{full}");
    let r = pending.await.unwrap();
    assert_eq!(r, Err(TransportError::EndpointTerminated { address: addr }));
    let m = a.metrics();
    assert_eq!(m.handshake_timeouts, 2, "{m:?}");
    assert_eq!(m.outbound_dropped_queue_full, full);
    hold.abort();
    a.shutdown(true).await;
}

/// A gRPC peer that speaks `remote.Remoting` but misbehaves after the
/// stream opens: `answers` are the frames it sends in reply to the first
/// client frame (none = silent forever).
struct FakePeer {
    answers: Vec<RemoteMessage>,
}

#[tonic::async_trait]
impl protogossip::wire::proto::remote::remoting_server::Remoting for FakePeer {
    type ReceiveStream = ReceiverStream<Result<RemoteMessage, tonic::Status>>;

    async fn receive(
        &self,
        request: tonic::Request<Streaming<RemoteMessage>>,
    ) -> Result<tonic::Response<Self::ReceiveStream>, tonic::Status> {
        let (tx, rx) = mpsc::channel(8);
        let answers = self.answers.clone();
        let mut inbound = request.into_inner();
        tokio::spawn(async move {
            let _ = inbound.message().await;
            for a in answers {
                let _ = tx.send(Ok(a)).await;
            }
            // Keep the stream open; drain what the client sends.
            while let Ok(Some(_)) = inbound.message().await {}
            drop(tx);
        });
        Ok(tonic::Response::new(ReceiverStream::new(rx)))
    }

    async fn list_processes(
        &self,
        _r: tonic::Request<ListProcessesRequest>,
    ) -> Result<
        tonic::Response<protogossip::wire::proto::remote::ListProcessesResponse>,
        tonic::Status,
    > {
        Err(tonic::Status::unimplemented(""))
    }

    async fn get_process_diagnostics(
        &self,
        _r: tonic::Request<GetProcessDiagnosticsRequest>,
    ) -> Result<
        tonic::Response<protogossip::wire::proto::remote::GetProcessDiagnosticsResponse>,
        tonic::Status,
    > {
        Err(tonic::Status::unimplemented(""))
    }
}

async fn fake_peer(answers: Vec<RemoteMessage>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(
                protogossip::wire::proto::remote::remoting_server::RemotingServer::new(FakePeer {
                    answers,
                }),
            )
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}

#[tokio::test]
async fn grpc_peer_that_never_sends_connect_response_times_out() {
    let addr = fake_peer(vec![]).await;
    let a = gossip_node(
        RemoteConfig::default()
            .with_handshake_timeout(Duration::from_millis(200))
            .with_backoff(quick_backoff(1)),
    )
    .await;
    let r = a
        .request(pid(&addr, "gossip"), GossipResponse::default(), DEADLINE)
        .await;
    assert_eq!(r, Err(TransportError::EndpointTerminated { address: addr }));
    assert_eq!(a.metrics().handshake_timeouts, 1);
    a.shutdown(true).await;
}

#[tokio::test]
async fn any_frame_after_connect_response_terminates_the_endpoint() {
    use protogossip::remote::{RemoteEvent, TerminationReason};
    let response = frame(MessageType::ConnectResponse(ConnectResponse {
        member_id: "fake".into(),
        blocked: false,
    }));
    // A second ConnectResponse is not a DisconnectRequest, but it still
    // ends the endpoint (Go does the same).
    let addr = fake_peer(vec![response.clone(), response]).await;
    let a = gossip_node(RemoteConfig::default()).await;
    let mut events = a.subscribe_events();
    a.send(pid(&addr, "x"), GossipResponse::default(), None)
        .unwrap();
    let ev = wait_event(&mut events, |e| {
        matches!(e, RemoteEvent::EndpointTerminated { .. })
    })
    .await;
    let RemoteEvent::EndpointTerminated { reason, .. } = ev else {
        unreachable!()
    };
    assert_eq!(reason, TerminationReason::UnexpectedMessage);
    a.shutdown(true).await;
}
