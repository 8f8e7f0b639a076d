package harness

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Run is the whole life of a harness program (cmd/harness, cmd/grainhost):
// parse flags, bind the HTTP API, start the member, print the READY line to
// readyOut, serve until /shutdown or SIGTERM/SIGINT. customize, when set,
// adjusts the parsed config (grain props); routes, when set, adds endpoints
// beside the harness API. Returns the exit code; name prefixes log lines.
func Run(name string, args []string, readyOut io.Writer, customize func(*Config), routes func(*Node, *http.ServeMux)) int {
	cfg, err := ParseFlags(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	if customize != nil {
		customize(&cfg)
	}
	if cfg.Provider == ProviderK8s {
		// Re-executes this program under unshare(1) the first time.
		if err := EnterPod(cfg, args); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			return 1
		}
	}

	// Bind the API before starting the member so a bad -http fails fast.
	lis, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.HTTPPort)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: http listener: %v\n", name, err)
		return 1
	}

	node, err := StartNode(cfg, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}

	var once sync.Once
	done := make(chan struct{})
	stop := func(graceful bool) {
		once.Do(func() {
			fmt.Fprintf(os.Stderr, "%s: cluster.Shutdown(graceful=%v)\n", name, graceful)
			node.Shutdown(graceful)
			close(done)
		})
	}

	ready := node.Ready(lis.Addr().String())
	var handler http.Handler = NewHandler(node, ready.ID, stop)
	if routes != nil {
		mux := http.NewServeMux()
		mux.Handle("/", handler)
		routes(node, mux)
		handler = mux
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "%s: http server: %v\n", name, err)
		}
	}()

	line, err := json.Marshal(ready)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	fmt.Fprintf(readyOut, "READY %s\n", line)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "%s: %v, shutting down gracefully\n", name, sig)
		stop(true)
	}()

	<-done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return 0
}
