//! The protobuf messages of protoactor-go's `actor`, `remote` and `cluster`
//! packages, generated at build time from `proto/` (see `build.rs`).
//!
//! Maps are `BTreeMap`s so that our own encoding is deterministic: the same
//! value always gives the same bytes, which makes digests and golden vectors
//! stable. Go's encoding of maps is not ordered, so byte comparisons with Go
//! are only made where Go's output is deterministic too.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// Package `actor`: PIDs and system messages.
pub mod actor {
    include!(concat!(env!("OUT_DIR"), "/actor.rs"));
}

/// Package `remote`: the stream envelope protocol and the `Remoting` service.
pub mod remote {
    include!(concat!(env!("OUT_DIR"), "/remote.rs"));
}

/// Package `cluster`: members, topology, gossip, grains and pub-sub.
pub mod cluster {
    include!(concat!(env!("OUT_DIR"), "/cluster.rs"));
}
