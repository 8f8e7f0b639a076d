//! `Any` unpacking of every value type protoactor-go gossips: topology (in
//! full and the two-field `TopologyHeader` the core reads), heartbeats, actor
//! statistics, `Empty` (`left`), `GossipMap`, member state and `Member`.
//!
//! The input is a `GossipKeyValue` (as the golden vectors hold them); its
//! value is unpacked as every type. Input that is not a `GossipKeyValue` is
//! used as the value bytes of every type instead, under that type's URL.
//! Checks: a value that unpacks re-packs and unpacks to the same message;
//! the URL names the type (Go's suffix rule); a topology that unpacks in
//! full has the same hash and block list in its header.

#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::{Message, Name};
use protogossip::wire::Any;
use protogossip::wire::{
    DecodeError, Empty, TopologyHeader,
    any::full_name_of,
    pack,
    proto::cluster::{
        ActorStatistics, ClusterTopology, GossipKeyValue, GossipMap, GossipMemberState, Member,
        MemberHeartbeat,
    },
    type_url, unpack,
};

fn check<M: Message + Name + Default + PartialEq + std::fmt::Debug>(any: &Any) {
    match unpack::<M>(any) {
        Ok(m) => {
            assert_eq!(full_name_of(any), M::full_name(), "{:?}", any.type_url);
            let again = unpack::<M>(&pack(&m)).expect("our packing unpacks");
            assert_eq!(again, m, "re-packing changed the value");
        }
        Err(DecodeError::TypeUrlMismatch { .. }) => {
            // Go's rule, restated: the URL is the full name or ends in "/<full name>".
            let full = M::full_name();
            assert!(any.type_url != full && !any.type_url.ends_with(&format!("/{full}")));
        }
        Err(_) => {}
    }
}

fn check_all(any: &Any) {
    check::<ClusterTopology>(any);
    check::<MemberHeartbeat>(any);
    check::<ActorStatistics>(any);
    check::<Empty>(any);
    check::<GossipMap>(any);
    check::<GossipMemberState>(any);
    check::<Member>(any);
    let header = TopologyHeader::from_any(any);
    if let Ok(t) = unpack::<ClusterTopology>(any) {
        let h = header.expect("a topology that unpacks has a header");
        assert_eq!((h.topology_hash, &h.blocked), (t.topology_hash, &t.blocked));
    }
    if let Ok(map) = unpack::<GossipMap>(any) {
        for item in map.items.values() {
            // Application values inside a map: unpacking must not panic.
            let _ = TopologyHeader::from_any(item);
            let _ = unpack::<MemberHeartbeat>(item);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(kv) = GossipKeyValue::decode(data)
        && let Some(any) = kv.value
    {
        check_all(&any);
        return;
    }
    for url in [
        type_url::<ClusterTopology>(),
        type_url::<MemberHeartbeat>(),
        type_url::<ActorStatistics>(),
        type_url::<Empty>(),
        type_url::<GossipMap>(),
        type_url::<GossipMemberState>(),
        type_url::<Member>(),
    ] {
        check_all(&Any {
            type_url: url,
            value: data.to_vec().into(),
        });
    }
});
