//! Messages as hosted actors and requesters see them, and the registry of
//! an application's own message types.
//!
//! On the wire a message is (type name, serializer id, bytes). The closed
//! set of cluster messages ([`WireMessage`]) is decoded by the wire
//! registry; an application adds its own protobuf types to a
//! [`TypeRegistry`] under the full name Go writes in
//! `MessageBatch.type_names` (`prost::Name::full_name`). A name in neither
//! is an unknown type: counted and dead-lettered at the inbound stream,
//! never handed to an actor, as protoactor-go cannot deserialize it either.
//!
//! Serializer 1 (JSON) is accepted and produced only for types registered
//! with [`TypeRegistry::register_json`]; Go's endpoint writer itself always
//! writes serializer 0, so JSON only appears when an application asks for
//! it. The JSON text must be protobuf's JSON mapping (what Go's gogo
//! `jsonpb` reads and writes: lowerCamelCase field names, 64-bit integers
//! as strings, enums as names); serde on the application's type is
//! responsible for that.

use std::{
    any::{Any, TypeId},
    borrow::Cow,
    collections::{BTreeMap, HashMap},
    fmt,
    sync::{PoisonError, RwLock},
};

use super::{ActorError, TransportError};
use crate::wire::{
    DecodeError, SERIALIZER_JSON, SERIALIZER_PROTOBUF, WireMessage, is_known_type_name,
    proto::actor::Terminated,
};

/// protoactor's `MessageHeader`: string keys and values sent next to a
/// message (Go's `actor.MessageEnvelope.Header`).
pub type Header = BTreeMap<String, String>;

/// A serialized message, ready to send to any PID: the type name Go looks
/// up, the serializer id (0 protobuf, 1 JSON) and the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// The protobuf full name, e.g. `myapp.Ping`.
    pub type_name: String,
    /// [`SERIALIZER_PROTOBUF`] or [`SERIALIZER_JSON`].
    pub serializer_id: i32,
    /// The encoded body.
    pub data: Vec<u8>,
}

impl RawMessage {
    /// A message from its parts (no check is made: the receiver decides).
    pub fn new(type_name: impl Into<String>, serializer_id: i32, data: Vec<u8>) -> Self {
        Self {
            type_name: type_name.into(),
            serializer_id,
            data,
        }
    }

    /// `message` encoded as protobuf under its full name.
    pub fn protobuf<M: prost::Message + prost::Name>(message: &M) -> Self {
        Self::new(M::full_name(), SERIALIZER_PROTOBUF, message.encode_to_vec())
    }

    /// `message` encoded as JSON (serializer 1) under its full name.
    ///
    /// # Errors
    /// [`TransportError::Encode`] when serde fails.
    pub fn json<M: prost::Name + serde::Serialize>(message: &M) -> Result<Self, TransportError> {
        let data = serde_json::to_vec(message).map_err(|e| TransportError::Encode {
            type_name: M::full_name(),
            reason: e.to_string(),
        })?;
        Ok(Self::new(M::full_name(), SERIALIZER_JSON, data))
    }
}

impl From<WireMessage> for RawMessage {
    fn from(m: WireMessage) -> Self {
        Self::new(m.type_name(), SERIALIZER_PROTOBUF, m.encode_to_vec())
    }
}

/// A decoded value of a registered application type.
type AppValue = Box<dyn Any + Send + Sync>;

enum Body {
    /// A cluster/actor/remote message of the wire registry.
    Wire(WireMessage),
    /// A registered application type, with the bytes it came in.
    App {
        type_name: String,
        data: Vec<u8>,
        value: AppValue,
    },
}

/// A message delivered to a hosted actor or answering a request: decoded
/// through the wire registry (cluster and `actor.*` types) or the
/// application's [`TypeRegistry`], with its wire form still at hand.
pub struct ActorMessage {
    serializer_id: i32,
    body: Body,
}

impl fmt::Debug for ActorMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ActorMessage");
        d.field("type_name", &self.type_name())
            .field("serializer_id", &self.serializer_id);
        match &self.body {
            Body::Wire(m) => d.field("message", m),
            Body::App { data, .. } => d.field("bytes", &data.len()),
        };
        d.finish()
    }
}

impl From<WireMessage> for ActorMessage {
    fn from(m: WireMessage) -> Self {
        Self {
            serializer_id: SERIALIZER_PROTOBUF,
            body: Body::Wire(m),
        }
    }
}

impl ActorMessage {
    /// The type name it travelled under (`myapp.Ping`, `actor.Terminated`).
    pub fn type_name(&self) -> &str {
        match &self.body {
            Body::Wire(m) => m.type_name(),
            Body::App { type_name, .. } => type_name,
        }
    }

    /// The serializer it travelled with (0 protobuf, 1 JSON).
    pub fn serializer_id(&self) -> i32 {
        self.serializer_id
    }

    /// The body as it travelled on the wire (re-encoded for cluster
    /// messages, which are kept decoded only).
    pub fn data(&self) -> Cow<'_, [u8]> {
        match &self.body {
            Body::Wire(m) => Cow::Owned(m.encode_to_vec()),
            Body::App { data, .. } => Cow::Borrowed(data),
        }
    }

    /// The message when it is one of the cluster/actor/remote types.
    pub fn as_wire(&self) -> Option<&WireMessage> {
        match &self.body {
            Body::Wire(m) => Some(m),
            Body::App { .. } => None,
        }
    }

    /// The message as a cluster/actor/remote type, or itself back.
    ///
    /// # Errors
    /// `self` when it is an application type.
    pub fn into_wire(self) -> Result<WireMessage, Self> {
        match self.body {
            Body::Wire(m) => Ok(m),
            body => Err(Self {
                serializer_id: self.serializer_id,
                body,
            }),
        }
    }

    /// A reference to the decoded value when it is a registered
    /// application type `M`.
    pub fn downcast_ref<M: Any>(&self) -> Option<&M> {
        match &self.body {
            Body::App { value, .. } => value.downcast_ref(),
            Body::Wire(_) => None,
        }
    }

    /// `actor.Terminated`: how a watched PID's end is told to its watcher.
    pub fn terminated(&self) -> Option<&Terminated> {
        match self.as_wire() {
            Some(WireMessage::Terminated(t)) => Some(t),
            _ => None,
        }
    }

    /// The message as `M`: its type name must be `M`'s full name. Works
    /// for registered application types and for the wire registry's types
    /// (`cluster.GossipResponse`, ...), which need no registration.
    ///
    /// # Errors
    /// [`TransportError::UnexpectedType`] for another type name,
    /// [`TransportError::Decode`] when the bytes are not a valid `M`.
    pub fn into_message<M>(self) -> Result<M, TransportError>
    where
        M: prost::Message + prost::Name + Default + Any,
    {
        let expected = M::full_name();
        if self.type_name() != expected {
            return Err(TransportError::UnexpectedType {
                expected,
                found: self.type_name().to_owned(),
            });
        }
        let serializer_id = self.serializer_id;
        let data = match self.body {
            Body::App { value, data, .. } => match value.downcast::<M>() {
                Ok(m) => return Ok(*m),
                Err(_) if serializer_id == SERIALIZER_PROTOBUF => data,
                Err(_) => {
                    return Err(TransportError::Decode(format!(
                        "{expected} arrived as JSON and is registered as another Rust type"
                    )));
                }
            },
            Body::Wire(m) => m.encode_to_vec(),
        };
        M::decode(data.as_slice())
            .map_err(|e| TransportError::Decode(DecodeError::protobuf(&expected, e).to_string()))
    }
}

type ProtoDecode = fn(&[u8]) -> Result<AppValue, prost::DecodeError>;
type JsonDecode = fn(&[u8]) -> Result<AppValue, serde_json::Error>;
type JsonEncode = fn(&dyn Any) -> Option<Result<Vec<u8>, serde_json::Error>>;

#[derive(Clone, Copy)]
struct Codec {
    type_id: TypeId,
    rust_name: &'static str,
    protobuf: ProtoDecode,
    json: Option<(JsonDecode, JsonEncode)>,
}

fn decode_protobuf<M: prost::Message + Default + Send + Sync + 'static>(
    data: &[u8],
) -> Result<AppValue, prost::DecodeError> {
    Ok(Box::new(M::decode(data)?))
}

fn decode_json<M: serde::de::DeserializeOwned + Send + Sync + 'static>(
    data: &[u8],
) -> Result<AppValue, serde_json::Error> {
    Ok(Box::new(serde_json::from_slice::<M>(data)?))
}

fn encode_json<M: serde::Serialize + 'static>(
    value: &dyn Any,
) -> Option<Result<Vec<u8>, serde_json::Error>> {
    value.downcast_ref::<M>().map(serde_json::to_vec)
}

/// An application's own message types, by protobuf full name. Shared by
/// every hosted actor and request of one remote; types can be added while
/// it runs ([`crate::remote::RemoteHandle::types`]).
#[derive(Default)]
pub struct TypeRegistry {
    codecs: RwLock<HashMap<String, Codec>>,
}

impl fmt::Debug for TypeRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codecs = self.codecs.read().unwrap_or_else(PoisonError::into_inner);
        let mut names: Vec<_> = codecs.keys().collect();
        names.sort();
        f.debug_struct("TypeRegistry")
            .field("types", &names)
            .finish()
    }
}

impl TypeRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn insert(&self, name: String, codec: Codec) -> Result<(), ActorError> {
        if is_known_type_name(&name) {
            return Err(ActorError::BuiltinType(name));
        }
        let mut codecs = self.codecs.write().unwrap_or_else(PoisonError::into_inner);
        match codecs.get_mut(&name) {
            Some(c) if c.type_id != codec.type_id => Err(ActorError::TypeConflict {
                type_name: name,
                registered: c.rust_name,
            }),
            Some(c) => {
                c.json = c.json.or(codec.json);
                Ok(())
            }
            None => {
                codecs.insert(name, codec);
                Ok(())
            }
        }
    }

    /// Registers `M` under its protobuf full name (`M::full_name()`, e.g.
    /// `myapp.Ping` for `message Ping` in `package myapp`): inbound
    /// protobuf envelopes of that name are decoded into `M`. Registering the
    /// same type again is a no-op.
    ///
    /// # Errors
    /// [`ActorError::BuiltinType`] for a name of the wire registry
    /// (`actor.*`, `cluster.*`, ...), [`ActorError::TypeConflict`] when
    /// another Rust type holds the name.
    pub fn register<M>(&self) -> Result<(), ActorError>
    where
        M: prost::Message + prost::Name + Default + Send + Sync + 'static,
    {
        self.insert(
            M::full_name(),
            Codec {
                type_id: TypeId::of::<M>(),
                rust_name: std::any::type_name::<M>(),
                protobuf: decode_protobuf::<M>,
                json: None,
            },
        )
    }

    /// Registers `M` as [`Self::register`] does, and for JSON (serializer
    /// id 1) both ways: inbound JSON of that name is decoded with serde, and
    /// [`Self::encode`] writes `M` as JSON. serde must produce protobuf's
    /// JSON mapping for Go to read it (see the module docs).
    ///
    /// # Errors
    /// As [`Self::register`].
    pub fn register_json<M>(&self) -> Result<(), ActorError>
    where
        M: prost::Message
            + prost::Name
            + Default
            + serde::Serialize
            + serde::de::DeserializeOwned
            + Send
            + Sync
            + 'static,
    {
        self.insert(
            M::full_name(),
            Codec {
                type_id: TypeId::of::<M>(),
                rust_name: std::any::type_name::<M>(),
                protobuf: decode_protobuf::<M>,
                json: Some((decode_json::<M>, encode_json::<M>)),
            },
        )
    }

    /// True when `type_name` is registered.
    pub fn contains(&self, type_name: &str) -> bool {
        self.codecs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(type_name)
    }

    fn codec(&self, type_name: &str) -> Option<Codec> {
        self.codecs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(type_name)
            .copied()
    }

    /// `message` serialized the way its registration asks: JSON for a type
    /// registered with [`Self::register_json`], protobuf otherwise (also
    /// for unregistered types, which need no registration to be sent).
    ///
    /// # Errors
    /// [`TransportError::Encode`] when serde fails.
    pub fn encode<M: prost::Message + prost::Name + 'static>(
        &self,
        message: &M,
    ) -> Result<RawMessage, TransportError> {
        let name = M::full_name();
        if let Some(Codec {
            type_id,
            json: Some((_, encode)),
            ..
        }) = self.codec(&name)
            && type_id == TypeId::of::<M>()
            && let Some(result) = encode(message)
        {
            let data = result.map_err(|e| TransportError::Encode {
                type_name: name.clone(),
                reason: e.to_string(),
            })?;
            return Ok(RawMessage::new(name, SERIALIZER_JSON, data));
        }
        Ok(RawMessage::new(
            name,
            SERIALIZER_PROTOBUF,
            message.encode_to_vec(),
        ))
    }

    /// Decodes one envelope body: wire registry first, then the
    /// application's types.
    ///
    /// # Errors
    /// [`DecodeError::UnknownTypeName`] for a name in neither registry,
    /// [`DecodeError::UnsupportedSerializer`] for JSON of a type not
    /// registered for JSON, [`DecodeError::Protobuf`] for a body that does
    /// not decode (JSON errors included, with `invalid JSON` in the reason).
    pub fn decode(
        &self,
        type_name: &str,
        serializer_id: i32,
        data: &[u8],
    ) -> Result<ActorMessage, DecodeError> {
        if is_known_type_name(type_name) {
            if serializer_id != SERIALIZER_PROTOBUF {
                return Err(DecodeError::UnsupportedSerializer(serializer_id));
            }
            return WireMessage::decode(type_name, data).map(ActorMessage::from);
        }
        let Some(codec) = self.codec(type_name) else {
            return Err(DecodeError::UnknownTypeName(type_name.into()));
        };
        let value = match (serializer_id, codec.json) {
            (SERIALIZER_PROTOBUF, _) => {
                (codec.protobuf)(data).map_err(|e| DecodeError::protobuf(type_name, e))?
            }
            (SERIALIZER_JSON, Some((decode, _))) => {
                decode(data).map_err(|e| DecodeError::Protobuf {
                    type_name: type_name.into(),
                    reason: format!("invalid JSON: {e}"),
                })?
            }
            (other, _) => return Err(DecodeError::UnsupportedSerializer(other)),
        };
        Ok(ActorMessage {
            serializer_id,
            body: Body::App {
                type_name: type_name.into(),
                data: data.to_vec(),
                value,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::proto::{actor::Pid, cluster::GossipResponse};

    #[test]
    fn builtin_names_cannot_be_registered() {
        let r = TypeRegistry::new();
        assert_eq!(
            r.register::<Pid>(),
            Err(ActorError::BuiltinType("actor.PID".into()))
        );
    }

    #[test]
    fn wire_types_decode_without_registration() {
        let r = TypeRegistry::new();
        let m = r
            .decode(
                "cluster.GossipResponse",
                0,
                &RawMessage::from(WireMessage::from(GossipResponse::default())).data,
            )
            .unwrap();
        assert_eq!(m.type_name(), "cluster.GossipResponse");
        assert_eq!(
            m.into_message::<GossipResponse>().unwrap(),
            GossipResponse::default()
        );
        assert_eq!(
            r.decode("cluster.GossipResponse", 1, &[]).unwrap_err(),
            DecodeError::UnsupportedSerializer(1)
        );
        assert_eq!(
            r.decode("myapp.Nope", 0, &[]).unwrap_err(),
            DecodeError::UnknownTypeName("myapp.Nope".into())
        );
    }
}
