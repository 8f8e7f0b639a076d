// Command remotepeer is a plain protoactor-go remote node used by the Rust
// transport's interop tests (tests/remote_go_interop.rs). It is a real Go
// node, so what the Rust side proves against it holds for Go clusters.
//
// It listens on 127.0.0.1:<port>, spawns an `echo` actor that answers every
// request with the message it received, prints `ready <address>` on stdout
// and then reads commands from stdin, one per line:
//
//	gossip <address>    RequestFuture a cluster.GossipRequest to <address>/gossip
//	timed-gossip <address>
//	                    the same with Go's gossip request timeout (500 ms, the default
//	                    cluster.Config.GossipRequestTimeout); answers
//	                    `reply timed-gossip <proto full name> us=<round trip in µs>`
//	activate <address>  RequestFuture a cluster.ActivationRequest to <address>/partition-activator
//	missing <address>   RequestFuture a cluster.GossipRequest to <address>/no-such-actor
//	event <address>     send a cluster.ActivationTerminated to <address>/eventstream
//	quit                graceful Remote.Shutdown(true) (sends DisconnectRequest), then exit
//
// Every result is one stdout line: `reply <cmd> <proto full name> <detail>` or
// `error <cmd> <error>`. Remote endpoint events are printed as
// `endpoint-connected <address>` / `endpoint-terminated <address>`; the echo
// actor prints `echo <proto full name>` for each message it answers.
//
// With -tls-cert/-tls-key/-tls-ca the node serves and dials with gRPC TLS
// credentials (the CA verifies peers, whose certificates must name 127.0.0.1).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

var outMu sync.Mutex

func say(format string, args ...interface{}) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Printf(format+"\n", args...)
}

func echo(ctx actor.Context) {
	switch ctx.Message().(type) {
	case actor.SystemMessage, actor.AutoReceiveMessage:
		return
	}
	msg, ok := ctx.Message().(proto.Message)
	if !ok {
		return
	}
	say("echo %s", proto.MessageName(msg))
	if ctx.Sender() != nil {
		ctx.Respond(msg)
	}
}

func request(system *actor.ActorSystem, cmd string, target *actor.PID, msg proto.Message) {
	res, err := system.Root.RequestFuture(target, msg, 5*time.Second).Result()
	if err != nil {
		say("error %s %v", cmd, err)
		return
	}
	pm, ok := res.(proto.Message)
	if !ok {
		say("reply %s %T", cmd, res)
		return
	}
	detail := ""
	if ar, ok := pm.(*cluster.ActivationResponse); ok {
		detail = fmt.Sprintf("failed=%v", ar.Failed)
	}
	say("reply %s %s %s", cmd, proto.MessageName(pm), detail)
}

// gossipRequestTimeout is protoactor-go's default
// cluster.Config.GossipRequestTimeout: a member that answers later is, to a Go
// gossiper, a member that did not answer.
const gossipRequestTimeout = 500 * time.Millisecond

func timedGossip(system *actor.ActorSystem, target *actor.PID) {
	start := time.Now()
	res, err := system.Root.RequestFuture(target, &cluster.GossipRequest{
		FromMemberId: "rust-target",
		State:        &cluster.GossipState{Members: map[string]*cluster.GossipMemberState{}},
	}, gossipRequestTimeout).Result()
	elapsed := time.Since(start).Microseconds()
	if err != nil {
		say("error timed-gossip %v us=%d", err, elapsed)
		return
	}
	name := fmt.Sprintf("%T", res)
	if pm, ok := res.(proto.Message); ok {
		name = string(proto.MessageName(pm))
	}
	say("reply timed-gossip %s us=%d", name, elapsed)
}

func main() {
	port := flag.Int("port", 0, "port to listen on (127.0.0.1)")
	tlsCert := flag.String("tls-cert", "", "server certificate (PEM); enables TLS with -tls-key and -tls-ca")
	tlsKey := flag.String("tls-key", "", "server private key (PEM)")
	tlsCA := flag.String("tls-ca", "", "CA certificate (PEM) used to verify the peers we dial")
	flag.Parse()

	var opts []remote.ConfigOption
	if *tlsCert != "" {
		serverCreds, err := credentials.NewServerTLSFromFile(*tlsCert, *tlsKey)
		if err != nil {
			fmt.Fprintf(os.Stderr, "server TLS: %v\n", err)
			os.Exit(2)
		}
		clientCreds, err := credentials.NewClientTLSFromFile(*tlsCA, "")
		if err != nil {
			fmt.Fprintf(os.Stderr, "client TLS: %v\n", err)
			os.Exit(2)
		}
		opts = append(opts,
			remote.WithServerOptions(grpc.Creds(serverCreds)),
			remote.WithDialOptions(grpc.WithTransportCredentials(clientCreds)))
	}

	system := actor.NewActorSystem()
	r := remote.NewRemote(system, remote.Configure("127.0.0.1", *port, opts...))
	r.Start()

	system.EventStream.Subscribe(func(evt interface{}) {
		switch e := evt.(type) {
		case *remote.EndpointConnectedEvent:
			say("endpoint-connected %s", e.Address)
		case *remote.EndpointTerminatedEvent:
			say("endpoint-terminated %s", e.Address)
		}
	})

	if _, err := system.Root.SpawnNamed(actor.PropsFromFunc(echo), "echo"); err != nil {
		fmt.Fprintf(os.Stderr, "spawn echo: %v\n", err)
		os.Exit(2)
	}
	say("ready %s", system.Address())

	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) == 0 {
			continue
		}
		cmd := fields[0]
		if cmd == "quit" {
			r.Shutdown(true)
			say("bye")
			return
		}
		if len(fields) < 2 {
			say("error %s missing address", cmd)
			continue
		}
		addr := fields[1]
		switch cmd {
		case "gossip":
			go request(system, cmd, actor.NewPID(addr, "gossip"), &cluster.GossipRequest{
				FromMemberId: "rust-target",
				State:        &cluster.GossipState{Members: map[string]*cluster.GossipMemberState{}},
			})
		case "timed-gossip":
			go timedGossip(system, actor.NewPID(addr, "gossip"))
		case "activate":
			go request(system, cmd, actor.NewPID(addr, "partition-activator"), &cluster.ActivationRequest{
				ClusterIdentity: &cluster.ClusterIdentity{Identity: "x", Kind: "nokind"},
				RequestId:       "r1",
			})
		case "missing":
			go request(system, cmd, actor.NewPID(addr, "no-such-actor"), &cluster.GossipRequest{
				FromMemberId: "rust-target",
				State:        &cluster.GossipState{},
			})
		case "event":
			system.Root.Send(actor.NewPID(addr, "eventstream"), &cluster.ActivationTerminated{
				Pid:             actor.NewPID(system.Address(), "echo"),
				ClusterIdentity: &cluster.ClusterIdentity{Identity: "ev", Kind: "k"},
			})
			say("sent event")
		default:
			say("error %s unknown command", cmd)
		}
	}
	// stdin closed: hard exit, like a crash.
	os.Exit(0)
}
