//! The sans-IO gossip member: protoactor-go's Gossiper, Informer and
//! MemberList as one deterministic state machine.
//!
//! Why sans-IO: everything that makes gossip hard to get right (sequence
//! numbers, watermarks, heartbeat expiry, block lists, consensus) depends on
//! time and message order. Keeping sockets, timers and clocks out of this
//! module lets the same code run under a tokio node, under the deterministic
//! simulator (`sim`, feature `test-util`) and in property tests, and lets it
//! build without `std`.
//!
//! The module is called `gossip` rather than `core` so that it never shadows
//! the `core` crate in `no_std` code.
//!
//! The driver feeds [`GossipCore`] inputs — [`GossipCore::tick`],
//! [`GossipCore::on_provider_snapshot`], [`GossipCore::on_gossip_request`],
//! [`GossipCore::on_gossip_response`], [`GossipCore::on_request_failed`],
//! [`GossipCore::set_state`] — each with the current time as
//! [`UnixMillis`] and, where randomness is needed, an RNG. Each returns a
//! [`GossipOutcome`]: gossip requests to send and timestamped events.
//!
//! Files, one job each, in dependency order (each uses only files listed
//! above it; `scripts/check-module-cycles.sh src/gossip` checks that no
//! import cycle creeps in):
//! - `types` — [`UnixMillis`], [`MemberId`], [`RequestToken`].
//! - `config` — [`GossipConfig`] with protoactor-go's defaults, [`ConfigError`].
//! - `rng` — the randomness of inputs that take no RNG, derived from the
//!   caller's.
//! - `gossip_state` — entries per (owner, key), `set`, merge ([`merge_states`]).
//! - `owner_alias` — Go's etcd members (`<cluster>@<id>`) gossiping as `<id>`.
//! - `member_state_delta` — per-target deltas and their watermarks.
//! - `forgotten_ids` — a bounded set of forgotten block entries (Q-M23).
//! - `member_list` — provider snapshots → topology, block list
//!   ([`BlockReason`]), hash.
//! - `member_status` — Joining/Up/Suspect/Leaving/Blocked/Removed.
//! - `consensus` — consensus checks ([`ConsensusValue`]) and the
//!   topology-hash check.
//! - `event` — [`ClusterEvent`] with timestamps.
//! - `outcome` — what an input returns ([`GossipOutcome`]).
//! - `failure_detector` — heartbeat expiry, suspicion and member statuses.
//! - `pending` — requests in flight and the watermarks they move.
//! - `gossip_core` — [`GossipCore`], which orchestrates them.

mod config;
mod consensus;
#[cfg(test)]
mod core_tests;
mod event;
mod failure_detector;
mod forgotten_ids;
mod gossip_core;
mod gossip_state;
mod member_list;
mod member_state_delta;
mod member_status;
mod outcome;
mod owner_alias;
mod pending;
mod rng;
mod types;

pub use config::{ConfigError, GossipConfig, Suspicion, TopologyDetail};
pub use consensus::{
    ConsensusCheck, ConsensusExtractor, ConsensusState, ConsensusValue, TOPOLOGY_CONSENSUS_CHECK,
};
pub use event::{ClusterEvent, EventKind, RejoinReason, TimedEvent};
pub use gossip_core::GossipCore;
pub use gossip_state::{GossipEntry, GossipState, GossipUpdate, OwnerState, merge_states};
pub use member_list::{BlockEntry, BlockReason, TopologyChange};
pub use member_state_delta::{MemberStateDelta, Watermarks, build_delta};
pub use member_status::MemberStatus;
pub use outcome::{GossipOutcome, GossipRequestOutcome, OutboundGossip};
pub use types::{MemberId, RequestToken, UnixMillis};
