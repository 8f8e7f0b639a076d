//! Routing of inbound envelopes by target id.
//!
//! We deliver by id only and never forward: a target address that is not
//! exactly ours (an alias like `localhost`) is counted and still delivered
//! locally, where Go would forward it and may loop (Q-M5). Every envelope is
//! checked (indexes, serializer, type name, body) and a bad one is logged,
//! counted and skipped, where Go would crash; the rest of the batch goes on.
//! A requester whose message we cannot handle gets `DeadLetterResponse`, so
//! Go futures fail fast instead of timing out; a `DeadLetterResponse` is
//! never answered (no ping-pong).

use std::sync::Arc;

use tracing::{debug, warn};

use super::{
    EventStreamMessage, RemoteMetrics, TransportError, pending::FUTURE_PREFIX, shared::Shared,
};
use crate::wire::{
    DecodeError, SERIALIZER_JSON, WireMessage,
    proto::{
        actor::{DeadLetterResponse, Pid, Terminated, TerminatedReason},
        cluster::ActivationResponse,
        remote::MessageBatch,
    },
    resolve_envelope,
};

/// The id of every member's gossip actor.
pub const GOSSIP_ID: &str = "gossip";
/// The id Go members broadcast cluster events to.
pub const EVENTSTREAM_ID: &str = "eventstream";
/// The id of the disthash placement actor Go sends `ActivationRequest`s to.
pub const PARTITION_ACTIVATOR_ID: &str = "partition-activator";

/// Routes every envelope of an inbound batch. `peer` names the stream for logs.
pub(crate) fn route_batch(shared: &Arc<Shared>, batch: &MessageBatch, peer: &str) {
    let metrics = &shared.metrics;
    for envelope in &batch.envelopes {
        let (type_name, target, sender) = match resolve_envelope(batch, envelope) {
            Ok(r) => r,
            Err(e) => {
                match e {
                    DecodeError::UnsupportedSerializer(_) => {
                        RemoteMetrics::inc(&metrics.envelopes_bad_serializer);
                    }
                    _ => RemoteMetrics::inc(&metrics.envelopes_bad_index),
                }
                warn!(%peer, error = %e, "skipping bad inbound envelope");
                continue;
            }
        };
        if envelope.serializer_id == SERIALIZER_JSON {
            RemoteMetrics::inc(&metrics.envelopes_bad_serializer);
            warn!(%peer, %type_name, "skipping JSON-serialized envelope (only protobuf is supported)");
            dead_letter(shared, target, sender, type_name);
            continue;
        }
        match WireMessage::decode(type_name, &envelope.message_data) {
            Ok(message) => route(shared, target, sender, message),
            Err(e) => {
                if matches!(e, DecodeError::UnknownTypeName(_)) {
                    RemoteMetrics::inc(&metrics.envelopes_unknown_type);
                } else {
                    RemoteMetrics::inc(&metrics.envelopes_malformed);
                }
                warn!(%peer, error = %e, "skipping undecodable inbound envelope");
                dead_letter(shared, target, sender, type_name);
            }
        }
    }
}

/// Delivers one message to the local id it targets.
pub(crate) fn route(shared: &Arc<Shared>, target: Pid, sender: Option<Pid>, message: WireMessage) {
    let metrics = &shared.metrics;
    if target.address != shared.address {
        RemoteMetrics::inc(&metrics.envelopes_foreign_address);
        debug!(target_address = %target.address, our_address = %shared.address,
            "envelope for another address delivered locally by id (never forwarded)");
    }
    match (target.id.as_str(), message) {
        (GOSSIP_ID, WireMessage::GossipRequest(request)) => {
            let Some(handler) = shared.handlers.gossip.clone() else {
                dead_letter(shared, target, sender, "cluster.GossipRequest");
                return;
            };
            RemoteMetrics::inc(&metrics.gossip_requests);
            RemoteMetrics::inc(&metrics.inbound_envelopes);
            let shared = Arc::clone(shared);
            shared.runtime.clone().spawn(async move {
                let response = handler.on_gossip_request(sender.clone(), request).await;
                if let Some(s) = sender {
                    reply(&shared, s, response.into());
                }
            });
        }
        (EVENTSTREAM_ID, message) => {
            RemoteMetrics::inc(&metrics.eventstream_messages);
            RemoteMetrics::inc(&metrics.inbound_envelopes);
            let _ = shared
                .eventstream
                .send(EventStreamMessage { sender, message });
        }
        (PARTITION_ACTIVATOR_ID, WireMessage::ActivationRequest(request)) => {
            RemoteMetrics::inc(&metrics.activation_requests_refused);
            RemoteMetrics::inc(&metrics.inbound_envelopes);
            debug!(identity = ?request.cluster_identity, "refusing activation: we host no kinds");
            if let Some(s) = sender {
                reply(
                    shared,
                    s,
                    ActivationResponse {
                        pid: None,
                        failed: true,
                        topology_hash: request.topology_hash,
                    }
                    .into(),
                );
            }
        }
        (id, message) if id.starts_with(FUTURE_PREFIX) => {
            let is_dead_letter = matches!(message, WireMessage::DeadLetterResponse(_));
            let result = match message {
                WireMessage::DeadLetterResponse(d) => {
                    Err(TransportError::DeadLetter { target: d.target })
                }
                m => Ok(m),
            };
            if shared.pending.complete(id, result) {
                RemoteMetrics::inc(&metrics.inbound_envelopes);
            } else {
                RemoteMetrics::inc(&metrics.late_responses);
                debug!(%id, "response for a request that is no longer waiting");
                if !is_dead_letter {
                    dead_letter(shared, target, sender, "late response");
                }
            }
        }
        (_, WireMessage::Watch(watch)) => {
            // Go answers a watch on a missing actor with Terminated{NotFound}.
            if is_hosted(&target.id) {
                return;
            }
            RemoteMetrics::inc(&metrics.envelopes_dead_lettered);
            if let Some(watcher) = watch.watcher {
                reply(
                    shared,
                    watcher,
                    Terminated {
                        who: Some(target),
                        why: TerminatedReason::NotFound as i32,
                    }
                    .into(),
                );
            }
        }
        (_, message) => {
            let name = message.type_name();
            if matches!(message, WireMessage::DeadLetterResponse(_)) {
                RemoteMetrics::inc(&metrics.envelopes_dead_lettered);
                return;
            }
            dead_letter(shared, target, sender, name);
        }
    }
}

fn is_hosted(id: &str) -> bool {
    matches!(id, GOSSIP_ID | EVENTSTREAM_ID | PARTITION_ACTIVATOR_ID)
}

/// Sends an answer, with no sender of our own (so nobody answers it).
fn reply(shared: &Arc<Shared>, to: Pid, message: WireMessage) {
    if let Err(e) = shared.send(to, message, None) {
        debug!(error = %e, "could not send reply");
    }
}

/// An envelope nobody here handles: the requester (if any) gets
/// `DeadLetterResponse{Target}`.
fn dead_letter(shared: &Arc<Shared>, target: Pid, sender: Option<Pid>, what: &str) {
    RemoteMetrics::inc(&shared.metrics.envelopes_dead_lettered);
    debug!(target_id = %target.id, %what, has_sender = sender.is_some(), "dead letter");
    if what == "actor.DeadLetterResponse" {
        return;
    }
    if let Some(s) = sender {
        RemoteMetrics::inc(&shared.metrics.dead_letter_responses_sent);
        reply(
            shared,
            s,
            DeadLetterResponse {
                target: Some(target),
            }
            .into(),
        );
    }
}
