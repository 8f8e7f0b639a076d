package main

import (
	"github.com/google/uuid"
	"github.com/lithammer/shortuuid/v4"
)

// writeSystemIDVectors: how an ActorSystem id is spelled. Go's id is
// shortuuid.New(): a random UUIDv4 in base 57 (alphabet
// 23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz), most
// significant digit first, padded to 22 characters. These fixed UUIDs, run
// through shortuuid's own encoder, let the Rust generator prove the same
// spelling.
func writeSystemIDVectors(w *writer) error {
	cases := []struct{ name, uuid string }{
		{"nil_uuid", "00000000-0000-0000-0000-000000000000"},
		{"max_uuid", "ffffffff-ffff-ffff-ffff-ffffffffffff"},
		{"one", "00000000-0000-0000-0000-000000000001"},
		{"v4_a", "0f8e6a4c-2a47-4c8e-9b5e-3d1f6c7a8b90"},
		{"v4_b", "d3b07384-d9a0-4c9b-8f6e-1a2b3c4d5e6f"},
		{"v4_c", "123e4567-e89b-42d3-a456-426614174000"},
	}
	for _, c := range cases {
		u, err := uuid.Parse(c.uuid)
		if err != nil {
			return err
		}
		if err := w.json(c.name, map[string]any{
			"case":           c.name,
			"family":         "system_id",
			"generated_with": "github.com/lithammer/shortuuid/v4 v4.0.0 DefaultEncoder.Encode (the encoder behind ActorSystem ids)",
			"uuid":           c.uuid,
			"system_id":      shortuuid.DefaultEncoder.Encode(u),
		}); err != nil {
			return err
		}
	}
	return nil
}
