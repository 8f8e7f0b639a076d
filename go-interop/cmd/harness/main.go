// Command harness runs one real protoactor-go cluster member (the pinned
// version) for interop tests. A test starts it as a child process, reads the
// single READY line from stdout, then inspects and drives the member over a
// small JSON HTTP API on 127.0.0.1. See docs/interop.md, "Go harness node".
//
// stdout carries only the READY line: os.Stdout is pointed at stderr before
// anything else runs, so no library can write to the real stdout by accident.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/protogossip/go-interop/internal/harness"
)

func main() {
	readyOut := os.Stdout
	os.Stdout = os.Stderr
	os.Exit(run(os.Args[1:], readyOut))
}

func run(args []string, readyOut *os.File) int {
	cfg, err := harness.ParseFlags(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 2
	}

	if cfg.Provider == harness.ProviderK8s {
		if err := harness.EnterPod(cfg, args); err != nil {
			fmt.Fprintln(os.Stderr, "harness:", err)
			return 1
		}
	}

	// Bind the API before starting the member so a bad -http fails fast.
	lis, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.HTTPPort)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness: http listener:", err)
		return 1
	}

	node, err := harness.StartNode(cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 1
	}

	var once sync.Once
	done := make(chan struct{})
	stop := func(graceful bool) {
		once.Do(func() {
			fmt.Fprintf(os.Stderr, "harness: cluster.Shutdown(graceful=%v)\n", graceful)
			node.Shutdown(graceful)
			close(done)
		})
	}

	ready := node.Ready(lis.Addr().String())
	srv := &http.Server{
		Handler:           harness.NewHandler(node, ready.ID, stop),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "harness: http server:", err)
		}
	}()

	line, err := json.Marshal(ready)
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 1
	}
	fmt.Fprintf(readyOut, "READY %s\n", line)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "harness: %v, shutting down gracefully\n", sig)
		stop(true)
	}()

	<-done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return 0
}
