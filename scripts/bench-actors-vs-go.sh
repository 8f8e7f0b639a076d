#!/usr/bin/env bash
# Request/response round trips per second: a protoactor-go client
# (go-interop/cmd/reqbench, RequestFuture) against a Go echo actor and
# against a Rust echo handler (examples/echo_actor.rs), same payloads, on
# loopback, in one run. Release builds. Prints both rates and the ratio
# Rust/Go for each payload; docs/performance.md records the figures.
# A benchmark, not a test: nothing asserts a rate.
#
# Usage: scripts/bench-actors-vs-go.sh [-d SECONDS] [-c CONCURRENCY] [-r ROUNDS]
# Each round runs Go then Rust for each payload (100 B, 16 KiB); the table
# shows the best round of each (least disturbed by other load).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=5 concurrency=8 rounds=2
while getopts d:c:r: o; do
  case $o in
    d) duration=$OPTARG ;;
    c) concurrency=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) echo "usage: $0 [-d SECONDS] [-c CONCURRENCY] [-r ROUNDS]" >&2; exit 2 ;;
  esac
done

target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
cleanup() {
  # The servers were started inside $(start …) subshells: their pids are in
  # a file, and their stdin is a FIFO only this shell holds open.
  if [ -f "$work/pids" ]; then xargs kill < "$work/pids" 2>/dev/null || true; fi
  exec 3>&- || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# Servers read stdin from this FIFO; this shell holds it open (read-write, so
# opening it never blocks) and closes it on exit, so they see end of input.
mkfifo "$work/hold"
exec 3<> "$work/hold"

echo "building (release)..." >&2
cargo build -q --release --example echo_actor
(cd go-interop && go build -o "$work/reqbench" ./cmd/reqbench)

# Starts "$@" with stdin held open, waits for its first line matching $1's
# pattern and prints the address in it.
start() {
  local pattern=$1 out=$work/$2.out; shift 2
  "$@" < "$work/hold" 3>&- > "$out" 2> "$out.err" &
  echo $! >> "$work/pids"
  for _ in $(seq 100); do
    if grep -qE "$pattern" "$out"; then grep -oE '127\.0\.0\.1:[0-9]+' "$out" | head -1; return; fi
    sleep 0.1
  done
  echo "server did not start: $*" >&2; cat "$out" "$out.err" >&2; exit 1
}

go_addr=$(start '^ready ' go "$work/reqbench" -serve -port 0)
rust_addr=$(start '^echo actor at ' rust "$target/release/examples/echo_actor")
echo "Go echo actor at $go_addr/echo, Rust echo handler at $rust_addr/echo" >&2
echo "cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg), ${duration}s per run, $concurrency requesters, $rounds rounds" >&2

declare -A best
for round in $(seq "$rounds"); do
  for payload in 100 16384; do
    for side in go rust; do
      addr=$go_addr; [ $side = rust ] && addr=$rust_addr
      line=$("$work/reqbench" -target "$addr/echo" -payload "$payload" -concurrency "$concurrency" \
        -duration "${duration}s" -warmup 1s 2>/dev/null)
      echo "round $round $side $line" >&2
      rate=$(sed -E 's/.*"rate":([0-9.]+).*/\1/' <<<"$line")
      errors=$(sed -E 's/.*"errors":([0-9]+).*/\1/' <<<"$line")
      [ "$errors" = 0 ] || echo "warning: $errors failed requests ($side, $payload B)" >&2
      key=$side/$payload
      if [ -z "${best[$key]:-}" ] || awk -v a="$rate" -v b="${best[$key]}" 'BEGIN{exit !(a>b)}'; then
        best[$key]=$rate
      fi
    done
  done
done

printf '\n| payload | Go client → Go actor (req/s) | Go client → Rust handler (req/s) | Rust / Go |\n|---|---|---|---|\n'
for payload in 100 16384; do
  g=${best[go/$payload]} r=${best[rust/$payload]}
  awk -v p="$payload" -v g="$g" -v r="$r" 'BEGIN{printf "| %d B | %.0f | %.0f | %.2f |\n", p, g, r, r/g}'
done
