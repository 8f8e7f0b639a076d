//! Node counters and the Prometheus exposition served on `/metrics`.
//!
//! Counters live in the node (the driver bumps them); gauges (members by
//! status, blocked, consensus) are read from a status snapshot at scrape
//! time, and the transport's counters from a [`RemoteMetricsSnapshot`], as
//! `protogossip_remote_<name>_total` with the counter's doc comment as HELP
//! (a counter added to `RemoteMetrics` shows up here with nothing else to
//! write). Parts of the crate started on a running node (a grain host, a
//! grain client) add their counters through [`ExtraCounters`], as
//! `protogossip_<prefix>_<name>_total`, read at each scrape; two sources
//! with one prefix (two grain clients on one node) are summed, so a series
//! is never written twice. `prometheus-client` writes the text (format 0.0.4, which
//! `promtool check metrics` lints): HELP and TYPE on every series, `_total`
//! on every counter, units last (`…_sent_bytes_total`). Each scrape builds a
//! small registry of its own, so the snapshot values need no shared state.

use prometheus_client::{
    encoding::prometheus_text,
    metrics::{
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::{ConstGauge, Gauge},
    },
    registry::Registry,
};

use super::status::NodeStatus;
use crate::remote::RemoteMetricsSnapshot;

/// The `Content-Type` of [`NodeMetrics::render`]'s text.
pub(crate) const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

macro_rules! counters {
    ($( $(#[$doc:meta])* $field:ident => $name:literal, $help:literal, )*) => {
        /// The node's counters (exported as `protogossip_<name>_total`).
        #[derive(Debug, Default)]
        pub(crate) struct NodeMetrics {
            $( $(#[$doc])* pub(crate) $field: Counter, )*
            /// Counters of parts started on the running node.
            pub(crate) extra: ExtraCounters,
        }

        impl NodeMetrics {
            fn register_counters(&self, registry: &mut Registry) {
                $( registry.register($name, $help, self.$field.clone()); )*
            }
        }
    };
}

counters! {
    /// Gossip ticks run.
    gossip_rounds => "gossip_rounds", "Gossip ticks run",
    /// Gossip requests we sent.
    gossip_requests_sent => "gossip_requests_sent", "Gossip requests sent to peers",
    /// Answers to our gossip requests.
    gossip_responses_received => "gossip_responses_received",
        "Answers received to our gossip requests",
    /// Our gossip requests that failed (timeout, dead letter, transport).
    gossip_requests_failed => "gossip_requests_failed",
        "Gossip requests that failed (timeout, dead letter, transport error)",
    /// Gossip requests peers sent us.
    gossip_requests_received => "gossip_requests_received", "Gossip requests received from peers",
    /// Encoded bytes of gossip requests we sent.
    gossip_bytes_sent => "gossip_sent_bytes", "Encoded bytes of gossip requests sent",
    /// Encoded bytes of gossip state we received.
    gossip_bytes_received => "gossip_received_bytes",
        "Encoded bytes of gossip requests and responses received",
    /// Entries merged into our state from peers.
    merge_updates => "merge_updates", "Remote gossip entries merged into our state",
    /// Relayed gossip ignored because it is about a member whose block
    /// entry we forgot (Q-M23).
    ignored_forgotten => "gossip_ignored_forgotten",
        "Relayed gossip ignored: owner states and block-list mentions of forgotten blocked ids",
    /// Provider snapshots applied.
    provider_snapshots => "provider_snapshots", "Member snapshots received from the provider",
    /// Rejoins under a fresh member id (the cluster had excluded us).
    rejoins => "rejoins", "Rejoins under a fresh member id after the cluster excluded this node",
    /// Rejoins put off because the last one was too recent.
    rejoins_deferred => "rejoins_deferred",
        "Exclusions seen within the wait after a rejoin (no rejoin then)",
    /// Rejoins that failed (the provider could not register the new id).
    rejoin_failures => "rejoin_failures",
        "Rejoins that failed (the new id could not be registered); retried after the wait",
}

/// Reads one part's counters: `(name, description, value)` each, the
/// description being the counter's doc comment.
pub(crate) type CounterSource =
    Box<dyn Fn() -> Vec<(&'static str, &'static str, u64)> + Send + Sync>;

/// Counter sources added to a running node, each under a prefix.
#[derive(Default)]
pub(crate) struct ExtraCounters(std::sync::Mutex<Vec<(&'static str, CounterSource)>>);

impl std::fmt::Debug for ExtraCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sources = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f.debug_list()
            .entries(sources.iter().map(|(p, _)| p))
            .finish()
    }
}

impl ExtraCounters {
    /// Adds `source`'s counters under `prefix` from the next scrape on.
    pub(crate) fn add(&self, prefix: &'static str, source: CounterSource) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((prefix, source));
    }

    /// Registers every source's counters, summing those of one prefix.
    fn register(&self, registry: &mut Registry) {
        let mut sums: std::collections::BTreeMap<(&str, &str), (&str, u64)> =
            std::collections::BTreeMap::new();
        for (prefix, source) in self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            for (name, help, value) in source() {
                let sum = sums.entry((prefix, name)).or_insert((help, 0));
                sum.1 = sum.1.saturating_add(value);
            }
        }
        for ((prefix, name), (help, value)) in sums {
            let help = help.trim().trim_end_matches('.').replace('`', "");
            registry.sub_registry_with_prefix(prefix).register(
                name,
                help,
                ConstCounter::new(value),
            );
        }
    }
}

/// Member statuses in `/status` spelling, one `protogossip_members` series each.
const STATUSES: [&str; 7] = [
    "Self", "Joining", "Up", "Suspect", "Leaving", "Blocked", "Removed",
];

/// A count as a gauge value (saturating; counts never come near).
fn gauge(n: usize) -> ConstGauge {
    ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX))
}

impl NodeMetrics {
    /// Adds one to a counter.
    pub(crate) fn inc(counter: &Counter) {
        counter.inc();
    }

    /// Adds `n` to a counter.
    pub(crate) fn add(counter: &Counter, n: u64) {
        counter.inc_by(n);
    }

    /// Every series: these counters, the status gauges and the transport's
    /// counters, in the Prometheus text format ([`CONTENT_TYPE`]).
    ///
    /// # Errors
    /// Only if formatting into a `String` fails (it does not).
    pub(crate) fn render(
        &self,
        status: &NodeStatus,
        remote: &RemoteMetricsSnapshot,
    ) -> Result<String, std::fmt::Error> {
        let mut registry = Registry::with_prefix("protogossip");
        self.register_counters(&mut registry);

        let members = Family::<[(&'static str, &'static str); 1], Gauge>::default();
        let counts = status.count_by_status();
        for s in STATUSES {
            let n = counts.get(s).copied().unwrap_or(0);
            members
                .get_or_create(&[("status", s)])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        registry.register("members", "Members by status", members);
        registry.register(
            "blocked",
            "Ids on the block list",
            gauge(status.topology.blocked.len()),
        );
        registry.register(
            "topology_consensus",
            "1 when every active member gossips our topology hash",
            ConstGauge::new(i64::from(status.topology.consensus.reached)),
        );
        registry.register(
            "gossip_owners",
            "Owners in our gossip state",
            gauge(status.gossip_owners),
        );
        registry.register(
            "sequence_number",
            "Our last gossip sequence number",
            ConstGauge::new(status.sequence_number),
        );

        let transport = registry.sub_registry_with_prefix("remote");
        for (name, help, value) in remote.described() {
            let help = help.trim().trim_end_matches('.').replace('`', "");
            transport.register(name, help, ConstCounter::new(value));
        }
        self.extra.register(&mut registry);

        let mut out = String::with_capacity(8192);
        prometheus_text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::gossip::{GossipConfig, GossipCore, UnixMillis};

    #[test]
    fn every_series_has_help_and_type_and_every_counter_ends_in_total() {
        let core = GossipCore::new("me", GossipConfig::default()).unwrap();
        let status = NodeStatus::of(&core, "127.0.0.1:1", "c", UnixMillis(0));
        let metrics = NodeMetrics::default();
        NodeMetrics::add(&metrics.gossip_bytes_sent, 42);
        let remote = RemoteMetricsSnapshot {
            outbound_bytes: 7,
            ..Default::default()
        };
        let text = metrics.render(&status, &remote).unwrap();

        let (mut help, mut kind) = (BTreeMap::new(), BTreeMap::new());
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, h) = rest.split_once(' ').unwrap();
                help.insert(name, h);
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, t) = rest.split_once(' ').unwrap();
                kind.insert(name, t);
            } else {
                samples.push(line.split(['{', ' ']).next().unwrap());
            }
        }
        for name in &samples {
            assert!(help.contains_key(name), "{name}: no HELP\n{text}");
            let t = kind.get(name).unwrap_or_else(|| panic!("{name}: no TYPE"));
            assert_eq!(*t == "counter", name.ends_with("_total"), "{name} {t}");
        }
        for (name, h) in &help {
            // A transport counter without a doc comment would get an empty HELP.
            assert!(h.len() > 1, "{name}: HELP {h:?}");
            assert!(!h.contains('`') && !h.ends_with(".."), "{name}: {h:?}");
        }
        let transport = kind
            .keys()
            .filter(|n| n.starts_with("protogossip_remote_"))
            .count();
        assert_eq!(transport, remote.fields().len());
        assert!(
            text.contains("\nprotogossip_gossip_sent_bytes_total 42\n"),
            "{text}"
        );
        assert!(
            text.contains("\nprotogossip_remote_outbound_bytes_total 7\n"),
            "{text}"
        );
        assert!(
            text.contains("\nprotogossip_members{status=\"Self\"} "),
            "{text}"
        );
    }

    #[test]
    fn added_counters_show_under_their_prefix_and_one_prefix_is_summed() {
        let core = GossipCore::new("me", GossipConfig::default()).unwrap();
        let status = NodeStatus::of(&core, "127.0.0.1:1", "c", UnixMillis(0));
        let metrics = NodeMetrics::default();
        let remote = RemoteMetricsSnapshot::default();
        let before = metrics.render(&status, &remote).unwrap();
        assert!(!before.contains("protogossip_part"), "{before}");

        let source = |n: u64| -> CounterSource {
            Box::new(move || vec![("calls", "Calls `made`.", n), ("errors", "Errors.", 1)])
        };
        metrics.extra.add("part", source(2));
        metrics.extra.add("part", source(5));
        metrics.extra.add("other", source(9));
        let text = metrics.render(&status, &remote).unwrap();
        for line in [
            "# HELP protogossip_part_calls_total Calls made.",
            "# TYPE protogossip_part_calls_total counter",
            "protogossip_part_calls_total 7",
            "protogossip_part_errors_total 2",
            "protogossip_other_calls_total 9",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert_eq!(
            text.matches("# TYPE protogossip_part_calls_total ").count(),
            1
        );
    }
}
