//! What the core's inputs return: requests for the driver to send and
//! events to publish, as data.

use alloc::string::String;
use alloc::vec::Vec;

use super::consensus::ConsensusChange;
use super::event::{ClusterEvent, TimedEvent};
use super::types::{MemberId, RequestToken, UnixMillis};
use crate::wire::proto::cluster::{GossipRequest, GossipResponse};

/// A gossip request for the driver to send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundGossip {
    /// The target member.
    pub target: MemberId,
    /// Its address, `host:port`; send to PID `{address, "gossip"}`.
    pub address: String,
    /// The message (`from_member_id` is the TARGET's id, as Go sends it).
    pub request: GossipRequest,
    /// Hand this back with the answer or the failure.
    pub token: RequestToken,
}

/// What an input produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GossipOutcome {
    /// Requests to send now.
    pub requests: Vec<OutboundGossip>,
    /// Events, in the order they happened.
    pub events: Vec<TimedEvent>,
    /// Ids whose gossip this input ignored because we forgot their block
    /// entry and the provider does not list them (Q-M23): one per owner
    /// state left out of a merge, and one per mention in a gossiped block
    /// list. For the driver's counter and debug log.
    pub ignored_forgotten: Vec<MemberId>,
}

impl GossipOutcome {
    /// Appends another outcome.
    pub fn extend(&mut self, other: GossipOutcome) {
        self.requests.extend(other.requests);
        self.events.extend(other.events);
        self.ignored_forgotten.extend(other.ignored_forgotten);
    }

    pub(crate) fn push(&mut self, at: UnixMillis, event: ClusterEvent) {
        self.events.push(TimedEvent { at, event });
    }

    /// Reports consensus changes as events.
    pub(crate) fn push_consensus(
        &mut self,
        at: UnixMillis,
        changes: impl IntoIterator<Item = ConsensusChange>,
    ) {
        for change in changes {
            let event = match change {
                ConsensusChange::Reached(check, value) => {
                    ClusterEvent::ConsensusReached { check, value }
                }
                ConsensusChange::Lost(check, value) => ClusterEvent::ConsensusLost { check, value },
            };
            self.push(at, event);
        }
    }
}

/// The answer to an inbound `GossipRequest`, and what handling it produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GossipRequestOutcome {
    /// Reply with this to the request's sender.
    pub response: GossipResponse,
    /// Requests and events.
    pub outcome: GossipOutcome,
}
