//! The `remote.Remoting` gRPC service: inbound streams from peers.
//!
//! On an inbound stream we send exactly what a Go server sends: one
//! `ConnectResponse` per `ConnectRequest.server_connection`, immediately,
//! and on graceful shutdown one `DisconnectRequest`. We never end a live
//! peer's stream with status OK (a Go writer would then black-hole every
//! later message to us, Q-T3): on shutdown or on a broken frame we end it
//! with an error status, which makes the Go writer publish
//! `EndpointTerminatedEvent` and redial. Only when the client half-closes
//! (its writer stopped) does the stream end with OK, as in Go. The handshake
//! is not required (Go does not require it either). The unary RPCs answer
//! `UNIMPLEMENTED` (Go's panic).

use std::{
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, atomic::Ordering},
};

use tokio::sync::mpsc;
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::{Code, Request, Response, Status, Streaming};
use tracing::{debug, info, warn};

use super::{
    RemoteEvent, RemoteMetrics, inbound,
    shared::{Lifecycle, Shared},
};
use crate::wire::proto::remote::{
    ConnectResponse, DisconnectRequest, GetProcessDiagnosticsRequest,
    GetProcessDiagnosticsResponse, ListProcessesRequest, ListProcessesResponse, RemoteMessage,
    connect_request::ConnectionType, remote_message::MessageType, remoting_server::Remoting,
};

/// The gRPC service implementation.
pub(crate) struct RemotingService {
    pub shared: Arc<Shared>,
}

/// Decrements the inbound stream count when the stream task ends.
struct StreamSlot(Arc<Shared>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.inbound_streams.fetch_sub(1, Ordering::AcqRel);
    }
}

type OutStream = Pin<Box<dyn Stream<Item = Result<RemoteMessage, Status>> + Send>>;

#[tonic::async_trait]
impl Remoting for RemotingService {
    type ReceiveStream = OutStream;

    async fn receive(
        &self,
        request: Request<Streaming<RemoteMessage>>,
    ) -> Result<Response<Self::ReceiveStream>, Status> {
        let shared = &self.shared;
        let peer = request
            .remote_addr()
            .map_or_else(|| "unknown".to_owned(), |a: SocketAddr| a.to_string());
        if !shared.is_running() {
            return Err(Status::unavailable("remote is shutting down"));
        }
        let open = shared.inbound_streams.fetch_add(1, Ordering::AcqRel);
        let slot = StreamSlot(Arc::clone(shared));
        if open >= shared.config.max_inbound_streams {
            RemoteMetrics::inc(&shared.metrics.inbound_streams_rejected);
            warn!(%peer, open, limit = shared.config.max_inbound_streams,
                "refusing inbound stream: too many open");
            return Err(Status::resource_exhausted("too many inbound streams"));
        }
        RemoteMetrics::inc(&shared.metrics.inbound_streams_accepted);
        debug!(%peer, "inbound stream opened");
        let (tx, rx) = mpsc::channel(4);
        shared
            .runtime
            .spawn(serve_stream(slot, request.into_inner(), tx, peer));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn list_processes(
        &self,
        _request: Request<ListProcessesRequest>,
    ) -> Result<Response<ListProcessesResponse>, Status> {
        Err(Status::unimplemented("ListProcesses is not implemented"))
    }

    async fn get_process_diagnostics(
        &self,
        _request: Request<GetProcessDiagnosticsRequest>,
    ) -> Result<Response<GetProcessDiagnosticsResponse>, Status> {
        Err(Status::unimplemented(
            "GetProcessDiagnostics is not implemented",
        ))
    }
}

fn frame(m: MessageType) -> Result<RemoteMessage, Status> {
    Ok(RemoteMessage {
        message_type: Some(m),
    })
}

/// Reads one inbound stream until the client half-closes, the stream fails
/// or we shut down.
async fn serve_stream(
    slot: StreamSlot,
    mut inbound: Streaming<RemoteMessage>,
    tx: mpsc::Sender<Result<RemoteMessage, Status>>,
    peer: String,
) {
    let shared = Arc::clone(&slot.0);
    let metrics = &shared.metrics;
    let mut lifecycle = shared.lifecycle.subscribe();
    // The peer's system id, once it has said hello.
    let mut system_id: Option<String> = None;
    loop {
        let state = *lifecycle.borrow_and_update();
        if state != Lifecycle::Running {
            if state == Lifecycle::ShuttingDownGracefully {
                let _ = tx
                    .send(frame(MessageType::DisconnectRequest(DisconnectRequest {})))
                    .await;
            }
            let _ = tx
                .send(Err(Status::unavailable("remote is shutting down")))
                .await;
            debug!(%peer, "inbound stream closed by shutdown");
            return;
        }
        let next = tokio::select! {
            biased;
            _ = lifecycle.changed() => continue,
            n = inbound.message() => n,
        };
        let message = match next {
            Ok(Some(m)) => m,
            Ok(None) => {
                debug!(%peer, "inbound stream half-closed by the client");
                return;
            }
            Err(status) => {
                let reason = classify(metrics, &status);
                warn!(%peer, code = ?status.code(), error = %status.message(),
                    "inbound stream failed: {reason}");
                let _ = tx
                    .send(Err(Status::new(
                        status.code(),
                        format!("{reason}: {}", status.message()),
                    )))
                    .await;
                return;
            }
        };
        match message.message_type {
            Some(MessageType::ConnectRequest(request)) => match request.connection_type {
                Some(ConnectionType::ServerConnection(hello)) => {
                    let blocked = shared.block_list.is_blocked(&hello.system_id);
                    RemoteMetrics::inc(&metrics.inbound_handshakes);
                    if blocked {
                        RemoteMetrics::inc(&metrics.inbound_handshakes_blocked);
                        info!(%peer, system_id = %hello.system_id, "blocked peer connected");
                    }
                    shared.block_list.learn(&hello.system_id, &hello.address);
                    let response = ConnectResponse {
                        member_id: shared.config.system_id.clone(),
                        blocked,
                    };
                    if tx
                        .send(frame(MessageType::ConnectResponse(response)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    shared.publish(RemoteEvent::InboundConnected {
                        system_id: hello.system_id.clone(),
                        address: hello.address,
                        blocked,
                    });
                    system_id = Some(hello.system_id);
                }
                other => {
                    // Go never answers ClientConnection either (Q-T6).
                    RemoteMetrics::inc(&metrics.inbound_handshakes_unsupported);
                    warn!(%peer, variant = ?other.map(|_| "client_connection"),
                        "ignoring ConnectRequest without server_connection");
                }
            },
            Some(MessageType::MessageBatch(batch)) => {
                if system_id
                    .as_deref()
                    .is_some_and(|id| shared.block_list.is_blocked(id))
                {
                    RemoteMetrics::inc(&metrics.inbound_batches_blocked);
                    debug!(%peer, "dropping batch from blocked peer");
                    continue;
                }
                RemoteMetrics::inc(&metrics.inbound_batches);
                inbound::route_batch(&shared, &batch, &peer);
            }
            other => {
                RemoteMetrics::inc(&metrics.inbound_unexpected_frames);
                warn!(%peer, frame = ?other.map(|m| variant_name(&m)),
                    "ignoring unexpected frame on inbound stream");
            }
        }
    }
}

fn variant_name(m: &MessageType) -> &'static str {
    match m {
        MessageType::MessageBatch(_) => "message_batch",
        MessageType::ConnectRequest(_) => "connect_request",
        MessageType::ConnectResponse(_) => "connect_response",
        MessageType::DisconnectRequest(_) => "disconnect_request",
    }
}

/// Counts a failed inbound frame and names what went wrong.
fn classify(metrics: &RemoteMetrics, status: &Status) -> &'static str {
    match status.code() {
        Code::OutOfRange => {
            RemoteMetrics::inc(&metrics.inbound_oversized_messages);
            "message exceeds the size limit"
        }
        Code::Internal if is_decode_error(status.message()) => {
            RemoteMetrics::inc(&metrics.inbound_malformed_messages);
            "malformed protobuf"
        }
        _ => {
            RemoteMetrics::inc(&metrics.inbound_stream_errors);
            "stream error"
        }
    }
}

fn is_decode_error(message: &str) -> bool {
    message.contains("failed to decode")
}
