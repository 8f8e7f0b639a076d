//! The one rule for an envelope nobody here takes, shared by the router
//! (unknown ids, undecodable bodies) and the actor host (full or closed
//! mailboxes, a handler that panicked): count it, and answer a requester
//! with `DeadLetterResponse{Target}` so a Go future fails at once instead of
//! timing out. A `DeadLetterResponse` itself is never answered (no
//! ping-pong between two nodes that both lack the id).

use tracing::debug;

use super::RemoteMetrics;
use crate::wire::{
    WireMessage,
    proto::actor::{DeadLetterResponse, Pid},
};

/// Counts a dead letter for `target` (`what` names the message for the log)
/// and, when there is a `sender` and the message is not itself a
/// `DeadLetterResponse`, hands `send` the answer for it.
pub(crate) fn answer(
    metrics: &RemoteMetrics,
    target: Pid,
    sender: Option<Pid>,
    what: &str,
    send: impl FnOnce(Pid, WireMessage),
) {
    RemoteMetrics::inc(&metrics.envelopes_dead_lettered);
    debug!(target_id = %target.id, %what, has_sender = sender.is_some(), "dead letter");
    if what == "actor.DeadLetterResponse" {
        return;
    }
    if let Some(s) = sender {
        RemoteMetrics::inc(&metrics.dead_letter_responses_sent);
        send(
            s,
            DeadLetterResponse {
                target: Some(target),
            }
            .into(),
        );
    }
}
