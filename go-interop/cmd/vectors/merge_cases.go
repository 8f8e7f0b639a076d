package main

import (
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// senderTimestamp is the local timestamp a sender put into its entries; Go
// must replace it on every entry it accepts.
const senderTimestamp int64 = 1234

type owners map[string]map[string]*cluster.GossipKeyValue

func stateOf(o owners) *cluster.GossipState {
	s := &cluster.GossipState{Members: map[string]*cluster.GossipMemberState{}}
	for id, values := range o {
		s.Members[id] = &cluster.GossipMemberState{Values: values}
	}
	return s
}

func hb(hello int64) *cluster.MemberHeartbeat {
	return &cluster.MemberHeartbeat{ActorStatistics: &cluster.ActorStatistics{ActorCount: map[string]int64{"hello": hello}}}
}

func remoteKV(seq int64, v proto.Message) *cluster.GossipKeyValue {
	return kv(seq, v, senderTimestamp)
}

func setState(key string, v proto.Message) setupStep { return setupStep{setKey: key, value: v} }

func receive(o owners) setupStep { return setupStep{received: stateOf(o)} }

func mergeCases() []mergeCase {
	topoAB := fixedTopology([]string{"node-a", "node-b"}, nil)
	topoABC := fixedTopology([]string{"node-a", "node-b", "node-c"}, nil)
	own := []setupStep{setState(cluster.TopologyKey, topoAB), setState(cluster.HeartbeatKey, hb(0))} // node-a: topology seq 1, heartbeat seq 2
	knownB := append(append([]setupStep(nil), own...), receive(owners{"node-b": {cluster.HeartbeatKey: remoteKV(5, hb(1))}}))
	return []mergeCase{
		{"unknown_owner_adopted", "node-b is unknown: its whole member state is adopted, every key is an update, timestamps restamped",
			own, stateOf(owners{"node-b": {cluster.HeartbeatKey: remoteKV(5, hb(1)), cluster.TopologyKey: remoteKV(4, topoAB)}})},
		{"higher_seq_wins", "known node-b heartbeat 5, remote 7: replaced",
			knownB, stateOf(owners{"node-b": {cluster.HeartbeatKey: remoteKV(7, hb(2))}})},
		{"equal_seq_ignored", "known node-b heartbeat 5, remote 5 with another payload: ignored, timestamp not refreshed",
			knownB, stateOf(owners{"node-b": {cluster.HeartbeatKey: remoteKV(5, hb(9))}})},
		{"lower_seq_ignored", "known node-b heartbeat 5, remote 4: ignored",
			knownB, stateOf(owners{"node-b": {cluster.HeartbeatKey: remoteKV(4, hb(9))}})},
		{"new_key_for_known_owner", "known node-b gets a new key (left) while its heartbeat is not newer",
			knownB, stateOf(owners{"node-b": {cluster.GracefullyLeftKey: remoteKV(6, &emptypb.Empty{}), cluster.HeartbeatKey: remoteKV(5, hb(1))}})},
		{"own_id_higher_seq_overwritten", "remote entries about the receiver's own id (node-a): Go applies the same rule, so a higher sequence number overwrites the node's own heartbeat; its topology (remote seq 1 = local seq 1) is kept",
			own, stateOf(owners{"node-a": {cluster.HeartbeatKey: remoteKV(50, hb(7)), cluster.TopologyKey: remoteKV(1, topoABC)}})},
		{"own_id_new_key_adopted", "a remote 'left' entry about the receiver's own id is adopted like any new key",
			own, stateOf(owners{"node-a": {cluster.GracefullyLeftKey: remoteKV(3, &emptypb.Empty{})}})},
		{"several_owners", "node-b newer, node-c equal and older, node-d and node-e unknown (node-e with the 2024-03 key), all in one request",
			append(append([]setupStep(nil), own...), receive(owners{
				"node-b": {cluster.HeartbeatKey: remoteKV(5, hb(1))},
				"node-c": {cluster.HeartbeatKey: remoteKV(5, hb(1)), cluster.TopologyKey: remoteKV(3, topoABC)},
			})),
			stateOf(owners{
				"node-b": {cluster.HeartbeatKey: remoteKV(6, hb(2))},
				"node-c": {cluster.HeartbeatKey: remoteKV(5, hb(3)), cluster.TopologyKey: remoteKV(2, topoAB)},
				"node-d": {cluster.HeartbeatKey: remoteKV(1, hb(0)), cluster.GracefullyLeftKey: remoteKV(2, &emptypb.Empty{})},
				"node-e": {"heathbeat": remoteKV(9, profile0324.heartbeat(0))},
			})},
		{"empty_remote_state", "a request with an empty state: nothing changes, no updates",
			own, stateOf(owners{})},
		{"both_heartbeat_spellings", "2024-03 'heathbeat' and 2024-08 'heartbeat' are different keys: both adopted independently",
			append([]setupStep{setState("heathbeat", profile0324.heartbeat(0))}, own...),
			stateOf(owners{"node-b": {"heathbeat": remoteKV(3, profile0324.heartbeat(0)), cluster.HeartbeatKey: remoteKV(4, hb(1))}})},
		{"gossip_map_app_key", "own GossipMap written by SetGossipMapState; node-b's GossipMap under the same app key is adopted",
			append(append([]setupStep(nil), own...), setupStep{setKey: "myapp/config", mapKey: "feature-x", value: &cluster.Member{Host: "10.0.0.9", Port: 1, Id: "x"}}),
			stateOf(owners{"node-b": {"myapp/config": remoteKV(2, appMap())}})},
		{"owner_with_empty_values", "node-f is unknown and has no values: Go adopts an empty member state (invisible to GetGossipStateRequest) and publishes no update",
			own, stateOf(owners{"node-f": {}})},
	}
}
