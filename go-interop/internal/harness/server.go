package harness

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// viewTimeout bounds one /view: each reported key is one request to the
// gossip actor (whose own timeout is 5 s).
const viewTimeout = 10 * time.Second

// Backend is what the HTTP API needs from a node; *Node implements it, tests
// use a fake.
type Backend interface {
	View(ctx context.Context) (View, error)
	SetKey(key, value string) (int64, error)
}

// SetResult is the JSON body of a successful POST /set.
type SetResult struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Owner string `json:"owner"`
	Seq   int64  `json:"seq"`
}

// ShutdownResult is the JSON body of POST /shutdown.
type ShutdownResult struct {
	ShuttingDown bool `json:"shutting_down"`
	Graceful     bool `json:"graceful"`
}

// ErrorResult is the JSON body of every non-2xx answer.
type ErrorResult struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method != method {
		w.Header().Set("Allow", method)
		writeJSON(w, http.StatusMethodNotAllowed, ErrorResult{method + " only"})
		return false
	}
	return true
}

// NewHandler serves the harness API. ownerID is reported by /set; shutdown is
// called (once per request, after the answer has been flushed) by
// POST /shutdown and must make the process exit.
func NewHandler(b Backend, ownerID string, shutdown func(graceful bool)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if allow(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		}
	})
	mux.HandleFunc("/view", func(w http.ResponseWriter, r *http.Request) {
		if !allow(w, r, http.MethodGet) {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), viewTimeout)
		defer cancel()
		v, err := b.View(ctx)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, ErrorResult{err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		if !allow(w, r, http.MethodPost) {
			return
		}
		q := r.URL.Query()
		key := q.Get("key")
		if key == "" {
			writeJSON(w, http.StatusBadRequest, ErrorResult{"missing query parameter key"})
			return
		}
		value := q.Get("value")
		seq, err := b.SetKey(key, value)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, ErrorResult{err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, SetResult{Key: key, Value: value, Owner: ownerID, Seq: seq})
	})
	mux.HandleFunc("/shutdown", func(w http.ResponseWriter, r *http.Request) {
		if !allow(w, r, http.MethodPost) {
			return
		}
		graceful := true
		if g := r.URL.Query().Get("graceful"); g != "" {
			parsed, err := strconv.ParseBool(g)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, ErrorResult{"graceful must be true or false"})
				return
			}
			graceful = parsed
		}
		writeJSON(w, http.StatusOK, ShutdownResult{ShuttingDown: true, Graceful: graceful})
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		go shutdown(graceful)
	})
	return mux
}
