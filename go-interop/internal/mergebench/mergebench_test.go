package mergebench

import (
	"fmt"
	"testing"
	_ "unsafe" // for go:linkname

	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/types/known/anypb"
)

// mergeState is protoactor-go's cluster.mergeState (gossip_state_management.go),
// the function its gossip actor calls on every GossipRequest and GossipResponse.
// Its third result is a map[string]empty, where empty is struct{}.
//
//go:linkname mergeState github.com/asynkron/protoactor-go/cluster.mergeState
func mergeState(local, remote *cluster.GossipState) ([]*cluster.GossipUpdate, *cluster.GossipState, map[string]struct{})

var keys = [3]string{"heartbeat", "topology", "app"}

// state builds the bench state of benches/core_gossip.rs (`proto_state`).
func state(owners int, seq int64) *cluster.GossipState {
	s := &cluster.GossipState{Members: make(map[string]*cluster.GossipMemberState, owners)}
	for o := 0; o < owners; o++ {
		m := &cluster.GossipMemberState{Values: make(map[string]*cluster.GossipKeyValue, len(keys))}
		for k, key := range keys {
			m.Values[key] = &cluster.GossipKeyValue{
				SequenceNumber: seq + int64(k),
				Value: &anypb.Any{
					TypeUrl: "type.googleapis.com/cluster.MemberHeartbeat",
					Value:   []byte{0x0a, 0x02, 0x08, byte(o % 128)},
				},
			}
		}
		s.Members[fmt.Sprintf("member-%05d", o)] = m
	}
	return s
}

// TestMergeAcceptsEveryEntry checks that the alias reaches Go's merge and the
// states are the worst case the bench claims (every remote entry accepted).
func TestMergeAcceptsEveryEntry(t *testing.T) {
	updates, merged, keysSeen := mergeState(state(50, 1), state(50, 10))
	if len(updates) != 150 || len(merged.Members) != 50 || len(keysSeen) != 3 {
		t.Fatalf("updates %d, owners %d, keys %d; want 150, 50, 3", len(updates), len(merged.Members), len(keysSeen))
	}
	if got := merged.Members["member-00007"].Values["app"].SequenceNumber; got != 12 {
		t.Fatalf("merged seq %d, want 12", got)
	}
}

// BenchmarkMergeState times one mergeState of a fresh (local, remote) pair.
// mergeState writes into both states (it shares and replaces the local
// owners' value maps and stamps the remote entries), so every call gets its
// own pair; pairs are built in batches with the timer stopped, as criterion's
// iter_batched does on the Rust side.
func BenchmarkMergeState(b *testing.B) {
	for _, owners := range []int{50, 500, 5000} {
		b.Run(fmt.Sprint(owners), func(b *testing.B) {
			batch := 200_000 / owners
			type pair struct{ local, remote *cluster.GossipState }
			pairs := make([]pair, 0, batch)
			var sink int
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				b.StopTimer()
				n := min(batch, b.N-done)
				pairs = pairs[:0]
				for i := 0; i < n; i++ {
					pairs = append(pairs, pair{state(owners, 1), state(owners, 10)})
				}
				b.StartTimer()
				for _, p := range pairs {
					updates, _, _ := mergeState(p.local, p.remote)
					sink += len(updates)
				}
				done += n
			}
			if sink != b.N*owners*len(keys) {
				b.Fatalf("accepted %d entries, want %d", sink, b.N*owners*len(keys))
			}
		})
	}
}
