//! A door into the inbound path for the fuzz targets in `fuzz/` (feature
//! `fuzzing`, hidden from the docs; not part of the API).
//!
//! Why it exists: the router and the batch check are crate-private and are
//! otherwise reached only through a gRPC stream. [`route_frame`] starts a
//! remote with [`Remote::serve`] (so it is built exactly as a node builds it,
//! with a gossip handler) on a tokio runtime that is never driven, decodes one
//! `RemoteMessage` frame and routes its batch exactly as an inbound stream
//! does. Everything the router does synchronously runs: table checks, body
//! decoding, dead letters, replies queued on endpoints (which parses the
//! fuzzer's addresses). The tasks it would spawn (the server, a gossip handler
//! call, an endpoint that would dial a fuzzer-chosen address) are dropped
//! unpolled with the runtime, so nothing is accepted or dialled.

use prost::Message;

use super::{Handlers, Remote, RemoteConfig, RemoteMetricsSnapshot, inbound};
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
/// through a fresh remote as an inbound stream would. Returns the counters,
/// or `None` when the frame does not decode (tonic would fail the stream).
///
/// # Panics
/// When tokio cannot build a runtime, loopback cannot be bound, or the
/// remote does not start: the harness is broken, not the input.
pub fn route_frame(frame: &[u8]) -> Option<RemoteMetricsSnapshot> {
    let message = RemoteMessage::decode(frame).ok()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a current-thread runtime");
    let _context = runtime.enter();
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| {
            l.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(l)
        })
        .expect("a loopback listener");
    let config = RemoteConfig {
        system_id: "fuzz-node".into(),
        advertised_address: Some(FUZZ_ADDRESS.into()),
        ..RemoteConfig::default()
    };
    let handlers =
        Handlers::new().with_gossip(|_sender, _request| async { GossipResponse::default() });
    // `serve` awaits nothing, and a current-thread `block_on` returns as soon
    // as its future is ready, before it runs any spawned task.
    let handle = runtime
        .block_on(Remote::serve(listener, config, handlers))
        .expect("the remote starts");
    let inner = &handle.inner;
    // Keep the receivers, so an answer to `future$N` completes a request.
    let _waiting: Vec<_> = (0..FUZZ_WAITING_REQUESTS)
        .map(|_| inner.pending.register())
        .collect();
    if let Some(MessageType::MessageBatch(batch)) = &message.message_type {
        inbound::route_batch(&inner.router, &inner.metrics, batch, "fuzz");
    }
    Some(handle.metrics())
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

    /// The count the `remote_message` target's model expects (its seed
    /// `764ce24…`): JSON of a built-in type is a refused serializer, JSON of
    /// a name nobody registered is an unknown type.
    #[test]
    fn json_envelopes_count_as_bad_serializer_or_unknown_type() {
        let mut batch = BatchBuilder::new().build();
        batch.type_names = vec!["myapp.Hello".into(), "cluster.GossipResponse".into()];
        batch.targets = vec![pid(FUZZ_ADDRESS, "x")];
        for type_id in [0, 1] {
            batch
                .envelopes
                .push(crate::wire::proto::remote::MessageEnvelope {
                    type_id,
                    message_data: b"{}".to_vec(),
                    serializer_id: crate::wire::SERIALIZER_JSON,
                    ..Default::default()
                });
        }
        let frame = RemoteMessage {
            message_type: Some(MessageType::MessageBatch(batch)),
        }
        .encode_to_vec();
        let m = route_frame(&frame).unwrap();
        assert_eq!(m.envelopes_unknown_type, 1, "myapp.Hello");
        assert_eq!(
            m.envelopes_bad_serializer, 1,
            "cluster.GossipResponse as JSON"
        );
        assert_eq!(m.inbound_envelopes, 0);
    }
}
