#!/usr/bin/env bash
# Grain calls per second and first-call (activation) latency: a
# protoactor-go caller (go-interop/cmd/graincaller -mode bench, the client
# protoc-gen-go-grain generates) against the kind Greeter hosted by a Rust
# node (examples/grain_host, release build) and by a Go node
# (graincaller -mode serve, the generated server), on loopback, in one run.
# Prints one JSON line per run and the Rust/Go ratios; docs/performance.md
# records the figures. A benchmark, not a test: nothing asserts a rate.
#
# Usage: scripts/bench-grains-vs-go.sh [-n CALLS] [-r ROUNDS]
# Calls are sequential (one caller, one identity); each round runs Go then
# Rust with a fresh host and caller, so each first call is an activation.
set -euo pipefail
cd "$(dirname "$0")/.."
calls=5000 rounds=2
while getopts n:r: o; do
  case $o in
    n) calls=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) echo "usage: $0 [-n CALLS] [-r ROUNDS]" >&2; exit 2 ;;
  esac
done

target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
host_pid=
cleanup() {
  [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null || true
  exec 3>&- || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# The hosts read stdin from this FIFO, held open by this shell.
mkfifo "$work/hold"
exec 3<> "$work/hold"

echo "building (release example, Go caller)..." >&2
cargo build --release --example grain_host >&2
(cd go-interop && go build -o "$work/graincaller" ./cmd/graincaller)
rust_bin=$target/release/examples/grain_host

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run LANG: starts a host of that language and a bench caller; prints the
# caller's result line.
run() {
  local lang=$1 hp cp hosts
  hp=$(port); cp=$(port); hosts=127.0.0.1:$hp,127.0.0.1:$cp
  if [ "$lang" = rust ]; then
    "$rust_bin" --cluster bench-$hp --automanaged-port "$hp" --automanaged-hosts "$hosts" \
      <&3 >"$work/host.out" 2>"$work/host.err" &
  else
    "$work/graincaller" -mode serve -cluster bench-$hp -automanaged-port "$hp" -automanaged-hosts "$hosts" \
      <&3 >"$work/host.out" 2>"$work/host.err" &
  fi
  host_pid=$!
  "$work/graincaller" -mode bench -count "$calls" -cluster bench-$hp -automanaged-port "$cp" \
    -automanaged-hosts "$hosts" -timeout 5s 2>"$work/caller.err" </dev/null \
    | grep calls_per_second | sed "s/^{/{\"host\":\"$lang\",/"
  kill "$host_pid" 2>/dev/null || true
  wait "$host_pid" 2>/dev/null || true
  host_pid=
}

for r in $(seq "$rounds"); do
  run go
  run rust
done | tee "$work/results"
python3 - "$work/results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
best = {}
for r in rows:
    h = r["host"]
    b = best.setdefault(h, {"cps": 0, "first": None})
    b["cps"] = max(b["cps"], r["calls_per_second"])
    b["first"] = r["first_call_ms"] if b["first"] is None else min(b["first"], r["first_call_ms"])
if "go" in best and "rust" in best:
    g, ru = best["go"], best["rust"]
    print(f"calls/s: go-hosted {g['cps']:.0f}, rust-hosted {ru['cps']:.0f}, rust/go {ru['cps']/g['cps']:.2f}")
    print(f"first call (activation) ms: go-hosted {g['first']}, rust-hosted {ru['first']}")
PY
