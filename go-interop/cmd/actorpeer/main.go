// Command actorpeer is a plain protoactor-go remote node that talks to Rust
// hosted actors (PIDs registered through protogossip's actor API) with Go's
// own actor API, for tests/actors_go_interop.rs. Everything it does is
// ordinary protoactor-go code: system.Root.Send, RequestFuture,
// ctx.Request, ctx.Watch/Unwatch, ctx.Respond.
//
// It listens on 127.0.0.1:<port> (0 = any free port), spawns the echo actor
// `echo` (internal/echo: answers interop.Ping with interop.Pong), prints one
// JSON line {"ev":"ready","address":...,"system_id":...} and then reads
// commands from stdin, one per line. Every output line on stdout is one JSON
// object with an "ev" field (logs go to stderr).
//
// Commands (TAG is any word chosen by the caller and repeated in the
// answers; OPTS are key=value words: text=S seq=N payload=HEX size=N
// (payload of N bytes 0,1,2,...) h.KEY=VALUE (a message header) rid=N (the
// sender PID's request_id, `ask` only) timeout=MS):
//
//	send TAG ADDR ID OPTS     system.Root.Send of an interop.Ping (no sender; with h.* a MessageEnvelope carrying the header) → {"ev":"sent"}
//	sendmany TAG ADDR ID N    N Root.Send Pings, seq 0..N-1, text "m<seq>" → {"ev":"sent","count":N}
//	request TAG ADDR ID OPTS  RequestFuture of a Ping (with h.*: NewFuture + MessageEnvelope{header, sender: future}) → {"ev":"reply",...} or {"ev":"error","error":...}
//	ask TAG ADDR ID OPTS      a Go actor `asker-TAG` sends the Ping with itself as sender (rid=N: ctx.RequestWithCustomSender with request_id N) and reports the answer with its header and sender → {"ev":"reply",...}
//	watch TAG ADDR ID         spawns `watcher-TAG`, which ctx.Watch()es the PID → {"ev":"watching"}; each actor.Terminated it gets → {"ev":"terminated","who":PID,"why":"Stopped|AddressTerminated|NotFound"}
//	unwatch TAG               watcher-TAG ctx.Unwatch()es its PID → {"ev":"unwatched"}
//	spawn TAG ID              spawns another echo actor named ID → {"ev":"spawned","pid":PID}
//	stop TAG ID               system.Root.Stop of the local actor ID → {"ev":"stopped"}
//	quit                      graceful Remote.Shutdown(true) → {"ev":"bye"}, exit 0
//
// Every message an echo actor gets is reported as {"ev":"received","actor":ID,
// "type":FULL_NAME,...,"header":{...},"sender":PID}; a remote.JsonMessage (JSON
// of a type gogo does not know) as type "remote.JsonMessage" with
// "json_type" and "json". Remote endpoint events are reported as
// {"ev":"endpoint-connected"|"endpoint-terminated","address":...}. Closing
// stdin exits at once, like a crash.
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/protogossip/go-interop/internal/echo"
	"github.com/protogossip/go-interop/proto/interop"
)

var outMu sync.Mutex

// event is one output line.
type event map[string]interface{}

func say(ev string, tag string, fields event) {
	if fields == nil {
		fields = event{}
	}
	fields["ev"] = ev
	if tag != "" {
		fields["tag"] = tag
	}
	b, err := json.Marshal(fields)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"ev":"internal-error","error":%q}`, err.Error()))
	}
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Println(string(b))
}

func pidJSON(p *actor.PID) interface{} {
	if p == nil {
		return nil
	}
	return event{"address": p.Address, "id": p.Id, "request_id": p.RequestId}
}

// messageFields describes a message for the output.
func messageFields(m interface{}) event {
	switch m := m.(type) {
	case *interop.Ping:
		return event{"type": "interop.Ping", "text": m.Text, "seq": m.Seq, "payload": hex.EncodeToString(m.Payload)}
	case *interop.Pong:
		return event{"type": "interop.Pong", "text": m.Text, "seq": m.Seq, "payload": hex.EncodeToString(m.Payload), "responder": m.Responder}
	case *interop.Note:
		return event{"type": "interop.Note", "text": m.Text, "seq": m.Seq}
	case *remote.JsonMessage:
		return event{"type": "remote.JsonMessage", "json_type": m.TypeName, "json": m.Json}
	default:
		return event{"type": fmt.Sprintf("%T", m)}
	}
}

// opts are the key=value words of a command.
type opts struct {
	ping    *interop.Ping
	header  map[string]string
	rid     uint32
	timeout time.Duration
}

func parseOpts(words []string) (opts, error) {
	o := opts{ping: &interop.Ping{}, timeout: 5 * time.Second}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return o, fmt.Errorf("bad option %q", w)
		}
		var err error
		switch {
		case k == "text":
			o.ping.Text = v
		case k == "seq":
			o.ping.Seq, err = strconv.ParseInt(v, 10, 64)
		case k == "payload":
			o.ping.Payload, err = hex.DecodeString(v)
		case k == "size":
			var n int
			n, err = strconv.Atoi(v)
			o.ping.Payload = make([]byte, n)
			for i := range o.ping.Payload {
				o.ping.Payload[i] = byte(i)
			}
		case k == "rid":
			var n uint64
			n, err = strconv.ParseUint(v, 10, 32)
			o.rid = uint32(n)
		case k == "timeout":
			var n int
			n, err = strconv.Atoi(v)
			o.timeout = time.Duration(n) * time.Millisecond
		case strings.HasPrefix(k, "h."):
			if o.header == nil {
				o.header = map[string]string{}
			}
			o.header[k[2:]] = v
		default:
			return o, fmt.Errorf("unknown option %q", k)
		}
		if err != nil {
			return o, fmt.Errorf("option %s: %v", k, err)
		}
	}
	return o, nil
}

func reportReply(tag string, res interface{}, err error, header map[string]string, sender *actor.PID) {
	if err != nil {
		say("error", tag, event{"error": err.Error()})
		return
	}
	f := messageFields(res)
	f["header"] = header
	f["sender"] = pidJSON(sender)
	say("reply", tag, f)
}

// asker sends one request as itself and reports the answer.
func asker(tag string, target *actor.PID, o opts) *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			self := ctx.Self()
			if o.rid != 0 {
				self = &actor.PID{Address: self.Address, Id: self.Id, RequestId: o.rid}
			}
			if o.header == nil {
				ctx.RequestWithCustomSender(target, o.ping, self)
			} else {
				ctx.Send(target, &actor.MessageEnvelope{Header: o.header, Message: o.ping, Sender: self})
			}
			ctx.SetReceiveTimeout(o.timeout)
		case *actor.ReceiveTimeout:
			say("error", tag, event{"error": "timeout"})
			ctx.Stop(ctx.Self())
		case actor.SystemMessage, actor.AutoReceiveMessage:
		default:
			var header map[string]string
			if h := ctx.MessageHeader(); h != nil && h.Length() > 0 {
				header = h.ToMap()
			}
			var err error
			if _, ok := m.(*actor.DeadLetterResponse); ok {
				err = fmt.Errorf("dead letter")
			}
			reportReply(tag, m, err, header, ctx.Sender())
			ctx.Stop(ctx.Self())
		}
	})
}

type unwatchCmd struct{}

// watcher watches target and reports every Terminated.
func watcher(tag string, target *actor.PID) *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			ctx.Watch(target)
			say("watching", tag, event{"watcher": pidJSON(ctx.Self()), "target": pidJSON(target)})
		case *actor.Terminated:
			say("terminated", tag, event{"who": pidJSON(m.Who), "why": m.Why.String()})
		case unwatchCmd:
			ctx.Unwatch(target)
			say("unwatched", tag, nil)
		}
	})
}

func echoProps(id string) *actor.Props {
	return echo.Props(func(r echo.Received) {
		f := messageFields(r.Message)
		f["actor"] = id
		f["header"] = r.Header
		f["sender"] = pidJSON(r.Sender)
		say("received", "", f)
	})
}

func main() {
	port := flag.Int("port", 0, "port to listen on (127.0.0.1); 0 picks a free one")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
	r := remote.NewRemote(system, remote.Configure("127.0.0.1", *port))
	r.Start()

	system.EventStream.Subscribe(func(evt interface{}) {
		switch e := evt.(type) {
		case *remote.EndpointConnectedEvent:
			say("endpoint-connected", "", event{"address": e.Address})
		case *remote.EndpointTerminatedEvent:
			say("endpoint-terminated", "", event{"address": e.Address})
		}
	})

	if _, err := system.Root.SpawnNamed(echoProps("echo"), "echo"); err != nil {
		fmt.Fprintf(os.Stderr, "spawn echo: %v\n", err)
		os.Exit(2)
	}
	say("ready", "", event{"address": system.Address(), "system_id": system.ID})

	watchers := map[string]*actor.PID{}
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		words := strings.Fields(scanner.Text())
		if len(words) == 0 {
			continue
		}
		if words[0] == "quit" {
			r.Shutdown(true)
			say("bye", "", nil)
			return
		}
		if err := run(system, watchers, words); err != nil {
			tag := ""
			if len(words) > 1 {
				tag = words[1]
			}
			say("bad-command", tag, event{"error": err.Error(), "line": scanner.Text()})
		}
	}
	// stdin closed: hard exit, like a crash.
	os.Exit(0)
}

func run(system *actor.ActorSystem, watchers map[string]*actor.PID, words []string) error {
	cmd := words[0]
	if len(words) < 2 {
		return fmt.Errorf("%s: missing TAG", cmd)
	}
	tag := words[1]
	switch cmd {
	case "send", "request", "ask", "sendmany", "watch":
		if len(words) < 4 {
			return fmt.Errorf("%s: need TAG ADDR ID", cmd)
		}
	case "unwatch":
		pid, ok := watchers[tag]
		if !ok {
			return fmt.Errorf("no watcher %q", tag)
		}
		system.Root.Send(pid, unwatchCmd{})
		return nil
	case "spawn", "stop":
		if len(words) < 3 {
			return fmt.Errorf("%s: need TAG ID", cmd)
		}
		if cmd == "stop" {
			system.Root.Stop(actor.NewPID(system.Address(), words[2]))
			say("stopped", tag, nil)
			return nil
		}
		pid, err := system.Root.SpawnNamed(echoProps(words[2]), words[2])
		if err != nil {
			return err
		}
		say("spawned", tag, event{"pid": pidJSON(pid)})
		return nil
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	target := actor.NewPID(words[2], words[3])
	switch cmd {
	case "sendmany":
		if len(words) < 5 {
			return fmt.Errorf("sendmany: need a count")
		}
		n, err := strconv.Atoi(words[4])
		if err != nil {
			return fmt.Errorf("sendmany: count: %v", err)
		}
		for i := 0; i < n; i++ {
			system.Root.Send(target, &interop.Ping{Text: fmt.Sprintf("m%d", i), Seq: int64(i)})
		}
		say("sent", tag, event{"count": n})
		return nil
	case "watch":
		pid, err := system.Root.SpawnNamed(watcher(tag, target), "watcher-"+tag)
		if err != nil {
			return err
		}
		watchers[tag] = pid
		return nil
	}
	o, err := parseOpts(words[4:])
	if err != nil {
		return err
	}
	switch cmd {
	case "send":
		if o.header == nil {
			system.Root.Send(target, o.ping)
		} else {
			system.Root.Send(target, &actor.MessageEnvelope{Header: o.header, Message: o.ping})
		}
		say("sent", tag, event{"count": 1})
	case "request":
		go func() {
			var f *actor.Future
			if o.header == nil {
				f = system.Root.RequestFuture(target, o.ping, o.timeout)
			} else {
				f = actor.NewFuture(system, o.timeout)
				system.Root.Send(target, &actor.MessageEnvelope{Header: o.header, Message: o.ping, Sender: f.PID()})
			}
			res, err := f.Result()
			reportReply(tag, res, err, nil, nil)
		}()
	case "ask":
		if _, err := system.Root.SpawnNamed(asker(tag, target, o), "asker-"+tag); err != nil {
			return err
		}
	}
	return nil
}
