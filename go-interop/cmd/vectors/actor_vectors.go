package main

import "github.com/asynkron/protoactor-go/actor"

// writeActorVectors: actor.PID as Go writes it, with and without request id.
func writeActorVectors(w *writer) error {
	cases := []struct {
		name string
		pid  *actor.PID
		note string
	}{
		{"pid_plain", actor.NewPID("10.0.0.1:8090", "gossip"), "request_id 0 is left out"},
		{"pid_request_id", &actor.PID{Address: "10.0.0.1:8090", Id: "future$5", RequestId: 42}, ""},
		{"pid_request_id_max", &actor.PID{Address: "127.0.0.1:50051", Id: "$12/child", RequestId: 4294967295}, "uint32 max as a 5-byte varint"},
		{"pid_nonhost", actor.NewPID("nonhost", "$1"), "local-only address"},
		{"pid_empty", &actor.PID{}, "all defaults: zero bytes"},
		{"pid_non_ascii", actor.NewPID("[::1]:9000", "grüße/€"), "UTF-8 id, IPv6 address"},
	}
	for _, c := range cases {
		if err := w.message(c.name, c.pid, meta{notes: c.note}); err != nil {
			return err
		}
	}
	return nil
}
