//! Our decoded messages written in the JSON twin schema of
//! `compat-tests/README.md`, field by field, so they can be compared with the
//! twins Go wrote from its own structs. Every field of our proto is listed
//! explicitly: a renumbered or retyped field shows up as a difference.

use protogossip::wire::{
    WireMessage,
    any::full_name_of,
    proto::{actor, cluster, remote},
};
use serde_json::{Map, Value, json};

/// The twin of a message decoded by type name; `None` for types no vector uses.
pub fn message(msg: &WireMessage) -> Option<Value> {
    Some(match msg {
        WireMessage::Pid(p) => pid(p),
        WireMessage::Watch(w) => json!({ "Watcher": opt_pid(&w.watcher) }),
        WireMessage::Terminated(t) => json!({ "who": opt_pid(&t.who), "Why": t.why }),
        WireMessage::DeadLetterResponse(d) => json!({ "Target": opt_pid(&d.target) }),
        WireMessage::PoisonPill(_) | WireMessage::DisconnectRequest(_) | WireMessage::Empty(_) => {
            json!({})
        }
        WireMessage::RemoteMessage(m) => remote_message(m),
        WireMessage::MessageBatch(b) => batch(b),
        WireMessage::ConnectRequest(c) => connect_request(c),
        WireMessage::ConnectResponse(c) => connect_response(c),
        WireMessage::Member(m) => member(m),
        WireMessage::ClusterTopology(t) => topology(t),
        WireMessage::MemberHeartbeat(h) => heartbeat(h),
        WireMessage::GossipRequest(r) => json!({
            "from_member_id": r.from_member_id,
            "state": r.state.as_ref().map_or(Value::Null, gossip_state),
        }),
        WireMessage::GossipResponse(r) => json!({
            "state": r.state.as_ref().map_or(Value::Null, gossip_state),
        }),
        WireMessage::GossipState(s) => gossip_state(s),
        WireMessage::GossipMemberState(m) => member_state(m),
        WireMessage::GossipKeyValue(kv) => key_value(kv),
        WireMessage::GossipMap(m) => gossip_map(m),
        WireMessage::Any(a) => any(a),
        _ => return None,
    })
}

pub fn pid(p: &actor::Pid) -> Value {
    json!({ "Address": p.address, "Id": p.id, "request_id": p.request_id })
}

pub fn opt_pid(p: &Option<actor::Pid>) -> Value {
    p.as_ref().map_or(Value::Null, pid)
}

fn pids(ps: &[actor::Pid]) -> Value {
    ps.iter().map(pid).collect()
}

fn remote_message(m: &remote::RemoteMessage) -> Value {
    use remote::remote_message::MessageType;
    let mut case = Map::new();
    match &m.message_type {
        Some(MessageType::MessageBatch(b)) => {
            case.insert("message_batch".into(), batch(b));
        }
        Some(MessageType::ConnectRequest(c)) => {
            case.insert("connect_request".into(), connect_request(c));
        }
        Some(MessageType::ConnectResponse(c)) => {
            case.insert("connect_response".into(), connect_response(c));
        }
        Some(MessageType::DisconnectRequest(_)) => {
            case.insert("disconnect_request".into(), json!({}));
        }
        None => {}
    }
    json!({ "message_type": case })
}

fn connect_request(c: &remote::ConnectRequest) -> Value {
    use remote::connect_request::ConnectionType;
    let mut case = Map::new();
    match &c.connection_type {
        Some(ConnectionType::ClientConnection(cc)) => {
            case.insert(
                "client_connection".into(),
                json!({ "SystemId": cc.system_id }),
            );
        }
        Some(ConnectionType::ServerConnection(sc)) => {
            case.insert(
                "server_connection".into(),
                json!({ "SystemId": sc.system_id, "Address": sc.address }),
            );
        }
        None => {}
    }
    json!({ "connection_type": case })
}

fn connect_response(c: &remote::ConnectResponse) -> Value {
    json!({ "member_id": c.member_id, "blocked": c.blocked })
}

fn batch(b: &remote::MessageBatch) -> Value {
    let envelopes: Vec<Value> = b
        .envelopes
        .iter()
        .map(|e| {
            json!({
                "type_id": e.type_id,
                "message_data": hex::encode(&e.message_data),
                "target": e.target,
                "sender": e.sender,
                "serializer_id": e.serializer_id,
                "message_header": e.message_header.as_ref()
                    .map_or(Value::Null, |h| json!({ "header_data": h.header_data })),
                "target_request_id": e.target_request_id,
                "sender_request_id": e.sender_request_id,
            })
        })
        .collect();
    json!({
        "type_names": b.type_names,
        "targets": pids(&b.targets),
        "envelopes": envelopes,
        "senders": pids(&b.senders),
    })
}

pub fn member(m: &cluster::Member) -> Value {
    json!({ "host": m.host, "port": m.port, "id": m.id, "kinds": m.kinds })
}

fn members(ms: &[cluster::Member]) -> Value {
    ms.iter().map(member).collect()
}

fn topology(t: &cluster::ClusterTopology) -> Value {
    json!({
        "topology_hash": t.topology_hash.to_string(),
        "members": members(&t.members),
        "joined": members(&t.joined),
        "left": members(&t.left),
        "blocked": t.blocked,
    })
}

fn heartbeat(h: &cluster::MemberHeartbeat) -> Value {
    json!({
        "actor_statistics": h.actor_statistics.as_ref().map_or(Value::Null, |s| {
            let counts: Map<String, Value> = s
                .actor_count
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
                .collect();
            json!({ "actor_count": counts })
        }),
    })
}

/// An Any: URL, hex bytes, and the twin of the message its URL names
/// (decoded through the registry by the name after the last '/', as Go's
/// `UnmarshalNew` resolves it), or null when that fails.
pub fn any(a: &protogossip::wire::Any) -> Value {
    let unpacked = WireMessage::decode(full_name_of(a), &a.value)
        .ok()
        .and_then(|m| message(&m))
        .unwrap_or(Value::Null);
    json!({ "type_url": a.type_url, "value": hex::encode(&a.value), "unpacked": unpacked })
}

pub fn key_value(kv: &cluster::GossipKeyValue) -> Value {
    json!({
        "sequence_number": kv.sequence_number.to_string(),
        "value": kv.value.as_ref().map_or(Value::Null, any),
        "local_timestamp_unix_milliseconds": kv.local_timestamp_unix_milliseconds.to_string(),
    })
}

fn member_state(m: &cluster::GossipMemberState) -> Value {
    let values: Map<String, Value> = m
        .values
        .iter()
        .map(|(k, v)| (k.clone(), key_value(v)))
        .collect();
    json!({ "values": values })
}

pub fn gossip_state(s: &cluster::GossipState) -> Value {
    let members: Map<String, Value> = s
        .members
        .iter()
        .map(|(k, v)| (k.clone(), member_state(v)))
        .collect();
    json!({ "members": members })
}

fn gossip_map(m: &cluster::GossipMap) -> Value {
    let items: Map<String, Value> = m.items.iter().map(|(k, v)| (k.clone(), any(v))).collect();
    json!({ "items": items })
}

/// The first difference between two twins, as "path: expected X, found Y".
pub fn diff(path: &str, expected: &Value, actual: &Value) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for key in e.keys().chain(a.keys()) {
                let p = format!("{path}.{key}");
                match (e.get(key), a.get(key)) {
                    (Some(ev), Some(av)) => {
                        if let Some(d) = diff(&p, ev, av) {
                            return Some(d);
                        }
                    }
                    (Some(_), None) => return Some(format!("{p}: missing in ours")),
                    (None, Some(_)) => return Some(format!("{p}: not in Go's twin")),
                    (None, None) => unreachable!(),
                }
            }
            None
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (ev, av))| diff(&format!("{path}[{i}]"), ev, av)),
        _ if expected == actual => None,
        _ => Some(format!("{path}: Go {expected}, ours {actual}")),
    }
}
