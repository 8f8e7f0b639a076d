// Command echoclient is the Go half of the echo example
// (examples/echo_actor.rs): a plain protoactor-go program that asks an echo
// PID -count times with RequestFuture, checks that each interop.Pong carries
// the payload, text and seq of its interop.Ping, prints one line per round
// trip and exits 0 — or prints what went wrong and exits 1.
//
//	cargo run --example echo_actor            # prints: echo actor at 127.0.0.1:PORT/echo
//	go run ./cmd/echoclient -target 127.0.0.1:PORT/echo
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/protogossip/go-interop/proto/interop"
)

func main() {
	target := flag.String("target", "", "ADDRESS/ID of the echo actor")
	count := flag.Int("count", 3, "round trips")
	text := flag.String("text", "hello from Go", "Ping.text")
	size := flag.Int("payload", 16, "Ping.payload bytes")
	responder := flag.String("responder", "", "if set, the Pong.responder every answer must name")
	timeout := flag.Duration("timeout", 5*time.Second, "RequestFuture timeout")
	flag.Parse()

	addr, id, ok := strings.Cut(*target, "/")
	if !ok {
		fmt.Fprintln(os.Stderr, "need -target ADDRESS/ID")
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
	r := remote.NewRemote(system, remote.Configure("127.0.0.1", 0))
	r.Start()
	defer r.Shutdown(true)

	pid := actor.NewPID(addr, id)
	failed := false
	for seq := int64(1); seq <= int64(*count); seq++ {
		payload := bytes.Repeat([]byte{byte(seq)}, *size)
		ping := &interop.Ping{Payload: payload, Text: *text, Seq: seq}
		start := time.Now()
		res, err := system.Root.RequestFuture(pid, ping, *timeout).Result()
		if err != nil {
			fmt.Printf("ping %d: error: %v\n", seq, err)
			failed = true
			continue
		}
		pong, ok := res.(*interop.Pong)
		switch {
		case !ok:
			fmt.Printf("ping %d: answer is %T, not interop.Pong\n", seq, res)
			failed = true
		case pong.Seq != seq || pong.Text != *text || !bytes.Equal(pong.Payload, payload):
			fmt.Printf("ping %d: pong does not match: seq %d text %q %d payload bytes\n", seq, pong.Seq, pong.Text, len(pong.Payload))
			failed = true
		case *responder != "" && pong.Responder != *responder:
			fmt.Printf("ping %d: answered by %q, want %q\n", seq, pong.Responder, *responder)
			failed = true
		default:
			fmt.Printf("ping %d: pong from %s (%q, %d payload bytes) in %v\n", seq, pong.Responder, pong.Text, len(pong.Payload), time.Since(start).Round(time.Microsecond))
		}
	}
	if failed {
		os.Exit(1)
	}
	fmt.Printf("ok: %d round trips to %s\n", *count, *target)
}
