//! Gossip values packed in `google.protobuf.Any`, the way protoactor-go packs
//! them.
//!
//! Go writes `type.googleapis.com/<full name>` and, when unpacking, accepts any
//! URL that ends in `/<full name>` (or equals the full name). We write exactly
//! what Go writes and accept exactly what Go accepts, so a value survives a
//! round trip through any mix of Go and Rust nodes.
//!
//! [`Any`] is our own `google.protobuf.Any` (the generated messages use it in
//! place of `prost_types::Any`, see `build.rs`): the same two fields and the
//! same bytes on the wire, but the value is reference-counted
//! ([`Bytes`]). A gossip value is written once by its owner and then copied
//! into every delta, every full state and every member's state; with `Bytes`
//! those copies share one allocation (a clone is a reference-count
//! increment), so a member relaying a 40 KB topology value to three peers
//! does not copy it three times, and a simulation of many members holding
//! the same values holds each value once.

use alloc::{format, string::String, vec::Vec};

use prost::bytes::Bytes;
use prost::{Message, Name};

use super::DecodeError;

/// `google.protobuf.Any` with reference-counted value bytes.
///
/// Encodes and decodes exactly like `prost_types::Any` (field 1 `type_url`,
/// field 2 `value`); converts to and from it with `From`.
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct Any {
    /// Names the packed message's type, e.g.
    /// `type.googleapis.com/cluster.ClusterTopology`.
    #[prost(string, tag = "1")]
    pub type_url: String,
    /// The packed message's bytes.
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

impl Any {
    /// An `Any` holding `value` under `type_url`.
    pub fn new(type_url: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self {
            type_url: type_url.into(),
            value: value.into(),
        }
    }
}

impl Name for Any {
    const NAME: &'static str = "Any";
    const PACKAGE: &'static str = "google.protobuf";

    fn type_url() -> String {
        type_url::<Self>()
    }
}

impl From<prost_types::Any> for Any {
    fn from(a: prost_types::Any) -> Self {
        Self::new(a.type_url, a.value)
    }
}

impl From<Any> for prost_types::Any {
    fn from(a: Any) -> Self {
        Self {
            type_url: a.type_url,
            value: Vec::from(a.value),
        }
    }
}

/// The prefix protoactor-go puts in front of a full name in `Any.type_url`.
pub const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// The type URL Go writes for a message type, e.g.
/// `type.googleapis.com/cluster.ClusterTopology`.
pub fn type_url<M: Name>() -> String {
    format!("{TYPE_URL_PREFIX}{}", M::full_name())
}

/// Packs a message into an `Any` with Go's type URL.
pub fn pack<M: Message + Name>(message: &M) -> Any {
    Any {
        type_url: type_url::<M>(),
        value: message.encode_to_vec().into(),
    }
}

/// True when `type_url` names `full_name` by Go's rule: equal to it, or ending
/// in `/` followed by it.
pub fn type_url_matches(type_url: &str, full_name: &str) -> bool {
    type_url == full_name
        || type_url
            .strip_suffix(full_name)
            .is_some_and(|prefix| prefix.ends_with('/'))
}

/// The full name an `Any` claims to hold: everything after the last `/`.
pub fn full_name_of(any: &Any) -> &str {
    any.type_url.rsplit('/').next().unwrap_or_default()
}

/// Unpacks an `Any` that must hold an `M`.
///
/// # Errors
/// [`DecodeError::TypeUrlMismatch`] when the URL names another type,
/// [`DecodeError::Protobuf`] when the value bytes are not a valid `M`.
pub fn unpack<M: Message + Name + Default>(any: &Any) -> Result<M, DecodeError> {
    let full_name = M::full_name();
    if !type_url_matches(&any.type_url, &full_name) {
        return Err(DecodeError::TypeUrlMismatch {
            expected: M::NAME,
            found: any.type_url.clone(),
        });
    }
    M::decode(any.value.as_ref()).map_err(|e| DecodeError::protobuf(&full_name, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::proto::cluster::{ActorStatistics, ClusterTopology, MemberHeartbeat};

    #[test]
    fn heartbeat_packs_to_go_bytes() {
        // Go's 2024 heartbeat: MemberHeartbeat{ActorStatistics{}} = 0a 00.
        let hb = MemberHeartbeat {
            actor_statistics: Some(ActorStatistics::default()),
        };
        let any = pack(&hb);
        assert_eq!(any.type_url, "type.googleapis.com/cluster.MemberHeartbeat");
        assert_eq!(any.value, [0x0a, 0x00][..]);
    }

    #[test]
    fn unpack_accepts_go_suffix_rule() {
        let t = ClusterTopology {
            topology_hash: 7,
            ..Default::default()
        };
        let mut any = pack(&t);
        for url in [
            "cluster.ClusterTopology",
            "/cluster.ClusterTopology",
            "example.com/x/cluster.ClusterTopology",
        ] {
            any.type_url = url.into();
            assert_eq!(unpack::<ClusterTopology>(&any).unwrap(), t, "{url}");
        }
    }

    #[test]
    fn unpack_rejects_other_types() {
        let mut any = pack(&ClusterTopology::default());
        for url in [
            "type.googleapis.com/cluster.MemberHeartbeat",
            "type.googleapis.com/xcluster.ClusterTopology",
            "",
        ] {
            any.type_url = url.into();
            assert!(matches!(
                unpack::<ClusterTopology>(&any),
                Err(DecodeError::TypeUrlMismatch { .. })
            ));
        }
    }

    #[test]
    fn unpack_reports_truncated_value() {
        let t = ClusterTopology {
            blocked: alloc::vec!["abc".into()],
            ..Default::default()
        };
        let mut any = pack(&t);
        any.value.truncate(any.value.len() - 1);
        let err = unpack::<ClusterTopology>(&any).unwrap_err();
        assert!(matches!(err, DecodeError::Protobuf { .. }), "{err}");
    }

    #[test]
    fn full_name_is_after_last_slash() {
        let any = pack(&MemberHeartbeat::default());
        assert_eq!(full_name_of(&any), "cluster.MemberHeartbeat");
    }
}
