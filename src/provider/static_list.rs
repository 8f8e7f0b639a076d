//! Static seeds: for Rust-only clusters without a discovery service.
//!
//! Every start of a node takes a fresh member id (protoactor-go never
//! readmits an id it has blocked, so an id must not outlive its process), so
//! a configuration cannot name its peers by id. It names them by address
//! (`host:port` seeds) and the node learns who lives there:
//!
//! - from the transport handshake, both ways: our `ConnectRequest` to a seed
//!   is answered with its `ConnectResponse.member_id`, and a peer dialling
//!   us names itself in `ServerConnection{SystemId, Address}` (the node's
//!   seed task, `node/seeds.rs`, probes the seeds and reports handshakes);
//! - from gossip: the members a peer lists in its gossiped `topology` key
//!   become members here too, so a node given one seed finds everyone its
//!   seed knows, and everyone finds it.
//!
//! The provider owns the resulting list (this node, `members` with known
//! ids, and what was learned) and publishes it like every other provider;
//! the node reports what it learns through a [`StaticFeed`]. Rules that keep
//! the list honest:
//!
//! - one id per address: a handshake naming a new id at a known address
//!   replaces the old id (that process has restarted), gossip never does
//!   (a peer's topology may still list the old one);
//! - an id the node reports gone (blocked: heartbeat expired, left) is
//!   dropped and never added again, whoever still lists it;
//! - nothing learned at our own address with another id (an earlier
//!   incarnation of this node) is added.

use std::collections::{BTreeMap, BTreeSet};

use tokio::sync::{mpsc, watch};

use super::{ProviderError, ProviderTasks, SelfMember, publish};
use crate::wire::proto::cluster::Member;

/// The static provider's settings.
///
/// ```
/// use protogossip::provider::{ProviderConfig, static_list::StaticConfig};
///
/// let provider = ProviderConfig::Static(StaticConfig::seeds(["10.0.0.1:8090", "10.0.0.2:8090"]));
/// assert!(provider.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct StaticConfig {
    /// `host:port` (remoting) addresses of nodes to join; members' ids are
    /// learned from the transport handshake and from gossip. Spell each
    /// host exactly as that node advertises it. Our own address may be
    /// listed (it is skipped), so every node can share one list. Learning
    /// members from gossip needs `GossipConfig::gossip_update_events` (on
    /// by default).
    pub seeds: Vec<String>,
    /// Members whose *current* id is known, e.g. nodes started in the same
    /// process ([`crate::node::NodeHandle::id`]). An id is only valid for one
    /// run of its process: a restarted node has a new id, so ids must never
    /// be written into configuration (see `docs/operations.md`).
    pub members: Vec<Member>,
}

with_fields!(StaticConfig {
    with_seeds => seeds: [String],
    with_members => members: [Member],
});

impl StaticConfig {
    /// Seeds by address, no known members.
    pub fn seeds<S: Into<String>>(seeds: impl IntoIterator<Item = S>) -> Self {
        Self {
            seeds: seeds.into_iter().map(Into::into).collect(),
            members: Vec::new(),
        }
    }

    pub(super) fn validate(&self) -> Result<(), ProviderError> {
        for s in &self.seeds {
            if split_address(s).is_none() {
                return Err(ProviderError::Config(format!(
                    "static seed {s:?} is not host:port"
                )));
            }
        }
        for m in &self.members {
            if m.id.is_empty() {
                return Err(ProviderError::Config(format!(
                    "static member {}:{} has an empty id",
                    m.host, m.port
                )));
            }
            if !(1..=65535).contains(&m.port) {
                return Err(ProviderError::Config(format!(
                    "static member {} has port {} (expected 1-65535)",
                    m.id, m.port
                )));
            }
        }
        Ok(())
    }
}

/// `host:port` with a non-empty host and a port in 1..=65535.
pub(crate) fn split_address(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
    (!host.is_empty() && !host.contains(['/', ' ', '@'])).then_some((host, port))
}

/// What the node learned about the members, for the static provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learned {
    /// A transport handshake: `id` answers at `address` (`host:port`).
    Handshake {
        /// The peer's member (system) id.
        id: String,
        /// Its advertised `host:port`.
        address: String,
    },
    /// A peer's gossiped topology lists these members.
    Listed(Vec<Member>),
    /// The member is gone for good (blocked); never list it again.
    Gone(String),
}

/// Where the node reports what it learns to the static provider; cheap to
/// clone. Reports are dropped (with a debug log) if the provider lags far
/// behind or has stopped: every fact is reported again (handshakes on
/// reconnection, topologies on every change), so none is lost for good.
#[derive(Debug, Clone)]
pub struct StaticFeed(mpsc::Sender<Learned>);

impl StaticFeed {
    /// Reports one fact.
    pub fn report(&self, learned: Learned) {
        if let Err(e) = self.0.try_send(learned) {
            tracing::debug!(error = %e, "static provider did not take a report");
        }
    }
}

/// The member list the static provider owns.
#[derive(Debug)]
struct Roster {
    me: Member,
    members: BTreeMap<String, Member>,
    gone: BTreeSet<String>,
}

impl Roster {
    fn new(me: Member, known: Vec<Member>) -> Self {
        let mut members: BTreeMap<String, Member> =
            known.into_iter().map(|m| (m.id.clone(), m)).collect();
        members.insert(me.id.clone(), me.clone());
        Self {
            me,
            members,
            gone: BTreeSet::new(),
        }
    }

    fn list(&self) -> Vec<Member> {
        self.members.values().cloned().collect()
    }

    fn id_at(&self, host: &str, port: i32) -> Option<&str> {
        self.members
            .values()
            .find(|m| m.host == host && m.port == port)
            .map(|m| m.id.as_str())
    }

    fn is_me_at(&self, host: &str, port: i32) -> bool {
        self.me.host == host && self.me.port == port
    }

    /// Applies one fact; true when the list changed.
    fn apply(&mut self, learned: Learned) -> bool {
        match learned {
            Learned::Handshake { id, address } => {
                let Some((host, port)) = split_address(&address) else {
                    return false;
                };
                let port = i32::from(port);
                if id.is_empty()
                    || id == self.me.id
                    || self.gone.contains(&id)
                    || self.is_me_at(host, port)
                    || self.members.contains_key(&id)
                {
                    return false;
                }
                // A new id at a known address: that process restarted.
                if let Some(old) = self.id_at(host, port).map(str::to_owned) {
                    self.members.remove(&old);
                }
                self.members.insert(
                    id.clone(),
                    Member {
                        host: host.to_owned(),
                        port,
                        id,
                        kinds: Vec::new(),
                    },
                );
                true
            }
            Learned::Listed(listed) => {
                let mut changed = false;
                for m in listed {
                    if m.id.is_empty()
                        || m.id == self.me.id
                        || self.gone.contains(&m.id)
                        || self.is_me_at(&m.host, m.port)
                        || !(1..=65535).contains(&m.port)
                    {
                        continue;
                    }
                    let address_free = self.id_at(&m.host, m.port).is_none();
                    match self.members.get_mut(&m.id) {
                        // A handshake gave no kinds; a topology does.
                        Some(known) if known.kinds.is_empty() && !m.kinds.is_empty() => {
                            known.kinds = m.kinds;
                            changed = true;
                        }
                        None if address_free => {
                            self.members.insert(m.id.clone(), m);
                            changed = true;
                        }
                        Some(_) | None => {}
                    }
                }
                changed
            }
            Learned::Gone(id) => {
                if id == self.me.id {
                    return false;
                }
                let removed = self.members.remove(&id).is_some();
                self.gone.insert(id);
                removed
            }
        }
    }
}

/// Publishes the list, then applies what the node reports until we leave
/// (holding the sender, so the node does not take the list for a stopped
/// provider).
pub(super) fn serve(
    config: StaticConfig,
    me: SelfMember,
    tasks: &ProviderTasks,
) -> (watch::Receiver<Vec<Member>>, StaticFeed) {
    let (tx, rx) = watch::channel(Vec::new());
    let mut roster = Roster::new(me.to_member(&me.system_id), config.members);
    publish(&tx, roster.list());
    let (feed, mut reports) = mpsc::channel(1024);
    let leave = tasks.leave.clone();
    tasks.spawn(async move {
        loop {
            tokio::select! {
                () = leave.cancelled() => break,
                report = reports.recv() => match report {
                    Some(learned) => {
                        if roster.apply(learned) {
                            publish(&tx, roster.list());
                        }
                    }
                    None => leave.cancelled().await,
                },
            }
        }
        drop(tx);
    });
    (rx, StaticFeed(feed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> SelfMember {
        SelfMember {
            cluster_name: "c".into(),
            system_id: "self".into(),
            host: "127.0.0.1".into(),
            port: 9000,
            kinds: vec![],
        }
    }

    fn member(id: &str, port: i32) -> Member {
        Member {
            host: "127.0.0.1".into(),
            port,
            id: id.into(),
            kinds: vec![],
        }
    }

    fn ids(r: &Roster) -> Vec<&str> {
        r.members.keys().map(String::as_str).collect()
    }

    fn handshake(id: &str, port: u16) -> Learned {
        Learned::Handshake {
            id: id.into(),
            address: format!("127.0.0.1:{port}"),
        }
    }

    #[tokio::test]
    async fn adds_self_and_sorts() {
        let mut h = super::super::start(
            super::super::ProviderConfig::Static(StaticConfig {
                members: vec![member("b-other", 9001)],
                ..Default::default()
            }),
            me(),
        )
        .await
        .unwrap();
        let ids: Vec<String> = h.members().borrow().iter().map(|m| m.id.clone()).collect();
        assert_eq!(ids, ["b-other", "self"]);
        h.shutdown(std::time::Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn reports_reach_the_published_list() {
        let mut h = super::super::start(
            super::super::ProviderConfig::Static(StaticConfig::seeds(["127.0.0.1:9001"])),
            me(),
        )
        .await
        .unwrap();
        let mut rx = h.members();
        rx.borrow_and_update();
        h.static_feed().unwrap().report(handshake("a-peer", 9001));
        tokio::time::timeout(std::time::Duration::from_secs(5), rx.changed())
            .await
            .unwrap()
            .unwrap();
        let ids: Vec<String> = rx.borrow().iter().map(|m| m.id.clone()).collect();
        assert_eq!(ids, ["a-peer", "self"]);
        h.shutdown(std::time::Duration::from_secs(1)).await;
    }

    #[test]
    fn a_handshake_replaces_the_id_at_its_address_gossip_does_not() {
        let mut r = Roster::new(member("self", 9000), vec![]);
        assert!(r.apply(handshake("a1", 9001)));
        assert!(!r.apply(handshake("a1", 9001)), "known: no change");
        assert!(
            !r.apply(Learned::Listed(vec![member("a0", 9001)])),
            "a stale topology does not displace the live id"
        );
        assert!(
            r.apply(handshake("a2", 9001)),
            "restart: new id, same address"
        );
        assert_eq!(ids(&r), ["a2", "self"]);
    }

    #[test]
    fn gossip_adds_members_and_their_kinds() {
        let mut r = Roster::new(member("self", 9000), vec![]);
        r.apply(handshake("a", 9001));
        let mut a = member("a", 9001);
        a.kinds = vec!["k".into()];
        assert!(r.apply(Learned::Listed(vec![a, member("b", 9002)])));
        assert_eq!(ids(&r), ["a", "b", "self"]);
        assert_eq!(r.members["a"].kinds, ["k"]);
    }

    #[test]
    fn gone_ids_and_old_selves_never_come_back() {
        let mut r = Roster::new(member("self", 9000), vec![]);
        r.apply(handshake("a", 9001));
        assert!(r.apply(Learned::Gone("a".into())));
        assert!(!r.apply(Learned::Listed(vec![member("a", 9001)])));
        assert!(!r.apply(handshake("a", 9001)));
        assert!(
            !r.apply(Learned::Listed(vec![member("old-self", 9000)])),
            "an earlier incarnation of this node at our address"
        );
        assert!(!r.apply(Learned::Gone("self".into())));
        assert!(!r.apply(handshake("x", 0)), "bad address");
        assert_eq!(ids(&r), ["self"]);
    }

    #[test]
    fn rejects_bad_settings() {
        let bad_port = StaticConfig {
            members: vec![Member {
                id: "x".into(),
                port: 0,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(
            matches!(bad_port.validate(), Err(ProviderError::Config(m)) if m.contains("port 0"))
        );
        let no_id = StaticConfig {
            members: vec![Member {
                port: 1,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(no_id.validate().is_err());
        for bad in ["nohost", ":1", "h:0", "h:x", "id@h:1"] {
            assert!(
                matches!(StaticConfig::seeds([bad]).validate(), Err(ProviderError::Config(m)) if m.contains("host:port")),
                "{bad}"
            );
        }
        assert!(
            StaticConfig::seeds(["h:1", "10.0.0.1:8090"])
                .validate()
                .is_ok()
        );
    }
}
