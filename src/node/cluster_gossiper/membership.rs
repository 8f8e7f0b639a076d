//! The membership bridge: the node's view of the cluster, handed to the host
//! runtime in the host's terms.
//!
//! A host runtime keeps a member table of its own and raises its own member
//! events; a gossiper that keeps its view to itself leaves that table empty.
//! [`Membership`] is what the host reads instead of our internals: a
//! [`MembershipSnapshot`] (every live member with its address, kinds and
//! status, the topology hash, the block list and topology consensus) and a
//! stream of [`MembershipEvent`]s, each a numbered, timestamped change of
//! that snapshot. Applying the events in order to the snapshot they follow
//! gives the next snapshot, so a host can drive its table from either.
//!
//! The bridge is one task per running node. It builds the table from the
//! node's public API only — the event stream of [`NodeHandle::subscribe`],
//! and [`NodeHandle::status`] plus our own `topology` entry to learn what
//! happened before it subscribed — and it never calls into the host: it
//! publishes to a broadcast channel the host reads when it likes.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::sync::{broadcast, oneshot};

use crate::{
    gossip::{
        BlockReason, ClusterEvent, ConsensusValue, MemberStatus, TOPOLOGY_CONSENSUS_CHECK,
        TimedEvent,
    },
    node::{NodeError, NodeHandle, NodeStatus},
    wire::{TOPOLOGY_KEY, proto::cluster::ClusterTopology, proto::cluster::Member, unpack},
};

/// Events a subscriber may fall behind by before it lags (and should take a
/// fresh snapshot).
const EVENT_CAPACITY: usize = 1024;

/// How often the bridge re-reads the node's state when membership changed
/// while it was reading, before it settles for the last read.
const SEED_ATTEMPTS: usize = 16;

/// One member as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// The member id (protoactor-go's system id; a fresh one per start).
    pub id: String,
    /// Advertised host.
    pub host: String,
    /// Remoting port.
    pub port: u16,
    /// Cluster kinds it hosts.
    pub kinds: Vec<String>,
    /// Where it is in its life cycle.
    pub status: MemberStatus,
    /// When it entered that status.
    pub since: SystemTime,
    /// Whether this is our own node.
    pub is_self: bool,
}

impl MemberInfo {
    /// `host:port`, as peers dial it.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MembershipChange {
    /// A member entered a status (`from` is `None` the first time we see it).
    /// After `Blocked` or `Removed` it is no longer in the snapshot.
    Status {
        /// The member, `status` being the new one.
        member: MemberInfo,
        /// Its previous status.
        from: Option<MemberStatus>,
        /// Why it was blocked, when the new status is `Blocked`.
        reason: Option<BlockReason>,
    },
    /// The active topology changed.
    Topology {
        /// Its hash (protoactor-go's topology hash).
        hash: u64,
        /// Active member ids, ascending.
        members: Vec<String>,
        /// Blocked ids, ascending.
        blocked: Vec<String>,
    },
    /// Topology consensus was reached on `Some(hash)`, or lost (`None`).
    Consensus {
        /// The agreed topology hash.
        hash: Option<u64>,
    },
    /// The node stopped: the snapshot is empty until the next start.
    Stopped,
}

/// A numbered, timestamped [`MembershipChange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipEvent {
    /// 1 for the first event of a gossiper, one more for each next.
    pub seq: u64,
    /// When the node observed it.
    pub at: SystemTime,
    /// What changed.
    pub change: MembershipChange,
}

/// The node's view of the cluster at one point of the event stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MembershipSnapshot {
    /// The `seq` of the last event it includes (0: none yet).
    pub seq: u64,
    /// Our member id, while the node runs.
    pub self_id: Option<String>,
    /// Live members (not blocked or removed), ascending by id.
    pub members: Vec<MemberInfo>,
    /// The topology hash of the active members (0 before the first).
    pub topology_hash: u64,
    /// Blocked ids, ascending.
    pub blocked: Vec<String>,
    /// The topology hash every active member agrees on, if they do.
    pub consensus: Option<u64>,
}

impl MembershipSnapshot {
    /// The live member with `id`.
    pub fn member(&self, id: &str) -> Option<&MemberInfo> {
        self.members.iter().find(|m| m.id == id)
    }
}

/// The host's handle on a gossiper's membership: cheap to clone, valid
/// before `start` (empty) and across restarts.
#[derive(Debug, Clone)]
pub struct Membership {
    table: Arc<Mutex<Table>>,
}

impl Default for Membership {
    fn default() -> Self {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Self {
            table: Arc::new(Mutex::new(Table {
                snapshot: MembershipSnapshot::default(),
                members: BTreeMap::new(),
                events,
            })),
        }
    }
}

impl Membership {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current view.
    pub fn snapshot(&self) -> MembershipSnapshot {
        self.lock().snapshot()
    }

    /// Changes from now on. A receiver that falls more than 1024 events
    /// behind gets `Lagged`; take a fresh [`snapshot`](Self::snapshot) then.
    pub fn subscribe(&self) -> broadcast::Receiver<MembershipEvent> {
        self.lock().events.subscribe()
    }

    /// The current view and the changes that follow it, with nothing lost
    /// or repeated between the two.
    pub fn subscribe_with_snapshot(
        &self,
    ) -> (MembershipSnapshot, broadcast::Receiver<MembershipEvent>) {
        let t = self.lock();
        (t.snapshot(), t.events.subscribe())
    }

    /// Our own node is leaving (a graceful stop began).
    pub(super) fn leaving(&self, self_id: &str) {
        let mut t = self.lock();
        t.set_status(self_id, MemberStatus::Leaving, None, SystemTime::now());
    }

    fn apply(&self, self_id: &str, event: &TimedEvent) {
        self.lock().apply(self_id, event);
    }
}

/// The table behind [`Membership`]; changed and published under one lock,
/// so a snapshot and a subscription taken together fit exactly.
#[derive(Debug)]
struct Table {
    snapshot: MembershipSnapshot,
    members: BTreeMap<String, MemberInfo>,
    events: broadcast::Sender<MembershipEvent>,
}

fn time_of(event: &TimedEvent) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(event.at.0)
}

fn port_of(member: &Member) -> u16 {
    u16::try_from(member.port).unwrap_or(0)
}

fn is_terminal(status: MemberStatus) -> bool {
    matches!(status, MemberStatus::Blocked | MemberStatus::Removed)
}

impl Table {
    fn snapshot(&self) -> MembershipSnapshot {
        MembershipSnapshot {
            members: self.members.values().cloned().collect(),
            ..self.snapshot.clone()
        }
    }

    fn publish(&mut self, at: SystemTime, change: MembershipChange) {
        self.snapshot.seq += 1;
        // No receiver is not an error: the host reads when it likes.
        let _ = self.events.send(MembershipEvent {
            seq: self.snapshot.seq,
            at,
            change,
        });
    }

    /// Adds `member` or refreshes its address and kinds (no event: those
    /// never change for an id).
    fn upsert(&mut self, member: &Member, self_id: &str, status: MemberStatus, at: SystemTime) {
        if let Some(known) = self.members.get_mut(&member.id) {
            known.host.clone_from(&member.host);
            known.port = port_of(member);
            known.kinds.clone_from(&member.kinds);
            return;
        }
        let info = MemberInfo {
            id: member.id.clone(),
            host: member.host.clone(),
            port: port_of(member),
            kinds: member.kinds.clone(),
            status,
            since: at,
            is_self: member.id == self_id,
        };
        self.members.insert(info.id.clone(), info.clone());
        self.publish(
            at,
            MembershipChange::Status {
                member: info,
                from: None,
                reason: None,
            },
        );
    }

    /// Moves a known member to `status`; a terminal status drops it.
    fn set_status(
        &mut self,
        id: &str,
        status: MemberStatus,
        reason: Option<BlockReason>,
        at: SystemTime,
    ) {
        let Some(info) = self.members.get_mut(id) else {
            tracing::debug!(
                member = id,
                ?status,
                "status of a member the bridge does not know"
            );
            return;
        };
        if info.status == status {
            return;
        }
        let from = std::mem::replace(&mut info.status, status);
        info.since = at;
        let member = info.clone();
        if is_terminal(status) {
            self.members.remove(id);
        }
        self.publish(
            at,
            MembershipChange::Status {
                member,
                from: Some(from),
                reason,
            },
        );
    }

    fn set_topology(
        &mut self,
        hash: u64,
        members: Vec<String>,
        blocked: Vec<String>,
        at: SystemTime,
    ) {
        if hash == self.snapshot.topology_hash && blocked == self.snapshot.blocked {
            return;
        }
        self.snapshot.topology_hash = hash;
        self.snapshot.blocked.clone_from(&blocked);
        self.publish(
            at,
            MembershipChange::Topology {
                hash,
                members,
                blocked,
            },
        );
    }

    fn set_consensus(&mut self, hash: Option<u64>, at: SystemTime) {
        if self.snapshot.consensus != hash {
            self.snapshot.consensus = hash;
            self.publish(at, MembershipChange::Consensus { hash });
        }
    }

    /// Applies one node event.
    fn apply(&mut self, self_id: &str, event: &TimedEvent) {
        let at = time_of(event);
        match &event.event {
            ClusterEvent::MemberJoined { member } => {
                let status = if member.id == self_id {
                    MemberStatus::Up
                } else {
                    MemberStatus::Joining
                };
                self.upsert(member, self_id, status, at);
            }
            ClusterEvent::MemberUp { id } | ClusterEvent::MemberReachable { id } => {
                self.set_status(id.as_str(), MemberStatus::Up, None, at);
            }
            ClusterEvent::MemberSuspect { id, .. } => {
                self.set_status(id.as_str(), MemberStatus::Suspect, None, at);
            }
            ClusterEvent::MemberLeft { id } => {
                self.set_status(id.as_str(), MemberStatus::Leaving, None, at);
            }
            ClusterEvent::MemberBlocked { id, reason } => {
                // A member that left stays `Leaving` until it is removed.
                let leaving = self
                    .members
                    .get(id.as_str())
                    .is_some_and(|m| m.status == MemberStatus::Leaving);
                if !leaving {
                    self.set_status(id.as_str(), MemberStatus::Blocked, Some(reason.clone()), at);
                }
            }
            ClusterEvent::MemberRemoved { id } => {
                let status = match self.members.get(id.as_str()) {
                    Some(m) if m.status == MemberStatus::Leaving => MemberStatus::Removed,
                    _ => MemberStatus::Blocked,
                };
                self.set_status(id.as_str(), status, None, at);
            }
            ClusterEvent::TopologyUpdated {
                hash,
                members,
                blocked,
                ..
            } => {
                for m in members {
                    let status = if m.id == self_id {
                        MemberStatus::Up
                    } else {
                        MemberStatus::Joining
                    };
                    self.upsert(m, self_id, status, at);
                }
                let ids = members.iter().map(|m| m.id.clone()).collect();
                let blocked = blocked.iter().map(|b| b.as_str().to_owned()).collect();
                self.set_topology(*hash, ids, blocked, at);
            }
            ClusterEvent::ConsensusReached {
                check,
                value: ConsensusValue::U64(h),
            } if check == TOPOLOGY_CONSENSUS_CHECK => self.set_consensus(Some(*h), at),
            ClusterEvent::ConsensusLost { check, .. } if check == TOPOLOGY_CONSENSUS_CHECK => {
                self.set_consensus(None, at);
            }
            _ => {}
        }
    }

    /// Makes the table what `status` says, publishing the differences (the
    /// first read after subscribing, or after the bridge lagged). `records`
    /// are the member records of our own `topology` entry (for kinds).
    fn reconcile(&mut self, status: &NodeStatus, records: &BTreeMap<String, Member>) {
        let at = SystemTime::now();
        self.snapshot.self_id = Some(status.id.clone());
        let mut seen = Vec::new();
        for m in &status.members {
            let state = match m.status.as_str() {
                "Self" | "Up" => MemberStatus::Up,
                "Joining" => MemberStatus::Joining,
                "Suspect" => MemberStatus::Suspect,
                "Leaving" => MemberStatus::Leaving,
                "Blocked" => MemberStatus::Blocked,
                _ => MemberStatus::Removed,
            };
            seen.push(m.id.clone());
            if is_terminal(state) {
                if self.members.contains_key(&m.id) {
                    self.set_status(&m.id, state, None, at);
                }
                continue;
            }
            let mut record = records.get(&m.id).cloned().unwrap_or_else(|| Member {
                id: m.id.clone(),
                host: m.host.clone(),
                port: m.port,
                kinds: Vec::new(),
            });
            if record.host.is_empty()
                && let Some(known) = self.members.get(&m.id)
            {
                record.host.clone_from(&known.host);
                record.port = i32::from(known.port);
                record.kinds.clone_from(&known.kinds);
            }
            self.upsert(&record, &status.id, state, at);
            self.set_status(&m.id, state, None, at);
        }
        let gone: Vec<String> = self
            .members
            .keys()
            .filter(|id| !seen.contains(id))
            .cloned()
            .collect();
        for id in gone {
            let status = if status.topology.blocked.contains(&id) {
                MemberStatus::Blocked
            } else {
                MemberStatus::Removed
            };
            self.set_status(&id, status, None, at);
        }
        let topology = &status.topology;
        self.set_topology(
            topology.hash,
            topology.members.clone(),
            topology.blocked.clone(),
            at,
        );
        self.set_consensus(status.topology.consensus.hash(), at);
    }

    /// The node stopped: our own member is removed and the view cleared.
    fn stopped(&mut self) {
        let at = SystemTime::now();
        if let Some(id) = self.snapshot.self_id.take() {
            self.set_status(&id, MemberStatus::Removed, None, at);
        }
        self.members.clear();
        self.snapshot = MembershipSnapshot {
            seq: self.snapshot.seq,
            ..MembershipSnapshot::default()
        };
        self.publish(at, MembershipChange::Stopped);
    }
}

/// Whether a node event can change the membership view.
fn is_membership(event: &ClusterEvent) -> bool {
    !matches!(
        event,
        ClusterEvent::GossipUpdate { .. } | ClusterEvent::SelfBlockedByPeer { .. }
    )
}

/// Everything buffered in `rx`; `None` if it lagged (events were lost).
fn drain(rx: &mut broadcast::Receiver<TimedEvent>) -> Option<Vec<TimedEvent>> {
    let mut out = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(e) => out.push(e),
            Err(broadcast::error::TryRecvError::Lagged(_)) => return None,
            Err(_) => return Some(out),
        }
    }
}

/// The member records in our own `topology` entry (empty when the gossip
/// config writes only the hash).
async fn own_records(node: &NodeHandle) -> Result<BTreeMap<String, Member>, NodeError> {
    let entries = node.get_state(TOPOLOGY_KEY).await?;
    Ok(entries
        .get(&node.id())
        .and_then(|(_, any)| unpack::<ClusterTopology>(any).ok())
        .map(|t| t.members.into_iter().map(|m| (m.id.clone(), m)).collect())
        .unwrap_or_default())
}

/// The bridge of one running node.
pub(super) struct Bridge {
    node: NodeHandle,
    membership: Membership,
    events: broadcast::Receiver<TimedEvent>,
}

impl Bridge {
    /// Subscribes to `node`'s events and brings `membership` up to date.
    /// Call it right after the node started.
    ///
    /// The node may have raised events before we subscribed, so the table
    /// starts from a read of the node's state. Events raised while reading
    /// are also in our receiver and may or may not be in the read; the read
    /// is only taken when no membership event arrived during it (retried
    /// otherwise, up to [`SEED_ATTEMPTS`], then the read and the events are
    /// both applied — the end state is right either way).
    pub(super) async fn attach(
        node: NodeHandle,
        membership: Membership,
    ) -> Result<Self, NodeError> {
        let mut bridge = Self {
            // Every event, raw: the bridge handles a lag by re-reading.
            events: node.raw_events(),
            node,
            membership,
        };
        bridge.resync().await?;
        Ok(bridge)
    }

    async fn resync(&mut self) -> Result<(), NodeError> {
        for attempt in 1..=SEED_ATTEMPTS {
            let _ = drain(&mut self.events);
            let records = own_records(&self.node).await?;
            let status = self.node.status().await?;
            let during = drain(&mut self.events);
            let settled = during
                .as_ref()
                .is_some_and(|d| !d.iter().any(|e| is_membership(&e.event)));
            if settled || attempt == SEED_ATTEMPTS {
                let mut t = self.membership.lock();
                t.reconcile(&status, &records);
                for e in during.iter().flatten() {
                    t.apply(&self.node.id(), e);
                }
                return Ok(());
            }
        }
        Ok(())
    }

    /// Applies the node's events until `finish` fires (the node has stopped
    /// by then), then marks the view stopped.
    pub(super) async fn run(mut self, mut finish: oneshot::Receiver<()>) {
        let mut id = self.node.id();
        loop {
            tokio::select! {
                biased;
                event = self.events.recv() => match event {
                    // A new id and a fresh gossip state: read the node again.
                    Ok(TimedEvent { event: ClusterEvent::Rejoined { .. }, .. }) => {
                        id = self.node.id();
                        if self.resync().await.is_err() {
                            break;
                        }
                    }
                    Ok(e) => self.membership.apply(&id, &e),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "membership bridge lagged; re-reading the node");
                        if self.resync().await.is_err() {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = &mut finish => {
                    for e in drain(&mut self.events).into_iter().flatten() {
                        self.membership.apply(&id, &e);
                    }
                    break;
                }
            }
        }
        self.membership.lock().stopped();
    }
}

#[cfg(test)]
mod tests;
