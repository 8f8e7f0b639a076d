package main

import (
	"fmt"
	"strings"

	"github.com/asynkron/protoactor-go/cluster"
)

// placementMember is a member of a placement set, spelled out in full.
func placementMember(id, host string, port int32, kinds ...string) *cluster.Member {
	return &cluster.Member{Host: host, Port: port, Id: id, Kinds: kinds}
}

// writePlacementVectors: the owner of kind/identity that protoactor-go's own
// cluster.NewRendezvous + UpdateMembers + GetByClusterIdentity (the disthash
// identity lookup's placement) picks over fixed member sets; one JSON file,
// each (set, kind, identity) query counts as a case. An owner of "" is Go's
// "no member".
func writePlacementVectors(w *writer) error {
	// Identities every set is asked about.
	identities := []string{"", "a", "b", "user-1", "user-2", "user-3", "user-42", "order/17",
		"ünïcödé", "日本語", "🦀 crab", "x\x00y", strings.Repeat("long", 256)}
	for i := 0; i < 12; i++ {
		identities = append(identities, fmt.Sprintf("grain-%d", i*7919))
	}
	local := func(n int, kinds ...string) cluster.Members {
		ms := make(cluster.Members, 0, n)
		for i := 0; i < n; i++ {
			ms = append(ms, placementMember(fmt.Sprintf("member-%02d", (i*7)%n), "127.0.0.1", int32(9000+i), kinds...))
		}
		return ms
	}
	type set struct {
		name    string
		members cluster.Members
		kinds   []string
		// extra identities asked of this set only (ties, zero scores)
		extra []string
	}
	sets := []set{
		{name: "empty", members: cluster.Members{}, kinds: []string{"echo"}},
		{name: "one_with_kind", members: cluster.Members{placementMember("m1", "10.0.0.1", 8090, "echo")}, kinds: []string{"echo", "other"}},
		{name: "one_without_kind", members: cluster.Members{placementMember("m1", "10.0.0.1", 8090, "other")}, kinds: []string{"echo"}},
		{name: "one_no_kinds", members: cluster.Members{placementMember("m1", "10.0.0.1", 8090)}, kinds: []string{"echo", ""}},
		{name: "two_with_kind", members: cluster.Members{
			placementMember("b", "127.0.0.1", 8091, "echo"),
			placementMember("a", "127.0.0.1", 8090, "echo"),
		}, kinds: []string{"echo"}},
		{name: "three_one_without_kind", members: cluster.Members{
			placementMember("node-2", "10.0.0.2", 8090, "echo"),
			placementMember("node-1", "10.0.0.1", 8090, "other"),
			placementMember("node-3", "10.0.0.3", 8090, "echo", "other"),
		}, kinds: []string{"echo", "other", "missing"}},
		{name: "mixed_kinds_6", members: cluster.Members{
			placementMember("f", "h6", 6, "a"),
			placementMember("e", "h5", 5, "b"),
			placementMember("d", "h4", 4, "a", "b"),
			placementMember("c", "h3", 3),
			placementMember("b", "h2", 2, "b", "a"),
			placementMember("a", "h1", 1, "a"),
		}, kinds: []string{"a", "b"}},
		{name: "local_10", members: local(10, "echo"), kinds: []string{"echo"}},
		{name: "local_25", members: local(25, "echo", "prototopic"), kinds: []string{"echo", "prototopic"}},
		{name: "duplicate_ids", members: cluster.Members{
			placementMember("dup", "10.0.0.1", 8090, "echo"),
			placementMember("dup", "10.0.0.2", 8090, "echo"),
			placementMember("other", "10.0.0.3", 8090, "echo"),
		}, kinds: []string{"echo"}},
		{name: "same_address_two_ids", members: cluster.Members{
			placementMember("x", "10.0.0.1", 8090, "echo"),
			placementMember("y", "10.0.0.1", 8090, "echo"),
			placementMember("z", "10.0.0.9", 8090, "echo"),
		}, kinds: []string{"echo"}},
		{name: "unicode_hosts_and_ids", members: cluster.Members{
			placementMember("ü", "höst", 1, "echo"),
			placementMember("日本", "ホスト", 2, "echo"),
			placementMember("Z", "zz", 3, "echo"),
		}, kinds: []string{"echo"}},
		{name: "odd_ports", members: cluster.Members{
			placementMember("p0", "h", 0, "echo"),
			placementMember("pn", "h", -1, "echo"),
			placementMember("pmax", "h", 2147483647, "echo"),
		}, kinds: []string{"echo"}},
		// node-17:8199 and node-427:8130 score the same for "tie" (FNV-1a 32
		// collision, found by search): the member first in MemberSet order wins.
		{name: "tie_lower_id_first", members: cluster.Members{
			placementMember("2", "node-427", 8130, "echo"),
			placementMember("1", "node-17", 8199, "echo"),
		}, kinds: []string{"echo"}, extra: []string{"tie"}},
		{name: "tie_lower_id_second", members: cluster.Members{
			placementMember("1", "node-427", 8130, "echo"),
			placementMember("2", "node-17", 8199, "echo"),
		}, kinds: []string{"echo"}, extra: []string{"tie"}},
		// Both addresses score 0 for "zero-swF7Lm": Go finds no owner.
		{name: "all_scores_zero", members: cluster.Members{
			placementMember("1", "10.0.0.4", 51162, "echo"),
			placementMember("2", "10.0.0.10", 16416, "echo"),
		}, kinds: []string{"echo"}, extra: []string{"zero-swF7Lm"}},
		{name: "zero_score_single_member", members: cluster.Members{
			placementMember("1", "10.0.0.4", 51162, "echo"),
		}, kinds: []string{"echo"}, extra: []string{"zero-swF7Lm"}},
	}
	out := make([]any, 0, len(sets))
	n := 0
	for _, s := range sets {
		input := make([]any, 0, len(s.members))
		for _, m := range s.members {
			input = append(input, memberJ(m))
		}
		r := cluster.NewRendezvous()
		// UpdateMembers takes the list as a topology carries it.
		r.UpdateMembers(append(cluster.Members(nil), s.members...))
		queries := make([]any, 0)
		asked := append(append([]string(nil), s.extra...), identities...)
		for _, kind := range s.kinds {
			for _, id := range asked {
				owner := r.GetByClusterIdentity(&cluster.ClusterIdentity{Identity: id, Kind: kind})
				queries = append(queries, map[string]any{"kind": kind, "identity": id, "owner": owner})
				n++
			}
		}
		out = append(out, map[string]any{"name": s.name, "members": input, "queries": queries})
	}
	if err := w.jsonFile("placement.json", map[string]any{
		"family":         w.family,
		"generated_with": pinnedVersion,
		"about":          "owner = cluster.NewRendezvous(); UpdateMembers(members); GetByClusterIdentity({identity, kind}); \"\" is no owner",
		"sets":           out,
	}); err != nil {
		return err
	}
	w.cases += n
	return nil
}
