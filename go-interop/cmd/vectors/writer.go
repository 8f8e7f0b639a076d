package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// writer writes the files of one vector family.
type writer struct {
	dir    string
	family string
	cases  int
}

// meta is what a message vector's JSON twin states besides its content.
type meta struct {
	// profile is "go-2024-08" or "go-2024-03" for gossip cases that differ
	// by profile, empty otherwise.
	profile string
	// generatedWith overrides the default provenance text.
	generatedWith string
	// builtAs says how the message was built when that is not obvious
	// (for example "tables built by endpoint_writer.go sendEnvelopes rules").
	builtAs string
	// typeName overrides proto.MessageName (used for the 2024-03 nested
	// name cluster.GossipState.GossipMemberState).
	typeName string
	// notes is free text for a reader.
	notes string
}

// deterministicMarshal is how every .bin file is written: map entries sorted
// by key, so that runs are reproducible. For messages without a map of more
// than one entry this is byte-identical to plain proto.Marshal.
var deterministicMarshal = proto.MarshalOptions{Deterministic: true}

// message writes <case>.bin (raw protobuf bytes) and <case>.json (its twin).
func (w *writer) message(name string, msg proto.Message, m meta) error {
	raw, err := deterministicMarshal.Marshal(msg)
	if err != nil {
		return fmt.Errorf("%s: marshal: %w", name, err)
	}
	plain, err := proto.Marshal(msg)
	if err != nil {
		return fmt.Errorf("%s: marshal: %w", name, err)
	}
	det := goDeterministic(msg.ProtoReflect())
	if det && !bytes.Equal(raw, plain) {
		return fmt.Errorf("%s: claimed deterministic but proto.Marshal differs", name)
	}
	typeName := m.typeName
	if typeName == "" {
		typeName = string(proto.MessageName(msg))
	}
	twin := map[string]any{
		"family":         w.family,
		"case":           name,
		"type_name":      typeName,
		"bin":            name + ".bin",
		"deterministic":  det,
		"marshal":        "proto.MarshalOptions{Deterministic: true}",
		"generated_with": provenance(m.generatedWith),
		"content":        contentOf(msg),
	}
	if m.profile != "" {
		twin["profile"] = m.profile
	}
	if m.builtAs != "" {
		twin["built_as"] = m.builtAs
	}
	if m.notes != "" {
		twin["notes"] = m.notes
	}
	if err := os.WriteFile(filepath.Join(w.dir, name+".bin"), raw, 0o644); err != nil {
		return err
	}
	return w.json(name, twin)
}

// json writes <case>.json and counts one case.
func (w *writer) json(name string, twin any) error {
	if err := w.jsonFile(name+".json", twin); err != nil {
		return err
	}
	w.cases++
	return nil
}

// jsonFile writes an indented JSON file (encoding/json sorts map keys).
func (w *writer) jsonFile(file string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: json: %w", file, err)
	}
	return os.WriteFile(filepath.Join(w.dir, file), append(b, '\n'), 0o644)
}

// binFile writes raw bytes next to the JSON files.
func (w *writer) binFile(file string, msg proto.Message) error {
	raw, err := deterministicMarshal.Marshal(msg)
	if err != nil {
		return fmt.Errorf("%s: marshal: %w", file, err)
	}
	return os.WriteFile(filepath.Join(w.dir, file), raw, 0o644)
}

func provenance(override string) string {
	if override != "" {
		return override
	}
	return pinnedVersion
}

// goDeterministic reports whether Go's plain proto.Marshal can only produce
// one byte string for this message: false as soon as any map, at any depth
// (including inside Any values), holds more than one entry, because Go
// iterates maps in random order.
func goDeterministic(m protoreflect.Message) bool {
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			return true // opaque bytes are copied verbatim
		}
		return goDeterministic(inner.ProtoReflect())
	}
	det := true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			mp := v.Map()
			if mp.Len() > 1 {
				det = false
				return false
			}
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				mp.Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					det = det && goDeterministic(mv.Message())
					return det
				})
			}
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			l := v.List()
			for i := 0; i < l.Len() && det; i++ {
				det = goDeterministic(l.Get(i).Message())
			}
		case fd.Kind() == protoreflect.MessageKind:
			det = goDeterministic(v.Message())
		}
		return det
	})
	return det
}

// packAny packs like Go's gossip code (anypb.New). When the value holds a map
// with several entries, anypb.New's bytes depend on map iteration order; the
// value is then re-marshalled with Deterministic: true (same URL, entries
// sorted by key) so the vector files are reproducible.
func packAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	if !goDeterministic(m.ProtoReflect()) {
		if err := anypb.MarshalFrom(a, m, deterministicMarshal); err != nil {
			panic(err)
		}
	}
	return a
}
