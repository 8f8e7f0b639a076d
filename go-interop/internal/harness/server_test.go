package harness

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type fakeBackend struct {
	view    View
	viewErr error
	sets    [][2]string
}

func (f *fakeBackend) View(context.Context) (View, error) { return f.view, f.viewErr }
func (f *fakeBackend) SetKey(key, value string) (int64, error) {
	f.sets = append(f.sets, [2]string{key, value})
	return int64(len(f.sets)) + 40, nil
}

func do(t *testing.T, h http.Handler, method, target string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %q", method, target, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: content type %q", method, target, ct)
	}
	return rec, body
}

func TestHandlerViewSetHealthz(t *testing.T) {
	b := &fakeBackend{view: BuildView(sampleSnapshot())}
	h := NewHandler(b, "sysB", func(bool) { t.Fatalf("unexpected shutdown") })

	rec, body := do(t, h, http.MethodGet, "/view")
	if rec.Code != http.StatusOK || body["id"] != "sysB" || body["topology_hash"] != "13857135146043484892" {
		t.Fatalf("/view: %d %v", rec.Code, body)
	}
	if rec, _ := do(t, h, http.MethodPost, "/view"); rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /view: %d", rec.Code)
	}
	if rec, _ := do(t, h, http.MethodGet, "/healthz"); rec.Code != http.StatusOK {
		t.Fatalf("/healthz: %d", rec.Code)
	}

	rec, body = do(t, h, http.MethodPost, "/set?key=app.k&value=hello%20world")
	if rec.Code != http.StatusOK || body["key"] != "app.k" || body["value"] != "hello world" ||
		body["owner"] != "sysB" || body["seq"] != float64(41) {
		t.Fatalf("/set: %d %v", rec.Code, body)
	}
	if len(b.sets) != 1 || b.sets[0] != [2]string{"app.k", "hello world"} {
		t.Fatalf("backend saw %v", b.sets)
	}
	if rec, _ := do(t, h, http.MethodPost, "/set?value=x"); rec.Code != http.StatusBadRequest {
		t.Fatalf("/set without key: %d", rec.Code)
	}
	if rec, _ := do(t, h, http.MethodGet, "/set?key=a"); rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /set: %d", rec.Code)
	}
	if len(b.sets) != 1 {
		t.Fatalf("rejected /set requests reached the backend: %v", b.sets)
	}

	b.viewErr = errors.New("gossip actor timeout")
	rec, body = do(t, h, http.MethodGet, "/view")
	if rec.Code != http.StatusServiceUnavailable || body["error"] != "gossip actor timeout" {
		t.Fatalf("/view error: %d %v", rec.Code, body)
	}
}

func TestHandlerShutdownAnswersThenCallsShutdown(t *testing.T) {
	called := make(chan bool, 4)
	h := NewHandler(&fakeBackend{}, "x", func(g bool) { called <- g })

	if rec, _ := do(t, h, http.MethodPost, "/shutdown?graceful=maybe"); rec.Code != http.StatusBadRequest {
		t.Fatalf("bad graceful: %d", rec.Code)
	}
	if rec, _ := do(t, h, http.MethodGet, "/shutdown"); rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /shutdown: %d", rec.Code)
	}
	for _, tc := range []struct {
		query string
		want  bool
	}{{"?graceful=false", false}, {"?graceful=true", true}, {"", true}} {
		rec, body := do(t, h, http.MethodPost, "/shutdown"+tc.query)
		if rec.Code != http.StatusOK || body["shutting_down"] != true || body["graceful"] != tc.want {
			t.Fatalf("/shutdown%s: %d %v", tc.query, rec.Code, body)
		}
		select {
		case g := <-called:
			if g != tc.want {
				t.Fatalf("/shutdown%s called shutdown(%v)", tc.query, g)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("/shutdown%s never called shutdown", tc.query)
		}
	}
	if len(called) != 0 {
		t.Fatalf("rejected requests called shutdown")
	}
}
