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
//!
//! Connections reach tonic through `conn::Incoming`, which applies the
//! connection caps and the idle timeout; each stream tells its connection it
//! is open (`conn::ConnInfo`), so only connections without one time out.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::sync::mpsc;
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::{
    Code, Request, Response, Status, Streaming,
    transport::{Server, server::Router as TonicRouter},
};
use tracing::{debug, info, warn};

use super::{
    BlockList, RemoteEvent, RemoteMetrics, TransportError,
    conn::{ConnInfo, ConnStream, Incoming},
    event::EventSink,
    identity::Identity,
    inbound,
    router::Router,
    tasks::{Lifecycle, Tasks},
    tls::TlsConfig,
};
use crate::wire::proto::remote::{
    ConnectResponse, DisconnectRequest, GetProcessDiagnosticsRequest,
    GetProcessDiagnosticsResponse, ListProcessesRequest, ListProcessesResponse, RemoteMessage,
    connect_request::ConnectionType,
    remote_message::MessageType,
    remoting_server::{Remoting, RemotingServer},
};

/// HTTP/2 receive window of each inbound stream.
const SERVER_STREAM_WINDOW: u32 = 4 << 20;
/// HTTP/2 receive window of each inbound connection.
const SERVER_CONNECTION_WINDOW: u32 = 8 << 20;

/// What inbound streams need, and nothing more.
pub(crate) struct StreamContext {
    router: Arc<Router>,
    block_list: Arc<BlockList>,
    metrics: Arc<RemoteMetrics>,
    events: EventSink,
    tasks: Tasks,
    /// Ours, answered as `ConnectResponse.member_id`.
    identity: Arc<Identity>,
    max_inbound_streams: usize,
    /// Inbound streams open now.
    open: AtomicUsize,
}

impl StreamContext {
    pub(crate) fn new(
        router: Arc<Router>,
        block_list: Arc<BlockList>,
        metrics: Arc<RemoteMetrics>,
        events: EventSink,
        tasks: Tasks,
        identity: Arc<Identity>,
        max_inbound_streams: usize,
    ) -> Self {
        Self {
            router,
            block_list,
            metrics,
            events,
            tasks,
            identity,
            max_inbound_streams,
            open: AtomicUsize::new(0),
        }
    }

    /// How many inbound streams are open (tests).
    #[cfg(test)]
    pub(crate) fn open_streams(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// The gRPC server, configured but not yet serving.
pub(crate) struct InboundServer {
    router: TonicRouter,
}

impl InboundServer {
    /// The service for `context` with its size limits, HTTP/2 windows and
    /// optional TLS.
    ///
    /// # Errors
    /// [`TransportError::Tls`] when the TLS material is unusable.
    pub(crate) fn new(
        context: Arc<StreamContext>,
        max_message_size: usize,
        tls: Option<&TlsConfig>,
    ) -> Result<Self, TransportError> {
        // Larger HTTP/2 receive windows than h2's 64 KiB default: a peer can
        // then stream big batches without waiting a round trip per 64 KiB.
        // Fixed windows, not adaptive ones: adaptive windows send pings.
        let mut builder = Server::builder()
            .tcp_nodelay(true)
            .initial_stream_window_size(Some(SERVER_STREAM_WINDOW))
            .initial_connection_window_size(Some(SERVER_CONNECTION_WINDOW));
        if let Some(tls) = tls {
            builder = builder
                .tls_config(tls.server())
                .map_err(|e| TransportError::Tls(e.to_string()))?;
        }
        let service = RemotingServer::new(RemotingService { context })
            .max_decoding_message_size(max_message_size)
            .max_encoding_message_size(max_message_size);
        Ok(Self {
            router: builder.add_service(service),
        })
    }

    /// Serves the connections `incoming` admits until the remote stops, then
    /// returns once every connection has closed: at once when the peers
    /// close them, or after the hard stop, which fails their sockets (see
    /// `conn`).
    pub(crate) async fn run(self, incoming: Incoming, tasks: Tasks) {
        let stopping = tasks.clone();
        if let Err(e) = self
            .router
            .serve_with_incoming_shutdown(incoming, async move { stopping.stopping().await })
            .await
        {
            warn!(error = %e, "server ended with an error");
        }
    }
}

/// The gRPC service implementation.
struct RemotingService {
    context: Arc<StreamContext>,
}

/// Decrements the inbound stream count when the stream task ends, and ends
/// the stream's claim on its connection (which may then go idle).
struct StreamSlot(Arc<StreamContext>, Option<ConnStream>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
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
        let ctx = &self.context;
        // Always there: every connection comes from `Incoming`.
        let conn = request.extensions().get::<ConnInfo>().cloned();
        let peer = conn
            .as_ref()
            .map_or_else(|| "unknown".to_owned(), |c| c.remote_addr.to_string());
        if !ctx.tasks.is_running() {
            return Err(Status::unavailable("remote is shutting down"));
        }
        let open = ctx.open.fetch_add(1, Ordering::AcqRel);
        let mut slot = StreamSlot(Arc::clone(ctx), None);
        if open >= ctx.max_inbound_streams {
            RemoteMetrics::inc(&ctx.metrics.inbound_streams_rejected);
            warn!(%peer, open, limit = ctx.max_inbound_streams,
                "refusing inbound stream: too many open");
            return Err(Status::resource_exhausted("too many inbound streams"));
        }
        RemoteMetrics::inc(&ctx.metrics.inbound_streams_accepted);
        slot.1 = conn.as_ref().map(ConnInfo::stream_opened);
        debug!(%peer, "inbound stream opened");
        let (tx, rx) = mpsc::channel(4);
        ctx.tasks
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
    let ctx = Arc::clone(&slot.0);
    let metrics = &ctx.metrics;
    let mut lifecycle = ctx.tasks.lifecycle();
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
                    let blocked = ctx.block_list.is_blocked(&hello.system_id);
                    RemoteMetrics::inc(&metrics.inbound_handshakes);
                    if blocked {
                        RemoteMetrics::inc(&metrics.inbound_handshakes_blocked);
                        info!(%peer, system_id = %hello.system_id, "blocked peer connected");
                    }
                    ctx.block_list.learn(&hello.system_id, &hello.address);
                    let response = ConnectResponse {
                        member_id: ctx.identity.get(),
                        blocked,
                    };
                    if tx
                        .send(frame(MessageType::ConnectResponse(response)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    ctx.events.publish(RemoteEvent::InboundConnected {
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
                    .is_some_and(|id| ctx.block_list.is_blocked(id))
                {
                    RemoteMetrics::inc(&metrics.inbound_batches_blocked);
                    debug!(%peer, "dropping batch from blocked peer");
                    continue;
                }
                RemoteMetrics::inc(&metrics.inbound_batches);
                inbound::route_batch(&ctx.router, metrics, &batch, &peer);
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
