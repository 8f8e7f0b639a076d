// Package mergebench times protoactor-go's own gossip merge (the pinned
// version's unexported cluster.mergeState, reached through a //go:linkname
// alias — no copy of its code lives here) on the same states as the Rust
// bench benches/core_gossip.rs (`core/merge/N`), so the two can be compared
// side by side:
//
//	go test -run '^$' -bench MergeState -benchtime 2s ./internal/mergebench
//	cargo bench --bench core_gossip -- core/merge
//
// The states are generated, not random, identically on both sides: owners
// "member-00000" … "member-{N-1}", each with keys "heartbeat", "topology"
// and "app"; key k of the local state has sequence number 1+k, of the remote
// state 10+k (every remote entry is newer: the worst case, every entry is
// accepted and replaces ours); every value is an Any with type URL
// "type.googleapis.com/cluster.MemberHeartbeat" and the bytes
// 0a 02 08 (owner index mod 128); timestamps 0. See docs/performance.md.
package mergebench
