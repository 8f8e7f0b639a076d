//! Counters of the grain host (activations, calls and every kind of bad
//! input, each also logged where it happens) and of the grain client.
//! Both show on the node's `/metrics` (`protogossip_grain_*_total`,
//! `protogossip_grain_client_*_total`), described by their doc comments.

use std::sync::atomic::{AtomicU64, Ordering};

// Each counter's doc comment is its description, so a new counter is its
// doc line and its name.
macro_rules! grain_metrics {
    (
        $(#[doc = $live_doc:literal])* $live:ident,
        $(#[doc = $snap_doc:literal])* $snap:ident;
        $( $(#[doc = $doc:literal])* $name:ident, )*
    ) => {
        $(#[doc = $live_doc])*
        #[derive(Debug, Default)]
        pub struct $live {
            $( $(#[doc = $doc])* pub(crate) $name: AtomicU64, )*
        }

        $(#[doc = $snap_doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $snap {
            $( $(#[doc = $doc])* pub $name: u64, )*
        }

        impl $snap {
            /// Every counter with its name, in declaration order.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$( (stringify!($name), self.$name), )*]
            }

            /// Every counter with its name and description (its doc
            /// comment), in declaration order (for `/metrics`).
            pub fn described(&self) -> Vec<(&'static str, &'static str, u64)> {
                vec![$( (stringify!($name), concat!($($doc),*), self.$name), )*]
            }
        }

        impl $live {
            /// Reads every counter.
            #[must_use]
            pub fn snapshot(&self) -> $snap {
                $snap { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }
        }
    };
}

grain_metrics! {
    /// Live counters of one grain host.
    GrainMetrics,
    /// A point-in-time copy of [`GrainMetrics`].
    GrainMetricsSnapshot;
    /// `ActivationRequest`s answered with the PID of a new activation.
    activations_started,
    /// `ActivationRequest`s answered with the PID of an existing activation.
    activations_found,
    /// `ActivationRequest`s for a kind this node does not host (answered
    /// `failed: true`).
    activations_unknown_kind,
    /// `ActivationRequest`s without a cluster identity or kind (answered
    /// `failed: true`).
    activations_malformed,
    /// Activations that could not be spawned (the node is shutting down;
    /// answered `failed: true`).
    activations_failed,
    /// Activations that stopped (`ActivationTerminated` broadcast).
    activations_terminated,
    /// Activations poisoned because the topology gave their identity to
    /// another member.
    activations_moved,
    /// `GrainRequest`s that reached a grain.
    grain_requests,
    /// `GrainRequest`s whose `message_data` did not decode as the method's
    /// request type (answered `INVALID_ARGUMENT`).
    grain_requests_malformed,
    /// `GrainRequest`s for a method index the kind does not have (answered
    /// `UNIMPLEMENTED`).
    grain_requests_unknown_method,
    /// Grain methods that returned an error (answered with it).
    grain_method_errors,
    /// Grain methods that panicked (answered `INTERNAL`; the grain stops).
    grain_method_panics,
}

grain_metrics! {
    /// Counters of a [`GrainClient`](super::GrainClient), shared by its clones.
    GrainClientMetrics,
    /// A copy of a [`GrainClient`](super::GrainClient)'s counters.
    GrainClientMetricsSnapshot;
    /// Calls started.
    calls,
    /// Calls that ended with an error.
    failed_calls,
    /// Retries after a failed attempt.
    retries,
    /// Attempts that found the PID in the cache.
    cache_hits,
    /// `ActivationRequest`s that returned a PID.
    activations,
    /// Attempts with no member hosting the kind.
    no_owner,
    /// `ActivationRequest`s that failed or timed out.
    activation_failures,
    /// Requests answered with a dead letter.
    dead_letters,
    /// Requests that timed out.
    timeouts,
    /// Requests whose member could not be reached.
    unreachable,
    /// Cached PIDs dropped (dead letter, timeout, member gone).
    invalidated,
}

impl GrainMetrics {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
