#!/usr/bin/env bash
# Regenerates interop/echo.pb.go from interop/echo.proto. Needs protoc and
# protoc-gen-go at the version of google.golang.org/protobuf in go.mod:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.33.0
# With --check, fails when the committed file differs from a fresh run
# (ignoring the header line naming protoc's own version, which differs
# between distributions and changes nothing else).
set -euo pipefail
cd "$(dirname "$0")"
want=$(cd .. && go list -m -f '{{.Version}}' google.golang.org/protobuf)
gen=$(command -v protoc-gen-go || echo "$(go env GOPATH)/bin/protoc-gen-go")
[ -x "$gen" ] || { echo "protoc-gen-go not found: go install google.golang.org/protobuf/cmd/protoc-gen-go@$want" >&2; exit 1; }
have=$("$gen" --version | awk '{print $2}')
[ "$have" = "$want" ] || { echo "protoc-gen-go is $have, go.mod pins $want" >&2; exit 1; }
out=.
if [ "${1:-}" = "--check" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
protoc --plugin=protoc-gen-go="$gen" --go_out="$out" --go_opt=paths=source_relative interop/echo.proto
if [ "${1:-}" = "--check" ]; then
  strip() { grep -v '^// 	protoc  *v' "$1"; }
  diff -u <(strip interop/echo.pb.go) <(strip "$out/interop/echo.pb.go") \
    || { echo "interop/echo.pb.go is stale: run go-interop/proto/gen.sh" >&2; exit 1; }
fi
