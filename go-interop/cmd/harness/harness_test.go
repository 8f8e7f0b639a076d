package main

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/protogossip/go-interop/internal/harness"
)

// stableEntries recomputes, from the entries a view reports, the digest the
// node should have reported: ties /view's "gossip" to its "state_digest_stable".
func stableDigestOf(v harness.View) string {
	var entries []harness.StateEntry
	for key, owners := range v.Gossip {
		for owner, e := range owners {
			entries = append(entries, harness.StateEntry{Owner: owner, Key: key, Seq: e.Seq})
		}
	}
	return harness.StableStateDigest(entries)
}

func waitExit(t *testing.T, p *proc) {
	t.Helper()
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("%s exited with %v, want status 0", p.name, p.err)
		}
	case <-time.After(exitDeadline):
		t.Fatalf("%s did not exit within %v", p.name, exitDeadline)
	}
}

// TestThreeNodeCluster drives three real protoactor-go members (automanaged
// provider on loopback) through membership convergence, gossip of a key set
// over the API, a graceful /shutdown and a SIGTERM.
func TestThreeNodeCluster(t *testing.T) {
	const watched = "watched.key"
	procs := startCluster(t, 3, "-watch-keys", watched)
	ids := []string{}
	byID := map[string]*proc{}
	for _, p := range procs {
		if p.ready.ID == "" || p.ready.MemberID != p.ready.ID {
			t.Fatalf("%s READY: automanaged member id must be the system id: %+v", p.name, p.ready)
		}
		if p.ready.ProtoactorGo != harness.PinnedProtoactorVersion {
			t.Fatalf("%s READY: protoactor_go = %q, want %q", p.name, p.ready.ProtoactorGo, harness.PinnedProtoactorVersion)
		}
		if host, _, err := net.SplitHostPort(p.ready.HTTP); err != nil || host != "127.0.0.1" {
			t.Fatalf("%s READY: http %q is not on 127.0.0.1", p.name, p.ready.HTTP)
		}
		ids = append(ids, p.ready.ID)
		byID[p.ready.ID] = p
	}
	slices.Sort(ids)

	// 1. Every node lists all three members with the same topology hash, and
	//    has heartbeats from all three (gossip flows between the Go members).
	views := eventually(t, "membership convergence", procs, func(views map[string]harness.View) error {
		var hash string
		for name, v := range views {
			if got := memberIDs(v); !slices.Equal(got, ids) {
				return fmt.Errorf("%s members %v, want %v", name, got, ids)
			}
			if hash != "" && v.TopologyHash != hash {
				return fmt.Errorf("topology hashes differ: %s vs %s", v.TopologyHash, hash)
			}
			hash = v.TopologyHash
			for _, id := range ids {
				if _, ok := v.HeartbeatAgesMs[id]; !ok {
					return fmt.Errorf("%s has no heartbeat from %s yet", name, id)
				}
			}
		}
		return nil
	})
	for _, p := range procs {
		v := views[p.name]
		if v.ID != p.ready.ID || v.Address != p.ready.Address || v.MemberID != p.ready.MemberID {
			t.Fatalf("%s /view identity %q %q %q differs from READY %+v", p.name, v.ID, v.MemberID, v.Address, p.ready)
		}
		if _, err := strconv.ParseUint(v.TopologyHash, 10, 64); err != nil || v.TopologyHash == "0" {
			t.Fatalf("%s topology_hash %q is not a non-zero decimal uint64", p.name, v.TopologyHash)
		}
		for _, m := range v.Members {
			if addr := net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port))); addr != byID[m.ID].ready.Address {
				t.Fatalf("%s lists %s at %s, its READY says %s", p.name, m.ID, addr, byID[m.ID].ready.Address)
			}
			if !slices.Contains(m.Kinds, "prototopic") {
				t.Fatalf("%s: member %s kinds %v lack Go's prototopic", p.name, m.ID, m.Kinds)
			}
		}
		if len(v.Blocked) != 0 {
			t.Fatalf("%s blocks %v before anyone left", p.name, v.Blocked)
		}
		if _, ok := v.Gossip[watched]; !ok {
			t.Fatalf("%s does not report -watch-keys key %q: %v", p.name, watched, v.Gossip)
		}
		// The pinned Go never reaches topology consensus (docs/go-quirks.md#q-g3).
		if v.Consensus.Reached || v.Consensus.Hash != "0" {
			t.Fatalf("%s consensus %+v; pinned protoactor-go reports (0, false)", p.name, v.Consensus)
		}
		if got := stableDigestOf(v); got != v.StateDigestStable {
			t.Fatalf("%s state_digest_stable %s does not match its reported gossip (%s)", p.name, v.StateDigestStable, got)
		}
	}

	// 2. A key set on node0 reaches the others with the same sequence number
	//    (they discover the key from Go's GossipUpdate events), and then the
	//    three nodes agree on the stable state digest.
	const key = "interop.set-key"
	var set harness.SetResult
	procs[0].post(t, "/set", url.Values{"key": {key}, "value": {"hello"}}, &set)
	if set.Owner != procs[0].ready.ID || set.Seq <= 0 || set.Key != key {
		t.Fatalf("/set answered %+v", set)
	}
	eventually(t, "set key propagation and stable digest agreement", procs, func(views map[string]harness.View) error {
		digest := ""
		for name, v := range views {
			e, ok := v.Gossip[key][set.Owner]
			if !ok || e.Seq != set.Seq {
				return fmt.Errorf("%s has %s/%s = %+v (present %v), want seq %d", name, set.Owner, key, e, ok, set.Seq)
			}
			if digest != "" && v.StateDigestStable != digest {
				return fmt.Errorf("stable digests differ: %s vs %s", v.StateDigestStable, digest)
			}
			digest = v.StateDigestStable
			if got := stableDigestOf(v); got != v.StateDigestStable {
				return fmt.Errorf("%s stable digest does not match its own entries", name)
			}
		}
		return nil
	})

	// 3. Graceful /shutdown of node2: the others block it and drop it.
	leaver := procs[2]
	var sr harness.ShutdownResult
	leaver.post(t, "/shutdown", url.Values{"graceful": {"true"}}, &sr)
	if !sr.ShuttingDown || !sr.Graceful {
		t.Fatalf("/shutdown answered %+v", sr)
	}
	rest := procs[:2]
	restIDs := []string{procs[0].ready.ID, procs[1].ready.ID}
	slices.Sort(restIDs)
	views = eventually(t, "graceful leave", rest, func(views map[string]harness.View) error {
		for name, v := range views {
			if !slices.Contains(v.Blocked, leaver.ready.ID) {
				return fmt.Errorf("%s blocked %v lacks %s", name, v.Blocked, leaver.ready.ID)
			}
			if got := memberIDs(v); !slices.Equal(got, restIDs) {
				return fmt.Errorf("%s members %v, want %v", name, got, restIDs)
			}
		}
		if views["node0"].TopologyHash != views["node1"].TopologyHash {
			return fmt.Errorf("survivors' topology hashes differ")
		}
		return nil
	})
	for name, v := range views {
		// Go sends "left" in the one gossip round after Shutdown starts; the
		// automanaged poll failing blocks the leaver even without it.
		_, sawLeft := v.Gossip["left"][leaver.ready.ID]
		t.Logf("%s: left key from leaver received: %v", name, sawLeft)
	}
	waitExit(t, leaver)

	// 4. SIGTERM is a graceful shutdown too: node1 exits 0, node0 drops it.
	if err := procs[1].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, "SIGTERM leave", procs[:1], func(views map[string]harness.View) error {
		v := views["node0"]
		if got := memberIDs(v); !slices.Equal(got, []string{procs[0].ready.ID}) {
			return fmt.Errorf("node0 members %v", got)
		}
		if !slices.Contains(v.Blocked, procs[1].ready.ID) {
			return fmt.Errorf("node0 does not block node1: %v", v.Blocked)
		}
		return nil
	})
	waitExit(t, procs[1])

	for _, p := range procs {
		if extra := p.stdoutAfterReady(); len(extra) != 0 {
			t.Fatalf("%s wrote to stdout after READY: %q", p.name, extra)
		}
	}
}
