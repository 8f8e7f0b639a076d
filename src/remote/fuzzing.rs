//! A door into the inbound path for the fuzz targets in `fuzz/` (feature
//! `fuzzing`, hidden from the docs; not part of the API).
//!
//! Why it exists: the router and the batch check are crate-private and are
//! otherwise reached only through a socket and a gRPC stream. [`route_frame`]
//! builds the same pieces [`Remote::serve`](super::Remote::serve) builds (a
//! router with a gossip handler, waiting requests, the endpoint table) on a
//! tokio runtime that is never driven, decodes one `RemoteMessage` frame and
//! routes its batch exactly as an inbound stream does. Everything the router
//! does synchronously runs: table checks, body decoding, dead letters, replies
//! queued on endpoints (which parses the fuzzer's addresses). The tasks it
//! would spawn (a gossip handler call, an endpoint that would dial a
//! fuzzer-chosen address) are dropped unpolled with the runtime, so nothing
//! touches the network.

use std::sync::Arc;

use prost::Message;

use super::{
    BlockList, Handlers, RemoteConfig, RemoteMetrics, RemoteMetricsSnapshot,
    endpoint::EndpointContext, endpoint_manager::EndpointManager, event::EventSink, inbound,
    pending::PendingRequests, router::Router, tasks::Tasks,
};
use crate::wire::proto::{
    cluster::GossipResponse,
    remote::{RemoteMessage, remote_message::MessageType},
};

/// The address the fuzzed node publishes (seeds can target it).
pub const FUZZ_ADDRESS: &str = "127.0.0.1:8090";

/// How many requests are waiting while a frame is routed: their ids are
/// `future$1` … `future$N`.
pub const FUZZ_WAITING_REQUESTS: u64 = 2;

/// Decodes `frame` as a `RemoteMessage` and, when it is a batch, routes it
/// through a fresh router as an inbound stream would. Returns the counters,
/// or `None` when the frame does not decode (tonic would fail the stream).
///
/// # Panics
/// Only if tokio cannot build a current-thread runtime.
pub fn route_frame(frame: &[u8]) -> Option<RemoteMetricsSnapshot> {
    let message = RemoteMessage::decode(frame).ok()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime without drivers");
    let _context = runtime.enter();
    let config = RemoteConfig {
        system_id: "fuzz-node".into(),
        ..RemoteConfig::default()
    };
    let address = FUZZ_ADDRESS.to_owned();
    let tasks = Tasks::new();
    let metrics = Arc::new(RemoteMetrics::default());
    let block_list = Arc::new(BlockList::default());
    let pending = Arc::new(PendingRequests::default());
    let events = EventSink::new(config.event_capacity);
    let endpoints = Arc::new(EndpointManager::new(
        Arc::new(EndpointContext::new(
            config.clone(),
            address.clone(),
            Arc::clone(&metrics),
            Arc::clone(&block_list),
            Arc::clone(&pending),
            events,
            tasks.clone(),
        )),
        block_list,
        Arc::clone(&metrics),
        config.endpoint_queue_capacity,
        tasks.clone(),
    ));
    let handlers =
        Handlers::new().with_gossip(|_sender, _request| async { GossipResponse::default() });
    let router = Arc::new(Router::new(
        address,
        handlers,
        Arc::clone(&pending),
        endpoints,
        config.event_capacity,
        Arc::clone(&metrics),
        tasks,
    ));
    // Keep the receivers, so an answer to `future$N` completes a request.
    let _waiting: Vec<_> = (0..FUZZ_WAITING_REQUESTS)
        .map(|_| pending.register())
        .collect();
    if let Some(MessageType::MessageBatch(batch)) = &message.message_type {
        inbound::route_batch(&router, &metrics, batch, "fuzz");
    }
    Some(metrics.snapshot())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{
        BatchBuilder, WireMessage,
        proto::{
            actor::Pid,
            cluster::{GossipRequest, GossipState},
        },
    };

    fn pid(address: &str, id: &str) -> Pid {
        Pid {
            address: address.into(),
            id: id.into(),
            request_id: 0,
        }
    }

    #[test]
    fn a_gossip_request_and_an_answer_are_routed_without_a_network() {
        let mut b = BatchBuilder::new();
        let request = WireMessage::from(GossipRequest {
            from_member_id: "x".into(),
            state: Some(GossipState::default()),
        });
        let peer_future = pid("127.0.0.1:9", "future$7");
        b.push(
            &pid(FUZZ_ADDRESS, "gossip"),
            Some(&peer_future),
            &request,
            None,
        );
        let answer = WireMessage::from(GossipResponse::default());
        b.push(&pid(FUZZ_ADDRESS, "future$1"), None, &answer, None);
        b.push(
            &pid(FUZZ_ADDRESS, "nobody"),
            Some(&peer_future),
            &answer,
            None,
        );
        let frame = RemoteMessage {
            message_type: Some(MessageType::MessageBatch(b.build())),
        }
        .encode_to_vec();
        let m = route_frame(&frame).unwrap();
        assert_eq!(m.gossip_requests, 1);
        assert_eq!(m.inbound_envelopes, 2, "the request and the answer");
        assert_eq!(m.envelopes_dead_lettered, 1);
        assert_eq!(m.dead_letter_responses_sent, 1);
        assert_eq!(m.outbound_envelopes, 1, "the dead letter, queued");
        assert_eq!(route_frame(&[0xff]), None);
    }
}
