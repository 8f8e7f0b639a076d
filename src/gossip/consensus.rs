//! Consensus checks that reach consensus (Go's never do, Q-G3/Q-G5).
//!
//! A check reads a value from an owner's entries (one or more keys); it has
//! consensus on `v` when every active member has gossiped a value and all of
//! them equal `v`. The built-in topology check reads
//! `ClusterTopology.topology_hash` from the `topology` key, which every Go
//! node writes too, so it works over mixed Go/Rust clusters.
//!
//! Evaluation is incremental: each check keeps the value per owner and a
//! count per value over the active set, so an update costs O(log N) and a
//! topology change O(N) — a 1 000-member cluster receives ~N² updates while
//! it starts, and re-scanning every member on each would be O(N³).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use super::gossip_state::{GossipState, OwnerState};
use super::owner_alias::OwnerAliases;
use super::types::MemberId;
use crate::wire::{TOPOLOGY_KEY, TopologyHeader};

/// Id of the built-in topology-hash check.
pub const TOPOLOGY_CONSENSUS_CHECK: &str = "topology";

/// A value a check agrees on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConsensusValue {
    /// A number (e.g. a topology hash).
    U64(u64),
    /// Anything else, as bytes.
    Bytes(Vec<u8>),
}

/// Reads a check's value from one owner's entries (`None`: no value yet).
pub type ConsensusExtractor = Box<dyn Fn(&OwnerState) -> Option<ConsensusValue> + Send + Sync>;

/// A consensus check: an id, the keys that affect it, and its extractor.
pub struct ConsensusCheck {
    id: String,
    keys: Vec<String>,
    extract: ConsensusExtractor,
}

impl core::fmt::Debug for ConsensusCheck {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ConsensusCheck")
            .field("id", &self.id)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl ConsensusCheck {
    /// A check named `id`, re-evaluated when any of `keys` changes.
    pub fn new(id: &str, keys: &[&str], extract: ConsensusExtractor) -> Self {
        Self {
            id: id.into(),
            keys: keys.iter().map(|k| (*k).into()).collect(),
            extract,
        }
    }

    /// The topology-hash check (id [`TOPOLOGY_CONSENSUS_CHECK`]).
    pub fn topology_hash() -> Self {
        Self::new(
            TOPOLOGY_CONSENSUS_CHECK,
            &[TOPOLOGY_KEY],
            Box::new(|o: &OwnerState| {
                let e = o.get(TOPOLOGY_KEY)?;
                TopologyHeader::from_any(&e.value).map(|h| ConsensusValue::U64(h.topology_hash))
            }),
        )
    }

    /// The check id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The keys it reads.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }
}

/// The state of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsensusState {
    /// Not every active member agrees (yet).
    NoConsensus,
    /// Every active member gossips this value.
    Reached(ConsensusValue),
}

pub(crate) struct CheckRuntime {
    check: ConsensusCheck,
    per_owner: BTreeMap<MemberId, ConsensusValue>,
    counts: BTreeMap<ConsensusValue, usize>,
    active_count: usize,
    current: Option<ConsensusValue>,
}

/// A consensus change to report.
pub(crate) enum ConsensusChange {
    Reached(String, ConsensusValue),
    Lost(String, ConsensusValue),
}

impl CheckRuntime {
    pub(crate) fn new(
        check: ConsensusCheck,
        state: &GossipState,
        aliases: &OwnerAliases,
        active: &BTreeSet<MemberId>,
    ) -> Self {
        let mut rt = Self {
            check,
            per_owner: BTreeMap::new(),
            counts: BTreeMap::new(),
            active_count: 0,
            current: None,
        };
        rt.reload(state, aliases);
        rt.recount(active);
        rt
    }

    /// Re-reads every owner's value, keyed by the member each owner is
    /// (see `owner_alias`). Call [`Self::recount`] afterwards.
    pub(crate) fn reload(&mut self, state: &GossipState, aliases: &OwnerAliases) {
        self.per_owner.clear();
        for (id, o) in state.owners() {
            if let Some(v) = (self.check.extract)(o) {
                self.per_owner.insert(aliases.member_of(id).clone(), v);
            }
        }
    }

    pub(crate) fn id(&self) -> &str {
        &self.check.id
    }

    pub(crate) fn state(&self) -> ConsensusState {
        self.current
            .clone()
            .map_or(ConsensusState::NoConsensus, ConsensusState::Reached)
    }

    pub(crate) fn affected_by(&self, key: &str) -> bool {
        self.check.keys.iter().any(|k| k == key)
    }

    pub(crate) fn recount(&mut self, active: &BTreeSet<MemberId>) {
        self.counts.clear();
        self.active_count = active.len();
        for id in active {
            if let Some(v) = self.per_owner.get(id) {
                *self.counts.entry(v.clone()).or_insert(0) += 1;
            }
        }
    }

    /// Re-reads `owner`'s value.
    pub(crate) fn owner_updated(
        &mut self,
        owner: &MemberId,
        o: Option<&OwnerState>,
        is_active: bool,
    ) {
        let new = o.and_then(|o| (self.check.extract)(o));
        let old = match &new {
            Some(v) => self.per_owner.insert(owner.clone(), v.clone()),
            None => self.per_owner.remove(owner),
        };
        if !is_active || old == new {
            return;
        }
        if let Some(old) = old
            && let Some(c) = self.counts.get_mut(&old)
        {
            *c -= 1;
            if *c == 0 {
                self.counts.remove(&old);
            }
        }
        if let Some(new) = new {
            *self.counts.entry(new).or_insert(0) += 1;
        }
    }

    /// Compares the agreed value with the last reported one.
    pub(crate) fn evaluate(&mut self) -> Option<ConsensusChange> {
        let agreed = match self.counts.iter().next() {
            Some((v, n)) if self.counts.len() == 1 && *n == self.active_count && *n > 0 => {
                Some(v.clone())
            }
            _ => None,
        };
        if agreed == self.current {
            return None;
        }
        let old = core::mem::replace(&mut self.current, agreed.clone());
        let id = self.check.id.clone();
        match (agreed, old) {
            (Some(v), _) => Some(ConsensusChange::Reached(id, v)),
            (None, Some(v)) => Some(ConsensusChange::Lost(id, v)),
            (None, None) => None,
        }
    }
}

/// Every registered check, with the active member set they count over.
///
/// The core's one owner of consensus state: it feeds owner updates and
/// topology changes in and gets [`ConsensusChange`]s out.
pub(crate) struct ConsensusChecks {
    checks: Vec<CheckRuntime>,
    active: BTreeSet<MemberId>,
}

impl ConsensusChecks {
    /// The built-in topology-hash check alone, over no active members.
    pub(crate) fn with_topology_check(state: &GossipState, aliases: &OwnerAliases) -> Self {
        let active = BTreeSet::new();
        let topology = CheckRuntime::new(ConsensusCheck::topology_hash(), state, aliases, &active);
        Self {
            checks: alloc::vec![topology],
            active,
        }
    }

    /// Registers `check` (replacing one with the same id) and evaluates it.
    pub(crate) fn add(
        &mut self,
        check: ConsensusCheck,
        state: &GossipState,
        aliases: &OwnerAliases,
    ) -> Option<ConsensusChange> {
        self.checks.retain(|c| c.id() != check.id());
        let mut rt = CheckRuntime::new(check, state, aliases, &self.active);
        let change = rt.evaluate();
        self.checks.push(rt);
        change
    }

    /// Removes the check `id`; false if there was none.
    pub(crate) fn remove(&mut self, id: &str) -> bool {
        let before = self.checks.len();
        self.checks.retain(|c| c.id() != id);
        before != self.checks.len()
    }

    /// The state of the check `id`.
    pub(crate) fn state(&self, id: &str) -> Option<ConsensusState> {
        self.checks
            .iter()
            .find(|c| c.id() == id)
            .map(CheckRuntime::state)
    }

    /// `member`'s entries under `keys` changed (its state is now `o`):
    /// re-reads it in the checks those keys affect and evaluates them.
    pub(crate) fn owner_updated(
        &mut self,
        member: &MemberId,
        keys: &[&str],
        o: Option<&OwnerState>,
        changes: &mut Vec<ConsensusChange>,
    ) {
        let active = self.active.contains(member);
        for c in &mut self.checks {
            if keys.iter().any(|k| c.affected_by(k)) {
                c.owner_updated(member, o, active);
                changes.extend(c.evaluate());
            }
        }
    }

    /// `member`'s state was dropped (it was blocked). Not evaluated: the
    /// topology change that follows does that.
    pub(crate) fn owner_dropped(&mut self, member: &MemberId) {
        let active = self.active.contains(member);
        for c in &mut self.checks {
            c.owner_updated(member, None, active);
        }
    }

    /// The active set changed to `active`; `left` dropped out of it. With
    /// `reload` (the owner aliases changed) every value is read again.
    pub(crate) fn set_active(
        &mut self,
        active: BTreeSet<MemberId>,
        left: &[MemberId],
        reload: Option<(&GossipState, &OwnerAliases)>,
        changes: &mut Vec<ConsensusChange>,
    ) {
        self.active = active;
        for c in &mut self.checks {
            match reload {
                Some((state, aliases)) => c.reload(state, aliases),
                None => {
                    for id in left {
                        c.owner_updated(id, None, false);
                    }
                }
            }
            c.recount(&self.active);
            changes.extend(c.evaluate());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gossip::UnixMillis;
    use crate::wire::Any;
    use crate::wire::WireProfile;

    fn check() -> ConsensusCheck {
        ConsensusCheck::new(
            "v",
            &["k"],
            Box::new(|o: &OwnerState| {
                o.get("k")
                    .map(|e| ConsensusValue::Bytes(e.value.value.to_vec()))
            }),
        )
    }

    fn set(s: &mut GossipState, o: &str, v: u8, seq: i64) {
        let any = Any {
            type_url: "x".into(),
            value: alloc::vec![v].into(),
        };
        s.set(&o.into(), "k", any, seq, UnixMillis(0));
    }

    #[test]
    fn reached_only_when_every_active_member_agrees_and_lost_on_divergence() {
        let mut s = GossipState::new(WireProfile::Mixed);
        let active: BTreeSet<MemberId> = ["a", "b"].into_iter().map(MemberId::from).collect();
        set(&mut s, "a", 1, 1);
        let mut rt = CheckRuntime::new(check(), &s, &OwnerAliases::default(), &active);
        assert!(rt.evaluate().is_none());
        set(&mut s, "b", 1, 1);
        rt.owner_updated(&"b".into(), s.owner("b"), true);
        assert!(
            matches!(rt.evaluate(), Some(ConsensusChange::Reached(_, ConsensusValue::Bytes(ref b))) if b == &[1])
        );
        assert_eq!(
            rt.state(),
            ConsensusState::Reached(ConsensusValue::Bytes(alloc::vec![1]))
        );
        set(&mut s, "b", 2, 2);
        rt.owner_updated(&"b".into(), s.owner("b"), true);
        assert!(matches!(rt.evaluate(), Some(ConsensusChange::Lost(..))));
        // A non-active owner does not count.
        set(&mut s, "b", 1, 3);
        set(&mut s, "zombie", 9, 1);
        rt.owner_updated(&"b".into(), s.owner("b"), true);
        rt.owner_updated(&"zombie".into(), s.owner("zombie"), false);
        assert!(matches!(rt.evaluate(), Some(ConsensusChange::Reached(..))));
        // A new active member without a value breaks it.
        let active3: BTreeSet<MemberId> = ["a", "b", "c"].into_iter().map(MemberId::from).collect();
        rt.recount(&active3);
        assert!(matches!(rt.evaluate(), Some(ConsensusChange::Lost(..))));
    }
}
