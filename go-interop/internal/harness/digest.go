package harness

import (
	"bytes"
	"encoding/hex"
	"sort"
	"strconv"

	"lukechampine.com/blake3"
)

// StateEntry is one (owner, key, sequence number) triple of a node's gossip
// state: the part of GossipKeyValue that the digest covers. Values and local
// timestamps are deliberately left out: values are opaque to the protocol and
// timestamps are receiver-local, so neither can be compared across nodes.
type StateEntry struct {
	Owner string
	Key   string
	Seq   int64
}

// HeartbeatKeys are the gossip keys whose sequence numbers move on every
// gossip tick (300 ms by default): "heartbeat" (protoactor-go 2024-08) and
// "heathbeat" (protoactor-go 2024-03). The stable digest leaves them out so two
// nodes can be compared without racing the heartbeat.
var HeartbeatKeys = []string{"heartbeat", "heathbeat"}

func isHeartbeatKey(key string) bool {
	for _, k := range HeartbeatKeys {
		if key == k {
			return true
		}
	}
	return false
}

// CanonicalState renders entries in the canonical form shared with the Rust
// node's /status: entries sorted ascending by owner bytes, then key bytes, each
// as the UTF-8 line "<owner>\t<key>\t<seq in decimal>\n". The input is not
// modified. Duplicate (owner, key) pairs are kept as given (a gossip state
// cannot contain them).
func CanonicalState(entries []StateEntry) []byte {
	sorted := make([]StateEntry, len(entries))
	copy(sorted, entries)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Owner != sorted[j].Owner {
			return sorted[i].Owner < sorted[j].Owner
		}
		return sorted[i].Key < sorted[j].Key
	})
	var buf bytes.Buffer
	for _, e := range sorted {
		buf.WriteString(e.Owner)
		buf.WriteByte('\t')
		buf.WriteString(e.Key)
		buf.WriteByte('\t')
		buf.WriteString(strconv.FormatInt(e.Seq, 10))
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// StateDigest is BLAKE3-256 of CanonicalState(entries) as 64 lowercase hex
// characters. An empty state hashes the empty string.
func StateDigest(entries []StateEntry) string {
	sum := blake3.Sum256(CanonicalState(entries))
	return hex.EncodeToString(sum[:])
}

// StableStateDigest is StateDigest over the entries whose key is not a
// heartbeat key (see HeartbeatKeys).
func StableStateDigest(entries []StateEntry) string {
	stable := make([]StateEntry, 0, len(entries))
	for _, e := range entries {
		if !isHeartbeatKey(e.Key) {
			stable = append(stable, e)
		}
	}
	return StateDigest(stable)
}
