package harness

import (
	"sort"
	"sync"
)

// BaseKeys are always reported by /view: the keys protoactor-go itself writes
// ("topology", "heartbeat", "left") plus the 2024-03 heartbeat key "heathbeat",
// so a mixed cluster where a peer still uses the old spelling is visible.
var BaseKeys = []string{"topology", "heartbeat", "heathbeat", "left"}

// KeySet is the set of gossip keys a harness node reports. It exists because
// protoactor-go's Gossiper only answers per-key queries (GetState(key)); it has
// no "list all keys" call. The set starts with BaseKeys and -watch-keys, grows
// with every /set key, and with every key seen in a GossipUpdate event (which
// the gossip actor publishes for each entry it accepts from a peer), so that it
// covers every key present in the node's gossip state.
type KeySet struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

// NewKeySet returns a KeySet holding BaseKeys and extra (empty strings skipped).
func NewKeySet(extra ...string) *KeySet {
	ks := &KeySet{keys: make(map[string]struct{})}
	ks.Add(BaseKeys...)
	ks.Add(extra...)
	return ks
}

// Add inserts keys; empty strings are ignored. Cheap, because it runs inside
// the gossip actor's event-stream publish.
func (ks *KeySet) Add(keys ...string) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for _, k := range keys {
		if k != "" {
			ks.keys[k] = struct{}{}
		}
	}
}

// Keys returns the keys sorted ascending.
func (ks *KeySet) Keys() []string {
	ks.mu.Lock()
	out := make([]string, 0, len(ks.keys))
	for k := range ks.keys {
		out = append(out, k)
	}
	ks.mu.Unlock()
	sort.Strings(out)
	return out
}
