// Command reqbench measures request/response round trips of protoactor-go's
// RequestFuture against one echo PID, for scripts/bench-actors-vs-go.sh
// (Go client → Go actor versus Go client → Rust handler). It is a benchmark,
// not a test: it reports what it measured and asserts nothing about rates.
//
// Serve mode (-serve): host the Go echo actor (internal/echo) as `echo` on
// 127.0.0.1:<port>, print `ready <address>` and run until stdin closes.
//
// Client mode (-target ADDRESS/ID): start a Go remote on a free loopback
// port, run -concurrency goroutines that each send an interop.Ping with a
// -payload byte payload and wait for its interop.Pong (checking that the
// payload came back), first for -warmup (not counted) and then for
// -duration, and print one JSON line:
//
//	{"target":...,"payload":100,"concurrency":8,"requests":N,"errors":E,
//	 "seconds":S,"rate":R,"p50_us":..,"p99_us":..}
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/protogossip/go-interop/internal/echo"
	"github.com/protogossip/go-interop/proto/interop"
)

type result struct {
	Target      string  `json:"target"`
	Payload     int     `json:"payload"`
	Concurrency int     `json:"concurrency"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	Rate        float64 `json:"rate"`
	P50Micros   int64   `json:"p50_us"`
	P99Micros   int64   `json:"p99_us"`
	FirstError  string  `json:"first_error,omitempty"`
}

func newSystem(port int) (*actor.ActorSystem, *remote.Remote) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
	r := remote.NewRemote(system, remote.Configure("127.0.0.1", port))
	r.Start()
	return system, r
}

func serve(port int) {
	system, r := newSystem(port)
	if _, err := system.Root.SpawnNamed(echo.Props(nil), "echo"); err != nil {
		fmt.Fprintf(os.Stderr, "spawn echo: %v\n", err)
		os.Exit(2)
	}
	fmt.Printf("ready %s\n", system.Address())
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	r.Shutdown(true)
}

func main() {
	serveMode := flag.Bool("serve", false, "host the Go echo actor `echo` and run until stdin closes")
	port := flag.Int("port", 0, "serve: port on 127.0.0.1 (0 = any)")
	target := flag.String("target", "", "client: ADDRESS/ID of the echo PID")
	concurrency := flag.Int("concurrency", 8, "client: concurrent requesters")
	duration := flag.Duration("duration", 5*time.Second, "client: measured time")
	warmup := flag.Duration("warmup", time.Second, "client: time before measuring")
	payload := flag.Int("payload", 100, "client: payload bytes per Ping")
	timeout := flag.Duration("timeout", 5*time.Second, "client: RequestFuture timeout")
	flag.Parse()

	if *serveMode {
		serve(*port)
		return
	}
	addr, id, ok := strings.Cut(*target, "/")
	if !ok || *concurrency < 1 {
		fmt.Fprintln(os.Stderr, "need -target ADDRESS/ID and -concurrency >= 1")
		os.Exit(2)
	}
	system, r := newSystem(0)
	pid := actor.NewPID(addr, id)
	body := make([]byte, *payload)
	for i := range body {
		body[i] = byte(i)
	}

	var measuring, stop atomic.Bool
	var requests, errs atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, *concurrency)
	var wg sync.WaitGroup
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for seq := int64(0); !stop.Load(); seq++ {
				start := time.Now()
				res, err := system.Root.RequestFuture(pid, &interop.Ping{Payload: body, Seq: seq}, *timeout).Result()
				took := time.Since(start)
				if err == nil {
					if pong, ok := res.(*interop.Pong); !ok || pong.Seq != seq || !bytes.Equal(pong.Payload, body) {
						err = fmt.Errorf("unexpected answer %T", res)
					}
				}
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				requests.Add(1)
				lat[w] = append(lat[w], took)
			}
		}(w)
	}
	time.Sleep(*warmup)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(*duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	stop.Store(true)
	wg.Wait()
	r.Shutdown(true)

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) int64 {
		if len(all) == 0 {
			return 0
		}
		return all[int(float64(len(all)-1)*p)].Microseconds()
	}
	out := result{
		Target: *target, Payload: *payload, Concurrency: *concurrency,
		Requests: requests.Load(), Errors: errs.Load(), Seconds: elapsed.Seconds(),
		Rate: float64(requests.Load()) / elapsed.Seconds(), P50Micros: pct(0.5), P99Micros: pct(0.99),
	}
	if e, ok := firstErr.Load().(string); ok {
		out.FirstError = e
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}
