//! Counters for everything the transport drops, refuses or survives.
//!
//! Hostile or buggy input never stops the server; it is logged and counted
//! here so an operator can see it. The node exports a [`RemoteMetricsSnapshot`]
//! later; the counters are plain atomics so hot paths pay one relaxed add.

use std::sync::atomic::{AtomicU64, Ordering};

// Each counter's doc comment is also its HELP text on `/metrics`, so a new
// counter is its doc line and its name, nothing else.
macro_rules! metrics {
    ($( $(#[doc = $doc:literal])* $name:ident, )*) => {
        /// Live counters, shared by every task of one [`crate::remote::Remote`].
        #[derive(Debug, Default)]
        pub(crate) struct RemoteMetrics {
            $( $(#[doc = $doc])* pub(crate) $name: AtomicU64, )*
        }

        /// A point-in-time copy of the transport's live counters.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct RemoteMetricsSnapshot {
            $( $(#[doc = $doc])* pub $name: u64, )*
        }

        impl RemoteMetricsSnapshot {
            /// Every counter with its name, in declaration order (for exporters).
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$( (stringify!($name), self.$name), )*]
            }

            /// Every counter with its name and its description (the doc
            /// comment, untrimmed), in declaration order (for exporters).
            pub fn described(&self) -> Vec<(&'static str, &'static str, u64)> {
                vec![$( (stringify!($name), concat!($($doc),*), self.$name), )*]
            }
        }

        impl RemoteMetrics {
            /// Reads every counter.
            pub(crate) fn snapshot(&self) -> RemoteMetricsSnapshot {
                RemoteMetricsSnapshot { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }
        }
    };
}

metrics! {
    /// Inbound TCP connections admitted (below both connection caps).
    inbound_connections_accepted,
    /// Inbound TCP connections closed at once because
    /// `max_inbound_connections` were open.
    inbound_connections_refused_at_cap,
    /// Inbound TCP connections closed at once because
    /// `max_inbound_connections_per_ip` were open from the peer's address.
    inbound_connections_refused_at_ip_cap,
    /// Admitted connections closed because they had no `Receive` stream for
    /// `inbound_idle_timeout`.
    inbound_connections_idle_closed,
    /// Admitted connections closed (any reason); open = accepted - closed.
    inbound_connections_closed,
    /// `accept` calls that failed (e.g. out of file descriptors).
    inbound_accept_errors,
    /// Inbound `Receive` streams accepted.
    inbound_streams_accepted,
    /// Inbound streams refused because `max_inbound_streams` were open.
    inbound_streams_rejected,
    /// `ConnectRequest`s answered.
    inbound_handshakes,
    /// `ConnectRequest`s from blocked system ids (answered `blocked = true`).
    inbound_handshakes_blocked,
    /// `ConnectRequest`s without the `server_connection` variant (ignored).
    inbound_handshakes_unsupported,
    /// Inbound `MessageBatch`es processed.
    inbound_batches,
    /// Inbound batches dropped because their stream's system id is blocked.
    inbound_batches_blocked,
    /// Inbound envelopes delivered to a handler, a request or the eventstream.
    inbound_envelopes,
    /// Inbound messages over the size limit (the stream is ended).
    inbound_oversized_messages,
    /// Inbound frames that were not valid `RemoteMessage` protobuf (stream ended).
    inbound_malformed_messages,
    /// Inbound streams that failed for another reason (reset, transport error).
    inbound_stream_errors,
    /// Unexpected frames on an inbound stream (e.g. a client's `DisconnectRequest`).
    inbound_unexpected_frames,
    /// Envelopes whose type/target/sender index was out of range (skipped).
    envelopes_bad_index,
    /// Envelopes with a serializer id other than protobuf (skipped).
    envelopes_bad_serializer,
    /// Envelopes naming a type we do not know (skipped).
    envelopes_unknown_type,
    /// Envelopes whose body is not valid protobuf for its type (skipped).
    envelopes_malformed,
    /// Envelopes whose target address is not ours (still delivered by id).
    envelopes_foreign_address,
    /// Envelopes for ids we do not host (dead-lettered).
    envelopes_dead_lettered,
    /// `DeadLetterResponse`s we sent to requesters.
    dead_letter_responses_sent,
    /// Responses that arrived after their request completed or timed out.
    late_responses,
    /// `ActivationRequest`s refused with `ActivationResponse{failed: true}`.
    activation_requests_refused,
    /// Messages published to eventstream subscribers.
    eventstream_messages,
    /// Gossip requests handed to the gossip handler.
    gossip_requests,
    /// Envelopes queued for peers.
    outbound_envelopes,
    /// Batches written to peers.
    outbound_batches,
    /// Bytes of batches written to peers (protobuf size of the batch).
    outbound_bytes,
    /// Messages dropped because an endpoint queue was full.
    outbound_dropped_queue_full,
    /// Messages dropped because alone they exceed the message size limit.
    outbound_dropped_too_large,
    /// Messages dropped because their endpoint terminated or was removed.
    outbound_dropped_terminated,
    /// Messages refused because the target address is blocked.
    outbound_refused_blocked,
    /// Outbound connections established (handshake completed).
    endpoints_connected,
    /// Outbound endpoints that terminated (any reason).
    endpoints_terminated,
    /// Connection attempts that failed (connect error or handshake error).
    connect_failures,
    /// Handshakes that timed out.
    handshake_timeouts,
    /// Peers that answered our handshake with `blocked = true`.
    blocked_by_peer,
    /// Requests that timed out.
    requests_timed_out,
    /// Hosted actors started.
    actors_started,
    /// Hosted actors stopped (unregistered, `Stop`, `PoisonPill`, panic, shutdown).
    actors_stopped,
    /// Messages put in a hosted actor's mailbox.
    actor_messages,
    /// Messages dropped because a hosted actor's mailbox was full.
    actor_mailbox_full,
    /// Hosted actor handlers that panicked (the actor is stopped).
    actor_panics,
    /// Hosted actors stopped because no message reached them within their
    /// idle timeout (passivated grains).
    actor_idle_stops,
    /// `actor.Terminated{Stopped}` sent to watchers of our actors when one stops (a watch on an id we do not host is answered `NotFound` and counted as a dead letter).
    actor_terminated_sent,
    /// `Terminated{AddressTerminated}` told to our actors watching a lost address.
    actor_address_terminated,
}

impl RemoteMetrics {
    /// Adds one to a counter.
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Adds `n` to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
