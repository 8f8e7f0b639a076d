package main

import (
	"fmt"
	"strings"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/lithammer/shortuuid/v4"
)

// writeTopologyHashVectors: cluster.TopologyHash and cluster.NewMemberSet
// over fixed member-id sets; one JSON file, each set counts as a case.
func writeTopologyHashVectors(w *writer) error {
	shortIDs := func(n int, ns string) []string {
		ids := make([]string, n)
		for i := range ids {
			// Deterministic shortuuid (UUIDv5 of the name), 22 chars like ActorSystem ids.
			ids[i] = shortuuid.NewWithNamespace(fmt.Sprintf("%s-%d", ns, i))
		}
		return ids
	}
	thousand := make([]string, 1000)
	for i := range thousand {
		thousand[i] = fmt.Sprintf("member-%d", (i*7919)%1000)
	}
	sets := []struct {
		name string
		ids  []string
	}{
		{"empty", []string{}},
		{"one_id", []string{"memberId-0"}},
		{"two_ids_unsorted", []string{"memberId-1", "memberId-0"}},
		{"abc_unsorted", []string{"c", "a", "b"}},
		{"prefix_pair", []string{"ab", "a"}},
		{"prefix_chain", []string{"abc", "a", "ab", "b"}},
		{"concatenation_collision_1", []string{"a", "bc"}},
		{"concatenation_collision_2", []string{"ab", "c"}},
		{"empty_string_id", []string{"", "x"}},
		{"duplicate_ids", []string{"dup", "dup"}},
		{"non_ascii", []string{"ü", "z", "é", "日本"}},
		{"non_ascii_vs_ascii_order", []string{"Z", "a", "Ä", "~"}},
		{"dots", []string{"node.b", "node.a", "node"}},
		{"at_signs", []string{"actor@10.0.0.1:8090", "actor@10.0.0.2:8090"}},
		{"host_port_ids", []string{"10.0.0.2:8090", "10.0.0.10:8090", "10.0.0.1:8090"}},
		{"case_sensitive", []string{"node", "Node", "NODE"}},
		{"digits_lexicographic", []string{"node-10", "node-9", "node-1"}},
		{"shortuuid_1", shortIDs(1, "one")},
		{"shortuuid_3", shortIDs(3, "three")},
		{"shortuuid_12", shortIDs(12, "twelve")},
		{"long_id_1k", []string{strings.Repeat("x", 1000)}},
		{"exact_block_16", []string{"0123456789abcdef"}},
		{"tail_15", []string{"0123456789abcde"}},
		{"tail_17", []string{"0123456789abcdef0"}},
		{"spaces_and_slash", []string{"a b", "a/b", "a\tb"}},
		{"ids_60", ownerIDs(60)},
		{"ids_1000", thousand},
		{"shortuuid_1000", shortIDs(1000, "big")},
	}
	out := make([]any, 0, len(sets))
	for _, s := range sets {
		input := append([]string(nil), s.ids...)
		ms := make(cluster.Members, 0, len(s.ids))
		for i, id := range s.ids {
			ms = append(ms, member(id, i))
		}
		// TopologyHash sorts its argument in place; hash a copy.
		hash := cluster.TopologyHash(append(cluster.Members(nil), ms...))
		set := cluster.NewMemberSet(ms)
		if set.TopologyHash() != hash {
			return fmt.Errorf("%s: MemberSet hash %d != TopologyHash %d", s.name, set.TopologyHash(), hash)
		}
		ordered := make([]any, 0, len(ms))
		for _, m := range set.Members() {
			ordered = append(ordered, m.Id)
		}
		out = append(out, map[string]any{
			"name":             s.name,
			"ids":              strs(input),
			"topology_hash":    u64(hash),
			"member_set_order": ordered,
		})
	}
	if err := w.jsonFile("topology_hashes.json", map[string]any{
		"family":         w.family,
		"generated_with": pinnedVersion,
		"about":          "cluster.TopologyHash(members) for members with these ids, checked equal to cluster.NewMemberSet(members).TopologyHash(); member_set_order is NewMemberSet(members).Members() ids",
		"sets":           out,
	}); err != nil {
		return err
	}
	w.cases += len(sets)
	return nil
}
