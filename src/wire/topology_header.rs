//! The two fields of a gossiped `cluster.ClusterTopology` that gossip reads.
//!
//! Every member gossips its topology under the `topology` key. Receivers
//! need only its hash (topology consensus) and its `blocked` list (Go adopts
//! every id listed there). The member lists are the bulk of the message and
//! grow with the cluster, so decoding only these two fields keeps reading a
//! topology cheap: protobuf skips the fields a message does not declare.

use alloc::string::String;
use alloc::vec::Vec;

use crate::wire::Any;
use prost::Message;

use super::any::type_url_matches;

/// `cluster.ClusterTopology` with only `topology_hash` (field 1) and
/// `blocked` (field 5) decoded.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct TopologyHeader {
    /// The sender's topology hash.
    #[prost(uint64, tag = "1")]
    pub topology_hash: u64,
    /// The ids the sender lists as blocked.
    #[prost(string, repeated, tag = "5")]
    pub blocked: Vec<String>,
}

impl TopologyHeader {
    /// Reads the header of a packed `ClusterTopology`; `None` when `any`
    /// holds another type (by Go's type-URL rule) or does not decode.
    pub fn from_any(any: &Any) -> Option<Self> {
        if !type_url_matches(&any.type_url, "cluster.ClusterTopology") {
            return None;
        }
        Self::decode(any.value.as_ref()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::pack;
    use crate::wire::proto::cluster::{ClusterTopology, Member, MemberHeartbeat};

    #[test]
    fn reads_hash_and_blocked_and_skips_the_member_lists() {
        let member = Member {
            host: "127.0.0.1".into(),
            port: 1,
            id: "a".into(),
            kinds: alloc::vec!["k".into()],
        };
        let topology = ClusterTopology {
            topology_hash: 42,
            members: alloc::vec![member.clone()],
            joined: alloc::vec![member.clone()],
            left: alloc::vec![member],
            blocked: alloc::vec!["x".into(), "y".into()],
        };
        let header = TopologyHeader::from_any(&pack(&topology)).unwrap();
        assert_eq!(header.topology_hash, 42);
        assert_eq!(header.blocked, ["x", "y"]);
    }

    #[test]
    fn other_types_and_bad_bytes_are_none() {
        assert_eq!(
            TopologyHeader::from_any(&pack(&MemberHeartbeat::default())),
            None
        );
        let bad = Any {
            type_url: "type.googleapis.com/cluster.ClusterTopology".into(),
            value: alloc::vec![0x0a].into(),
        };
        assert_eq!(TopologyHeader::from_any(&bad), None);
    }
}
