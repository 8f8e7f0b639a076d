//! The wire: protoactor-go's messages and the rules for putting them on a
//! stream.
//!
//! Everything a Go node can observe about us goes through this module, so it
//! is the part we prove byte for byte against Go-written golden vectors
//! (`compat-tests/`). It is pure data and codecs: no I/O, no clock, usable
//! without `std`. Every decode path returns a [`DecodeError`]; nothing here
//! panics on input from a peer.

pub mod any;
mod batch;
mod error;
pub mod profile;
pub mod proto;
mod registry;
mod topology_hash;
mod topology_header;

pub use any::{Any, TYPE_URL_PREFIX, pack, type_url, unpack};
pub use batch::{
    BatchBuilder, InboundEnvelope, Payload, SERIALIZER_JSON, SERIALIZER_PROTOBUF, decode_batch,
    decode_envelope, resolve_envelope,
};
pub use error::DecodeError;
pub use profile::{HEARTBEAT_KEY, HEARTBEAT_KEY_2024_03, LEFT_KEY, TOPOLOGY_KEY, WireProfile};
pub use registry::{KNOWN_TYPE_NAMES, WireMessage, is_known_type_name};
pub use topology_hash::{topology_hash, topology_hash_of_members};
pub use topology_header::TopologyHeader;

/// `google.protobuf.Empty`, the value of the `left` gossip key.
///
/// prost maps `Empty` to `()`, which has no type name; this struct carries
/// the name so it can be packed into an `Any` like every other value.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Empty {}

impl prost::Name for Empty {
    const NAME: &'static str = "Empty";
    const PACKAGE: &'static str = "google.protobuf";

    fn type_url() -> alloc::string::String {
        type_url::<Self>()
    }
}
