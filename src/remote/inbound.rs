//! Checking the envelopes of an inbound batch before they are routed.
//!
//! Every envelope is checked (indexes, serializer, type name, body) and a
//! bad one is logged, counted and skipped, where Go would crash; the rest of
//! the batch goes on. Bodies are decoded through the wire registry and the
//! application's [`TypeRegistry`](super::TypeRegistry) (JSON only for types
//! registered for it). A requester whose message we cannot decode gets
//! `DeadLetterResponse` from the [`Router`], so Go futures fail fast.

use std::sync::Arc;

use tracing::warn;

use super::{RemoteMetrics, message::Header, router::Router};
use crate::wire::{DecodeError, proto::remote::MessageBatch, resolve_envelope};

/// Routes every envelope of an inbound batch. `peer` names the stream for logs.
pub(crate) fn route_batch(
    router: &Arc<Router>,
    metrics: &RemoteMetrics,
    batch: &MessageBatch,
    peer: &str,
) {
    let types = router.host().types();
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
        match types.decode(type_name, envelope.serializer_id, &envelope.message_data) {
            Ok(message) => {
                let header = envelope
                    .message_header
                    .as_ref()
                    .map(|h| h.header_data.clone())
                    .unwrap_or_else(Header::new);
                router.deliver(target, sender, header, message);
            }
            Err(e) => {
                router.undecodable(&e, peer);
                router.dead_letter(target, sender, type_name);
            }
        }
    }
}
