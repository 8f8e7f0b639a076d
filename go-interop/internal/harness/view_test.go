package harness

import (
	"encoding/json"
	"reflect"
	"sort"
	"testing"
)

func sampleSnapshot() Snapshot {
	return Snapshot{
		ID:       "sysB",
		MemberID: "c@sysB",
		Address:  "127.0.0.1:4001",
		Members: []MemberView{
			{ID: "sysB", Host: "127.0.0.1", Port: 4001, Kinds: []string{"prototopic"}},
			{ID: "sysA", Host: "127.0.0.1", Port: 4000, Kinds: nil},
		},
		TopologyHash: 13857135146043484892, // > 2^53
		Blocked:      []string{"z", "m"},
		State: map[string]map[string]GossipEntry{
			"topology":  {"sysA": {Seq: 2, LocalTimestampMs: 9_000}, "sysB": {Seq: 1, LocalTimestampMs: 9_500}},
			"heartbeat": {"sysA": {Seq: 40, LocalTimestampMs: 9_900}, "sysB": {Seq: 41, LocalTimestampMs: 9_950}},
			"heathbeat": {},
			"left":      nil,
		},
		HeartbeatKey:     "heartbeat",
		NowMs:            10_000,
		ConsensusReached: false,
		ConsensusHash:    0,
	}
}

func TestBuildViewSortsMembersAndBlockedAndComputesAges(t *testing.T) {
	v := BuildView(sampleSnapshot())
	if v.Members[0].ID != "sysA" || v.Members[1].ID != "sysB" {
		t.Fatalf("members not sorted by id: %+v", v.Members)
	}
	if v.Members[0].Kinds == nil {
		t.Fatalf("nil kinds must render as [] not null")
	}
	if !reflect.DeepEqual(v.Blocked, []string{"m", "z"}) {
		t.Fatalf("blocked = %v", v.Blocked)
	}
	if v.TopologyHash != "13857135146043484892" {
		t.Fatalf("topology_hash = %q, want the exact decimal string", v.TopologyHash)
	}
	if got := v.Gossip["topology"]["sysA"]; got != (KeyValueView{Seq: 2, AgeMs: 1000}) {
		t.Fatalf("topology/sysA = %+v", got)
	}
	if !reflect.DeepEqual(v.HeartbeatAgesMs, map[string]int64{"sysA": 100, "sysB": 50}) {
		t.Fatalf("heartbeat ages = %v", v.HeartbeatAgesMs)
	}
	if _, ok := v.Gossip["left"]; !ok {
		t.Fatalf("a reported key without entries must still appear in gossip")
	}
	want := StateDigest([]StateEntry{{"sysA", "topology", 2}, {"sysB", "topology", 1}, {"sysA", "heartbeat", 40}, {"sysB", "heartbeat", 41}})
	if v.StateDigest != want {
		t.Fatalf("state_digest = %s, want %s", v.StateDigest, want)
	}
	if v.StateDigestStable != StateDigest([]StateEntry{{"sysA", "topology", 2}, {"sysB", "topology", 1}}) {
		t.Fatalf("state_digest_stable does not match the topology-only digest")
	}
	if v.Consensus != (ConsensusView{Reached: false, Hash: "0"}) {
		t.Fatalf("consensus = %+v", v.Consensus)
	}
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The documented JSON shape of /view (docs/interop.md); Rust tests parse it.
func TestViewJSONShape(t *testing.T) {
	raw, err := json.Marshal(BuildView(sampleSnapshot()))
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	wantTop := []string{"address", "blocked", "consensus", "gossip", "heartbeat_ages_ms", "id", "member_id",
		"members", "state_digest", "state_digest_stable", "topology_hash"}
	if got := sortedKeys(top); !reflect.DeepEqual(got, wantTop) {
		t.Fatalf("top-level fields = %v, want %v", got, wantTop)
	}
	if _, ok := top["topology_hash"].(string); !ok {
		t.Fatalf("topology_hash must be a JSON string, got %T", top["topology_hash"])
	}
	member := top["members"].([]any)[0].(map[string]any)
	if got := sortedKeys(member); !reflect.DeepEqual(got, []string{"host", "id", "kinds", "port"}) {
		t.Fatalf("member fields = %v", got)
	}
	if _, ok := member["port"].(float64); !ok {
		t.Fatalf("member port must be a JSON number")
	}
	if _, ok := member["kinds"].([]any); !ok {
		t.Fatalf("member kinds must be an array, got %T", member["kinds"])
	}
	entry := top["gossip"].(map[string]any)["topology"].(map[string]any)["sysA"].(map[string]any)
	if got := sortedKeys(entry); !reflect.DeepEqual(got, []string{"age_ms", "seq"}) {
		t.Fatalf("gossip entry fields = %v", got)
	}
	if got := sortedKeys(top["consensus"].(map[string]any)); !reflect.DeepEqual(got, []string{"hash", "reached"}) {
		t.Fatalf("consensus fields = %v", got)
	}
	if _, ok := top["consensus"].(map[string]any)["hash"].(string); !ok {
		t.Fatalf("consensus hash must be a JSON string")
	}
	if blocked, ok := top["blocked"].([]any); !ok || len(blocked) != 2 {
		t.Fatalf("blocked must be an array of 2, got %#v", top["blocked"])
	}
	// Empty snapshot: arrays and maps render as [] and {}, never null.
	raw, _ = json.Marshal(BuildView(Snapshot{}))
	var empty map[string]any
	_ = json.Unmarshal(raw, &empty)
	for _, f := range []string{"members", "blocked", "gossip", "heartbeat_ages_ms"} {
		if empty[f] == nil {
			t.Fatalf("%s is null in an empty view: %s", f, raw)
		}
	}
}

func TestReadyInfoJSONShape(t *testing.T) {
	raw, _ := json.Marshal(ReadyInfo{ID: "i", MemberID: "m", Address: "a", HTTP: "h", ProtoactorGo: "v"})
	const want = `{"id":"i","member_id":"m","address":"a","http":"h","protoactor_go":"v"}`
	if string(raw) != want {
		t.Fatalf("READY payload = %s, want %s", raw, want)
	}
}
