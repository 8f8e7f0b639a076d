//! Which member a gossip owner id belongs to, when the two differ.
//!
//! protoactor-go keys gossip state by the actor system id, and most
//! providers name the member by that same id. Go's etcd provider does not:
//! it registers `<cluster>@<system id>` as the member id while the node
//! keeps gossiping (and handshaking) as the bare `<system id>`. Inside a Go
//! cluster on etcd the member list and the gossip state therefore never
//! meet: Go's heartbeat and `left` checks block ids that are not members,
//! and its consensus never sees a member's value. Our nodes use one id for
//! both, so Go finds our heartbeats; for Go peers we resolve the alias here:
//! a member named `<prefix>@<suffix>` owns gossip published under
//! `<suffix>` (system ids never contain `@`). Nothing on the wire changes;
//! only our reading of Go's state does.

use alloc::collections::BTreeMap;

use super::gossip_state::{GossipState, OwnerState};
use super::types::MemberId;

/// Bare gossip owner ids of members whose id is `<prefix>@<owner>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OwnerAliases {
    /// owner id → member id.
    by_owner: BTreeMap<MemberId, MemberId>,
    /// member id → owner id.
    by_member: BTreeMap<MemberId, MemberId>,
}

impl OwnerAliases {
    /// Rebuilds the aliases from the known member ids `ids` (active and
    /// blocked; `is_member` answers for the same set). Returns whether they
    /// changed. A suffix that is itself a member id is not an alias: that
    /// member owns its own state.
    pub(crate) fn rebuild<'a>(
        &mut self,
        ids: impl Iterator<Item = &'a MemberId>,
        is_member: impl Fn(&str) -> bool,
    ) -> bool {
        let mut by_owner = BTreeMap::new();
        let mut by_member = BTreeMap::new();
        for id in ids {
            if let Some((_, owner)) = id.as_str().rsplit_once('@')
                && !owner.is_empty()
                && !is_member(owner)
            {
                let owner = MemberId::new(owner);
                by_owner.insert(owner.clone(), id.clone());
                by_member.insert(id.clone(), owner);
            }
        }
        let changed = by_owner != self.by_owner;
        self.by_owner = by_owner;
        self.by_member = by_member;
        changed
    }

    /// The member that owner `owner` is (itself when it has no alias).
    pub(crate) fn member_of<'a>(&'a self, owner: &'a MemberId) -> &'a MemberId {
        self.by_owner.get(owner.as_str()).unwrap_or(owner)
    }

    /// The member that owner id `owner` is, by string.
    pub(crate) fn member_of_str<'a>(&'a self, owner: &'a str) -> &'a str {
        self.by_owner.get(owner).map_or(owner, MemberId::as_str)
    }

    /// The bare owner id member `member` may also gossip under.
    pub(crate) fn alias_of(&self, member: &str) -> Option<&MemberId> {
        self.by_member.get(member)
    }

    /// The gossip state member `member` publishes in `state`: under its own
    /// id, or else under its alias.
    pub(crate) fn owner_state<'s>(
        &self,
        state: &'s GossipState,
        member: &str,
    ) -> Option<&'s OwnerState> {
        state
            .owner(member)
            .or_else(|| self.alias_of(member).and_then(|a| state.owner(a.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;

    fn ids(v: &[&str]) -> BTreeSet<MemberId> {
        v.iter().map(|s| MemberId::new(s)).collect()
    }

    fn rebuild(a: &mut OwnerAliases, members: &BTreeSet<MemberId>) -> bool {
        a.rebuild(members.iter(), |s| members.contains(s))
    }

    #[test]
    fn go_etcd_member_ids_alias_their_bare_system_ids() {
        let mut a = OwnerAliases::default();
        let members = ids(&["c@A", "c@B", "plain"]);
        assert!(rebuild(&mut a, &members));
        assert_eq!(a.member_of(&MemberId::new("A")).as_str(), "c@A");
        assert_eq!(a.member_of_str("B"), "c@B");
        assert_eq!(a.member_of_str("plain"), "plain");
        assert_eq!(a.member_of_str("c@A"), "c@A");
        assert_eq!(a.alias_of("c@A").map(MemberId::as_str), Some("A"));
        assert_eq!(a.alias_of("plain"), None);
        // Same ids: no change reported.
        assert!(!rebuild(&mut a, &members));
    }

    #[test]
    fn a_suffix_that_is_a_member_itself_is_not_an_alias() {
        let mut a = OwnerAliases::default();
        let members = ids(&["c@A", "A", "x@", "a@b@C"]);
        rebuild(&mut a, &members);
        assert_eq!(a.member_of_str("A"), "A");
        assert_eq!(a.alias_of("c@A"), None);
        assert_eq!(a.alias_of("x@"), None, "empty suffix");
        assert_eq!(a.member_of_str("C"), "a@b@C", "the last @ splits");
    }
}
