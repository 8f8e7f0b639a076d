package main

import (
	"fmt"

	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// profile is the part of a gossip state that differs between Go versions.
type profile struct {
	name         string
	heartbeatKey string
	heartbeat    func(owner int) *cluster.MemberHeartbeat
	provenance   string
}

const provenance0324 = pinnedVersion + " types, with the go-2024-03 heartbeat key \"heathbeat\" and its empty ActorStatistics payload. " +
	"protoactor-go c318a5a07f4e (2024-03) cannot be downloaded here (module proxy answers 403); its gossip messages have the same " +
	"field numbers and types (docs/go-quirks.md, W1-W4), so these bytes are what that version writes"

var profile0824 = profile{
	name:         "go-2024-08",
	heartbeatKey: cluster.HeartbeatKey,
	heartbeat: func(owner int) *cluster.MemberHeartbeat {
		// Gossiper.GetActorCount: one entry per registered kind (prototopic is always there).
		return &cluster.MemberHeartbeat{ActorStatistics: &cluster.ActorStatistics{
			ActorCount: map[string]int64{"prototopic": 0, "hello": int64(owner * 3)},
		}}
	},
}

var profile0324 = profile{
	name:         "go-2024-03",
	heartbeatKey: "heathbeat",
	heartbeat: func(int) *cluster.MemberHeartbeat {
		return &cluster.MemberHeartbeat{ActorStatistics: &cluster.ActorStatistics{}}
	},
	provenance: provenance0324,
}

// baseTimestamp is a fixed local timestamp (2024-08-22T00:00:00Z) for entries
// built directly; real Go stamps time.Now().
const baseTimestamp int64 = 1724284800000

// ownerIDs are fixed member ids for n owners.
func ownerIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("node-%02d", i)
	}
	return ids
}

// kv is a GossipKeyValue with an Any packed like Informer.SetState does.
func kv(seq int64, value proto.Message, ts int64) *cluster.GossipKeyValue {
	return &cluster.GossipKeyValue{SequenceNumber: seq, Value: packAny(value), LocalTimestampUnixMilliseconds: ts}
}

// gossipStateOf builds the state a node holds for the given owners: every
// owner has a heartbeat; owners 0-2 also a topology; every 4th owner has left;
// owner 1 has an application key holding a GossipMap. Sequence numbers are per
// owner and shared across its keys, as Informer.SetState makes them.
func gossipStateOf(p profile, owners []string, topologyOwners int) *cluster.GossipState {
	state := &cluster.GossipState{Members: map[string]*cluster.GossipMemberState{}}
	for i, id := range owners {
		values := map[string]*cluster.GossipKeyValue{}
		seq := int64(i * 10)
		next := func() int64 { seq++; return seq }
		ts := baseTimestamp + int64(i)
		if i < topologyOwners {
			values[cluster.TopologyKey] = kv(next(), fixedTopology(owners[:min(len(owners), 3)], nil), ts)
		}
		values[p.heartbeatKey] = kv(next(), p.heartbeat(i), ts)
		if i%4 == 3 {
			values[cluster.GracefullyLeftKey] = kv(next(), &emptypb.Empty{}, ts)
		}
		if i == 1 {
			values["myapp/config"] = kv(next(), appMap(), ts)
		}
		state.Members[id] = &cluster.GossipMemberState{Values: values}
	}
	return state
}

// appMap is a GossipMap as SetGossipMapState builds one (items packed with anypb.New).
func appMap() *cluster.GossipMap {
	return &cluster.GossipMap{Items: map[string]*anypb.Any{
		"feature-x": packAny(&cluster.Member{Host: "10.0.0.9", Port: 1, Id: "x"}),
	}}
}

// writeGossipVectors: GossipRequest/Response/State/MemberState for 0, 1, 3
// and 60 owners, for each profile.
func writeGossipVectors(w *writer) error {
	for _, p := range []profile{profile0824, profile0324} {
		m := func(notes string) meta { return meta{profile: p.name, generatedWith: p.provenance, notes: notes} }
		for _, n := range []int{0, 1, 3, 60} {
			owners := ownerIDs(n)
			state := gossipStateOf(p, owners, 3)
			if err := w.message(fmt.Sprintf("state_%d_owners_%s", n, p.name), state, m("")); err != nil {
				return err
			}
			// Go puts the TARGET's member id into from_member_id (docs/go-quirks.md#q-g7).
			req := &cluster.GossipRequest{FromMemberId: "node-target", State: gossipStateOf(p, owners, 3)}
			if err := w.message(fmt.Sprintf("request_%d_owners_%s", n, p.name), req,
				m("from_member_id holds the receiver's id, as sendGossipForMember fills it")); err != nil {
				return err
			}
		}
		resp := &cluster.GossipResponse{State: gossipStateOf(p, ownerIDs(3), 3)}
		if err := w.message("response_3_owners_"+p.name, resp, m("Go replies without state; a response with state is merged by the sender (docs/wire-protocol.md#gossip-exchange)")); err != nil {
			return err
		}
		ms := gossipStateOf(p, ownerIDs(2), 1).Members["node-01"]
		mm := m("one owner's values; the registry name differs by version, the bytes do not (docs/go-quirks.md#w4)")
		if p.name == profile0324.name {
			mm.typeName = "cluster.GossipState.GossipMemberState"
		}
		if err := w.message("member_state_"+p.name, ms, mm); err != nil {
			return err
		}
	}
	return w.message("response_empty", &cluster.GossipResponse{}, meta{notes: "what onGossipRequest always replies: zero bytes"})
}
