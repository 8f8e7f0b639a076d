//! What can go wrong in the transport, as one typed enum.
//!
//! Every variant says what happened and, where it matters, to which peer, so
//! a caller can decide between retrying, giving up on a member and fixing its
//! configuration. Variants carry strings rather than source errors so the
//! enum is `Clone` and `PartialEq`: one failure (an endpoint that terminated)
//! completes many waiting requests with the same error.

use crate::wire::proto::actor::Pid;

/// A transport failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A [`crate::remote::RemoteConfig`] field has an unusable value.
    #[error("invalid remote config: {field}: {reason}")]
    InvalidConfig {
        /// The offending field.
        field: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// The server could not listen on its bind address.
    #[error("cannot listen on {address}: {reason}")]
    Bind {
        /// The bind address.
        address: String,
        /// The OS error.
        reason: String,
    },
    /// TLS material could not be loaded or used.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// A peer address is not a `host:port` string we can dial.
    #[error("invalid peer address {0:?} (expected host:port)")]
    InvalidAddress(String),
    /// The peer at this address is on our block list; we do not dial it.
    #[error("peer {address} is blocked")]
    Blocked {
        /// The peer's address.
        address: String,
    },
    /// The endpoint's bounded queue is full; the message was dropped.
    #[error("outbound queue to {address} is full; message dropped")]
    QueueFull {
        /// The peer's address.
        address: String,
    },
    /// One message is bigger than a whole `RemoteMessage` may be.
    #[error("message of {size} bytes exceeds the {limit}-byte message size limit")]
    MessageTooLarge {
        /// The message's encoded size (upper bound).
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The TCP/HTTP2 connection to a peer could not be established.
    #[error("cannot connect to {address}: {reason}")]
    Connect {
        /// The peer's address.
        address: String,
        /// The last error seen.
        reason: String,
    },
    /// The peer did not answer our `ConnectRequest` in time.
    #[error("handshake with {address} timed out")]
    HandshakeTimeout {
        /// The peer's address.
        address: String,
    },
    /// The peer answered the handshake with something other than a
    /// `ConnectResponse`, or the stream failed during the handshake.
    #[error("handshake with {address} failed: {reason}")]
    Handshake {
        /// The peer's address.
        address: String,
        /// What went wrong.
        reason: String,
    },
    /// The endpoint to this address terminated before the message was sent.
    #[error("endpoint {address} terminated")]
    EndpointTerminated {
        /// The peer's address.
        address: String,
    },
    /// A request got no answer within its timeout.
    #[error("request timed out")]
    Timeout,
    /// The peer answered a request with `actor.DeadLetterResponse`: the
    /// target does not exist there.
    #[error("dead letter: target {target:?} not found")]
    DeadLetter {
        /// The target the peer reported (Go leaves it unset).
        target: Option<Pid>,
    },
    /// The transport is shutting down or has shut down.
    #[error("remote is shutting down")]
    ShuttingDown,
    /// A message could not be serialized (JSON through serde).
    #[error("cannot encode {type_name}: {reason}")]
    Encode {
        /// The message's full name.
        type_name: String,
        /// serde's description of the problem.
        reason: String,
    },
    /// An answer had the expected type name but its body does not decode.
    #[error("cannot decode answer: {0}")]
    Decode(String),
    /// An answer of another type than the one asked for.
    #[error("expected a {expected} answer, got {found}")]
    UnexpectedType {
        /// The full name asked for.
        expected: String,
        /// The full name that arrived.
        found: String,
    },
}

/// Why hosting an actor or registering a message type failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActorError {
    /// An actor is already registered under this id (Go's
    /// `ErrNameExists`).
    #[error("an actor named {0:?} is already registered")]
    NameTaken(String),
    /// The name is empty, or one the transport answers itself (`gossip`,
    /// `eventstream`, `partition-activator`, `future$…`).
    #[error("{0:?} cannot be an actor name (empty or reserved)")]
    ReservedName(String),
    /// Message types of the wire registry (`actor.*`, `cluster.*`, ...)
    /// are built in and cannot be registered again.
    #[error("{0} is a built-in message type")]
    BuiltinType(String),
    /// Another Rust type is registered under this full name.
    #[error("{type_name} is already registered as {registered}")]
    TypeConflict {
        /// The protobuf full name.
        type_name: String,
        /// The Rust type that holds it.
        registered: &'static str,
    },
    /// The remote is shutting down: no actor starts any more.
    #[error("remote is shutting down")]
    ShuttingDown,
}
