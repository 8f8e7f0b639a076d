//! Which polled `/_health` hosts are members: the decision, apart from the
//! polling.
//!
//! Go drops a host from its member list the first time a poll fails, and
//! blocks the member for good. That is fast (one refresh, 2 s by default)
//! but one slow answer costs a live member its membership. Waiting for
//! several failed polls in a row (our `missed_polls_before_leave`, 3) is
//! safe but slow: 4.8–6 s at Go's default refresh. So we weigh the evidence:
//!
//! - **An answer** proves the node alive: every failure and hint is
//!   forgotten.
//! - **A weak failure** (no answer in time, a reset, a bad status or body)
//!   may be load or the network. Only `grace` failed *rounds* in a row drop
//!   a member, as before; a failed confirming poll does not count here.
//! - **A refusal** (TCP connection refused: nothing listens on the port;
//!   the process is gone, or it closed `/_health` on its way out) is strong
//!   evidence, but one reading of it is not enough: it drops the member when
//!   it is corroborated, by a second refusal or by a hint that came since
//!   the last answer.
//! - **A hint** (the transport lost its connection to the member, or the
//!   gossip heartbeat rule suspects it) never drops anyone; it asks for a
//!   confirming poll at once.
//!
//! After the first failure of a listed host, and after every refusal that
//! did not drop it, the poller polls the host again at once (a confirming
//! poll) instead of waiting for the next round. A killed process is then
//! dropped within milliseconds of the transport noticing, or one refresh
//! plus two local round trips without a connection, and a live member is
//! never dropped by anything but `grace` failed rounds: a live process's
//! `/_health` listener does not refuse connections (a full accept backlog
//! drops the SYN; it does not refuse it).
//!
//! Pure: poll results and hints in, members and "poll this host now" out;
//! the poller in the parent module does the I/O.

use std::collections::BTreeMap;

use super::{NodeModel, PollError};
use crate::wire::proto::cluster::Member;

/// Why a poll was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PollKind {
    /// One of the polls of a refresh round (every host).
    Round,
    /// A confirming poll of one host, asked for by [`HealthDetector`].
    Confirm,
}

/// Evidence from outside the provider that a member may be gone. Hints
/// only trigger a confirming poll; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthHint {
    /// The transport's endpoint to this remoting address (`host:port`)
    /// ended: the stream broke, or a reconnect failed.
    ConnectionLost(String),
    /// The gossip heartbeat rule suspects the member with this id.
    Suspect(String),
}

/// What we know of one polled host.
#[derive(Debug, Default)]
struct HostRecord {
    /// The node that last answered, while it counts as a member.
    last: Option<NodeModel>,
    /// Failed rounds in a row.
    failed_rounds: u32,
    /// Refusals since the last answer.
    refusals: u32,
    /// A hint about this host's node came since the last answer.
    hinted: bool,
    /// A confirming poll is under way.
    confirming: bool,
}

impl HostRecord {
    fn matches(&self, hint: &HealthHint) -> bool {
        self.last.as_ref().is_some_and(|n| match hint {
            HealthHint::ConnectionLost(address) => {
                address.rsplit_once(':').is_some_and(|(host, port)| {
                    host == n.address && port.parse::<i64>().is_ok_and(|p| p == n.port)
                })
            }
            HealthHint::Suspect(id) => *id == n.id,
        })
    }
}

/// Per-host evidence and the drop rule of the module docs.
#[derive(Debug)]
pub(super) struct HealthDetector {
    grace: u32,
    hosts: BTreeMap<String, HostRecord>,
}

impl HealthDetector {
    /// A detector that drops a member after `grace` failed rounds (or a
    /// corroborated refusal).
    pub(super) fn new(grace: u32) -> Self {
        Self {
            grace,
            hosts: BTreeMap::new(),
        }
    }

    /// Folds in one poll's result. True when `host` should be polled again
    /// at once (a confirming poll); the caller then calls
    /// [`Self::confirming`] and, with its result, this again.
    pub(super) fn on_poll(
        &mut self,
        host: &str,
        kind: PollKind,
        result: Result<Option<NodeModel>, &PollError>,
    ) -> bool {
        let r = self.hosts.entry(host.to_owned()).or_default();
        if kind == PollKind::Confirm {
            r.confirming = false;
        }
        let refused = match result {
            Ok(node) => {
                *r = HostRecord {
                    last: node,
                    confirming: r.confirming,
                    ..HostRecord::default()
                };
                return false;
            }
            Err(e) => matches!(e, PollError::Refused(_)),
        };
        if kind == PollKind::Round {
            r.failed_rounds = r.failed_rounds.saturating_add(1);
        }
        if refused {
            r.refusals = r.refusals.saturating_add(1);
        }
        let corroborated = r.refusals >= 2 || (r.refusals >= 1 && r.hinted);
        if r.last.is_some() && (r.failed_rounds >= self.grace || corroborated) {
            tracing::info!(%host, id = ?r.last.as_ref().map(|n| &n.id), failed_rounds = r.failed_rounds,
                refusals = r.refusals, hinted = r.hinted, "automanaged: member dropped");
            r.last = None;
        }
        let first_failure = kind == PollKind::Round && r.failed_rounds == 1;
        r.last.is_some() && !r.confirming && (refused || first_failure)
    }

    /// Folds in a hint; returns the hosts to poll at once.
    pub(super) fn on_hint(&mut self, hint: &HealthHint) -> Vec<String> {
        let mut confirm = Vec::new();
        for (host, r) in &mut self.hosts {
            if r.matches(hint) {
                r.hinted = true;
                if !r.confirming {
                    confirm.push(host.clone());
                }
            }
        }
        confirm
    }

    /// Records that a confirming poll of `host` is under way.
    pub(super) fn confirming(&mut self, host: &str) {
        self.hosts.entry(host.to_owned()).or_default().confirming = true;
    }

    /// The members: every host whose node counts, with our cluster name.
    pub(super) fn members(&self, cluster_name: &str) -> Vec<Member> {
        self.hosts
            .values()
            .filter_map(|r| r.last.as_ref())
            .filter(|n| n.cluster_name == cluster_name)
            .filter_map(NodeModel::to_member)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::{Rng, SeedableRng};
    use rand_xorshift::XorShiftRng;

    fn model(id: &str, port: i64) -> NodeModel {
        NodeModel {
            id: id.into(),
            address: "127.0.0.1".into(),
            auto_manage_port: 6330,
            port,
            kinds: vec![],
            cluster_name: "c".into(),
        }
    }

    fn refused() -> PollError {
        PollError::Refused("connection refused".into())
    }
    fn timeout() -> PollError {
        PollError::Timeout(std::time::Duration::from_secs(2))
    }

    fn ids(d: &HealthDetector) -> Vec<String> {
        d.members("c").into_iter().map(|m| m.id).collect()
    }

    /// A detector that has seen `a` (port 1) and `b` (port 2) answer.
    fn two_members(grace: u32) -> HealthDetector {
        let mut d = HealthDetector::new(grace);
        assert!(!d.on_poll("ha", PollKind::Round, Ok(Some(model("A", 1)))));
        assert!(!d.on_poll("hb", PollKind::Round, Ok(Some(model("B", 2)))));
        d
    }

    #[test]
    fn weak_failures_drop_only_after_grace_rounds_and_confirms_do_not_count() {
        let mut d = two_members(3);
        assert!(
            d.on_poll("hb", PollKind::Round, Err(&timeout())),
            "first failure: confirm"
        );
        d.confirming("hb");
        for _ in 0..5 {
            assert!(!d.on_poll("hb", PollKind::Confirm, Err(&timeout())));
        }
        assert_eq!(ids(&d), ["A", "B"], "confirms do not count toward grace");
        assert!(!d.on_poll("hb", PollKind::Round, Err(&timeout())));
        assert_eq!(ids(&d), ["A", "B"]);
        assert!(!d.on_poll("hb", PollKind::Round, Err(&timeout())));
        assert_eq!(ids(&d), ["A"], "dropped after 3 failed rounds");
        assert!(!d.on_poll("hb", PollKind::Round, Ok(Some(model("B", 2)))));
        assert_eq!(ids(&d), ["A", "B"], "back when it answers");
    }

    #[test]
    fn grace_of_one_is_gos_behaviour() {
        let mut d = two_members(1);
        assert!(!d.on_poll("hb", PollKind::Round, Err(&timeout())));
        assert_eq!(ids(&d), ["A"]);
    }

    #[test]
    fn a_refusal_is_confirmed_and_two_drop() {
        let mut d = two_members(3);
        assert!(d.on_poll("hb", PollKind::Round, Err(&refused())));
        assert_eq!(ids(&d), ["A", "B"], "one refusal is not enough");
        d.confirming("hb");
        assert!(!d.on_poll("hb", PollKind::Confirm, Err(&refused())));
        assert_eq!(ids(&d), ["A"]);
    }

    #[test]
    fn a_refusal_then_an_answer_forgets_the_refusal() {
        let mut d = two_members(3);
        assert!(d.on_poll("hb", PollKind::Round, Err(&refused())));
        d.confirming("hb");
        assert!(!d.on_poll("hb", PollKind::Confirm, Ok(Some(model("B", 2)))));
        assert!(d.on_poll("hb", PollKind::Round, Err(&refused())));
        assert_eq!(ids(&d), ["A", "B"]);
    }

    #[test]
    fn a_hint_asks_for_a_confirm_and_corroborates_one_refusal() {
        let mut d = two_members(3);
        assert!(
            d.on_hint(&HealthHint::ConnectionLost("127.0.0.1:9".into()))
                .is_empty(),
            "no member at that address"
        );
        assert_eq!(
            d.on_hint(&HealthHint::ConnectionLost("127.0.0.1:2".into())),
            ["hb"]
        );
        d.confirming("hb");
        assert!(
            d.on_hint(&HealthHint::Suspect("B".into())).is_empty(),
            "a confirm is under way"
        );
        assert_eq!(ids(&d), ["A", "B"], "a hint alone drops nobody");
        assert!(!d.on_poll("hb", PollKind::Confirm, Err(&refused())));
        assert_eq!(ids(&d), ["A"]);
    }

    #[test]
    fn a_hint_with_weak_failures_drops_nobody_and_an_answer_clears_it() {
        let mut d = two_members(3);
        assert_eq!(d.on_hint(&HealthHint::Suspect("B".into())), ["hb"]);
        d.confirming("hb");
        assert!(!d.on_poll("hb", PollKind::Confirm, Err(&timeout())));
        assert_eq!(ids(&d), ["A", "B"]);
        assert!(!d.on_poll("hb", PollKind::Round, Ok(Some(model("B", 2)))));
        // The hint was cleared by the answer: one refusal needs a second.
        assert!(d.on_poll("hb", PollKind::Round, Err(&refused())));
        assert_eq!(ids(&d), ["A", "B"]);
    }

    #[test]
    fn other_clusters_are_not_members_and_null_bodies_clear_a_host() {
        let mut d = two_members(3);
        let mut other = model("X", 3);
        other.cluster_name = "other".into();
        d.on_poll("hx", PollKind::Round, Ok(Some(other)));
        d.on_poll("ha", PollKind::Round, Ok(None));
        assert_eq!(ids(&d), ["B"]);
    }

    /// One observer polling one host on virtual time at Go's default
    /// refresh: a round's poll, then confirming polls while the detector
    /// asks for them, then the refresh. A poll of a live node is lost (a
    /// 2 s timeout) with probability `loss`; every poll at or after
    /// `kill_at` is refused.
    struct VirtualPoller {
        rng: XorShiftRng,
        loss: f64,
        detector: HealthDetector,
    }

    const REFRESH_MS: u64 = 2_000;
    const TIMEOUT_MS: u64 = 2_000;
    const LOCAL_RTT_MS: u64 = 1;

    impl VirtualPoller {
        fn new(seed: u64, loss: f64) -> Self {
            let mut detector = HealthDetector::new(3);
            detector.on_poll("hb", PollKind::Round, Ok(Some(model("B", 2))));
            Self {
                rng: XorShiftRng::seed_from_u64(seed),
                loss,
                detector,
            }
        }

        fn alive(&self) -> bool {
            !ids(&self.detector).is_empty()
        }

        /// Polls once at `t` (then confirms while asked); returns when the
        /// last answer came and whether the round's poll failed with no
        /// confirming poll answered after it.
        fn poll(&mut self, kind: PollKind, mut t: u64, kill_at: Option<u64>) -> (u64, bool) {
            let mut kind = kind;
            let mut round_failed = false;
            loop {
                let (result, done) = if kill_at.is_some_and(|k| t >= k) {
                    (Err(refused()), t + LOCAL_RTT_MS)
                } else if (self.rng.next_u64() % 1_000_000) as f64 / 1e6 < self.loss {
                    (Err(timeout()), t + TIMEOUT_MS)
                } else {
                    (Ok(Some(model("B", 2))), t + LOCAL_RTT_MS)
                };
                if kind == PollKind::Round {
                    round_failed = result.is_err();
                } else if result.is_ok() {
                    // A confirming poll that is answered forgets the
                    // round's failure, as any answer does.
                    round_failed = false;
                }
                t = done;
                if !self
                    .detector
                    .on_poll("hb", kind, result.as_ref().map(Clone::clone))
                {
                    return (t, round_failed);
                }
                self.detector.confirming("hb");
                kind = PollKind::Confirm;
            }
        }

        /// Rounds from `start` until the member is dropped; when it was.
        /// `hint_at`: when the transport tells us the connection broke.
        fn until_dropped(&mut self, start: u64, kill_at: u64, hint_at: Option<u64>) -> u64 {
            let mut t = start;
            let mut hint_at = hint_at;
            loop {
                if let Some(h) = hint_at.filter(|h| *h <= t) {
                    hint_at = None;
                    let hint = HealthHint::ConnectionLost("127.0.0.1:2".into());
                    if !self.detector.on_hint(&hint).is_empty() {
                        self.detector.confirming("hb");
                        let (done, _) = self.poll(PollKind::Confirm, h, Some(kill_at));
                        if !self.alive() {
                            return done;
                        }
                    }
                }
                let (done, _) = self.poll(PollKind::Round, t, Some(kill_at));
                if !self.alive() {
                    return done;
                }
                t = done + REFRESH_MS;
            }
        }
    }

    #[test]
    fn virtual_time_twenty_percent_loss_drops_a_live_member_only_by_the_grace_rule() {
        // A fifth of the polls of a live node are lost (timeouts): over
        // 100 000 rounds (55 h at 2 s) the member is dropped exactly when
        // three rounds in a row failed, Go-incompatible old rule and all,
        // and never otherwise: confirming polls and the refusal rule add no
        // false drop. (Loss never refuses a connection.)
        let mut p = VirtualPoller::new(20, 0.2);
        let (mut failed_in_a_row, mut grace_drops) = (0, 0);
        for round in 0..100_000u64 {
            let (_, failed) = p.poll(PollKind::Round, round * REFRESH_MS, None);
            failed_in_a_row = if failed { failed_in_a_row + 1 } else { 0 };
            assert_eq!(
                p.alive(),
                failed_in_a_row < 3,
                "round {round}: {failed_in_a_row} failed rounds in a row"
            );
            if !p.alive() {
                grace_drops += 1;
                p.detector
                    .on_poll("hb", PollKind::Round, Ok(Some(model("B", 2))));
                failed_in_a_row = 0;
            }
        }
        // 0.2³ per round: the model does exercise the grace rule.
        assert!(grace_drops > 100, "{grace_drops}");
    }

    #[test]
    fn virtual_time_a_killed_node_is_dropped_within_one_refresh() {
        let (mut with_hint, mut without_hint) = (Vec::new(), Vec::new());
        for trial in 0..200u64 {
            let start = (trial * 37) % REFRESH_MS;
            let kill = 10_000 + (trial * 13) % REFRESH_MS;
            let mut p = VirtualPoller::new(trial, 0.0);
            without_hint.push(p.until_dropped(start, kill, None) - kill);
            let mut p = VirtualPoller::new(trial, 0.0);
            with_hint.push(p.until_dropped(start, kill, Some(kill + 5)) - kill);
        }
        let max = |v: &[u64]| *v.iter().max().unwrap();
        // With a connection: the hint's confirming poll (one refusal, and
        // the hint corroborates it), unless a round got there first.
        assert!(max(&with_hint) <= 5 + LOCAL_RTT_MS, "{with_hint:?}");
        // Without one: the next round's refusal and its confirming poll.
        let bound = REFRESH_MS + 2 * LOCAL_RTT_MS;
        assert!(max(&without_hint) <= bound, "{without_hint:?}");
        assert!(max(&without_hint) > REFRESH_MS / 2, "phases spread");
    }
}
