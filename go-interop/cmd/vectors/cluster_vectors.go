package main

import (
	"fmt"

	"github.com/asynkron/protoactor-go/cluster"
)

// member builds a fixed member with a host derived from its index.
func member(id string, i int, kinds ...string) *cluster.Member {
	return &cluster.Member{Host: fmt.Sprintf("10.0.0.%d", i+1), Port: int32(8090 + i), Id: id, Kinds: kinds}
}

func membersOf(ids []string) []*cluster.Member {
	ms := make([]*cluster.Member, 0, len(ids))
	for i, id := range ids {
		ms = append(ms, member(id, i, "hello", "prototopic"))
	}
	return ms
}

// fixedTopology builds a ClusterTopology the way MemberList does: member sets
// from cluster.NewMemberSet (ascending by id), hash from the active set.
func fixedTopology(active []string, left []string, blocked ...string) *cluster.ClusterTopology {
	activeSet := cluster.NewMemberSet(membersOf(active))
	leftMembers := make([]*cluster.Member, 0, len(left))
	for i, id := range left {
		leftMembers = append(leftMembers, member(id, 100+i, "hello"))
	}
	leftSet := cluster.NewMemberSet(leftMembers)
	return &cluster.ClusterTopology{
		TopologyHash: activeSet.TopologyHash(),
		Members:      activeSet.Members(),
		Joined:       activeSet.Members(),
		Left:         leftSet.Members(),
		Blocked:      blocked,
	}
}

// writeClusterVectors: cluster.Member and cluster.ClusterTopology alone.
func writeClusterVectors(w *writer) error {
	members := []struct {
		name string
		m    *cluster.Member
		note string
	}{
		{"member_with_kinds", member("cYT4cPbVJ9SgcsMkGBqjzM", 0, "hello", "prototopic"), ""},
		{"member_no_kinds", &cluster.Member{Host: "127.0.0.1", Port: 6331, Id: "node-1"}, "nil kinds: field 4 absent"},
		{"member_empty_kind", &cluster.Member{Host: "::1", Port: 0, Id: "ü", Kinds: []string{""}}, "an empty string in a repeated field is still written; port 0 left out"},
	}
	for _, c := range members {
		if err := w.message(c.name, c.m, meta{notes: c.note}); err != nil {
			return err
		}
	}
	topologies := []struct {
		name string
		t    *cluster.ClusterTopology
		note string
	}{
		{"topology_empty", &cluster.ClusterTopology{}, "no members: hash 0 is left out, zero bytes"},
		{"topology_three_members", fixedTopology([]string{"node-c", "node-a", "node-b"}, nil),
			"members/joined from cluster.NewMemberSet (ascending by id), hash from MemberSet.TopologyHash"},
		{"topology_joined_left_blocked", func() *cluster.ClusterTopology {
			t := fixedTopology([]string{"node-b", "node-a"}, []string{"node-z", "node-y"}, "node-y", "node-z")
			t.Joined = cluster.NewMemberSet(membersOf([]string{"node-b"})).Members()
			return t
		}(), "members, joined, left (ascending) and blocked all set"},
	}
	for _, c := range topologies {
		if err := w.message(c.name, c.t, meta{builtAs: "cluster.NewMemberSet / MemberSet.TopologyHash as in MemberList.getTopologyChanges", notes: c.note}); err != nil {
			return err
		}
	}
	return nil
}
