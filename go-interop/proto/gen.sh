#!/usr/bin/env bash
# Regenerates the Go code of the interop application protos:
#   interop/echo.pb.go, interop/grains.pb.go       (protoc-gen-go)
#   interop/grains_grain.pb.go                     (protoc-gen-go-grain)
# Needs protoc, protoc-gen-go at the version of google.golang.org/protobuf in
# go.mod, and protoc-gen-go-grain from the protoactor-go version go.mod pins:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.33.0
#   go install github.com/asynkron/protoactor-go/protobuf/protoc-gen-go-grain@<protoactor-go version in go.mod>
# (scripts/test.sh installs both into a private bin dir and puts it first in PATH.)
# With --check, fails when a committed file differs from a fresh run
# (ignoring the header lines naming protoc's own version, which differs
# between distributions and changes nothing else).
set -euo pipefail
cd "$(dirname "$0")"
want=$(cd .. && go list -m -f '{{.Version}}' google.golang.org/protobuf)
gen=$(command -v protoc-gen-go || echo "$(go env GOPATH)/bin/protoc-gen-go")
[ -x "$gen" ] || { echo "protoc-gen-go not found: go install google.golang.org/protobuf/cmd/protoc-gen-go@$want" >&2; exit 1; }
have=$("$gen" --version | awk '{print $2}')
[ "$have" = "$want" ] || { echo "protoc-gen-go is $have, go.mod pins $want" >&2; exit 1; }
pa=$(cd .. && go list -m -f '{{.Version}}' github.com/asynkron/protoactor-go)
grain=$(command -v protoc-gen-go-grain || echo "$(go env GOPATH)/bin/protoc-gen-go-grain")
[ -x "$grain" ] || { echo "protoc-gen-go-grain not found: go install github.com/asynkron/protoactor-go/protobuf/protoc-gen-go-grain@$pa" >&2; exit 1; }
out=.
if [ "${1:-}" = "--check" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
protoc --plugin=protoc-gen-go="$gen" --go_out="$out" --go_opt=paths=source_relative interop/echo.proto
protoc --plugin=protoc-gen-go="$gen" --plugin=protoc-gen-go-grain="$grain" \
  --go_out="$out" --go_opt=paths=source_relative \
  --go-grain_out="$out" --go-grain_opt=paths=source_relative interop/grains.proto
if [ "${1:-}" = "--check" ]; then
  strip() { grep -Ev '^//[[:space:]]+protoc[[:space:]]+v' "$1"; }
  for f in interop/echo.pb.go interop/grains.pb.go interop/grains_grain.pb.go; do
    diff -u <(strip "$f") <(strip "$out/$f") \
      || { echo "$f is stale (or made by another generator version): run go-interop/proto/gen.sh" >&2; exit 1; }
  done
fi
