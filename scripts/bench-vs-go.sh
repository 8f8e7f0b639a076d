#!/usr/bin/env bash
# CPU, memory and bytes written per node: protoactor-go harness nodes
# (go-interop/cmd/harness, the pinned protoactor-go) and Rust nodes
# (`protogossip node`) in ONE cluster on loopback, automanaged provider,
# default settings (gossip every 300 ms, /_health polled every 2 s, heartbeat
# expiration 20 s), at 3 + 3 and 10 + 10 members. Release builds.
#
# Per run and size: start every node, wait the warm-up, read each process's
# CPU time (utime + stime, /proc/PID/stat, and stime alone for the kernel's
# share), bytes written (wchar,
# /proc/PID/io: every write syscall, so gossip, remoting, /_health polls and
# the (small) logs), wait the window, read again, and
# read RSS (VmRSS, /proc/PID/status). Prints per-node means for each language
# and the ratio Rust/Go; for Rust also the gossip bytes our /metrics counted.
# docs/performance.md records the figures. A benchmark, not a test: nothing
# asserts a figure. Not run in CI (minutes per run).
#
# Usage: scripts/bench-vs-go.sh [-w WARMUP_S] [-d WINDOW_S] [-r RUNS] [-s "3 10"] [-p BASE_PORT] [-a "RUST NODE ARGS"] [-c CALLGRIND_OUT] [-n]
# Defaults are the issue's: 30 s warm-up, 120 s window, 3 runs, sizes 3 and 10
# (per language). Ports BASE_PORT.. (automanaged /_health) and BASE_PORT+100..
# (Rust /status and /metrics) must be free; remoting ports are picked by the OS.
# -a adds flags to every Rust node (e.g. -a "--worker-threads 2" for the
# multi-threaded runtime, -a "--profile go-2024-08").
# -c FILE runs the last Rust node under valgrind's callgrind, instrumented
# during the window only, and writes its profile to FILE (run 1, largest
# size only; that node is left out of the figures): callgrind_annotate FILE.
# -n skips `cargo build --release` and uses the protogossip binary already in
# the target dir (e.g. the one `cargo bench` built).
set -euo pipefail
cd "$(dirname "$0")/.."
warmup=30 window=120 runs=3 sizes="3 10" base=16330 rust_args="" callgrind="" build=1
while getopts w:d:r:s:p:a:c:n o; do
  case $o in
    w) warmup=$OPTARG ;;
    d) window=$OPTARG ;;
    r) runs=$OPTARG ;;
    s) sizes=$OPTARG ;;
    p) base=$OPTARG ;;
    a) rust_args=$OPTARG ;;
    c) callgrind=$(realpath -m "$OPTARG") ;;
    n) build=0 ;;
    *) echo "usage: $0 [-w WARMUP_S] [-d WINDOW_S] [-r RUNS] [-s \"3 10\"] [-p BASE_PORT] [-a \"RUST NODE ARGS\"] [-c CALLGRIND_OUT] [-n]" >&2; exit 2 ;;
  esac
done

target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
pids=()
stop_nodes() {
  if [ ${#pids[@]} -gt 0 ]; then
    kill "${pids[@]}" 2>/dev/null || true
    # Go's graceful shutdown takes a moment; do not leave a node behind.
    for _ in $(seq 50); do
      alive=0
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      [ $alive = 0 ] && break
      sleep 0.1
    done
    kill -9 "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  pids=()
}
cleanup() { stop_nodes; rm -rf "$work"; }
trap cleanup EXIT

echo "building (release)..." >&2
[ "$build" = 1 ] && cargo build -q --release --bin protogossip
(cd go-interop && go build -o "$work/harness" ./cmd/harness)
rust_bin=$target/release/protogossip
tck=$(getconf CLK_TCK)

# CPU ticks of a process from one read of its stat: "utime+stime stime";
# fields counted after the ")" that ends the command name.
ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13, $13}'; }
io() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/io"; }
rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
metric() { # a Rust node's counter from /metrics (0 if absent)
  curl -fsS "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1 == k {print $2; f=1} END {if (!f) print 0}'
}

echo "cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg), warm-up ${warmup}s, window ${window}s, $runs runs, sizes: $sizes, Rust args: ${rust_args:-none}" >&2
summary=$work/summary
for run in $(seq "$runs"); do
  for n in $sizes; do
    hosts=$(for i in $(seq 0 $((2 * n - 1))); do printf '127.0.0.1:%d,' $((base + i)); done)
    hosts=${hosts%,}
    declare -A lang=() http=()
    for i in $(seq 0 $((n - 1))); do
      "$work/harness" -cluster bench -automanaged-port $((base + i)) -automanaged-hosts "$hosts" \
        > "$work/go$i.out" 2> "$work/go$i.err" < /dev/null &
      pids+=($!); lang[$!]=go
    done
    largest=$(tr ' ' '\n' <<<"$sizes" | sort -n | tail -1)
    profiled=""
    for i in $(seq "$n" $((2 * n - 1))); do
      wrap=()
      if [ -n "$callgrind" ] && [ "$run" = 1 ] && [ "$n" = "$largest" ] && [ "$i" = $((2 * n - 1)) ]; then
        wrap=(valgrind --tool=callgrind --instr-atstart=no "--callgrind-out-file=$callgrind")
      fi
      RUST_LOG=${RUST_LOG:-warn} "${wrap[@]}" "$rust_bin" node --cluster bench --port 0 --automanaged-port $((base + i)) \
        --automanaged-hosts "$hosts" --http 127.0.0.1:$((base + 100 + i)) $rust_args \
        > "$work/rust$i.out" 2> "$work/rust$i.err" < /dev/null &
      pids+=($!); lang[$!]=rust; http[$!]=$((base + 100 + i))
      [ ${#wrap[@]} -gt 0 ] && profiled=$!
    done
    sleep "$warmup"
    for p in "${pids[@]}"; do
      kill -0 "$p" 2>/dev/null || { echo "a ${lang[$p]} node exited during warm-up:" >&2; cat "$work"/*.err >&2; exit 1; }
    done
    # Converged? One Rust node's count of gossip owners and topology consensus.
    view=$(curl -fsS "http://127.0.0.1:${http[${pids[$n]}]}/status" | grep -oE '"(gossip_owners|reached)":[a-z0-9]+' | tr '\n' ' ' || true)
    declare -A t0=() s0=() w0=() r0=() g0=()
    for p in "${pids[@]}"; do
      read -r t0[$p] s0[$p] < <(ticks "$p"); w0[$p]=$(io "$p" wchar); r0[$p]=$(io "$p" rchar)
      [ "${lang[$p]}" = rust ] && g0[$p]=$(metric "${http[$p]}" protogossip_gossip_sent_bytes_total)
    done
    [ -n "$profiled" ] && callgrind_control -i on "$profiled" > /dev/null 2>&1
    sleep "$window"
    if [ -n "$profiled" ]; then
      callgrind_control -i off "$profiled" > /dev/null 2>&1
      callgrind_control -d "$profiled" > /dev/null 2>&1
      echo "callgrind: profile of one Rust node ($n + $n, ${window}s window): $(ls "$callgrind"*)" >&2
    fi
    for p in "${pids[@]}"; do
      kill -0 "$p" 2>/dev/null || { echo "a ${lang[$p]} node exited during the window" >&2; exit 1; }
      g=0
      [ "${lang[$p]}" = rust ] && g=$(( $(metric "${http[$p]}" protogossip_gossip_sent_bytes_total) - g0[$p] ))
      [ "$p" = "$profiled" ] && continue
      read -r t1 s1 < <(ticks "$p")
      echo "$run $n ${lang[$p]} $(( t1 - t0[$p] )) $(rss_kb "$p") $(( $(io "$p" wchar) - w0[$p] )) $(( $(io "$p" rchar) - r0[$p] )) $g $(( s1 - s0[$p] ))" >> "$summary"
    done
    stop_nodes
    echo "run $run, $n + $n: done (after warm-up, a Rust node's /status: $view)" >&2
    sleep 2
  done
done

# Per run and size: mean per node of each language, and Rust/Go.
awk -v tck="$tck" -v window="$window" '
  { k = $1 " " $2 " " $3; n[k]++; cpu[k] += $4; rss[k] += $5; wr[k] += $6; rd[k] += $7; gs[k] += $8; sy[k] += $9; keys[$1 " " $2] = 1 }
  END {
    print ""
    print "| run | size | CPU Go | CPU Rust | Rust/Go | kernel share Go / Rust | RSS Go | RSS Rust | Rust/Go | written Go | written Rust | Rust/Go | Rust gossip sent |"
    print "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for (rk in keys) order[++m] = rk
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) {
      split(order[i], a, " "); split(order[j], b, " ")
      if (a[1] + 0 > b[1] + 0 || (a[1] == b[1] && a[2] + 0 > b[2] + 0)) { t = order[i]; order[i] = order[j]; order[j] = t }
    }
    for (i = 1; i <= m; i++) {
      g = order[i] " go"; r = order[i] " rust"; split(order[i], a, " ")
      cg = 100 * cpu[g] / n[g] / tck / window; cr = 100 * cpu[r] / n[r] / tck / window
      mg = rss[g] / n[g] / 1024; mr = rss[r] / n[r] / 1024
      wg = wr[g] / n[g] / window / 1024; wrr = wr[r] / n[r] / window / 1024
      kg = cpu[g] > 0 ? 100 * sy[g] / cpu[g] : 0; kr = cpu[r] > 0 ? 100 * sy[r] / cpu[r] : 0
      printf "| %d | %d + %d | %.2f %% | %.2f %% | %.2f | %.0f %% / %.0f %% | %.1f MB | %.1f MB | %.2f | %.1f KiB/s | %.1f KiB/s | %.2f | %.1f KiB/s |\n",
        a[1], a[2], a[2], cg, cr, (cg > 0 ? cr / cg : 0), kg, kr, mg, mr, mr / mg, wg, wrr, (wg > 0 ? wrr / wg : 0), gs[r] / n[r] / window / 1024
    }
    print ""
    print "CPU: percent of one core per node (mean over the nodes of that language), utime + stime; kernel share:"
    print "stime / (utime + stime) (loopback TCP charges the sender for the softirq work of the receiving side); RSS at the end of the window"
    print "(MB = 2^20 bytes); written: wchar of /proc/PID/io per node per second (every write syscall: gossip,"
    print "remoting, /_health polls, logs); Rust gossip sent: our protogossip_gossip_sent_bytes_total. (rchar is"
    print "not shown: it misses recv(2), which tokio uses, so it reads 0 for Rust.)"
  }' "$summary"
