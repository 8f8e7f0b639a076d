//! The type registry: protobuf full names ↔ Rust message types.
//!
//! A `MessageBatch` carries each message as (type name, bytes); the type name
//! is the protobuf full name Go's registry knows (`cluster.GossipRequest`,
//! `actor.PID`, ...). [`WireMessage`] is the closed set of messages a
//! protoactor-go cluster member can send or decode, so decoding by name is a
//! lookup in one table, encoding always writes the name Go expects, and an
//! unknown name is a typed error instead of the crash it is in Go.

use alloc::vec::Vec;

use prost::Message;

use super::{
    DecodeError, Empty,
    proto::{actor, cluster, remote},
};

macro_rules! registry {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) = $name:literal $(| $alias:literal)* ;)*) => {
        /// A message of any type that protoactor-go's cluster members know,
        /// tagged with its type.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum WireMessage {
            $( $(#[$doc])* #[doc = concat!("`", $name, "`")] $variant($ty), )*
        }

        /// Every full name the registry decodes, aliases included.
        pub const KNOWN_TYPE_NAMES: &[&str] = &[$( $name, $($alias,)* )*];

        impl WireMessage {
            /// Decodes `bytes` as the message named `type_name`.
            ///
            /// # Errors
            /// [`DecodeError::UnknownTypeName`] for a name outside the
            /// registry, [`DecodeError::Protobuf`] for bytes that are not a
            /// valid encoding of that type.
            pub fn decode(type_name: &str, bytes: &[u8]) -> Result<Self, DecodeError> {
                match type_name {
                    $( $name $(| $alias)* => <$ty>::decode(bytes)
                        .map(WireMessage::$variant)
                        .map_err(|e| DecodeError::protobuf(type_name, e)), )*
                    other => Err(DecodeError::UnknownTypeName(other.into())),
                }
            }

            /// The protobuf full name Go writes for this message.
            pub fn type_name(&self) -> &'static str {
                match self { $( WireMessage::$variant(_) => $name, )* }
            }

            /// The message's protobuf encoding.
            pub fn encode_to_vec(&self) -> Vec<u8> {
                match self { $( WireMessage::$variant(m) => m.encode_to_vec(), )* }
            }

            /// The length of [`Self::encode_to_vec`]'s output, without encoding.
            pub fn encoded_len(&self) -> usize {
                match self { $( WireMessage::$variant(m) => m.encoded_len(), )* }
            }
        }

        $( impl From<$ty> for WireMessage {
            fn from(m: $ty) -> Self { WireMessage::$variant(m) }
        } )*

        #[cfg(test)]
        fn registered_full_names() -> Vec<(&'static str, alloc::string::String)> {
            use prost::Name;
            alloc::vec![$( ($name, <$ty>::full_name()), )*]
        }
    };
}

registry! {
    Pid(actor::Pid) = "actor.PID";
    PoisonPill(actor::PoisonPill) = "actor.PoisonPill";
    DeadLetterResponse(actor::DeadLetterResponse) = "actor.DeadLetterResponse";
    Watch(actor::Watch) = "actor.Watch";
    Unwatch(actor::Unwatch) = "actor.Unwatch";
    Terminated(actor::Terminated) = "actor.Terminated";
    Stop(actor::Stop) = "actor.Stop";
    Touch(actor::Touch) = "actor.Touch";
    Touched(actor::Touched) = "actor.Touched";

    RemoteMessage(remote::RemoteMessage) = "remote.RemoteMessage";
    MessageBatch(remote::MessageBatch) = "remote.MessageBatch";
    MessageEnvelope(remote::MessageEnvelope) = "remote.MessageEnvelope";
    MessageHeader(remote::MessageHeader) = "remote.MessageHeader";
    ActorPidRequest(remote::ActorPidRequest) = "remote.ActorPidRequest";
    ActorPidResponse(remote::ActorPidResponse) = "remote.ActorPidResponse";
    ConnectRequest(remote::ConnectRequest) = "remote.ConnectRequest";
    DisconnectRequest(remote::DisconnectRequest) = "remote.DisconnectRequest";
    ClientConnection(remote::ClientConnection) = "remote.ClientConnection";
    ServerConnection(remote::ServerConnection) = "remote.ServerConnection";
    ConnectResponse(remote::ConnectResponse) = "remote.ConnectResponse";
    ListProcessesRequest(remote::ListProcessesRequest) = "remote.ListProcessesRequest";
    ListProcessesResponse(remote::ListProcessesResponse) = "remote.ListProcessesResponse";
    GetProcessDiagnosticsRequest(remote::GetProcessDiagnosticsRequest) = "remote.GetProcessDiagnosticsRequest";
    GetProcessDiagnosticsResponse(remote::GetProcessDiagnosticsResponse) = "remote.GetProcessDiagnosticsResponse";

    GossipRequest(cluster::GossipRequest) = "cluster.GossipRequest";
    GossipResponse(cluster::GossipResponse) = "cluster.GossipResponse";
    GossipState(cluster::GossipState) = "cluster.GossipState";
    /// Go before 2024-04 nested this type as `cluster.GossipState.GossipMemberState`.
    GossipMemberState(cluster::GossipMemberState) = "cluster.GossipMemberState" | "cluster.GossipState.GossipMemberState";
    GossipKeyValue(cluster::GossipKeyValue) = "cluster.GossipKeyValue";
    GossipMap(cluster::GossipMap) = "cluster.GossipMap";

    Member(cluster::Member) = "cluster.Member";
    ClusterTopology(cluster::ClusterTopology) = "cluster.ClusterTopology";
    ClusterTopologyNotification(cluster::ClusterTopologyNotification) = "cluster.ClusterTopologyNotification";
    MemberHeartbeat(cluster::MemberHeartbeat) = "cluster.MemberHeartbeat";
    ActorStatistics(cluster::ActorStatistics) = "cluster.ActorStatistics";
    ClusterIdentity(cluster::ClusterIdentity) = "cluster.ClusterIdentity";
    Activation(cluster::Activation) = "cluster.Activation";
    ActivationTerminating(cluster::ActivationTerminating) = "cluster.ActivationTerminating";
    ActivationTerminated(cluster::ActivationTerminated) = "cluster.ActivationTerminated";
    ActivationRequest(cluster::ActivationRequest) = "cluster.ActivationRequest";
    ProxyActivationRequest(cluster::ProxyActivationRequest) = "cluster.ProxyActivationRequest";
    ActivationResponse(cluster::ActivationResponse) = "cluster.ActivationResponse";
    ReadyForRebalance(cluster::ReadyForRebalance) = "cluster.ReadyForRebalance";
    RebalanceCompleted(cluster::RebalanceCompleted) = "cluster.RebalanceCompleted";
    IdentityHandoverRequest(cluster::IdentityHandoverRequest) = "cluster.IdentityHandoverRequest";
    IdentityHandover(cluster::IdentityHandover) = "cluster.IdentityHandover";
    RemoteIdentityHandover(cluster::RemoteIdentityHandover) = "cluster.RemoteIdentityHandover";
    PackedActivations(cluster::PackedActivations) = "cluster.PackedActivations";
    IdentityHandoverAck(cluster::IdentityHandoverAck) = "cluster.IdentityHandoverAck";

    GrainRequest(cluster::GrainRequest) = "cluster.GrainRequest";
    GrainResponse(cluster::GrainResponse) = "cluster.GrainResponse";
    GrainErrorResponse(cluster::GrainErrorResponse) = "cluster.GrainErrorResponse";

    SubscriberIdentity(cluster::SubscriberIdentity) = "cluster.SubscriberIdentity";
    Initialize(cluster::Initialize) = "cluster.Initialize";
    Acknowledge(cluster::Acknowledge) = "cluster.Acknowledge";
    Subscribers(cluster::Subscribers) = "cluster.Subscribers";
    SubscribeRequest(cluster::SubscribeRequest) = "cluster.SubscribeRequest";
    SubscribeResponse(cluster::SubscribeResponse) = "cluster.SubscribeResponse";
    UnsubscribeRequest(cluster::UnsubscribeRequest) = "cluster.UnsubscribeRequest";
    UnsubscribeResponse(cluster::UnsubscribeResponse) = "cluster.UnsubscribeResponse";
    PubSubBatchTransport(cluster::PubSubBatchTransport) = "cluster.PubSubBatchTransport";
    PubSubEnvelope(cluster::PubSubEnvelope) = "cluster.PubSubEnvelope";
    DeliverBatchRequestTransport(cluster::DeliverBatchRequestTransport) = "cluster.DeliverBatchRequestTransport";
    NotifyAboutFailingSubscribersRequest(cluster::NotifyAboutFailingSubscribersRequest) = "cluster.NotifyAboutFailingSubscribersRequest";
    NotifyAboutFailingSubscribersResponse(cluster::NotifyAboutFailingSubscribersResponse) = "cluster.NotifyAboutFailingSubscribersResponse";
    SubscriberDeliveryReport(cluster::SubscriberDeliveryReport) = "cluster.SubscriberDeliveryReport";
    PubSubAutoRespondBatchTransport(cluster::PubSubAutoRespondBatchTransport) = "cluster.PubSubAutoRespondBatchTransport";
    PublishResponse(cluster::PublishResponse) = "cluster.PublishResponse";

    Empty(Empty) = "google.protobuf.Empty";
    Any(crate::wire::Any) = "google.protobuf.Any";
    Duration(prost_types::Duration) = "google.protobuf.Duration";
}

/// True when `type_name` is in the registry (and so safe to decode).
pub fn is_known_type_name(type_name: &str) -> bool {
    KNOWN_TYPE_NAMES.contains(&type_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::proto::cluster::{GossipRequest, GossipState};

    #[test]
    fn registered_names_equal_protobuf_full_names() {
        for (registered, generated) in registered_full_names() {
            assert_eq!(registered, generated);
        }
    }

    #[test]
    fn decode_by_name_round_trips() {
        let req = GossipRequest {
            from_member_id: "target".into(),
            state: Some(GossipState::default()),
        };
        let msg = WireMessage::from(req.clone());
        assert_eq!(msg.type_name(), "cluster.GossipRequest");
        let bytes = msg.encode_to_vec();
        assert_eq!(bytes.len(), msg.encoded_len());
        assert_eq!(
            WireMessage::decode("cluster.GossipRequest", &bytes),
            Ok(msg)
        );
    }

    #[test]
    fn nested_go_2024_03_name_decodes_as_member_state() {
        let decoded = WireMessage::decode("cluster.GossipState.GossipMemberState", &[]).unwrap();
        assert_eq!(decoded.type_name(), "cluster.GossipMemberState");
    }

    #[test]
    fn unknown_name_is_an_error() {
        assert_eq!(
            WireMessage::decode("myapp.Hello", &[]),
            Err(DecodeError::UnknownTypeName("myapp.Hello".into()))
        );
        assert!(!is_known_type_name("myapp.Hello"));
        assert!(is_known_type_name("actor.PID"));
    }

    #[test]
    fn truncated_bytes_are_an_error() {
        // Field 1 (Address), length 5, but only 2 bytes follow.
        let err = WireMessage::decode("actor.PID", &[0x0a, 0x05, b'a', b'b']).unwrap_err();
        assert!(
            matches!(err, DecodeError::Protobuf { ref type_name, .. } if type_name == "actor.PID")
        );
    }

    #[test]
    fn invalid_utf8_in_string_field_is_an_error() {
        let err = WireMessage::decode("actor.PID", &[0x0a, 0x02, 0xff, 0xfe]).unwrap_err();
        assert!(matches!(err, DecodeError::Protobuf { .. }), "{err}");
    }
}
