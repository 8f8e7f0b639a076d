//! `MessageBatch` tables with protoactor-go's semantics.
//!
//! A batch carries per-batch tables that envelopes index into: `type_names`
//! and `targets` are 0-based, `senders` is 1-based with 0 meaning "no sender".
//! Table PIDs are deduplicated by `Address + "/" + Id` and stored with
//! `request_id` zeroed; each envelope carries the request ids of its target
//! and sender instead. [`BatchBuilder`] writes batches exactly as Go's
//! endpoint writer does, and [`decode_envelope`] reads them as Go's endpoint
//! reader does — but checks every index, so a hostile batch yields errors
//! instead of the crash it causes in Go.

use alloc::{collections::BTreeMap, string::String, vec::Vec};

use super::{
    DecodeError, WireMessage,
    proto::{
        actor::Pid,
        remote::{MessageBatch, MessageEnvelope, MessageHeader},
    },
};

/// Serializer id 0: protobuf, the only one Go ever writes.
pub const SERIALIZER_PROTOBUF: i32 = 0;
/// Serializer id 1: JSON, decodable by Go but never written by it.
pub const SERIALIZER_JSON: i32 = 1;

/// Builds one `MessageBatch` the way Go's endpoint writer does.
#[derive(Debug, Default, Clone)]
pub struct BatchBuilder {
    batch: MessageBatch,
    type_index: BTreeMap<String, i32>,
    target_index: BTreeMap<String, i32>,
    sender_index: BTreeMap<String, i32>,
}

fn pid_key(pid: &Pid) -> String {
    let mut key = String::with_capacity(pid.address.len() + 1 + pid.id.len());
    key.push_str(&pid.address);
    key.push('/');
    key.push_str(&pid.id);
    key
}

fn table_index(table: &mut Vec<Pid>, index: &mut BTreeMap<String, i32>, pid: &Pid) -> i32 {
    *index.entry(pid_key(pid)).or_insert_with(|| {
        table.push(Pid {
            address: pid.address.clone(),
            id: pid.id.clone(),
            request_id: 0,
        });
        i32::try_from(table.len() - 1).unwrap_or(i32::MAX)
    })
}

impl BatchBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one message for `target`, optionally from `sender`, with
    /// optional headers (an empty map is left out, as Go does).
    pub fn push(
        &mut self,
        target: &Pid,
        sender: Option<&Pid>,
        message: &WireMessage,
        header: Option<&BTreeMap<String, String>>,
    ) {
        self.push_raw(
            target,
            sender,
            message.type_name(),
            SERIALIZER_PROTOBUF,
            message.encode_to_vec(),
            header,
        );
    }

    /// Appends one already serialized message: any type name (an
    /// application's own protobuf or JSON type), its serializer id and its
    /// bytes. Tables and request ids follow the same rules as [`Self::push`].
    pub fn push_raw(
        &mut self,
        target: &Pid,
        sender: Option<&Pid>,
        type_name: &str,
        serializer_id: i32,
        message_data: Vec<u8>,
        header: Option<&BTreeMap<String, String>>,
    ) {
        let type_names = &mut self.batch.type_names;
        let type_id = match self.type_index.get(type_name) {
            Some(id) => *id,
            None => {
                type_names.push(type_name.into());
                let id = i32::try_from(type_names.len() - 1).unwrap_or(i32::MAX);
                self.type_index.insert(type_name.into(), id);
                id
            }
        };
        let target_idx = table_index(&mut self.batch.targets, &mut self.target_index, target);
        let (sender_idx, sender_request_id) = match sender {
            None => (0, 0),
            Some(s) => (
                table_index(&mut self.batch.senders, &mut self.sender_index, s) + 1,
                s.request_id,
            ),
        };
        let message_header = header.filter(|h| !h.is_empty()).map(|h| MessageHeader {
            header_data: h.clone(),
        });
        self.batch.envelopes.push(MessageEnvelope {
            type_id,
            message_data,
            target: target_idx,
            sender: sender_idx,
            serializer_id,
            message_header,
            target_request_id: target.request_id,
            sender_request_id,
        });
    }

    /// How many envelopes the batch holds.
    pub fn len(&self) -> usize {
        self.batch.envelopes.len()
    }

    /// True when nothing was pushed (Go sends nothing then).
    pub fn is_empty(&self) -> bool {
        self.batch.envelopes.is_empty()
    }

    /// The batch's encoded size so far, for splitting below gRPC's 4 MiB limit.
    pub fn encoded_len(&self) -> usize {
        prost::Message::encoded_len(&self.batch)
    }

    /// The finished batch.
    pub fn build(self) -> MessageBatch {
        self.batch
    }
}

/// The body of an inbound envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A protobuf message the registry knows.
    Message(WireMessage),
    /// A JSON-serialized message (serializer 1), kept as text as Go does.
    Json {
        /// The declared type name.
        type_name: String,
        /// The JSON body.
        json: String,
    },
}

/// One envelope of a batch with its table references resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundEnvelope {
    /// The target PID, with `request_id` restored from the envelope.
    pub target: Pid,
    /// The sender PID, if any, with `request_id` restored from the envelope.
    pub sender: Option<Pid>,
    /// Headers, if the envelope had any.
    pub header: Option<BTreeMap<String, String>>,
    /// The decoded body.
    pub payload: Payload,
}

fn index_in(index: i32, len: usize) -> Option<usize> {
    usize::try_from(index).ok().filter(|i| *i < len)
}

fn with_request_id(pid: &Pid, request_id: u32) -> Pid {
    let mut pid = pid.clone();
    if request_id > 0 {
        pid.request_id = request_id;
    }
    pid
}

/// Resolves the tables of one envelope without decoding its body: the type
/// name, target and sender. Cheap; lets a reader route or reject an envelope
/// before paying for its decode.
///
/// # Errors
/// The out-of-range index errors and [`DecodeError::UnsupportedSerializer`].
pub fn resolve_envelope<'b>(
    batch: &'b MessageBatch,
    envelope: &MessageEnvelope,
) -> Result<(&'b str, Pid, Option<Pid>), DecodeError> {
    let type_name = index_in(envelope.type_id, batch.type_names.len())
        .map(|i| batch.type_names[i].as_str())
        .ok_or(DecodeError::TypeIndexOutOfRange {
            index: envelope.type_id,
            len: batch.type_names.len(),
        })?;
    let target = index_in(envelope.target, batch.targets.len())
        .map(|i| with_request_id(&batch.targets[i], envelope.target_request_id))
        .ok_or(DecodeError::TargetIndexOutOfRange {
            index: envelope.target,
            len: batch.targets.len(),
        })?;
    let sender = match envelope.sender {
        0 => None,
        s => Some(
            s.checked_sub(1)
                .and_then(|i| index_in(i, batch.senders.len()))
                .map(|i| with_request_id(&batch.senders[i], envelope.sender_request_id))
                .ok_or(DecodeError::SenderIndexOutOfRange {
                    index: s,
                    len: batch.senders.len(),
                })?,
        ),
    };
    if envelope.serializer_id != SERIALIZER_PROTOBUF && envelope.serializer_id != SERIALIZER_JSON {
        return Err(DecodeError::UnsupportedSerializer(envelope.serializer_id));
    }
    Ok((type_name, target, sender))
}

/// Decodes envelope `envelope` of `batch` completely.
///
/// # Errors
/// Any index, serializer, type-name or body error; the caller can skip this
/// envelope and go on with the rest of the batch.
pub fn decode_envelope(
    batch: &MessageBatch,
    envelope: &MessageEnvelope,
) -> Result<InboundEnvelope, DecodeError> {
    let (type_name, target, sender) = resolve_envelope(batch, envelope)?;
    let payload = if envelope.serializer_id == SERIALIZER_JSON {
        let json =
            core::str::from_utf8(&envelope.message_data).map_err(|_| DecodeError::InvalidUtf8 {
                type_name: type_name.into(),
            })?;
        Payload::Json {
            type_name: type_name.into(),
            json: json.into(),
        }
    } else {
        Payload::Message(WireMessage::decode(type_name, &envelope.message_data)?)
    };
    Ok(InboundEnvelope {
        target,
        sender,
        header: envelope
            .message_header
            .as_ref()
            .map(|h| h.header_data.clone()),
        payload,
    })
}

/// Decodes every envelope of a batch, in order, each to its own result.
pub fn decode_batch(
    batch: &MessageBatch,
) -> impl Iterator<Item = Result<InboundEnvelope, DecodeError>> + '_ {
    batch.envelopes.iter().map(|e| decode_envelope(batch, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::proto::{actor::DeadLetterResponse, cluster::GossipResponse};
    use alloc::vec;

    fn pid(addr: &str, id: &str, rid: u32) -> Pid {
        Pid {
            address: addr.into(),
            id: id.into(),
            request_id: rid,
        }
    }

    #[test]
    fn tables_follow_go_semantics() {
        let mut b = BatchBuilder::new();
        let gossip = pid("10.0.0.1:8090", "gossip", 0);
        let fut = pid("10.0.0.2:8090", "future$1", 7);
        b.push(&gossip, Some(&fut), &GossipResponse::default().into(), None);
        b.push(
            &pid("10.0.0.1:8090", "gossip", 9),
            None,
            &DeadLetterResponse::default().into(),
            None,
        );
        b.push(
            &gossip,
            Some(&pid("10.0.0.2:8090", "future$1", 8)),
            &GossipResponse::default().into(),
            None,
        );
        let batch = b.build();
        assert_eq!(
            batch.type_names,
            ["cluster.GossipResponse", "actor.DeadLetterResponse"]
        );
        assert_eq!(batch.targets, [pid("10.0.0.1:8090", "gossip", 0)]);
        assert_eq!(batch.senders, [pid("10.0.0.2:8090", "future$1", 0)]);
        let e = &batch.envelopes;
        assert_eq!(
            (
                e[0].type_id,
                e[0].target,
                e[0].sender,
                e[0].sender_request_id
            ),
            (0, 0, 1, 7)
        );
        assert_eq!(
            (e[1].type_id, e[1].sender, e[1].target_request_id),
            (1, 0, 9)
        );
        assert_eq!((e[2].sender, e[2].sender_request_id), (1, 8));

        let decoded: Vec<_> = decode_batch(&batch).collect::<Result<_, _>>().unwrap();
        assert_eq!(decoded[0].sender, Some(fut));
        assert_eq!(decoded[1].target.request_id, 9);
        assert_eq!(decoded[1].sender, None);
    }

    #[test]
    fn raw_messages_share_the_type_table() {
        let mut b = BatchBuilder::new();
        let t = pid("a:1", "echo", 0);
        b.push_raw(&t, None, "myapp.Ping", SERIALIZER_JSON, b"{}".to_vec(), None);
        b.push(&t, None, &GossipResponse::default().into(), None);
        b.push_raw(&t, None, "myapp.Ping", SERIALIZER_PROTOBUF, vec![8, 1], None);
        let batch = b.build();
        assert_eq!(batch.type_names, ["myapp.Ping", "cluster.GossipResponse"]);
        let e = &batch.envelopes;
        assert_eq!((e[0].type_id, e[0].serializer_id), (0, SERIALIZER_JSON));
        assert_eq!((e[2].type_id, e[2].serializer_id), (0, SERIALIZER_PROTOBUF));
        assert_eq!(e[2].message_data, [8, 1]);
    }

    #[test]
    fn empty_header_is_left_out() {
        let mut b = BatchBuilder::new();
        let h = BTreeMap::new();
        b.push(
            &pid("a:1", "x", 0),
            None,
            &GossipResponse::default().into(),
            Some(&h),
        );
        assert_eq!(b.build().envelopes[0].message_header, None);
    }

    fn one_envelope(e: MessageEnvelope) -> MessageBatch {
        MessageBatch {
            type_names: vec!["cluster.GossipResponse".into()],
            targets: vec![pid("a:1", "gossip", 0)],
            envelopes: vec![e],
            senders: vec![pid("b:1", "future$1", 0)],
        }
    }

    #[test]
    fn bad_indexes_are_errors() {
        let cases = [
            (
                MessageEnvelope {
                    type_id: 1,
                    ..Default::default()
                },
                DecodeError::TypeIndexOutOfRange { index: 1, len: 1 },
            ),
            (
                MessageEnvelope {
                    type_id: -1,
                    ..Default::default()
                },
                DecodeError::TypeIndexOutOfRange { index: -1, len: 1 },
            ),
            (
                MessageEnvelope {
                    target: 1,
                    ..Default::default()
                },
                DecodeError::TargetIndexOutOfRange { index: 1, len: 1 },
            ),
            (
                MessageEnvelope {
                    target: i32::MIN,
                    ..Default::default()
                },
                DecodeError::TargetIndexOutOfRange {
                    index: i32::MIN,
                    len: 1,
                },
            ),
            (
                MessageEnvelope {
                    sender: 2,
                    ..Default::default()
                },
                DecodeError::SenderIndexOutOfRange { index: 2, len: 1 },
            ),
            (
                MessageEnvelope {
                    sender: -5,
                    ..Default::default()
                },
                DecodeError::SenderIndexOutOfRange { index: -5, len: 1 },
            ),
            (
                MessageEnvelope {
                    serializer_id: 2,
                    ..Default::default()
                },
                DecodeError::UnsupportedSerializer(2),
            ),
        ];
        for (env, want) in cases {
            let batch = one_envelope(env);
            assert_eq!(decode_envelope(&batch, &batch.envelopes[0]), Err(want));
        }
    }

    #[test]
    fn unknown_type_name_is_an_error() {
        let mut batch = one_envelope(MessageEnvelope::default());
        batch.type_names[0] = "myapp.Unknown".into();
        assert_eq!(
            decode_envelope(&batch, &batch.envelopes[0]),
            Err(DecodeError::UnknownTypeName("myapp.Unknown".into()))
        );
    }

    #[test]
    fn json_body_must_be_utf8() {
        let batch = one_envelope(MessageEnvelope {
            serializer_id: SERIALIZER_JSON,
            message_data: vec![0xc3, 0x28],
            ..Default::default()
        });
        assert!(matches!(
            decode_envelope(&batch, &batch.envelopes[0]),
            Err(DecodeError::InvalidUtf8 { .. })
        ));
        let batch = one_envelope(MessageEnvelope {
            serializer_id: SERIALIZER_JSON,
            message_data: b"{}".to_vec(),
            ..Default::default()
        });
        assert!(matches!(
            decode_envelope(&batch, &batch.envelopes[0])
                .unwrap()
                .payload,
            Payload::Json { .. }
        ));
    }

    #[test]
    fn malformed_body_is_an_error_and_other_envelopes_still_decode() {
        let mut batch = one_envelope(MessageEnvelope {
            message_data: vec![0x0a, 0x10, 0x01],
            ..Default::default()
        });
        batch.envelopes.push(MessageEnvelope::default());
        let results: Vec<_> = decode_batch(&batch).collect();
        assert!(matches!(results[0], Err(DecodeError::Protobuf { .. })));
        assert!(results[1].is_ok());
    }
}
