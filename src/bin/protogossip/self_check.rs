//! `protogossip self-check`: encodes the handshake and gossip values a node
//! sends and prints them, so a newcomer can see the wire layer at work
//! without a network.

use protogossip::wire::{
    self, WireMessage,
    proto::{
        cluster::{ActorStatistics, Member, MemberHeartbeat},
        remote::{
            ConnectRequest, RemoteMessage, ServerConnection, connect_request, remote_message,
        },
    },
};

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints the self-check.
pub fn run() {
    println!(
        "protogossip {} — wire self-check",
        env!("CARGO_PKG_VERSION")
    );
    let hello = RemoteMessage {
        message_type: Some(remote_message::MessageType::ConnectRequest(
            ConnectRequest {
                connection_type: Some(connect_request::ConnectionType::ServerConnection(
                    ServerConnection {
                        system_id: "RUSTNODE1".into(),
                        address: "10.0.0.2:9000".into(),
                    },
                )),
            },
        )),
    };
    println!(
        "handshake  {}",
        hex(&WireMessage::from(hello).encode_to_vec())
    );
    let hb = wire::pack(&MemberHeartbeat {
        actor_statistics: Some(ActorStatistics::default()),
    });
    println!("heartbeat  {} = {}", hb.type_url, hex(&hb.value));
    let members: Vec<Member> = ["memberId-1", "memberId-0"]
        .iter()
        .map(|id| Member {
            id: (*id).into(),
            ..Default::default()
        })
        .collect();
    println!(
        "topology hash of memberId-0, memberId-1 = {}",
        wire::topology_hash_of_members(&members)
    );
    println!(
        "profiles: {}",
        wire::profile::WireProfile::ALL
            .map(|p| p.as_str())
            .join(", ")
    );
}
