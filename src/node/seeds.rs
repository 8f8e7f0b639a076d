//! Static seeds: learning who lives at each seed address.
//!
//! The static provider ([`crate::provider::static_list`]) knows seeds only by
//! `host:port`. This task tells it the ids, from the transport's own
//! handshakes, so nothing new goes on the wire:
//!
//! - it probes every seed with an empty `GossipRequest` to `seed/gossip`
//!   (what protoactor-go's gossip actor answers anyway): the transport dials
//!   the seed, and the seed's `ConnectResponse.member_id` is its id. A seed
//!   that is not up yet is probed again with exponential backoff (backon:
//!   200 ms doubling to 5 s, with jitter), so nodes may start in any order;
//!   a seed that answered is probed again every [`RECHECK`] (a restarted
//!   seed has a new id);
//! - every handshake the transport completes, ours
//!   ([`RemoteEvent::EndpointConnected`]) or a peer's
//!   ([`RemoteEvent::InboundConnected`], which names the peer's advertised
//!   address), is reported, so a node that dials us becomes our member too.
//!
//! Members learned from gossip (peers' `topology` keys) and members gone for
//! good are reported by the driver, which sees the core's events.
//!
//! A probe's answer goes to the core like any gossip response: if the seed
//! already lists us, it carries a delta whose watermarks the seed has
//! committed (Go never acknowledges a response, Q-G1), so dropping it would
//! lose entries.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio::sync::{broadcast, mpsc};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::driver::{Command, PROBE_TOKEN};
use crate::{
    provider::static_list::{Learned, StaticFeed},
    remote::{GOSSIP_ID, RemoteEvent, RemoteHandle},
    wire::{
        WireMessage,
        proto::{actor::Pid, cluster::GossipRequest},
    },
};

/// How often a seed that answered is probed again.
pub(super) const RECHECK: Duration = Duration::from_secs(10);

/// The backoff between probes of a seed that does not answer.
fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
}

/// Everything the seed task needs.
pub(super) struct Seeds {
    /// Seed addresses, our own already left out.
    pub(super) seeds: Vec<String>,
    pub(super) remote: RemoteHandle,
    /// Subscribed before anything could dial or be dialled.
    pub(super) events: broadcast::Receiver<RemoteEvent>,
    pub(super) feed: StaticFeed,
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) request_timeout: Duration,
    pub(super) stop: CancellationToken,
    pub(super) tasks: TaskTracker,
}

impl Seeds {
    /// Starts one probe task per seed and the handshake listener.
    pub(super) fn spawn(self) {
        for seed in &self.seeds {
            let probe = probe_forever(
                seed.clone(),
                self.remote.clone(),
                self.commands.clone(),
                self.request_timeout,
            );
            self.tasks
                .spawn(self.stop.clone().run_until_cancelled_owned(probe));
        }
        let listen = report_handshakes(self.events, self.feed);
        self.tasks
            .spawn(self.stop.run_until_cancelled_owned(listen));
    }
}

async fn report_handshakes(mut events: broadcast::Receiver<RemoteEvent>, feed: StaticFeed) {
    loop {
        match events.recv().await {
            Ok(RemoteEvent::EndpointConnected {
                address,
                member_id,
                blocked: false,
            }) => feed.report(Learned::Handshake {
                id: member_id,
                address,
            }),
            Ok(RemoteEvent::InboundConnected {
                system_id,
                address,
                blocked: false,
            }) => feed.report(Learned::Handshake {
                id: system_id,
                address,
            }),
            Ok(_) => {}
            // A missed handshake is seen again on the next connection, and
            // the seeds are re-probed.
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::debug!(missed = n, "seed task missed transport events");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn probe_forever(
    seed: String,
    remote: RemoteHandle,
    commands: mpsc::Sender<Command>,
    timeout: Duration,
) {
    loop {
        let probe = || probe(&seed, &remote, &commands, timeout);
        // Never gives up (without_max_times); the node's stop token ends it.
        let _ = probe
            .retry(backoff())
            .sleep(tokio::time::sleep)
            .notify(|e: &String, next: Duration| {
                tracing::debug!(%seed, error = %e, ?next, "seed not reachable yet");
            })
            .await;
        tokio::time::sleep(RECHECK).await;
    }
}

/// One probe: a handshake with the seed (the transport reports it), and its
/// answer handed to the core.
async fn probe(
    seed: &str,
    remote: &RemoteHandle,
    commands: &mpsc::Sender<Command>,
    timeout: Duration,
) -> Result<(), String> {
    let target = Pid {
        address: seed.to_owned(),
        id: GOSSIP_ID.into(),
        request_id: 0,
    };
    match remote
        .request(target, GossipRequest::default(), timeout)
        .await
    {
        Ok(WireMessage::GossipResponse(response)) => {
            if response.state.is_some() {
                let _ = commands
                    .send(Command::Answer {
                        // Static nodes keep their first id (no rejoin).
                        generation: 0,
                        token: PROBE_TOKEN,
                        result: Ok(response),
                    })
                    .await;
            }
            Ok(())
        }
        Ok(other) => Err(format!("unexpected answer {}", other.type_name())),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_and_never_gives_up() {
        use backon::BackoffBuilder;
        let delays: Vec<Duration> = backoff().build().take(40).collect();
        assert_eq!(delays.len(), 40, "unbounded retries");
        // Jitter adds up to one delay on top of the exponential step.
        assert!(delays[0] >= Duration::from_millis(200) && delays[0] <= Duration::from_millis(400));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(10)));
        assert!(delays[39] >= Duration::from_secs(5));
    }
}
