//! One `RemoteMessage` frame as a peer's stream delivers it: decoded, its
//! batch decoded envelope by envelope (`resolve_envelope`, `decode_envelope`,
//! `decode_batch`) and routed through the transport's router
//! (`remote::fuzzing::route_frame`, feature `fuzzing`). Checks that the
//! router counts exactly the envelopes the wire decoder rejects, and that
//! every body that decodes re-encodes to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use protogossip::{
    remote::fuzzing::route_frame,
    wire::{
        DecodeError, Payload, SERIALIZER_JSON, WireMessage, decode_batch, decode_envelope,
        is_known_type_name,
        proto::remote::{RemoteMessage, remote_message::MessageType},
        resolve_envelope,
    },
};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = RemoteMessage::decode(data) else {
        assert!(
            route_frame(data).is_none(),
            "an undecodable frame was routed"
        );
        return;
    };
    let metrics = route_frame(data).expect("a frame that decodes is routed");
    let Some(MessageType::MessageBatch(batch)) = message.message_type else {
        assert_eq!(metrics.inbound_envelopes, 0);
        return;
    };
    let (mut bad_index, mut bad_serializer, mut unknown, mut malformed) = (0, 0, 0, 0);
    let decoded: Vec<_> = decode_batch(&batch).collect();
    assert_eq!(decoded.len(), batch.envelopes.len());
    for (envelope, full) in batch.envelopes.iter().zip(&decoded) {
        assert_eq!(full, &decode_envelope(&batch, envelope));
        let (type_name, target, sender) = match resolve_envelope(&batch, envelope) {
            Ok(r) => r,
            Err(e) => {
                if matches!(e, DecodeError::UnsupportedSerializer(_)) {
                    bad_serializer += 1;
                } else {
                    bad_index += 1;
                }
                assert_eq!(full.as_ref().err(), Some(&e));
                continue;
            }
        };
        if let Ok(env) = full {
            assert_eq!((&env.target, &env.sender), (&target, &sender));
        }
        if envelope.serializer_id == SERIALIZER_JSON {
            // The fuzzed node registers no application types: JSON of a
            // built-in type is a serializer it refuses, JSON of any other
            // name an unknown type (docs/actors.md, "Bad input").
            if is_known_type_name(type_name) {
                bad_serializer += 1;
            } else {
                unknown += 1;
            }
            continue;
        }
        match WireMessage::decode(type_name, &envelope.message_data) {
            Ok(m) => {
                let again = WireMessage::decode(m.type_name(), &m.encode_to_vec())
                    .expect("our encoding decodes");
                assert_eq!(again, m, "re-encoding changed the message");
                assert_eq!(m.encoded_len(), m.encode_to_vec().len());
                match full {
                    Ok(env) => assert_eq!(env.payload, Payload::Message(m)),
                    Err(e) => panic!("decode_envelope failed where the router decoded: {e}"),
                }
            }
            Err(DecodeError::UnknownTypeName(_)) => unknown += 1,
            Err(_) => malformed += 1,
        }
    }
    assert_eq!(
        metrics.envelopes_bad_index, bad_index,
        "bad indexes counted"
    );
    assert_eq!(
        metrics.envelopes_bad_serializer, bad_serializer,
        "bad serializers counted"
    );
    assert_eq!(
        metrics.envelopes_unknown_type, unknown,
        "unknown types counted"
    );
    assert_eq!(
        metrics.envelopes_malformed, malformed,
        "malformed bodies counted"
    );
});
