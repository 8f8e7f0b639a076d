// Command vectors writes the golden wire vectors that compat-tests/replay.rs
// replays against the Rust wire module.
//
// Every vector is produced by protoactor-go's own code at the pinned version:
// its generated structs and proto.Marshal for bytes, anypb for Any packing,
// cluster.TopologyHash / cluster.NewMemberSet for hashes and member order,
// remote.Serialize for batch bodies, echo + automanaged.NodeModel for the
// /_health body, and a real cluster.GossipActor for merge results. Inputs are
// fixed, so two runs write identical files; regen-vectors.sh --check relies on
// that.
//
// Usage: go run ./cmd/vectors -out ../compat-tests/vectors
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
)

// pinnedVersion is the protoactor-go module version every vector comes from.
const pinnedVersion = "github.com/asynkron/protoactor-go v0.0.0-20240822202345-3c0e61ca19c9"

// family is one vector directory and the function that fills it.
type family struct {
	name  string
	write func(w *writer) error
}

var families = []family{
	{"actor", writeActorVectors},
	{"remote", writeRemoteVectors},
	{"cluster", writeClusterVectors},
	{"gossip", writeGossipVectors},
	{"gossip_values", writeGossipValueVectors},
	{"topology_hash", writeTopologyHashVectors},
	{"automanaged", writeAutomanagedVectors},
	{"merge", writeMergeVectors},
	{"system_id", writeSystemIDVectors},
	{"placement", writePlacementVectors},
}

func main() {
	out := flag.String("out", "", "output directory, normally ../compat-tests/vectors")
	flag.Parse()
	if *out == "" {
		log.Fatal("-out is required")
	}
	total := 0
	for _, f := range families {
		dir := filepath.Join(*out, f.name)
		// Start each family from an empty directory so removed cases vanish.
		if err := os.RemoveAll(dir); err != nil {
			log.Fatalf("clean %s: %v", dir, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			log.Fatalf("create %s: %v", dir, err)
		}
		w := &writer{dir: dir, family: f.name}
		if err := f.write(w); err != nil {
			log.Fatalf("family %s: %v", f.name, err)
		}
		total += w.cases
		fmt.Printf("%-14s %4d cases\n", f.name, w.cases)
	}
	fmt.Printf("%-14s %4d cases\n", "total", total)
}
