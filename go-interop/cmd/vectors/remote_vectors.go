package main

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"
)

// writeRemoteVectors: handshake messages and message batches.
func writeRemoteVectors(w *writer) error {
	handshakes := []struct {
		name string
		msg  *remote.RemoteMessage
		note string
	}{
		{"connect_request_server", &remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{
			ConnectRequest: &remote.ConnectRequest{ConnectionType: &remote.ConnectRequest_ServerConnection{
				ServerConnection: &remote.ServerConnection{SystemId: "cYT4cPbVJ9SgcsMkGBqjzM", Address: "10.0.0.2:8090"},
			}},
		}}, "what a Go member's endpoint writer sends first"},
		{"connect_request_client", &remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{
			ConnectRequest: &remote.ConnectRequest{ConnectionType: &remote.ConnectRequest_ClientConnection{
				ClientConnection: &remote.ClientConnection{SystemId: "client-1"},
			}},
		}}, "client-only connection (not used between members)"},
		{"connect_response_ok", &remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectResponse{
			ConnectResponse: &remote.ConnectResponse{MemberId: "cYT4cPbVJ9SgcsMkGBqjzM", Blocked: false},
		}}, "blocked false is left out"},
		{"connect_response_blocked", &remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectResponse{
			ConnectResponse: &remote.ConnectResponse{MemberId: "cYT4cPbVJ9SgcsMkGBqjzM", Blocked: true},
		}}, ""},
		{"disconnect_request", &remote.RemoteMessage{MessageType: &remote.RemoteMessage_DisconnectRequest{
			DisconnectRequest: &remote.DisconnectRequest{},
		}}, "oneof case with an empty message: tag and zero length"},
	}
	for _, h := range handshakes {
		if err := w.message(h.name, h.msg, meta{notes: h.note}); err != nil {
			return err
		}
	}

	for _, b := range batchCases() {
		batch, resolved, err := buildBatch(b.deliveries)
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		msg := &remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: batch}}
		if err := w.message(b.name, msg, meta{builtAs: batchBuiltAs, notes: b.note}); err != nil {
			return err
		}
		if err := w.jsonFile(b.name+".resolved.json", map[string]any{
			"case":      b.name,
			"envelopes": resolved,
			"about":     "each envelope as Go's endpoint reader resolves it: type name, target and sender with request ids restored, header, decoded body twin; header_given is the header map handed to the writer (an empty map must not be written)",
		}); err != nil {
			return err
		}
	}
	return nil
}

const batchBuiltAs = "tables built by the rules of remote/endpoint_writer.go sendEnvelopes (unexported; rebuilt here): " +
	"type_names/targets/senders deduplicated in first-use order, PID key Address+\"/\"+Id, table PIDs cloned with request_id 0, " +
	"sender index 1-based (0 = none), header only when non-empty, serializer_id 0; bodies and type names from remote.Serialize(msg, 0)"

// delivery is one message handed to Go's endpoint writer.
type delivery struct {
	target  *actor.PID
	sender  *actor.PID
	header  map[string]string
	message proto.Message
}

type batchCase struct {
	name       string
	deliveries []delivery
	note       string
}

func buildBatch(ds []delivery) (*remote.MessageBatch, []any, error) {
	typeIdx := map[string]int32{}
	targetIdx := map[string]int32{}
	senderIdx := map[string]int32{}
	batch := &remote.MessageBatch{TypeNames: []string{}, Targets: []*actor.PID{}, Senders: []*actor.PID{}}
	var resolved []any
	for _, d := range ds {
		body, typeName, err := remote.Serialize(d.message, 0)
		if err != nil {
			return nil, nil, err
		}
		if !goDeterministic(d.message.ProtoReflect()) {
			// Body bytes in Go depend on map order; keep the files reproducible.
			if body, err = deterministicMarshal.Marshal(d.message); err != nil {
				return nil, nil, err
			}
		}
		typeID, ok := typeIdx[typeName]
		if !ok {
			typeID = int32(len(typeIdx))
			typeIdx[typeName] = typeID
			batch.TypeNames = append(batch.TypeNames, typeName)
		}
		target := lookup(targetIdx, &batch.Targets, d.target)
		var sender int32
		var senderRequestID uint32
		if d.sender != nil {
			sender = lookup(senderIdx, &batch.Senders, d.sender) + 1
			senderRequestID = d.sender.RequestId
		}
		var header *remote.MessageHeader
		if len(d.header) > 0 {
			header = &remote.MessageHeader{HeaderData: d.header}
		}
		batch.Envelopes = append(batch.Envelopes, &remote.MessageEnvelope{
			MessageHeader:   header,
			MessageData:     body,
			Sender:          sender,
			Target:          target,
			TypeId:          typeID,
			SerializerId:    0,
			TargetRequestId: d.target.RequestId,
			SenderRequestId: senderRequestID,
		})
		var hdr any
		if header != nil {
			hdr = d.header
		}
		var given any
		if d.header != nil {
			given = d.header
		}
		resolved = append(resolved, map[string]any{
			"header_given": given,
			"type_name":    typeName,
			"target":       pidJ(d.target),
			"sender":       pidJ(d.sender),
			"header":       hdr,
			"body":         contentOf(d.message),
		})
	}
	return batch, resolved, nil
}

func lookup(idx map[string]int32, table *[]*actor.PID, pid *actor.PID) int32 {
	key := pid.Address + "/" + pid.Id
	if i, ok := idx[key]; ok {
		return i
	}
	c := proto.Clone(pid).(*actor.PID)
	c.RequestId = 0
	i := int32(len(idx))
	idx[key] = i
	*table = append(*table, c)
	return i
}

func batchCases() []batchCase {
	gossipA := actor.NewPID("10.0.0.1:8090", "gossip")
	gossipB := actor.NewPID("10.0.0.2:8090", "gossip")
	future := func(addr string, n uint32) *actor.PID {
		return &actor.PID{Address: addr, Id: fmt.Sprintf("future$%d", n)}
	}
	withRequest := func(p *actor.PID, id uint32) *actor.PID {
		c := proto.Clone(p).(*actor.PID)
		c.RequestId = id
		return c
	}
	topo := fixedTopology([]string{"node-a", "node-b"}, nil)
	req := &cluster.GossipRequest{FromMemberId: "node-b", State: gossipStateOf(profile0824, []string{"node-a"}, 3)}
	return []batchCase{
		{"batch_gossip_response_to_future", []delivery{
			{target: future("10.0.0.1:8090", 5), message: &cluster.GossipResponse{}},
		}, "the worked example of docs/wire-protocol.md#batches: every envelope field default, envelope is 1a 00"},
		{"batch_gossip_request_with_sender", []delivery{
			{target: gossipB, sender: future("10.0.0.1:8090", 7), message: req},
		}, "a GossipRequest as Gossiper sends it: future sender"},
		{"batch_request_ids", []delivery{
			{target: withRequest(gossipB, 9), sender: withRequest(future("10.0.0.1:8090", 1), 3), message: &cluster.GossipResponse{}},
			{target: withRequest(gossipB, 10), sender: withRequest(future("10.0.0.1:8090", 1), 4), message: &cluster.GossipResponse{}},
			{target: gossipB, message: &cluster.GossipResponse{}},
		}, "request ids travel in the envelope; tables hold request_id 0 and are deduplicated"},
		{"batch_mixed_types_targets_senders", []delivery{
			{target: gossipA, message: &actor.Watch{Watcher: future("10.0.0.2:8090", 1)}},
			{target: gossipB, sender: gossipA, message: req},
			{target: future("10.0.0.2:8090", 3), sender: gossipA, message: &cluster.GossipResponse{}},
			{target: gossipA, sender: gossipB, message: &actor.Terminated{Who: gossipB, Why: actor.TerminatedReason_AddressTerminated}},
			{target: gossipB, sender: gossipA, message: topo},
			{target: gossipA, message: &actor.Watch{Watcher: gossipB}},
		}, "several type names, targets and senders in first-use order"},
		{"batch_headers", []delivery{
			{target: gossipA, header: map[string]string{"trace-id": "abc123"}, message: &cluster.GossipResponse{}},
			{target: gossipA, header: map[string]string{}, message: &cluster.GossipResponse{}},
			{target: gossipB, sender: gossipA, header: map[string]string{"a": "1", "b": "2", "ünï": "çødé"}, message: &cluster.GossipResponse{}},
		}, "non-empty header copied, empty header left unset; the 3-entry header map is non-deterministic in Go"},
		{"batch_header_empty_value", []delivery{
			{target: gossipA, header: map[string]string{"k": ""}, message: &actor.PoisonPill{}},
		}, "Go writes empty map values explicitly (key and value both present in the entry)"},
		{"batch_dead_letter_response", []delivery{
			{target: future("10.0.0.2:8090", 11), message: &actor.DeadLetterResponse{Target: gossipB}},
		}, ""},
	}
}
