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
	"encoding/json"
	"fmt"
	"net/http"
	"os"

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
	os.Exit(harness.Run("grainhost", os.Args[1:], readyOut,
		func(c *harness.Config) { c.KindProps = grainProps },
		func(n *harness.Node, mux *http.ServeMux) { mux.Handle("/grain", grainHandler(n.Cluster())) }))
}
