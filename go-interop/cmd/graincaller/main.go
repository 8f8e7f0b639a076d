// Command graincaller is a protoactor-go cluster member (the pinned version,
// disthash identity lookup, automanaged provider) that hosts no kind and
// calls the kind -kind (default Greeter, go-interop/proto/interop/grains.proto)
// hosted by other members, as a Go application would: through the client
// protoc-gen-go-grain generates and through plain cluster.Request.
//
// stdout carries JSON lines only (one per result, then {"done":true}); logs
// go to stderr. Modes:
//
//	spread    each of -count identities is called once with the generated
//	          client (Where) and once with cluster.Request(WhereRequest); a line
//	          per identity gives the address each answer names and the owner
//	          Go's own rendezvous computes from this member's member list.
//	bad       one line per bad-input case (unknown kind, undecodable
//	          GrainRequest, unknown method index, a method's error, a method's
//	          panic) with what the Go caller got, then a good call.
//	failover  like spread; then waits for a line on stdin naming a member
//	          address that was killed, and calls every identity until each
//	          answers from another member, reporting how long that took.
//	bench     -count generated calls on one identity (after a first call
//	          whose latency is the activation's), then calls per second.
//	serve     hosts -kind itself with a Go Greeter (the generated server), so
//	          the same bench can run against a Go-hosted kind; prints
//	          {"ready": address} and runs until stdin closes.
//
// The Rust test tests/grains_go_interop.rs drives it; examples/grain_host.rs
// shows it against one Rust node (docs/grains.md).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/protogossip/go-interop/internal/harness"
	"github.com/protogossip/go-interop/proto/interop"
)

func main() {
	out := os.Stdout
	os.Stdout = os.Stderr
	os.Exit(run(out))
}

type options struct {
	mode, kind, prefix string
	unknownKind        string
	count, members     int
	timeout, wait      time.Duration
}

func run(stdout *os.File) int {
	var cfg harness.Config
	var o options
	var amHosts string
	flag.StringVar(&cfg.Cluster, "cluster", "protogossip", "cluster name")
	flag.IntVar(&cfg.AutomanagedPort, "automanaged-port", 0, "our automanaged /_health port; 0 picks a free one")
	flag.StringVar(&amHosts, "automanaged-hosts", "", "comma list of host:port automanaged peers")
	flag.DurationVar(&cfg.AutomanagedRefresh, "automanaged-refresh", 500*time.Millisecond, "automanaged poll interval")
	flag.DurationVar(&cfg.HeartbeatExpiration, "heartbeat-expiration", 3*time.Second, "cluster.Config.HeartbeatExpiration")
	flag.StringVar(&o.mode, "mode", "spread", "spread|bad|failover|bench")
	flag.StringVar(&o.kind, "kind", "Greeter", "the kind to call")
	flag.StringVar(&o.prefix, "prefix", "id-", "identities are PREFIX0, PREFIX1, …")
	flag.StringVar(&o.unknownKind, "unknown-kind", "NoSuchKind", "bad: a kind some member advertises but does not host")
	flag.IntVar(&o.count, "count", 20, "identities (spread, failover) or calls (bench)")
	flag.IntVar(&o.members, "members", 1, "wait until this many members advertise -kind")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Second, "cluster request timeout (cluster.Config.RequestTimeoutTime)")
	flag.DurationVar(&o.wait, "wait", 30*time.Second, "how long to wait for the members, and for a failover")
	flag.Parse()
	cfg.Host = "127.0.0.1"
	cfg.Provider = harness.ProviderAutomanaged
	cfg.GossipInterval = 300 * time.Millisecond
	for _, h := range strings.Split(amHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.AutomanagedHosts = append(cfg.AutomanagedHosts, h)
		}
	}
	if o.mode == "serve" {
		cfg.Kinds = []string{o.kind}
		interop.GreeterFactory(func() interop.Greeter { return &goGreeter{} })
		cfg.KindProps = func(string) *actor.Props {
			return actor.PropsFromProducer(func() actor.Actor { return &interop.GreeterActor{Timeout: 60 * time.Second} })
		}
	}
	node, err := harness.StartNode(cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "graincaller:", err)
		return 1
	}
	defer node.Shutdown(true)
	c := node.Cluster()
	c.Config.RequestTimeoutTime = o.timeout
	w := json.NewEncoder(stdout)
	if o.mode == "serve" {
		_ = w.Encode(map[string]any{"ready": c.ActorSystem.Address()})
		_, _ = io.Copy(io.Discard, os.Stdin)
		return 0
	}
	if err := waitForKind(c, o.kind, o.members, o.wait); err != nil {
		_ = w.Encode(map[string]any{"error": err.Error()})
		return 1
	}
	switch o.mode {
	case "spread":
		spread(c, o, w)
	case "bad":
		bad(c, o, w)
	case "failover":
		if !failover(c, o, w) {
			return 1
		}
	case "bench":
		bench(c, o, w)
	default:
		fmt.Fprintln(os.Stderr, "graincaller: unknown -mode", o.mode)
		return 2
	}
	_ = w.Encode(map[string]any{"done": true})
	return 0
}

// membersWithKind lists the addresses of the members advertising kind.
func membersWithKind(c *cluster.Cluster, kind string) []string {
	var out []string
	for _, m := range c.MemberList.Members().Members() {
		if m.HasKind(kind) {
			out = append(out, m.Address())
		}
	}
	return out
}

func waitForKind(c *cluster.Cluster, kind string, n int, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for len(membersWithKind(c, kind)) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d members advertise %s after %v, wanted %d", len(membersWithKind(c, kind)), kind, wait, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// owner is Go's own placement of kind/identity over this member's list.
func owner(c *cluster.Cluster, kind, identity string) string {
	rdv := cluster.NewRendezvous()
	rdv.UpdateMembers(c.MemberList.Members().Members())
	return rdv.GetByClusterIdentity(cluster.NewClusterIdentity(identity, kind))
}

type call struct {
	Address string `json:"address,omitempty"`
	Error   string `json:"error,omitempty"`
	Millis  int64  `json:"ms"`
}

// generated calls Where through the generated client.
func generated(c *cluster.Cluster, identity, text string) (*interop.WhereReply, call) {
	start := time.Now()
	reply, err := interop.GetGreeterGrainClient(c, identity).Where(&interop.WhereRequest{Text: text})
	r := call{Millis: time.Since(start).Milliseconds()}
	if err != nil {
		r.Error = err.Error()
		return nil, r
	}
	r.Address = reply.Address
	return reply, r
}

// plain calls with cluster.Request and the WhereRequest itself.
func plain(c *cluster.Cluster, kind, identity string) call {
	start := time.Now()
	res, err := c.Request(identity, kind, &interop.WhereRequest{Text: "plain"})
	r := call{Millis: time.Since(start).Milliseconds()}
	switch reply, ok := res.(*interop.WhereReply); {
	case err != nil:
		r.Error = err.Error()
	case !ok:
		r.Error = fmt.Sprintf("answer is %T", res)
	default:
		r.Address = reply.Address
	}
	return r
}

func spread(c *cluster.Cluster, o options, w *json.Encoder) {
	for i := 0; i < o.count; i++ {
		id := fmt.Sprintf("%s%d", o.prefix, i)
		_, g := generated(c, id, "generated")
		p := plain(c, o.kind, id)
		_ = w.Encode(map[string]any{"identity": id, "generated": g, "plain": p, "owner": owner(c, o.kind, id)})
	}
}

// reason is the GrainErrorResponse reason in err, or "".
func reason(err error) string {
	var e *cluster.GrainErrorResponse
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func bad(c *cluster.Cluster, o options, w *json.Encoder) {
	id := o.prefix + "bad"
	report := func(name string, start time.Time, res any, err error) {
		line := map[string]any{"case": name, "ms": time.Since(start).Milliseconds()}
		if err != nil {
			line["error"] = err.Error()
			line["reason"] = reason(err)
		}
		if e, ok := res.(*cluster.GrainErrorResponse); ok {
			line["reason"] = e.Reason
			line["message"] = e.Message
			line["metadata"] = e.Metadata
		} else if res != nil {
			line["answer"] = fmt.Sprintf("%T", res)
		}
		_ = w.Encode(line)
	}
	start := time.Now()
	res, err := c.Request(id, o.unknownKind, &interop.WhereRequest{})
	report("unknown_kind", start, res, err)

	start = time.Now()
	res, err = c.Request(id, o.kind, &cluster.GrainRequest{MethodIndex: 0, MessageData: []byte{0xff, 0xff, 0xff}})
	report("malformed", start, res, err)

	start = time.Now()
	res, err = c.Request(id, o.kind, &cluster.GrainRequest{MethodIndex: 9})
	report("unknown_method", start, res, err)

	client := interop.GetGreeterGrainClient(c, id)
	start = time.Now()
	_, err = client.Fail(&interop.WhereRequest{})
	report("handler_error", start, nil, err)

	start = time.Now()
	_, err = client.Panic(&interop.WhereRequest{})
	report("handler_panic", start, nil, err)

	start = time.Now()
	reply, err := client.Where(&interop.WhereRequest{Text: "after"})
	if reply != nil {
		report("after", start, reply, err)
	} else {
		report("after", start, nil, err)
	}
}

func failover(c *cluster.Cluster, o options, w *json.Encoder) bool {
	spread(c, o, w)
	_ = w.Encode(map[string]any{"phase": "called"})
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		_ = w.Encode(map[string]any{"error": "stdin: " + err.Error()})
		return false
	}
	killed := strings.TrimSpace(line)
	start := time.Now()
	deadline := start.Add(o.wait)
	ok := true
	for i := 0; i < o.count; i++ {
		id := fmt.Sprintf("%s%d", o.prefix, i)
		attempts := 0
		for {
			attempts++
			_, g := generated(c, id, "failover")
			if g.Error == "" && g.Address != killed {
				_ = w.Encode(map[string]any{"identity": id, "address": g.Address, "attempts": attempts,
					"since_kill_ms": time.Since(start).Milliseconds()})
				break
			}
			if time.Now().After(deadline) {
				_ = w.Encode(map[string]any{"identity": id, "error": g.Error, "address": g.Address})
				ok = false
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	_ = w.Encode(map[string]any{"phase": "recovered", "ms": time.Since(start).Milliseconds()})
	return ok
}

func bench(c *cluster.Cluster, o options, w *json.Encoder) {
	id := o.prefix + "bench"
	_, first := generated(c, id, "first")
	start := time.Now()
	failed := 0
	for i := 0; i < o.count; i++ {
		if _, r := generated(c, id, "bench"); r.Error != "" {
			failed++
		}
	}
	elapsed := time.Since(start)
	_ = w.Encode(map[string]any{"first_call_ms": first.Millis, "first_error": first.Error, "calls": o.count,
		"failed": failed, "seconds": elapsed.Seconds(), "calls_per_second": float64(o.count) / elapsed.Seconds()})
}

// goGreeter is the Go implementation of Greeter (serve mode): the same
// answers as the Rust one (examples/grain_host/greeter.rs).
type goGreeter struct {
	calls int64
}

func (g *goGreeter) Init(cluster.GrainContext)           {}
func (g *goGreeter) Terminate(cluster.GrainContext)      {}
func (g *goGreeter) ReceiveDefault(cluster.GrainContext) {}

func (g *goGreeter) Where(req *interop.WhereRequest, ctx cluster.GrainContext) (*interop.WhereReply, error) {
	g.calls++
	return &interop.WhereReply{Address: ctx.Self().Address, Identity: ctx.Identity(), Kind: ctx.Kind(),
		Calls: g.calls, Text: req.Text}, nil
}

func (g *goGreeter) Fail(_ *interop.WhereRequest, ctx cluster.GrainContext) (*interop.WhereReply, error) {
	return nil, cluster.NewGrainErrorResponse(cluster.ErrorReason_NOT_FOUND, ctx.Identity()+" has nothing")
}

func (g *goGreeter) Panic(*interop.WhereRequest, cluster.GrainContext) (*interop.WhereReply, error) {
	panic("Greeter.Panic was called")
}
