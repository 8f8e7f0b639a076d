// Command grainhost is the Go harness member (internal/harness: same flags,
// READY line and HTTP API as cmd/harness) whose kinds are real grains, for
// tests/grains_call_go.rs: every kind it hosts (-kinds) is activated by
// protoactor-go's disthash identity lookup, and its grain answers an
// interop.Ping with an interop.Pong whose responder is
// "<member address>/<identity>", so a test sees where each identity lives.
//
// One more endpoint calls grains the Go way:
//
//	GET /grain?kind=K&identity=I[&text=T]
//	    cluster.Request(I, K, &interop.Ping{Text: T}) with the default call
//	    options → 200 {"responder":...,"text":...} or 502 {"error":...}
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

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/protogossip/go-interop/internal/harness"
	"github.com/protogossip/go-interop/proto/interop"
)

// grainProps is the grain of every kind: Ping → Pong naming where it runs.
func grainProps(string) *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		ping, ok := ctx.Message().(*interop.Ping)
		if !ok {
			return
		}
		identity := ""
		if ci := cluster.GetClusterIdentity(ctx); ci != nil {
			identity = ci.Identity
		}
		ctx.Respond(&interop.Pong{
			Payload:   ping.Payload,
			Text:      ping.Text,
			Seq:       ping.Seq,
			Responder: ctx.Self().Address + "/" + identity,
		})
	})
}

// grainHandler serves GET /grain through cluster.Request.
func grainHandler(c *cluster.Cluster) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Content-Type", "application/json")
		res, err := c.Request(q.Get("identity"), q.Get("kind"), &interop.Ping{Text: q.Get("text")})
		if err == nil {
			if pong, ok := res.(*interop.Pong); ok {
				_ = json.NewEncoder(w).Encode(map[string]string{"responder": pong.Responder, "text": pong.Text})
				return
			}
			err = fmt.Errorf("unexpected answer %T", res)
		}
		w.WriteHeader(http.StatusBadGateway)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
	}
}

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
		fmt.Fprintln(os.Stderr, "grainhost:", err)
		return 2
	}
	cfg.KindProps = grainProps

	lis, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.HTTPPort)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "grainhost: http listener:", err)
		return 1
	}
	node, err := harness.StartNode(cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "grainhost:", err)
		return 1
	}

	var once sync.Once
	done := make(chan struct{})
	stop := func(graceful bool) {
		once.Do(func() {
			fmt.Fprintf(os.Stderr, "grainhost: cluster.Shutdown(graceful=%v)\n", graceful)
			node.Shutdown(graceful)
			close(done)
		})
	}
	ready := node.Ready(lis.Addr().String())
	mux := http.NewServeMux()
	mux.Handle("/", harness.NewHandler(node, ready.ID, stop))
	mux.Handle("/grain", grainHandler(node.Cluster()))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "grainhost: http server:", err)
		}
	}()

	line, err := json.Marshal(ready)
	if err != nil {
		fmt.Fprintln(os.Stderr, "grainhost:", err)
		return 1
	}
	fmt.Fprintf(readyOut, "READY %s\n", line)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "grainhost: %v, shutting down gracefully\n", sig)
		stop(true)
	}()

	<-done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return 0
}
