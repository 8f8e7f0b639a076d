//! Which member owns a grain: protoactor-go's rendezvous placement.
//!
//! protoactor-go's `disthash` identity lookup places the grain `kind/identity`
//! on one member chosen by rendezvous (highest-random-weight) hashing over the
//! members that advertise the kind. Every node computes the owner on its own,
//! so a Rust node calling a Go grain, or hosting one that Go calls, must pick
//! exactly the member Go picks, or the two languages activate the same
//! identity twice. This module restates Go's `cluster.Rendezvous`
//! (`cluster/rendezvous.go` in the pinned version) rule by rule:
//!
//! - The member list is put in Go's `MemberSet` order: ascending by member id,
//!   byte-wise. (Go's `NewMemberSet` sorts a copy descending and then its
//!   topology hash sorts the same slice ascending in place; the second sort is
//!   the one that stays.) Members with the same id are not merged.
//! - Only members whose `kinds` contain the kind take part. None → no owner.
//!   Exactly one → that member, without hashing.
//! - Otherwise each member scores FNV-1a 32 over the identity's bytes followed
//!   by the member's address bytes (`host:port`, as Go's `Member.Address()`).
//!   The first member whose score is strictly greater than the best so far
//!   wins, so a tie goes to the member first in `MemberSet` order, and when
//!   every score is 0 there is no owner (Go returns `""`).
//!
//! Pure data, no I/O, no clock: builds without `std`. The FNV-1a 32 here is
//! ten lines written out (the maintained `fnv` crate only offers the 64-bit
//! variant through `Hasher`).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::wire::proto::cluster::Member;

const FNV32_OFFSET_BASIS: u32 = 0x811c_9dc5;
const FNV32_PRIME: u32 = 0x0100_0193;

/// FNV-1a 32 over the concatenation of `parts` (Go's `hash/fnv.New32a`
/// written part by part).
#[must_use]
pub fn fnv1a32(parts: &[&[u8]]) -> u32 {
    let mut hash = FNV32_OFFSET_BASIS;
    for part in parts {
        for &byte in *part {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(FNV32_PRIME);
        }
    }
    hash
}

/// A member's rendezvous score for an identity: FNV-1a 32 over the identity's
/// bytes, then the member address's bytes (Go hashes key, then node).
#[must_use]
pub fn score(identity: &str, address: &str) -> u32 {
    fnv1a32(&[identity.as_bytes(), address.as_bytes()])
}

/// `host:port` exactly as Go's `Member.Address()` spells it (decimal port,
/// a negative port keeps its sign).
#[must_use]
pub fn member_address(member: &Member) -> String {
    let mut address = String::with_capacity(member.host.len() + 6);
    address.push_str(&member.host);
    // Writing to a String cannot fail.
    let _ = write!(address, ":{}", member.port);
    address
}

/// One member as placement sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Candidate {
    member: Member,
    address: String,
}

/// The owner of each grain identity for one member list, as Go's
/// `Rendezvous.GetByClusterIdentity` computes it.
///
/// Build one per topology ([`Rendezvous::new`]); it is cheap to rebuild.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendezvous {
    /// In Go's `MemberSet` order: ascending by id.
    candidates: Vec<Candidate>,
}

impl Rendezvous {
    /// Placement over `members` (a topology's member list, in any order).
    #[must_use]
    pub fn new(members: &[Member]) -> Self {
        let mut candidates: Vec<Candidate> = members
            .iter()
            .map(|member| Candidate {
                address: member_address(member),
                member: member.clone(),
            })
            .collect();
        // Stable: members sharing an id keep their input order. Go's sort is
        // not stable, so among equal ids its order is unspecified; it only
        // matters when two such members also tie on score.
        candidates.sort_by(|a, b| a.member.id.as_bytes().cmp(b.member.id.as_bytes()));
        Self { candidates }
    }

    /// The members in placement order (ascending by id).
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.candidates.iter().map(|c| &c.member)
    }

    /// The member that owns `kind`/`identity`, or `None` when no member
    /// hosts the kind or (as in Go) every hosting member scores 0.
    #[must_use]
    pub fn owner(&self, kind: &str, identity: &str) -> Option<&Member> {
        self.owner_candidate(kind, identity).map(|c| &c.member)
    }

    /// The owner's address (`host:port`), what Go's `GetByClusterIdentity`
    /// returns; `None` where Go returns `""`.
    #[must_use]
    pub fn owner_address(&self, kind: &str, identity: &str) -> Option<&str> {
        self.owner_candidate(kind, identity)
            .map(|c| c.address.as_str())
    }

    fn owner_candidate(&self, kind: &str, identity: &str) -> Option<&Candidate> {
        let mut hosting = self
            .candidates
            .iter()
            .filter(|c| c.member.kinds.iter().any(|k| k == kind));
        let first = hosting.next()?;
        let Some(second) = hosting.next() else {
            return Some(first);
        };
        let mut best: Option<(&Candidate, u32)> = None;
        for candidate in [first, second].into_iter().chain(hosting) {
            let s = score(identity, &candidate.address);
            if s > best.map_or(0, |(_, b)| b) {
                best = Some((candidate, s));
            }
        }
        best.map(|(c, _)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn member(id: &str, host: &str, port: i32, kinds: &[&str]) -> Member {
        Member {
            host: host.to_string(),
            port,
            id: id.to_string(),
            kinds: kinds.iter().map(|k| (*k).to_string()).collect(),
        }
    }

    #[test]
    fn fnv1a32_matches_the_published_test_vectors() {
        assert_eq!(fnv1a32(&[b""]), 0x811c_9dc5);
        assert_eq!(fnv1a32(&[b"a"]), 0xe40c_292c);
        assert_eq!(fnv1a32(&[b"foobar"]), 0xbf9c_f968);
        assert_eq!(fnv1a32(&[b"foo", b"", b"bar"]), 0xbf9c_f968);
    }

    #[test]
    fn address_is_host_colon_decimal_port() {
        assert_eq!(
            member_address(&member("a", "10.0.0.1", 8090, &[])),
            "10.0.0.1:8090"
        );
        assert_eq!(member_address(&member("a", "h", -1, &[])), "h:-1");
        assert_eq!(member_address(&member("a", "", 0, &[])), ":0");
    }

    #[test]
    fn no_member_with_the_kind_has_no_owner() {
        let r = Rendezvous::new(&[member("a", "h", 1, &["other"])]);
        assert_eq!(r.owner("k", "x"), None);
        assert_eq!(Rendezvous::new(&[]).owner_address("k", "x"), None);
    }

    #[test]
    fn the_only_member_with_the_kind_owns_everything() {
        let r = Rendezvous::new(&[member("a", "h", 1, &["other"]), member("b", "h", 2, &["k"])]);
        for identity in ["", "x", "y", "ünïcode"] {
            assert_eq!(r.owner_address("k", identity), Some("h:2"));
        }
    }

    #[test]
    fn the_highest_score_wins_regardless_of_input_order() {
        let ms = vec![
            member("a", "127.0.0.1", 8001, &["k"]),
            member("b", "127.0.0.1", 8002, &["k"]),
            member("c", "127.0.0.1", 8003, &["k"]),
        ];
        let mut reversed = ms.clone();
        reversed.reverse();
        for i in 0..200 {
            let identity = alloc::format!("id-{i}");
            let expected = ms
                .iter()
                .map(|m| (score(&identity, &member_address(m)), m))
                .max_by_key(|(s, _)| *s)
                .map(|(_, m)| m);
            assert_eq!(Rendezvous::new(&ms).owner("k", &identity), expected);
            assert_eq!(Rendezvous::new(&reversed).owner("k", &identity), expected);
        }
    }

    #[test]
    fn members_are_in_ascending_id_order() {
        let r = Rendezvous::new(&[
            member("b", "h", 2, &[]),
            member("c", "h", 3, &[]),
            member("a", "h", 1, &[]),
        ]);
        let ids: Vec<&str> = r.members().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    /// An identity and two addresses whose scores collide (found by a
    /// birthday search over `node-N:port` addresses).
    const TIE: (&str, &str, &str) = ("tie", "node-17:8199", "node-427:8130");

    /// An identity for which both addresses score 0 (found by pairing two
    /// addresses that invert 0 to the same state, then a meet-in-the-middle
    /// search for an identity reaching that state).
    const ZERO_VECTOR: (&str, &str, &str) = ("zero-swF7Lm", "10.0.0.4:51162", "10.0.0.10:16416");

    #[test]
    fn a_tie_goes_to_the_lower_id() {
        let (identity, x, y) = TIE;
        assert_eq!(score(identity, x), score(identity, y));
        let (xh, xp) = x.rsplit_once(':').unwrap();
        let (yh, yp) = y.rsplit_once(':').unwrap();
        let mx = |id| member(id, xh, xp.parse().unwrap(), &["k"]);
        let my = |id| member(id, yh, yp.parse().unwrap(), &["k"]);
        assert_eq!(
            Rendezvous::new(&[mx("1"), my("2")]).owner_address("k", identity),
            Some(x)
        );
        assert_eq!(
            Rendezvous::new(&[my("2"), mx("1")]).owner_address("k", identity),
            Some(x)
        );
        assert_eq!(
            Rendezvous::new(&[mx("2"), my("1")]).owner_address("k", identity),
            Some(y)
        );
    }

    #[test]
    fn every_score_zero_means_no_owner_but_one_member_still_owns() {
        let (identity, x, y) = ZERO_VECTOR;
        assert_eq!(score(identity, x), 0);
        assert_eq!(score(identity, y), 0);
        let (xh, xp) = x.rsplit_once(':').unwrap();
        let (yh, yp) = y.rsplit_once(':').unwrap();
        let mx = member("1", xh, xp.parse().unwrap(), &["k"]);
        let my = member("2", yh, yp.parse().unwrap(), &["k"]);
        assert_eq!(
            Rendezvous::new(&[mx.clone(), my]).owner("k", identity),
            None
        );
        assert_eq!(Rendezvous::new(&[mx]).owner_address("k", identity), Some(x));
    }
}
