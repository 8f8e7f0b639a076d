//! Counters of the grain host: activations, calls and every kind of bad
//! input, each also logged where it happens.

use std::sync::atomic::{AtomicU64, Ordering};

// Each counter's doc comment is its description, so a new counter is its
// doc line and its name.
macro_rules! grain_metrics {
    ($( $(#[doc = $doc:literal])* $name:ident, )*) => {
        /// Live counters of one grain host.
        #[derive(Debug, Default)]
        pub struct GrainMetrics {
            $( $(#[doc = $doc])* pub $name: AtomicU64, )*
        }

        /// A point-in-time copy of [`GrainMetrics`].
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct GrainMetricsSnapshot {
            $( $(#[doc = $doc])* pub $name: u64, )*
        }

        impl GrainMetricsSnapshot {
            /// Every counter with its name, in declaration order.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$( (stringify!($name), self.$name), )*]
            }
        }

        impl GrainMetrics {
            /// Reads every counter.
            pub fn snapshot(&self) -> GrainMetricsSnapshot {
                GrainMetricsSnapshot { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }
        }
    };
}

grain_metrics! {
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

impl GrainMetrics {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
