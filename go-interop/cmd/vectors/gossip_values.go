package main

import (
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// writeGossipValueVectors: one GossipKeyValue per kind of gossip value.
func writeGossipValueVectors(w *writer) error {
	topo := fixedTopology([]string{"node-b", "node-a", "node-c"}, []string{"node-x"}, "node-x")
	topo.Joined = cluster.NewMemberSet(membersOf([]string{"node-c"})).Members()
	cases := []struct {
		name string
		kv   *cluster.GossipKeyValue
		m    meta
	}{
		{"kv_topology", kv(7, topo, baseTimestamp), meta{notes: "key \"topology\": members, joined, left and blocked set"}},
		{"kv_heartbeat_actor_counts", kv(8, profile0824.heartbeat(2), baseTimestamp),
			meta{profile: profile0824.name, notes: "go-2024-08 heartbeat: counts per kind, zero counts written explicitly"}},
		{"kv_heartbeat_prototopic_zero", kv(9, &cluster.MemberHeartbeat{ActorStatistics: &cluster.ActorStatistics{
			ActorCount: map[string]int64{"prototopic": 0}}}, baseTimestamp),
			meta{profile: profile0824.name, notes: "the W2 example of docs/go-quirks.md: Go writes the zero value of the map entry (10 00)"}},
		{"kv_heartbeat_empty_statistics", kv(10, profile0324.heartbeat(0), baseTimestamp),
			meta{profile: profile0324.name, generatedWith: provenance0324, notes: "go-2024-03 heartbeat: value bytes 0a 00"}},
		{"kv_left_empty", kv(11, &emptypb.Empty{}, baseTimestamp), meta{notes: "key \"left\": google.protobuf.Empty, empty value bytes"}},
		{"kv_gossip_map", kv(12, &cluster.GossipMap{Items: map[string]*anypb.Any{
			"a":    packAny(&cluster.Member{Host: "h", Port: 1, Id: "a"}),
			"b":    packAny(&emptypb.Empty{}),
			"zeta": packAny(&cluster.MemberHeartbeat{ActorStatistics: &cluster.ActorStatistics{}}),
		}}, baseTimestamp), meta{notes: "application key holding a GossipMap (SetGossipMapState), items packed with anypb.New"}},
		{"kv_gossip_map_one_item", kv(13, appMap(), baseTimestamp), meta{}},
		{"kv_gossip_map_empty", kv(14, &cluster.GossipMap{}, baseTimestamp), meta{notes: "empty GossipMap: Any with empty value"}},
		{"kv_no_value", &cluster.GossipKeyValue{SequenceNumber: 1}, meta{notes: "no Any at all; timestamp 0 left out"}},
		{"kv_negative_numbers", &cluster.GossipKeyValue{SequenceNumber: -1, Value: packAny(&emptypb.Empty{}), LocalTimestampUnixMilliseconds: -5},
			meta{notes: "int64 negatives are 10-byte varints (not produced by Go's gossip, but legal)"}},
	}
	for _, c := range cases {
		if err := w.message(c.name, c.kv, c.m); err != nil {
			return err
		}
	}
	return nil
}
