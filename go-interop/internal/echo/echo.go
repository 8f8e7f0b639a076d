// Package echo is the Go echo actor shared by the hosted-actor interop
// programs (cmd/actorpeer, cmd/reqbench): it answers every interop.Ping
// with an interop.Pong carrying the same payload, text and seq, the way a
// Rust echo handler (examples/echo_actor.rs) does, so both sides of the
// benchmark do the same work.
package echo

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/protogossip/go-interop/proto/interop"
)

// Responder is the Pong.responder value of Go answers.
const Responder = "go"

// Answer is the Pong for ping.
func Answer(ping *interop.Ping) *interop.Pong {
	return &interop.Pong{Payload: ping.Payload, Text: ping.Text, Seq: ping.Seq, Responder: Responder}
}

// Received is what the echo actor saw of one user message.
type Received struct {
	Message interface{}
	Header  map[string]string
	Sender  *actor.PID
}

// Props spawns an echo actor. It answers a Ping with its Pong (ctx.Respond
// when the request carried no header; otherwise a MessageEnvelope whose
// header is the request's plus "echoed-by: go", sent to ctx.Sender()) and a
// remote.JsonMessage (JSON from a peer, of a type outside gogo's registry)
// with a Pong whose text is the JSON. Every user message is passed to seen
// first, when seen is not nil.
func Props(seen func(Received)) *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		var pong *interop.Pong
		switch m := ctx.Message().(type) {
		case actor.SystemMessage, actor.AutoReceiveMessage:
			return
		case *interop.Ping:
			pong = Answer(m)
		case *remote.JsonMessage:
			pong = &interop.Pong{Text: m.Json, Responder: Responder}
		}
		var header map[string]string
		if h := ctx.MessageHeader(); h != nil && h.Length() > 0 {
			header = h.ToMap()
		}
		if seen != nil {
			seen(Received{Message: ctx.Message(), Header: header, Sender: ctx.Sender()})
		}
		if pong == nil || ctx.Sender() == nil {
			return
		}
		if header == nil {
			ctx.Respond(pong)
			return
		}
		reply := map[string]string{"echoed-by": Responder}
		for k, v := range header {
			reply[k] = v
		}
		ctx.Send(ctx.Sender(), &actor.MessageEnvelope{Header: reply, Message: pong})
	})
}
