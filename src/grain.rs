//! Grains: protoactor-go's virtual actors, addressed by kind and identity.
//!
//! [`client`] calls grains wherever they live (a Go or Rust member), as
//! Go's `cluster.Request` does: placement, activation, a PID cache, Go's
//! retries and timeouts. See docs/grains.md.

pub mod client;
pub mod pid_cache;

pub use client::{
    GrainCallError, GrainCallOptions, GrainClient, GrainClientMetrics, GrainClientMetricsSnapshot,
};
pub use pid_cache::PidCache;
