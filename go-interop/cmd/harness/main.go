// Command harness runs one real protoactor-go cluster member (the pinned
// version) for interop tests. A test starts it as a child process, reads the
// single READY line from stdout, then inspects and drives the member over a
// small JSON HTTP API on 127.0.0.1. See docs/interop.md, "Go harness node".
//
// stdout carries only the READY line: os.Stdout is pointed at stderr before
// anything else runs, so no library can write to the real stdout by accident.
package main

import (
	"os"

	"github.com/protogossip/go-interop/internal/harness"
)

func main() {
	readyOut := os.Stdout
	os.Stdout = os.Stderr
	os.Exit(harness.Run("harness", os.Args[1:], readyOut, nil, nil))
}
