//! Why a byte string from a peer could not be turned into a message.
//!
//! Every decode path in [`crate::wire`] returns one of these instead of
//! panicking: a Go peer, a buggy peer or an attacker can send anything, and a
//! node must log it, count it and go on serving everyone else.

use alloc::string::String;

/// A decode failure, saying what was wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not a valid protobuf encoding of `type_name` (truncated,
    /// bad wire type, bad length, invalid UTF-8 in a string field, ...).
    #[error("malformed {type_name}: {reason}")]
    Protobuf {
        /// The protobuf full name that was being decoded.
        type_name: String,
        /// prost's description of the problem.
        reason: String,
    },
    /// A `MessageBatch` names a type this node does not know.
    #[error("unknown message type name {0:?}")]
    UnknownTypeName(String),
    /// An envelope's `type_id` points outside the batch's `type_names`.
    #[error("type_id {index} out of range: the batch has {len} type names")]
    TypeIndexOutOfRange {
        /// The index the envelope carried.
        index: i32,
        /// How many entries the table has.
        len: usize,
    },
    /// An envelope's `target` points outside the batch's `targets`.
    #[error("target {index} out of range: the batch has {len} targets")]
    TargetIndexOutOfRange {
        /// The index the envelope carried.
        index: i32,
        /// How many entries the table has.
        len: usize,
    },
    /// An envelope's `sender` (1-based, 0 = none) points outside `senders`.
    #[error("sender {index} out of range: the batch has {len} senders (1-based, 0 = none)")]
    SenderIndexOutOfRange {
        /// The index the envelope carried.
        index: i32,
        /// How many entries the table has.
        len: usize,
    },
    /// An envelope uses a serializer other than 0 (protobuf) or 1 (JSON).
    #[error("unsupported serializer id {0} (0 = protobuf, 1 = JSON)")]
    UnsupportedSerializer(i32),
    /// A JSON-serialized envelope (serializer 1) whose body is not UTF-8.
    #[error("JSON message body of {type_name} is not valid UTF-8")]
    InvalidUtf8 {
        /// The type name the envelope declared.
        type_name: String,
    },
    /// An `Any` holds a different type than the one asked for.
    #[error("Any holds {found:?}, expected a type URL ending in /{expected}")]
    TypeUrlMismatch {
        /// The full name that was asked for.
        expected: &'static str,
        /// The type URL found in the `Any`.
        found: String,
    },
    /// A message lacks a field the protocol requires (e.g. an empty oneof).
    #[error("{type_name} has no {field}")]
    MissingField {
        /// The message that was incomplete.
        type_name: &'static str,
        /// The missing field.
        field: &'static str,
    },
}

impl DecodeError {
    /// Wraps a prost error with the name of the type that failed to decode.
    pub fn protobuf(type_name: &str, err: prost::DecodeError) -> Self {
        DecodeError::Protobuf {
            type_name: type_name.into(),
            reason: alloc::format!("{err}"),
        }
    }
}
