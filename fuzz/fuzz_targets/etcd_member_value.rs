//! A member value in etcd, as any client of the etcd cluster can write it:
//! `EtcdNode::from_json`, then the member it describes (feature `etcd`).
//! Checks that a value survives our own encoding unchanged and that the
//! member follows Go's rules (host, else address; the port must fit).

#![no_main]

use libfuzzer_sys::fuzz_target;
use protogossip::provider::etcd::EtcdNode;

fuzz_target!(|data: &[u8]| {
    let Ok(node) = EtcdNode::from_json(data) else {
        return;
    };
    let json = serde_json::to_vec(&node).expect("a node serializes");
    assert_eq!(EtcdNode::from_json(&json).expect("our value parses"), node);
    match node.to_member() {
        Some(m) => {
            let host = if node.host.is_empty() {
                &node.address
            } else {
                &node.host
            };
            assert_eq!((&m.id, &m.host, &m.kinds), (&node.id, host, &node.kinds));
            assert_eq!(i64::from(m.port), node.port);
        }
        None => assert!(i32::try_from(node.port).is_err()),
    }
});
