//! Node counters and the Prometheus text exposition served on `/metrics`.
//!
//! Counters are plain atomics bumped by the driver; gauges (members by
//! status, blocked, consensus) are read from a status snapshot at scrape
//! time, and the transport's own counters are appended with a
//! `protogossip_remote_` prefix. The text format is Prometheus' 0.0.4, written
//! by hand: it is a few lines, and a metrics crate would add a registry we
//! do not need.

use std::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering},
};

use super::status::NodeStatus;
use crate::remote::RemoteMetricsSnapshot;

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident = $help:literal, )*) => {
        /// The node's counters.
        #[derive(Debug, Default)]
        pub struct NodeMetrics {
            $( $(#[$doc])* pub $name: AtomicU64, )*
        }

        impl NodeMetrics {
            fn write_counters(&self, out: &mut String) {
                $(
                    let name = concat!("protogossip_", stringify!($name), "_total");
                    let _ = writeln!(out, "# HELP {name} {}", $help);
                    let _ = writeln!(out, "# TYPE {name} counter");
                    let _ = writeln!(out, "{name} {}", self.$name.load(Ordering::Relaxed));
                )*
            }
        }
    };
}

counters! {
    /// Gossip ticks run.
    gossip_rounds = "Gossip ticks run.",
    /// Gossip requests we sent.
    gossip_requests_sent = "Gossip requests sent to peers.",
    /// Answers to our gossip requests.
    gossip_responses_received = "Answers received to our gossip requests.",
    /// Our gossip requests that failed (timeout, dead letter, transport).
    gossip_requests_failed = "Gossip requests that failed (timeout, dead letter, transport error).",
    /// Gossip requests peers sent us.
    gossip_requests_received = "Gossip requests received from peers.",
    /// Encoded bytes of gossip requests we sent.
    gossip_bytes_sent = "Encoded bytes of gossip requests sent.",
    /// Encoded bytes of gossip state we received.
    gossip_bytes_received = "Encoded bytes of gossip requests and responses received.",
    /// Entries merged into our state from peers.
    merge_updates = "Remote gossip entries merged into our state.",
    /// Provider snapshots applied.
    provider_snapshots = "Member snapshots received from the provider.",
}

impl NodeMetrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        Self::add(counter, 1);
    }

    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The Prometheus text for these counters, the status gauges and the
    /// transport's counters.
    pub fn render(&self, status: &NodeStatus, remote: &RemoteMetricsSnapshot) -> String {
        let mut out = String::with_capacity(4096);
        self.write_counters(&mut out);
        let gauge = |out: &mut String, name: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
        };
        gauge(&mut out, "protogossip_members", "Members by status.");
        let counts = status.count_by_status();
        for s in [
            "Self", "Joining", "Up", "Suspect", "Leaving", "Blocked", "Removed",
        ] {
            let _ = writeln!(
                out,
                "protogossip_members{{status=\"{s}\"}} {}",
                counts.get(s).copied().unwrap_or(0)
            );
        }
        gauge(&mut out, "protogossip_blocked", "Ids on the block list.");
        let _ = writeln!(out, "protogossip_blocked {}", status.topology.blocked.len());
        gauge(
            &mut out,
            "protogossip_topology_consensus",
            "1 when every active member gossips our topology hash.",
        );
        let _ = writeln!(
            out,
            "protogossip_topology_consensus {}",
            u8::from(status.topology.consensus.reached)
        );
        gauge(
            &mut out,
            "protogossip_gossip_owners",
            "Owners in our gossip state.",
        );
        let _ = writeln!(out, "protogossip_gossip_owners {}", status.gossip_owners);
        gauge(
            &mut out,
            "protogossip_sequence_number",
            "Our last gossip sequence number.",
        );
        let _ = writeln!(
            out,
            "protogossip_sequence_number {}",
            status.sequence_number
        );
        for (field, value) in remote.fields() {
            let name = format!("protogossip_remote_{field}_total");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}
