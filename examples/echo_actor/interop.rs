//! The application's message types, `package interop` of
//! go-interop/proto/interop/echo.proto, written by hand with prost's derive
//! (an application's own types: they do not belong in the crate's `proto/`).
//! `prost::Name` gives each the full name Go writes in
//! `MessageBatch.type_names` (`interop.Ping`, ...). The integration tests
//! include this file too (`#[path]`), so Rust and Go share one definition.

#![allow(dead_code)] // each includer uses a different part

use protogossip::remote::{ActorContext, RawMessage, TransportError};
use serde::{Deserialize, Serialize};

/// A request; an echo actor answers it with a [`Pong`] carrying the same
/// payload, text and seq.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Ping {
    #[prost(bytes = "vec", tag = "1")]
    pub payload: Vec<u8>,
    #[prost(string, tag = "2")]
    pub text: String,
    #[prost(int64, tag = "3")]
    pub seq: i64,
}

/// The answer to a [`Ping`]; `responder` names who answered (`go`, `rust`).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Pong {
    #[prost(bytes = "vec", tag = "1")]
    pub payload: Vec<u8>,
    #[prost(string, tag = "2")]
    pub text: String,
    #[prost(int64, tag = "3")]
    pub seq: i64,
    #[prost(string, tag = "4")]
    pub responder: String,
}

/// A one-way message, sent as JSON (serializer 1) in the tests. The serde
/// form is protobuf's JSON mapping, as Go's jsonpb writes it: an `int64` is
/// a JSON string.
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize, Deserialize)]
pub struct Note {
    #[prost(string, tag = "1")]
    pub text: String,
    #[prost(int64, tag = "2")]
    #[serde(with = "int64_as_string")]
    pub seq: i64,
}

impl prost::Name for Ping {
    const NAME: &'static str = "Ping";
    const PACKAGE: &'static str = "interop";
}

impl prost::Name for Pong {
    const NAME: &'static str = "Pong";
    const PACKAGE: &'static str = "interop";
}

impl prost::Name for Note {
    const NAME: &'static str = "Note";
    const PACKAGE: &'static str = "interop";
}

/// The answer of an echo actor named `responder` to `ping`.
pub fn pong(ping: &Ping, responder: &str) -> Pong {
    Pong {
        payload: ping.payload.clone(),
        text: ping.text.clone(),
        seq: ping.seq,
        responder: responder.to_owned(),
    }
}

/// Answers `ping` with its [`Pong`] from `responder`, the way the Go echo
/// actor (go-interop/internal/echo) does: a request without a header gets
/// a plain answer; one with a header gets that header back plus
/// `echoed-by: <responder>`.
///
/// # Errors
/// [`TransportError::DeadLetter`] when the Ping had no sender (a one-way
/// send: nobody to answer), or a send error.
pub fn answer(ctx: &ActorContext, ping: &Ping, responder: &str) -> Result<(), TransportError> {
    let pong = pong(ping, responder);
    if ctx.header().is_empty() {
        return ctx.respond(&pong);
    }
    let mut header = ctx.header().clone();
    header.insert("echoed-by".into(), responder.into());
    ctx.respond_raw(RawMessage::protobuf(&pong), header)
}

/// protobuf's JSON mapping of `int64`: a decimal string.
mod int64_as_string {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}
