//! protoactor-go's topology hash.
//!
//! Every node hashes its active member ids; equal hashes mean equal member
//! sets, which is what topology consensus compares. Go sorts the ids
//! ascending by bytes, concatenates them with no separator, and keeps the
//! first 64-bit half (h1) of MurmurHash3 x64-128 with seed 0. An empty set
//! hashes to 0 (MurmurHash3 of no bytes with seed 0 is 0).

use alloc::vec::Vec;

use super::proto::cluster::Member;

/// The topology hash of a set of member ids, in any order.
pub fn topology_hash<'a, I>(ids: I) -> u64
where
    I: IntoIterator<Item = &'a str>,
{
    let mut ids: Vec<&str> = ids.into_iter().collect();
    ids.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let joined: Vec<u8> = ids.iter().flat_map(|id| id.bytes()).collect();
    mur3::murmurhash3_x64_128(&joined, 0).0
}

/// The topology hash of members, by their ids.
pub fn topology_hash_of_members(members: &[Member]) -> u64 {
    topology_hash(members.iter().map(|m| m.id.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked values of docs/wire-protocol.md#topology-hash-values; the Go-written vectors in
    // compat-tests cover many more sets.
    #[test]
    fn documented_values() {
        assert_eq!(topology_hash([]), 0);
        assert_eq!(topology_hash(["memberId-0"]), 13_904_886_588_237_684_160);
        assert_eq!(
            topology_hash(["memberId-1", "memberId-0"]),
            13_857_135_146_043_484_892
        );
        assert_eq!(topology_hash(["c", "a", "b"]), 13_012_657_714_217_449_575);
        assert_eq!(
            mur3::murmurhash3_x64_128(b"hello", 0),
            (0xcbd8_a7b3_41bd_9b02, 0x5b1e_906a_48ae_1d19)
        );
    }

    #[test]
    fn order_does_not_matter() {
        assert_eq!(
            topology_hash(["b", "a", "ab"]),
            topology_hash(["a", "ab", "b"])
        );
    }
}
