//! One outbound endpoint: the task that owns our connection and our one
//! `Receive` stream to a peer address.
//!
//! Life cycle: idle until a message is queued (lazy, like Go), then connect
//! with exponential backoff and handshake with a timeout, then pump queued
//! messages into batches until the stream ends. The server may send us only
//! one `ConnectResponse`; any later frame (normally `DisconnectRequest`)
//! terminates the endpoint, as in Go. A terminated endpoint reconnects when
//! the next message is queued; a connection cycle that fails completely, a
//! removal or our shutdown ends the task and fails what is still queued.
//! We never send compressed frames and send HTTP/2 pings only when
//! configured (≥ 5 min), because Go servers refuse both.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Streaming, transport::Endpoint};
use tracing::{debug, info, warn};

use super::{
    BlockList, RemoteConfig, RemoteEvent, RemoteMetrics, TerminationReason, TransportError,
    address::dial_uri,
    event::EventSink,
    identity::Identity,
    outbound::{Outbound, plan_batches},
    pending::PendingRequests,
    tasks::Tasks,
};
use crate::wire::proto::{
    actor::Pid,
    remote::{
        ConnectRequest, ConnectResponse, MessageBatch, RemoteMessage, ServerConnection,
        connect_request::ConnectionType, remote_message::MessageType,
        remoting_client::RemotingClient,
    },
};

/// How many messages we take from the queue per round (a few batches).
const DRAIN_FACTOR: usize = 4;

/// What every endpoint task of one remote needs, and nothing more.
pub(crate) struct EndpointContext {
    config: RemoteConfig,
    /// Our published address (sent in handshakes; senders on it are ours).
    address: String,
    metrics: Arc<RemoteMetrics>,
    block_list: Arc<BlockList>,
    pending: Arc<PendingRequests>,
    events: EventSink,
    /// Executor of the tasks tonic spawns for each client channel.
    tasks: Tasks,
    /// Our system id, sent in every `ConnectRequest`.
    identity: Arc<Identity>,
}

impl EndpointContext {
    pub(crate) fn new(
        config: RemoteConfig,
        address: String,
        metrics: Arc<RemoteMetrics>,
        block_list: Arc<BlockList>,
        pending: Arc<PendingRequests>,
        events: EventSink,
        tasks: Tasks,
    ) -> Self {
        Self {
            identity: Arc::new(Identity::new(config.system_id.clone())),
            config,
            address,
            metrics,
            block_list,
            pending,
            events,
            tasks,
        }
    }

    /// Shares `identity` (the remote's) instead of a fixed copy of
    /// `config.system_id`, so a rejoin's new id reaches our handshakes.
    pub(crate) fn with_identity(mut self, identity: Arc<Identity>) -> Self {
        self.identity = identity;
        self
    }

    /// A message that will never be sent: if `sender` is one of our waiting
    /// requests, that request fails with `err`.
    fn fail_sender(&self, sender: Option<&Pid>, err: &TransportError) {
        if let Some(s) = sender
            && s.address == self.address
        {
            self.pending.complete(&s.id, Err(err.clone()));
        }
    }
}

/// An endpoint task's last word to its manager: generation `generation` of
/// the endpoint to `address` has ended (so the manager forgets exactly that
/// entry, never a newer one for the same address).
#[derive(Debug)]
pub(crate) struct Ended {
    pub(crate) address: String,
    pub(crate) generation: u64,
}

struct Connection {
    tx: mpsc::Sender<RemoteMessage>,
    inbound: Streaming<RemoteMessage>,
}

enum PumpEnd {
    /// Removed, blocked or shut down: the task ends.
    Closed(TerminationReason),
    /// The stream ended; reconnect on the next message.
    Terminated(TerminationReason),
}

/// Resolves when the endpoint is asked to close.
async fn closed(close: &mut watch::Receiver<Option<TerminationReason>>) -> TerminationReason {
    loop {
        if let Some(r) = close.borrow_and_update().clone() {
            return r;
        }
        if close.changed().await.is_err() {
            return TerminationReason::Removed;
        }
    }
}

/// The endpoint task.
pub(crate) async fn run(
    ctx: Arc<EndpointContext>,
    address: String,
    generation: u64,
    mut queue: mpsc::Receiver<Outbound>,
    mut close: watch::Receiver<Option<TerminationReason>>,
    ended: mpsc::UnboundedSender<Ended>,
) {
    let mut carry: Vec<Outbound> = Vec::new();
    let reason = loop {
        if carry.is_empty() {
            tokio::select! {
                biased;
                r = closed(&mut close) => break r,
                m = queue.recv() => match m {
                    Some(m) => carry.push(m),
                    None => break TerminationReason::Removed,
                },
            }
        }
        let connected = tokio::select! {
            biased;
            r = closed(&mut close) => break r,
            c = connect_with_backoff(&ctx, &address) => c,
        };
        let (mut conn, response) = match connected {
            Ok(c) => c,
            Err(e) => break TerminationReason::ConnectFailed(e.to_string()),
        };
        RemoteMetrics::inc(&ctx.metrics.endpoints_connected);
        ctx.block_list.learn(&response.member_id, &address);
        if response.blocked {
            RemoteMetrics::inc(&ctx.metrics.blocked_by_peer);
            warn!(%address, member_id = %response.member_id,
                "peer answered our handshake with blocked = true: it has excluded us for good");
        }
        info!(%address, member_id = %response.member_id, "endpoint connected");
        ctx.events.publish(RemoteEvent::EndpointConnected {
            address: address.clone(),
            member_id: response.member_id.clone(),
            blocked: response.blocked,
        });
        if ctx.block_list.is_blocked(&response.member_id) {
            break TerminationReason::Blocked;
        }
        match conn
            .pump(&ctx, &address, &mut queue, &mut close, &mut carry)
            .await
        {
            PumpEnd::Closed(r) => break r,
            PumpEnd::Terminated(r) => {
                RemoteMetrics::inc(&ctx.metrics.endpoints_terminated);
                info!(%address, reason = ?r, "endpoint terminated; reconnecting on next message");
                ctx.events.publish(RemoteEvent::EndpointTerminated {
                    address: address.clone(),
                    reason: r,
                });
            }
        }
    };
    // The manager may be gone already (the remote is shutting down).
    let _ = ended.send(Ended {
        address: address.clone(),
        generation,
    });
    queue.close();
    let err = TransportError::EndpointTerminated {
        address: address.clone(),
    };
    let mut dropped = 0u64;
    for m in carry.drain(..) {
        ctx.fail_sender(m.sender.as_ref(), &err);
        dropped += 1;
    }
    while let Ok(m) = queue.try_recv() {
        ctx.fail_sender(m.sender.as_ref(), &err);
        dropped += 1;
    }
    RemoteMetrics::add(&ctx.metrics.outbound_dropped_terminated, dropped);
    RemoteMetrics::inc(&ctx.metrics.endpoints_terminated);
    info!(%address, ?reason, dropped, "endpoint closed");
    ctx.events
        .publish(RemoteEvent::EndpointTerminated { address, reason });
}

async fn connect_with_backoff(
    ctx: &EndpointContext,
    address: &str,
) -> Result<(Connection, ConnectResponse), TransportError> {
    let backoff = &ctx.config.backoff;
    let mut attempt = 1;
    loop {
        match connect_once(ctx, address).await {
            Ok(c) => return Ok(c),
            Err(e) => {
                RemoteMetrics::inc(&ctx.metrics.connect_failures);
                if matches!(e, TransportError::HandshakeTimeout { .. }) {
                    RemoteMetrics::inc(&ctx.metrics.handshake_timeouts);
                }
                warn!(%address, attempt, error = %e, "connection attempt failed");
                if attempt >= backoff.max_attempts || matches!(e, TransportError::InvalidAddress(_))
                {
                    return Err(e);
                }
                tokio::time::sleep(backoff.delay(attempt)).await;
                attempt += 1;
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

async fn connect_once(
    ctx: &EndpointContext,
    address: &str,
) -> Result<(Connection, ConnectResponse), TransportError> {
    let config = &ctx.config;
    let connect_err = |reason: String| TransportError::Connect {
        address: address.into(),
        reason,
    };
    let uri = dial_uri(address, config.tls.is_some())?;
    let mut endpoint = Endpoint::from_shared(uri)
        .map_err(|_| TransportError::InvalidAddress(address.into()))?
        .connect_timeout(config.connect_timeout)
        .tcp_nodelay(true)
        .executor(ctx.tasks.clone());
    if let Some(interval) = config.http2_keepalive {
        endpoint = endpoint
            .http2_keep_alive_interval(interval)
            .keep_alive_while_idle(false);
    }
    if let Some(tls) = &config.tls {
        endpoint = endpoint
            .tls_config(tls.client(address)?)
            .map_err(|e| TransportError::Tls(error_chain(&e)))?;
    }
    let channel = tokio::time::timeout(config.connect_timeout, endpoint.connect())
        .await
        .map_err(|_| connect_err("connect timed out".into()))?
        .map_err(|e| connect_err(error_chain(&e)))?;
    let mut client = RemotingClient::new(channel)
        .max_decoding_message_size(config.max_message_size)
        .max_encoding_message_size(config.max_outbound_message_size);
    let (tx, rx) = mpsc::channel(8);
    let hello = RemoteMessage {
        message_type: Some(MessageType::ConnectRequest(ConnectRequest {
            connection_type: Some(ConnectionType::ServerConnection(ServerConnection {
                system_id: ctx.identity.get(),
                address: ctx.address.clone(),
            })),
        })),
    };
    tx.send(hello)
        .await
        .map_err(|_| connect_err("request stream closed".into()))?;
    let handshake_err = |reason: String| TransportError::Handshake {
        address: address.into(),
        reason,
    };
    let handshake = async {
        let mut inbound = client
            .receive(ReceiverStream::new(rx))
            .await
            .map_err(|s| handshake_err(format!("{}: {}", s.code(), s.message())))?
            .into_inner();
        match inbound.message().await {
            Ok(Some(RemoteMessage {
                message_type: Some(MessageType::ConnectResponse(r)),
            })) => Ok((inbound, r)),
            Ok(Some(_)) => Err(handshake_err("invalid connect response".into())),
            Ok(None) => Err(handshake_err("stream ended before ConnectResponse".into())),
            Err(s) => Err(handshake_err(format!("{}: {}", s.code(), s.message()))),
        }
    };
    let (inbound, response) = tokio::time::timeout(config.handshake_timeout, handshake)
        .await
        .map_err(|_| TransportError::HandshakeTimeout {
            address: address.into(),
        })??;
    Ok((Connection { tx, inbound }, response))
}

/// What a server frame after the handshake means.
fn termination_of(frame: Result<Option<RemoteMessage>, tonic::Status>) -> TerminationReason {
    match frame {
        Ok(Some(RemoteMessage {
            message_type: Some(MessageType::DisconnectRequest(_)),
        })) => TerminationReason::DisconnectRequest,
        Ok(Some(_)) => TerminationReason::UnexpectedMessage,
        Ok(None) => TerminationReason::StreamEnded("stream completed by peer".into()),
        Err(s) => TerminationReason::StreamEnded(format!("{}: {}", s.code(), s.message())),
    }
}

/// Fails the requests whose answers would have come back to senders in an
/// unsent batch.
fn fail_batch(ctx: &EndpointContext, batch: &MessageBatch, err: &TransportError) {
    for s in &batch.senders {
        ctx.fail_sender(Some(s), err);
    }
    RemoteMetrics::add(
        &ctx.metrics.outbound_dropped_terminated,
        batch.envelopes.len() as u64,
    );
}

impl Connection {
    async fn pump(
        &mut self,
        ctx: &EndpointContext,
        address: &str,
        queue: &mut mpsc::Receiver<Outbound>,
        close: &mut watch::Receiver<Option<TerminationReason>>,
        carry: &mut Vec<Outbound>,
    ) -> PumpEnd {
        let config = &ctx.config;
        let max_count = config.max_batch_envelopes;
        loop {
            if carry.is_empty() {
                tokio::select! {
                    biased;
                    r = closed(close) => return PumpEnd::Closed(r),
                    f = self.inbound.message() => return PumpEnd::Terminated(termination_of(f)),
                    m = queue.recv() => match m {
                        Some(m) => carry.push(m),
                        None => return PumpEnd::Closed(TerminationReason::Removed),
                    },
                }
            }
            while carry.len() < max_count.saturating_mul(DRAIN_FACTOR) {
                match queue.try_recv() {
                    Ok(m) => carry.push(m),
                    Err(_) => break,
                }
            }
            let (batches, too_large) = plan_batches(
                std::mem::take(carry),
                max_count,
                config.max_outbound_message_size,
            );
            for (m, size) in too_large {
                RemoteMetrics::inc(&ctx.metrics.outbound_dropped_too_large);
                warn!(target_pid = ?m.target, size, limit = config.max_outbound_message_size,
                    "dropping message larger than the message size limit");
                ctx.fail_sender(
                    m.sender.as_ref(),
                    &TransportError::MessageTooLarge {
                        size,
                        limit: config.max_outbound_message_size,
                    },
                );
            }
            let mut batches = batches.into_iter();
            while let Some(batch) = batches.next() {
                let bytes = prost::Message::encoded_len(&batch) as u64;
                let frame = RemoteMessage {
                    message_type: Some(MessageType::MessageBatch(batch)),
                };
                let end = tokio::select! {
                    biased;
                    f = self.inbound.message() => Some(termination_of(f)),
                    r = self.tx.send(frame) => r.err().map(|_| {
                        TerminationReason::StreamEnded("request stream closed".into())
                    }),
                };
                if let Some(reason) = end {
                    let err = TransportError::EndpointTerminated {
                        address: address.to_owned(),
                    };
                    for rest in batches {
                        fail_batch(ctx, &rest, &err);
                    }
                    return PumpEnd::Terminated(reason);
                }
                RemoteMetrics::inc(&ctx.metrics.outbound_batches);
                RemoteMetrics::add(&ctx.metrics.outbound_bytes, bytes);
                debug!(bytes, "batch sent");
            }
        }
    }
}
