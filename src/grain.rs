//! Virtual actors (grains) shared with protoactor-go, addressed by kind and
//! identity: Rust nodes host cluster kinds that Go calls, and call grains
//! wherever they live (a Go or Rust member).
//!
//! Go's `cluster.Request(identity, kind, msg)` and the clients
//! `protoc-gen-go-grain` generates find the member that owns
//! `kind/identity` (rendezvous over the members advertising the kind,
//! `crate::placement`), send `ActivationRequest` to its
//! `partition-activator`, cache the PID it answers and send the message
//! there. Both sides of that live here:
//!
//! - `client` — [`GrainClient`]: calling grains as Go's default cluster
//!   context does (placement, activation, a PID cache, Go's retries and
//!   timeouts); `pid_cache` — [`PidCache`].
//! - `host` — [`GrainHost`]: the kinds an application hosts, each with a
//!   factory; advertising them and attaching the activator to a node.
//! - `activator` — the actor at `partition-activator` (Go's disthash
//!   `placementActor`): activations, `ActivationTerminated`, moving
//!   activations when the topology changes.
//! - `kind` — the [`Grain`] trait, its [`GrainContext`], and the actor
//!   running one activation.
//! - `methods` — [`GrainMethods`]: generated-client calls
//!   (`GrainRequest{method_index, message_data}`) dispatched to typed
//!   methods and answered as Go's generated server answers; [`GrainError`].
//! - `metrics` — [`GrainMetrics`].
//!
//! docs/grains.md says what follows Go and where we differ.

mod activator;
mod client;
mod host;
mod kind;
mod methods;
mod metrics;
mod pid_cache;

pub use client::{GrainCallError, GrainCallOptions, GrainClient};
pub use host::{DEFAULT_GRAIN_IDLE_TIMEOUT, GrainHost, GrainHostHandle, KindOptions};
pub use kind::{Grain, GrainContext};
pub use methods::{GrainError, GrainMethods, reason};
pub use metrics::{
    GrainClientMetrics, GrainClientMetricsSnapshot, GrainMetrics, GrainMetricsSnapshot,
};
pub use pid_cache::PidCache;
