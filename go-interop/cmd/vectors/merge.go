package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/asynkron/gofun/set"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"
)

// Merge vectors come from protoactor-go's real gossip actor, driven through
// its exported API only:
//
//   - a local actor.NewActorSystem with cluster.New registered (its
//     MemberList is empty; remoting is configured but never started — the
//     GossipActor looks the cluster up, and MemberList applies gossiped
//     "blocked" ids to Remote's BlockList);
//   - cluster.NewGossipActor spawned as "gossip";
//   - local entries set with *cluster.SetGossipState / *cluster.SetGossipMapState,
//     other owners' entries installed by a setup *cluster.GossipRequest;
//   - the case's *cluster.GossipRequest sent with RequestFuture;
//   - *cluster.GossipUpdate captured from the EventStream;
//   - state read back with *cluster.GetGossipStateRequest per key.
//
// Go stamps local_timestamp_unix_milliseconds with time.Now(). Stamps taken
// during setup are replaced by setupTimestamp, stamps taken while the case's
// request was merged by mergeTimestamp; any other value (for example a
// sender's timestamp Go kept) is left as it is.
const (
	setupTimestamp int64 = 1000000000000
	mergeTimestamp int64 = 2000000000000
	askTimeout           = 5 * time.Second
	mergeMyID            = "node-a"
	mergeDrivenAs        = "cluster.NewGossipActor spawned in a local actor.NewActorSystem with cluster.New registered (remote never started); " +
		"setup through SetGossipState/SetGossipMapState and a setup GossipRequest; the case's GossipRequest sent with RequestFuture; " +
		"GossipUpdates captured from the EventStream; state read back with GetGossipStateRequest for each key"
)

type harness struct {
	system  *actor.ActorSystem
	pid     *actor.PID
	mu      sync.Mutex
	updates []*cluster.GossipUpdate
}

func newHarness(myID string) (*harness, error) {
	quiet := func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
	system := actor.NewActorSystem(actor.WithLoggerFactory(quiet))
	cfg := cluster.Configure("vectors", nil, nil, remote.Configure("127.0.0.1", 0))
	c := cluster.New(system, cfg)
	c.Remote = remote.NewRemote(system, cfg.RemoteConfig)
	props := actor.PropsFromProducer(func() actor.Actor {
		return cluster.NewGossipActor(askTimeout, myID, func() set.Set[string] { return set.New[string]() }, 3, 50, system)
	})
	pid, err := system.Root.SpawnNamed(props, cluster.DefaultGossipActorName)
	if err != nil {
		return nil, err
	}
	h := &harness{system: system, pid: pid}
	system.EventStream.Subscribe(func(evt interface{}) {
		if u, ok := evt.(*cluster.GossipUpdate); ok {
			h.mu.Lock()
			h.updates = append(h.updates, u)
			h.mu.Unlock()
		}
	})
	return h, nil
}

func (h *harness) ask(msg interface{}) (interface{}, error) {
	return h.system.Root.RequestFuture(h.pid, msg, askTimeout).Result()
}

func (h *harness) takeUpdates() []*cluster.GossipUpdate {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.updates
	h.updates = nil
	return u
}

// read rebuilds the state the actor holds for these keys.
func (h *harness) read(keys []string) (*cluster.GossipState, error) {
	state := &cluster.GossipState{Members: map[string]*cluster.GossipMemberState{}}
	for _, key := range keys {
		res, err := h.ask(&cluster.GetGossipStateRequest{GossipStateKey: key})
		if err != nil {
			return nil, err
		}
		r, ok := res.(*cluster.GetGossipStateResponse)
		if !ok {
			return nil, fmt.Errorf("GetGossipStateRequest answered %T", res)
		}
		for owner, v := range r.State {
			ms, ok := state.Members[owner]
			if !ok {
				ms = &cluster.GossipMemberState{Values: map[string]*cluster.GossipKeyValue{}}
				state.Members[owner] = ms
			}
			ms.Values[key] = proto.Clone(v).(*cluster.GossipKeyValue)
		}
	}
	return state, nil
}

// normalise replaces Go's time.Now() stamps (see the package comment).
func normalise(s *cluster.GossipState, setupFrom, mergeFrom, mergeTo int64) {
	for _, ms := range s.Members {
		for _, v := range ms.Values {
			ts := v.LocalTimestampUnixMilliseconds
			switch {
			case ts >= mergeFrom && ts <= mergeTo:
				v.LocalTimestampUnixMilliseconds = mergeTimestamp
			case ts >= setupFrom && ts < mergeFrom:
				v.LocalTimestampUnixMilliseconds = setupTimestamp
			}
		}
	}
}

// setupStep is one local action before the case's request.
type setupStep struct {
	setKey   string        // SetGossipState key, or
	value    proto.Message // its value
	mapKey   string        // with setKey: SetGossipMapState instead
	received *cluster.GossipState
}

type mergeCase struct {
	name        string
	description string
	setup       []setupStep
	remote      *cluster.GossipState
}

func stepJ(s setupStep) any {
	switch {
	case s.received != nil:
		return map[string]any{"op": "receive_gossip_request", "state": gossipStateJ(s.received)}
	case s.mapKey != "":
		return map[string]any{"op": "set_gossip_map_state", "key": s.setKey, "map_key": s.mapKey, "value": contentOf(s.value), "value_type": string(proto.MessageName(s.value))}
	default:
		return map[string]any{"op": "set_gossip_state", "key": s.setKey, "value": contentOf(s.value), "value_type": string(proto.MessageName(s.value))}
	}
}

func keysOf(c mergeCase) []string {
	seen := map[string]bool{}
	add := func(s *cluster.GossipState) {
		for _, ms := range s.Members {
			for k := range ms.Values {
				seen[k] = true
			}
		}
	}
	for _, s := range c.setup {
		if s.received != nil {
			add(s.received)
		} else {
			seen[s.setKey] = true
		}
	}
	add(c.remote)
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func runMergeCase(w *writer, c mergeCase) error {
	h, err := newHarness(mergeMyID)
	if err != nil {
		return err
	}
	defer h.system.Shutdown()
	setupFrom := time.Now().UnixMilli()
	steps := make([]any, 0, len(c.setup))
	for _, s := range c.setup {
		steps = append(steps, stepJ(s))
		var res interface{}
		switch {
		case s.received != nil:
			res, err = h.ask(&cluster.GossipRequest{FromMemberId: mergeMyID, State: proto.Clone(s.received).(*cluster.GossipState)})
		case s.mapKey != "":
			// SetGossipMapState never answers; a following Get orders it.
			h.system.Root.Send(h.pid, &cluster.SetGossipMapState{GossipStateKey: s.setKey, MapKey: s.mapKey, Value: s.value})
			res, err = h.ask(&cluster.GetGossipStateRequest{GossipStateKey: s.setKey})
		default:
			res, err = h.ask(&cluster.SetGossipState{GossipStateKey: s.setKey, Value: s.value})
		}
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		_ = res
	}
	keys := keysOf(c)
	local, err := h.read(keys)
	if err != nil {
		return err
	}
	h.takeUpdates()
	// Millisecond stamps: make setup and merge stamps distinguishable.
	time.Sleep(3 * time.Millisecond)
	mergeFrom := time.Now().UnixMilli()

	remoteTwin := gossipStateJ(c.remote)
	if err := w.binFile(c.name+".remote.bin", c.remote); err != nil {
		return err
	}
	req := &cluster.GossipRequest{FromMemberId: mergeMyID, State: proto.Clone(c.remote).(*cluster.GossipState)}
	res, err := h.ask(req)
	if err != nil {
		return fmt.Errorf("gossip request: %w", err)
	}
	resp, ok := res.(*cluster.GossipResponse)
	if !ok {
		return fmt.Errorf("gossip request answered %T", res)
	}
	updates := h.takeUpdates()
	merged, err := h.read(keys)
	if err != nil {
		return err
	}
	mergeTo := time.Now().UnixMilli()
	normalise(local, setupFrom, mergeFrom, mergeTo)
	normalise(merged, setupFrom, mergeFrom, mergeTo)
	respBytes, err := deterministicMarshal.Marshal(resp)
	if err != nil {
		return err
	}
	if err := w.binFile(c.name+".local.bin", local); err != nil {
		return err
	}
	if err := w.binFile(c.name+".merged.bin", merged); err != nil {
		return err
	}
	return w.json(c.name, map[string]any{
		"family":                 w.family,
		"case":                   c.name,
		"description":            c.description,
		"generated_with":         pinnedVersion,
		"driven_as":              mergeDrivenAs,
		"my_id":                  mergeMyID,
		"setup":                  steps,
		"keys_read":              strs(keys),
		"request_from_member_id": req.FromMemberId,
		"local":                  map[string]any{"bin": c.name + ".local.bin", "type_name": "cluster.GossipState", "content": gossipStateJ(local)},
		"remote":                 map[string]any{"bin": c.name + ".remote.bin", "type_name": "cluster.GossipState", "content": remoteTwin},
		"merged":                 map[string]any{"bin": c.name + ".merged.bin", "type_name": "cluster.GossipState", "content": gossipStateJ(merged)},
		"updates":                updatesJ(updates),
		"updates_order":          "sorted by (member_id, key); Go publishes them in map iteration order",
		"response":               map[string]any{"type_name": string(proto.MessageName(resp)), "bytes_hex": hex.EncodeToString(respBytes)},
		"timestamps": map[string]any{
			"setup": i64(setupTimestamp),
			"merge": i64(mergeTimestamp),
			"rule":  "Go stamps time.Now(); stamps taken during setup are written as 'setup', stamps taken while the case's request was merged as 'merge'; other values are what Go kept",
		},
	})
}

func writeMergeVectors(w *writer) error {
	for _, c := range mergeCases() {
		if err := runMergeCase(w, c); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return nil
}
