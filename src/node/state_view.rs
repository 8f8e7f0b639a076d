//! `GET /state`: every gossip key's value per owner, as an operator reads it.
//!
//! It exists so state exchange with Go members can be checked from outside
//! the process: a key a Go member sets (protoactor-go packs a
//! `google.protobuf.StringValue` as `type.googleapis.com/google.protobuf.StringValue`)
//! shows here under that member's id, decoded. Values of other types are
//! shown as hex of their protobuf bytes; a value that claims to be a
//! `StringValue` but does not decode is shown as hex too, never refused.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{
    gossip::{GossipCore, GossipEntry},
    wire::{any::full_name_of, unpack},
};

/// One owner's value under one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateValueView {
    /// The owner's sequence number when it wrote the value.
    pub seq: i64,
    /// The full protobuf name the value's type URL names
    /// (e.g. `google.protobuf.StringValue`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// The decoded text, for a `google.protobuf.StringValue`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The protobuf bytes in hex, for every other value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_hex: Option<String>,
}

/// The `/state` document: key → owner id → value, both ascending.
pub type StateView = BTreeMap<String, BTreeMap<String, StateValueView>>;

impl StateValueView {
    fn of(entry: &GossipEntry) -> Self {
        let text = unpack::<String>(&entry.value).ok();
        Self {
            seq: entry.sequence_number,
            type_name: full_name_of(&entry.value).to_owned(),
            value_hex: text.is_none().then(|| hex::encode(&entry.value.value)),
            value: text,
        }
    }
}

/// Every entry of the core's gossip state.
pub(super) fn state_view(core: &GossipCore) -> StateView {
    let mut view = StateView::new();
    for (owner, state) in core.state().owners() {
        for (key, entry) in state.entries() {
            view.entry(key.to_owned())
                .or_default()
                .insert(owner.as_str().to_owned(), StateValueView::of(entry));
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use crate::wire::Any;

    use super::*;
    use crate::{gossip::UnixMillis, wire::pack};

    fn entry(value: Any) -> GossipEntry {
        GossipEntry {
            sequence_number: 7,
            value,
            received: UnixMillis(0),
        }
    }

    #[test]
    fn a_string_value_is_decoded_and_anything_else_is_hex() {
        let v = StateValueView::of(&entry(pack(&"hello".to_owned())));
        assert_eq!(v.type_name, "google.protobuf.StringValue");
        assert_eq!(v.value.as_deref(), Some("hello"));
        assert_eq!(v.value_hex, None);

        let v = StateValueView::of(&entry(pack(&42_u32)));
        assert_eq!(v.type_name, "google.protobuf.UInt32Value");
        assert_eq!((v.value, v.value_hex.as_deref()), (None, Some("082a")));

        // A peer's StringValue that is not valid protobuf: shown, not refused.
        let bad = Any {
            type_url: "type.googleapis.com/google.protobuf.StringValue".into(),
            value: vec![0x0a, 0x05, b'h'].into(),
        };
        let v = StateValueView::of(&entry(bad));
        assert_eq!((v.value, v.value_hex.as_deref()), (None, Some("0a0568")));
    }
}
