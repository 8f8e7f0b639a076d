package main

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The JSON twin schema (documented in compat-tests/README.md): a message is
// an object with EVERY field of our proto under its proto field name, default
// values included; 64-bit integers are decimal strings, bytes are lowercase
// hex, an unset sub-message is null, a oneof is an object holding only the
// set case (or nothing), a map is an object, an Any is
// {"type_url", "value" (hex), "unpacked" (twin of the packed message or null)}.

func i64(v int64) string  { return strconv.FormatInt(v, 10) }
func u64(v uint64) string { return strconv.FormatUint(v, 10) }

func strs(v []string) []any {
	out := make([]any, 0, len(v))
	for _, s := range v {
		out = append(out, s)
	}
	return out
}

// contentOf is the twin of any message a vector holds.
func contentOf(msg proto.Message) any {
	switch m := msg.(type) {
	case *actor.PID:
		return pidJ(m)
	case *actor.Watch:
		return map[string]any{"Watcher": pidJ(m.Watcher)}
	case *actor.Terminated:
		return map[string]any{"who": pidJ(m.Who), "Why": int32(m.Why)}
	case *actor.DeadLetterResponse:
		return map[string]any{"Target": pidJ(m.Target)}
	case *actor.PoisonPill:
		return map[string]any{}
	case *remote.RemoteMessage:
		return remoteMessageJ(m)
	case *remote.MessageBatch:
		return batchJ(m)
	case *remote.ConnectRequest:
		return connectRequestJ(m)
	case *remote.ConnectResponse:
		return connectResponseJ(m)
	case *remote.DisconnectRequest:
		return map[string]any{}
	case *cluster.Member:
		return memberJ(m)
	case *cluster.ClusterTopology:
		return topologyJ(m)
	case *cluster.MemberHeartbeat:
		return heartbeatJ(m)
	case *cluster.GossipRequest:
		return map[string]any{"from_member_id": m.FromMemberId, "state": gossipStateJ(m.State)}
	case *cluster.GossipResponse:
		return map[string]any{"state": gossipStateJ(m.State)}
	case *cluster.GossipState:
		return gossipStateJ(m)
	case *cluster.GossipMemberState:
		return memberStateJ(m)
	case *cluster.GossipKeyValue:
		return kvJ(m)
	case *cluster.GossipMap:
		return gossipMapJ(m)
	case *emptypb.Empty:
		return map[string]any{}
	case *anypb.Any:
		return anyJ(m)
	}
	panic(fmt.Sprintf("no twin for %T", msg))
}

func pidJ(p *actor.PID) any {
	if p == nil {
		return nil
	}
	return map[string]any{"Address": p.Address, "Id": p.Id, "request_id": p.RequestId}
}

func pidsJ(ps []*actor.PID) []any {
	out := make([]any, 0, len(ps))
	for _, p := range ps {
		out = append(out, pidJ(p))
	}
	return out
}

func remoteMessageJ(m *remote.RemoteMessage) any {
	out := map[string]any{}
	switch t := m.MessageType.(type) {
	case *remote.RemoteMessage_MessageBatch:
		out["message_batch"] = batchJ(t.MessageBatch)
	case *remote.RemoteMessage_ConnectRequest:
		out["connect_request"] = connectRequestJ(t.ConnectRequest)
	case *remote.RemoteMessage_ConnectResponse:
		out["connect_response"] = connectResponseJ(t.ConnectResponse)
	case *remote.RemoteMessage_DisconnectRequest:
		out["disconnect_request"] = map[string]any{}
	}
	return map[string]any{"message_type": out}
}

func connectRequestJ(m *remote.ConnectRequest) any {
	out := map[string]any{}
	switch t := m.ConnectionType.(type) {
	case *remote.ConnectRequest_ClientConnection:
		out["client_connection"] = map[string]any{"SystemId": t.ClientConnection.SystemId}
	case *remote.ConnectRequest_ServerConnection:
		out["server_connection"] = map[string]any{
			"SystemId": t.ServerConnection.SystemId,
			"Address":  t.ServerConnection.Address,
		}
	}
	return map[string]any{"connection_type": out}
}

func connectResponseJ(m *remote.ConnectResponse) any {
	return map[string]any{"member_id": m.MemberId, "blocked": m.Blocked}
}

func batchJ(b *remote.MessageBatch) any {
	envs := make([]any, 0, len(b.Envelopes))
	for _, e := range b.Envelopes {
		var header any
		if e.MessageHeader != nil {
			header = map[string]any{"header_data": e.MessageHeader.HeaderData}
		}
		envs = append(envs, map[string]any{
			"type_id":           e.TypeId,
			"message_data":      hex.EncodeToString(e.MessageData),
			"target":            e.Target,
			"sender":            e.Sender,
			"serializer_id":     e.SerializerId,
			"message_header":    header,
			"target_request_id": e.TargetRequestId,
			"sender_request_id": e.SenderRequestId,
		})
	}
	return map[string]any{
		"type_names": strs(b.TypeNames),
		"targets":    pidsJ(b.Targets),
		"envelopes":  envs,
		"senders":    pidsJ(b.Senders),
	}
}

func memberJ(m *cluster.Member) any {
	return map[string]any{"host": m.Host, "port": m.Port, "id": m.Id, "kinds": strs(m.Kinds)}
}

func membersJ(ms []*cluster.Member) []any {
	out := make([]any, 0, len(ms))
	for _, m := range ms {
		out = append(out, memberJ(m))
	}
	return out
}

func topologyJ(t *cluster.ClusterTopology) any {
	return map[string]any{
		"topology_hash": u64(t.TopologyHash),
		"members":       membersJ(t.Members),
		"joined":        membersJ(t.Joined),
		"left":          membersJ(t.Left),
		"blocked":       strs(t.Blocked),
	}
}

func heartbeatJ(h *cluster.MemberHeartbeat) any {
	var stats any
	if h.ActorStatistics != nil {
		counts := map[string]any{}
		for k, v := range h.ActorStatistics.ActorCount {
			counts[k] = i64(v)
		}
		stats = map[string]any{"actor_count": counts}
	}
	return map[string]any{"actor_statistics": stats}
}

func anyJ(a *anypb.Any) any {
	if a == nil {
		return nil
	}
	var unpacked any
	if inner, err := a.UnmarshalNew(); err == nil {
		unpacked = contentOf(inner)
	}
	return map[string]any{
		"type_url": a.TypeUrl,
		"value":    hex.EncodeToString(a.Value),
		"unpacked": unpacked,
	}
}

func kvJ(kv *cluster.GossipKeyValue) any {
	if kv == nil {
		return nil
	}
	return map[string]any{
		"sequence_number":                   i64(kv.SequenceNumber),
		"value":                             anyJ(kv.Value),
		"local_timestamp_unix_milliseconds": i64(kv.LocalTimestampUnixMilliseconds),
	}
}

func memberStateJ(ms *cluster.GossipMemberState) any {
	if ms == nil {
		return nil
	}
	values := map[string]any{}
	for k, v := range ms.Values {
		values[k] = kvJ(v)
	}
	return map[string]any{"values": values}
}

func gossipStateJ(s *cluster.GossipState) any {
	if s == nil {
		return nil
	}
	members := map[string]any{}
	for id, ms := range s.Members {
		members[id] = memberStateJ(ms)
	}
	return map[string]any{"members": members}
}

func gossipMapJ(g *cluster.GossipMap) any {
	items := map[string]any{}
	for k, v := range g.Items {
		items[k] = anyJ(v)
	}
	return map[string]any{"items": items}
}

// updatesJ lists GossipUpdates sorted by (member id, key): Go publishes them
// in map iteration order, which is random.
func updatesJ(us []*cluster.GossipUpdate) []any {
	sorted := append([]*cluster.GossipUpdate(nil), us...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].MemberID != sorted[j].MemberID {
			return sorted[i].MemberID < sorted[j].MemberID
		}
		return sorted[i].Key < sorted[j].Key
	})
	out := make([]any, 0, len(sorted))
	for _, u := range sorted {
		out = append(out, map[string]any{
			"member_id":  u.MemberID,
			"key":        u.Key,
			"seq_number": i64(u.SeqNumber),
			"value":      anyJ(u.Value),
		})
	}
	return out
}
