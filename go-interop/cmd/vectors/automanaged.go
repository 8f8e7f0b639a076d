package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/labstack/echo"
)

// writeAutomanagedVectors captures /_health bodies as Go serves them.
//
// The provider's own handler cannot be started in isolation (it needs a
// started cluster with remoting and listens on 0.0.0.0), so this registers
// the same handler body on the same echo version — context.JSON(200,
// *automanaged.NodeModel) — serves it on 127.0.0.1 with a random port and
// captures the HTTP response of a real GET /_health.
func writeAutomanagedVectors(w *writer) error {
	cases := []struct {
		name string
		node *automanaged.NodeModel
		note string
	}{
		{"health_go_member", automanaged.NewNode("mycluster", "cYT4cPbVJ9SgcsMkGBqjzM", "10.0.0.1", 8090, 6330, []string{"hello", "prototopic"}),
			"a Go member: kinds include prototopic"},
		{"health_nil_kinds", automanaged.NewNode("mycluster", "node-1", "127.0.0.1", 50051, 6331, nil), "nil kinds are served as null"},
		{"health_empty_kinds", automanaged.NewNode("mycluster", "node-2", "127.0.0.1", 50052, 6332, []string{}), "empty kinds are served as []"},
		{"health_escaping", automanaged.NewNode("a<b>&c", "ü€\u2028", "::1", 0, 1, []string{"k\"ind"}),
			"encoding/json escapes <, >, & and U+2028 as \\u003c, \\u003e, \\u0026, \\u2028; other UTF-8 is written raw"},
	}
	for _, c := range cases {
		status, contentType, body, err := serveHealth(c.node)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if err := os.WriteFile(filepath.Join(w.dir, c.name+".body"), body, 0o644); err != nil {
			return err
		}
		kinds := any(nil)
		if c.node.Kinds != nil {
			kinds = strs(c.node.Kinds)
		}
		if err := w.json(c.name, map[string]any{
			"family":         w.family,
			"case":           c.name,
			"body":           c.name + ".body",
			"status":         status,
			"content_type":   contentType,
			"generated_with": pinnedVersion + " automanaged.NodeModel served by github.com/labstack/echo v3.3.10 context.JSON (the provider's handler body), captured from a real GET /_health on 127.0.0.1",
			"notes":          c.note,
			"node": map[string]any{
				"id":               c.node.ID,
				"address":          c.node.Address,
				"auto_manage_port": c.node.AutoManagePort,
				"port":             c.node.Port,
				"kinds":            kinds,
				"cluster_name":     c.node.ClusterName,
			},
		}); err != nil {
			return err
		}
	}
	return nil
}

func serveHealth(node *automanaged.NodeModel) (int, string, []byte, error) {
	e := echo.New()
	e.HideBanner = true
	e.GET("/_health", func(ctx echo.Context) error {
		return ctx.JSON(http.StatusOK, node)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, "", nil, err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + ln.Addr().String() + "/_health")
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", nil, err
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body, nil
}
