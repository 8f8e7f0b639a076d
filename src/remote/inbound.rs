//! Checking the envelopes of an inbound batch before they are routed.
//!
//! Every envelope is checked (indexes, serializer, type name, body) and a
//! bad one is logged, counted and skipped, where Go would crash; the rest of
//! the batch goes on. A requester whose message we cannot decode gets
//! `DeadLetterResponse` from the [`Router`], so Go futures fail fast.

use std::sync::Arc;

use tracing::warn;

use super::{RemoteMetrics, router::Router};
use crate::wire::{
    DecodeError, SERIALIZER_JSON, WireMessage, proto::remote::MessageBatch, resolve_envelope,
};

/// Routes every envelope of an inbound batch. `peer` names the stream for logs.
pub(crate) fn route_batch(
    router: &Arc<Router>,
    metrics: &RemoteMetrics,
    batch: &MessageBatch,
    peer: &str,
) {
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
            router.dead_letter(target, sender, type_name);
            continue;
        }
        match WireMessage::decode(type_name, &envelope.message_data) {
            Ok(message) => router.deliver(target, sender, message),
            Err(e) => {
                if matches!(e, DecodeError::UnknownTypeName(_)) {
                    RemoteMetrics::inc(&metrics.envelopes_unknown_type);
                } else {
                    RemoteMetrics::inc(&metrics.envelopes_malformed);
                }
                warn!(%peer, error = %e, "skipping undecodable inbound envelope");
                router.dead_letter(target, sender, type_name);
            }
        }
    }
}
