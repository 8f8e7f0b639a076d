//! protoactor-go's cluster protocol in Rust.
//!
//! A Rust process that uses this crate can join a protoactor-go cluster as a
//! full member: it speaks the same gRPC envelope protocol, gossips the same
//! keys with the same sequence rules, computes the same topology hash and
//! blocks failed members by the same rules, so Go nodes cannot tell it from a
//! Go node. Where protoactor-go has bugs that do not show on the wire, we fix
//! them on our side.
//!
//! The crate is layered so that the logic can be tested without a network:
//!
//! - [`wire`] — the protobuf types, `Any` packing with Go's type URLs, a
//!   registry of type names, `MessageBatch` tables and the topology hash.
//!   Pure data and codecs; builds without `std`.
//! - [`gossip`] — the sans-IO gossip core: gossip state and merge, deltas
//!   and watermarks, heartbeats and failure detection, the member list and
//!   topology, member statuses and consensus. Inputs and `now` in, an
//!   outcome (requests, timestamped events) out; builds without `std`.
//! - `sim` (feature `test-util`) — a deterministic simulator: many cores on a
//!   virtual clock over a seeded lossy network, exchanging real protobuf.
//! - `remote` (`std`) — protoactor-go's Remoting transport over tonic.
//! - `node` (`std`) — the cluster member: the core driven on tokio with the
//!   transport and a provider, `/status`, `/metrics`, and `ClusterGossiper`.
//! - [`placement`] — which member owns a grain identity: protoactor-go's
//!   rendezvous (FNV-1a 32) placement over the members hosting the kind.
//!   Pure; builds without `std`.
//! - `grain` (`std`) — virtual actors: kinds a Rust node hosts for Go callers
//!   (the activator at `partition-activator`, typed grain methods), and
//!   calling grains by kind and identity as protoactor-go's `cluster.Request`
//!   does.
//! - [`gossiper`] — the `Gossiper` seam of Rust actor runtimes and a
//!   `NoopGossiper`, so our gossiper drops into a host with a one-line change.
//! - `provider` (`std`) — where the member list comes from: automanaged
//!   (`/_health`), etcd (feature `etcd`) and a static list, interoperable with
//!   protoactor-go's providers.
//! - [`system_id`] — fresh member ids spelled as Go spells them.
//! - [`digest`] — the gossip-state fingerprint our `/status` and the Go
//!   harness both show, so two nodes' views compare at a glance.
//!
//! Without the default `std` feature the crate is `no_std` + `alloc`.

#![cfg_attr(not(feature = "std"), no_std)]
// docs.rs (nightly, `--cfg docsrs`) marks each feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![deny(unreachable_pub)]
#![forbid(unsafe_code)]

extern crate alloc;

#[macro_use]
mod builder;
pub mod digest;
pub mod gossip;
pub mod gossiper;
#[cfg(feature = "std")]
pub mod grain;
#[cfg(feature = "std")]
mod http_server;
#[cfg(feature = "std")]
pub mod node;
pub mod placement;
#[cfg(feature = "std")]
pub mod provider;
#[cfg(feature = "std")]
pub mod remote;
#[cfg(feature = "test-util")]
pub mod sim;
pub mod system_id;
pub mod wire;
