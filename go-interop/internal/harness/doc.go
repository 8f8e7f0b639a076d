// Package harness is the library behind cmd/harness: a real protoactor-go
// cluster member that interop tests start as a child process and inspect over
// a small HTTP API.
//
// Why a separate package: the pieces that decide what the tests see (the gossip
// state digest, the JSON shape of /view, the set of reported gossip keys, flag
// parsing) are pure functions that are unit-tested here, while the process-level
// behaviour (a cluster of real Go members) is tested from cmd/harness.
//
// Nothing here re-implements protoactor-go: membership, gossip, blocking and
// consensus are the pinned library's own code; this package only reads them
// through exported APIs (MemberList, Gossiper.GetState, Remote.BlockList,
// MemberList.TopologyConsensus).
package harness
