//! Evidence for the automanaged provider that a member may be gone.
//!
//! The provider decides membership from its `/_health` polls; the node
//! sees two earlier signs of a crash that the provider cannot: the
//! transport's endpoint to a member ends (a killed process's socket closes
//! at once), and the gossip heartbeat rule suspects a member. Both are
//! passed on as [`HealthHint`]s; the provider answers each with a
//! confirming poll, and only a refused connection there drops the member
//! (see `provider::automanaged::detector`). Nothing goes on the wire that
//! Go does not send anyway: one `GET /_health`.

use tokio::sync::{
    broadcast::{self, error::RecvError},
    watch,
};

use crate::{
    gossip::{ClusterEvent, TimedEvent},
    provider::automanaged::{HealthHint, HintSender},
    remote::{RemoteEvent, TerminationReason},
};

/// The hint an endpoint event gives, if any: a broken stream, a failed
/// reconnect or the peer's own goodbye, not our own removal or block.
fn remote_hint(event: &RemoteEvent) -> Option<HealthHint> {
    match event {
        RemoteEvent::EndpointTerminated {
            address,
            reason:
                TerminationReason::StreamEnded(_)
                | TerminationReason::ConnectFailed(_)
                | TerminationReason::DisconnectRequest
                | TerminationReason::UnexpectedMessage,
        } => Some(HealthHint::ConnectionLost(address.clone())),
        _ => None,
    }
}

/// The hint a cluster event gives, if any.
fn cluster_hint(event: &TimedEvent) -> Option<HealthHint> {
    match &event.event {
        ClusterEvent::MemberSuspect { id, .. } => Some(HealthHint::Suspect(id.as_str().to_owned())),
        _ => None,
    }
}

/// Passes hints from the transport's and the core's events to `hints`
/// until both streams close. A lagged stream skips what it missed: a lost
/// hint only delays detection to the next poll round.
pub(super) async fn forward(
    mut remote: broadcast::Receiver<RemoteEvent>,
    mut cluster: broadcast::Receiver<TimedEvent>,
    hints: watch::Receiver<Option<HintSender>>,
) {
    let (mut remote_open, mut cluster_open) = (true, true);
    while remote_open || cluster_open {
        let hint = tokio::select! {
            r = remote.recv(), if remote_open => match r {
                Ok(e) => remote_hint(&e),
                Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => { remote_open = false; None }
            },
            r = cluster.recv(), if cluster_open => match r {
                Ok(e) => cluster_hint(&e),
                Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => { cluster_open = false; None }
            },
        };
        if let (Some(hint), Some(poller)) = (hint, hints.borrow().as_ref()) {
            poller.send(hint);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gossip::UnixMillis;

    #[test]
    fn only_a_peer_side_end_of_an_endpoint_and_suspicion_are_hints() {
        let ended = |reason| RemoteEvent::EndpointTerminated {
            address: "h:1".into(),
            reason,
        };
        for reason in [
            TerminationReason::StreamEnded("reset".into()),
            TerminationReason::ConnectFailed("refused".into()),
            TerminationReason::DisconnectRequest,
        ] {
            assert_eq!(
                remote_hint(&ended(reason)),
                Some(HealthHint::ConnectionLost("h:1".into()))
            );
        }
        for reason in [
            TerminationReason::Removed,
            TerminationReason::Blocked,
            TerminationReason::Shutdown,
        ] {
            assert_eq!(remote_hint(&ended(reason)), None);
        }
        let suspect = TimedEvent {
            at: UnixMillis(0),
            event: ClusterEvent::MemberSuspect {
                id: "m".into(),
                silent_for_ms: 1,
            },
        };
        assert_eq!(
            cluster_hint(&suspect),
            Some(HealthHint::Suspect("m".into()))
        );
    }
}
