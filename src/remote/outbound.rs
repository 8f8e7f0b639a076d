//! Turning queued messages into `MessageBatch`es that a Go server accepts.
//!
//! A Go server refuses any `RemoteMessage` over 4 MiB (its gRPC receive
//! limit) and Go writes at most 1000 envelopes per batch, so we cut batches
//! by count and by an upper bound of their encoded size. The bound is
//! computed per message without encoding the batch (encoding it after every
//! push would be quadratic): body + target + sender + type name + the
//! envelope's own fields, counted as if nothing were deduplicated.

use std::collections::BTreeMap;

use super::message::RawMessage;
use crate::wire::{BatchBuilder, WireMessage, proto::actor::Pid, proto::remote::MessageBatch};

/// The body of a queued message: a cluster message, encoded when its batch
/// is built, or an application message already serialized.
#[derive(Debug, Clone)]
pub(crate) enum OutboundBody {
    /// A message of the wire registry.
    Wire(WireMessage),
    /// Any type name, serializer and bytes.
    Raw(RawMessage),
}

impl OutboundBody {
    fn type_name(&self) -> &str {
        match self {
            OutboundBody::Wire(m) => m.type_name(),
            OutboundBody::Raw(m) => &m.type_name,
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            OutboundBody::Wire(m) => m.encoded_len(),
            OutboundBody::Raw(m) => m.data.len(),
        }
    }
}

impl From<WireMessage> for OutboundBody {
    fn from(m: WireMessage) -> Self {
        OutboundBody::Wire(m)
    }
}

/// A message waiting in an endpoint queue.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    /// Where it goes.
    pub target: Pid,
    /// Who sent it (answers go there).
    pub sender: Option<Pid>,
    /// The body.
    pub message: OutboundBody,
    /// Optional headers.
    pub header: Option<BTreeMap<String, String>>,
}

/// Bytes of a length-delimited field with tag and length prefix.
fn field_len(len: usize) -> usize {
    1 + prost::length_delimiter_len(len) + len
}

fn pid_len(pid: &Pid) -> usize {
    field_len(prost::Message::encoded_len(pid))
}

/// The fixed part of a `RemoteMessage{message_batch}` wrapper.
const WRAPPER: usize = 1 + 5;
/// Envelope scalar fields: 6 varints of at most 6 bytes (tag + ≤5), plus the
/// envelope's own tag and length prefix.
const ENVELOPE_FIXED: usize = 6 * 6 + 1 + 5;

impl Outbound {
    /// An upper bound of what this message adds to a batch.
    pub(crate) fn size_bound(&self) -> usize {
        let header = self.header.as_ref().map_or(0, |h| {
            h.iter()
                .map(|(k, v)| field_len(field_len(k.len()) + field_len(v.len())))
                .sum::<usize>()
                + 1
                + 5
        });
        ENVELOPE_FIXED
            + field_len(self.message.encoded_len())
            + pid_len(&self.target)
            + self.sender.as_ref().map_or(0, pid_len)
            + field_len(self.message.type_name().len())
            + header
    }
}

/// Splits messages into batches of at most `max_count` envelopes whose
/// encoded `RemoteMessage` stays at or below `max_bytes`. Messages that alone
/// exceed the limit are returned separately.
pub(crate) fn plan_batches(
    messages: Vec<Outbound>,
    max_count: usize,
    max_bytes: usize,
) -> (Vec<MessageBatch>, Vec<(Outbound, usize)>) {
    let mut batches = Vec::new();
    let mut too_large = Vec::new();
    let mut builder = BatchBuilder::new();
    let mut bound = WRAPPER;
    for m in messages {
        let size = m.size_bound();
        if WRAPPER + size > max_bytes {
            too_large.push((m, size));
            continue;
        }
        if !builder.is_empty() && (builder.len() >= max_count || bound + size > max_bytes) {
            batches.push(std::mem::take(&mut builder).build());
            bound = WRAPPER;
        }
        match m.message {
            OutboundBody::Wire(message) => {
                builder.push(&m.target, m.sender.as_ref(), &message, m.header.as_ref());
            }
            OutboundBody::Raw(raw) => builder.push_raw(
                &m.target,
                m.sender.as_ref(),
                &raw.type_name,
                raw.serializer_id,
                raw.data,
                m.header.as_ref(),
            ),
        }
        bound += size;
    }
    if !builder.is_empty() {
        batches.push(builder.build());
    }
    (batches, too_large)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::proto::{
        actor::Pid,
        cluster::{GossipResponse, GrainResponse},
        remote::{RemoteMessage, remote_message::MessageType},
    };
    use prost::Message;

    fn out(id: &str, bytes: usize) -> Outbound {
        Outbound {
            target: Pid {
                address: "127.0.0.1:9".into(),
                id: id.into(),
                request_id: 0,
            },
            sender: Some(Pid {
                address: "127.0.0.1:8".into(),
                id: "future$1".into(),
                request_id: 3,
            }),
            message: WireMessage::from(GrainResponse {
                message_data: vec![7; bytes],
                ..Default::default()
            })
            .into(),
            header: None,
        }
    }

    fn wrapped_len(b: &MessageBatch) -> usize {
        RemoteMessage {
            message_type: Some(MessageType::MessageBatch(b.clone())),
        }
        .encoded_len()
    }

    #[test]
    fn splits_by_count() {
        let msgs = (0..2500).map(|i| out(&format!("a{}", i % 7), 10)).collect();
        let (batches, big) = plan_batches(msgs, 1000, 4 << 20);
        assert!(big.is_empty());
        let counts: Vec<_> = batches.iter().map(|b| b.envelopes.len()).collect();
        assert_eq!(counts, [1000, 1000, 500]);
    }

    #[test]
    fn splits_by_size_and_stays_below_limit() {
        let limit = 4 << 20;
        let msgs = (0..40).map(|i| out(&format!("a{i}"), 300_000)).collect();
        let (batches, big) = plan_batches(msgs, 1000, limit);
        assert!(big.is_empty());
        assert!(batches.len() >= 3, "{}", batches.len());
        assert_eq!(batches.iter().map(|b| b.envelopes.len()).sum::<usize>(), 40);
        for b in &batches {
            assert!(wrapped_len(b) <= limit, "{} > {limit}", wrapped_len(b));
        }
    }

    #[test]
    fn bound_is_an_upper_bound() {
        for n in [0, 1, 127, 128, 20_000] {
            let m = out("x", n);
            let (batches, _) = plan_batches(vec![m.clone()], 10, usize::MAX);
            assert!(wrapped_len(&batches[0]) <= WRAPPER + m.size_bound());
        }
    }

    #[test]
    fn oversized_single_message_is_set_aside() {
        let msgs = vec![out("a", 10), out("b", 5 << 20), out("c", 10)];
        let (batches, big) = plan_batches(msgs, 1000, 4 << 20);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].envelopes.len(), 2);
        assert_eq!(big.len(), 1);
        assert_eq!(big[0].0.target.id, "b");
        let _ = GossipResponse::default();
    }
}
