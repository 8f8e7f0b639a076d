#!/usr/bin/env bash
# Builds the cargo-fuzz targets (fuzz/) and runs each for a bounded time,
# two at a time (CI has two cores). Fails on any crash, leak, timeout or
# out-of-memory, printing the input that caused it; a target that cannot
# build or run fails too: nothing is skipped. Prints executions and coverage
# per target. See docs/testing.md#fuzzing.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     default 60
#
# Needs a nightly toolchain (installed with rustup when missing) and
# cargo-fuzz (installed with `cargo install cargo-fuzz --locked` when
# missing), and protoc (the etcd target builds etcd-client).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
parallel=2
started=$(date +%s)

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: no nightly toolchain; installing it (rustup toolchain install nightly --profile minimal)"
  rustup toolchain install nightly --profile minimal \
    || { echo "fuzz: cannot install the nightly toolchain, which cargo fuzz needs" >&2; exit 1; }
fi
if ! command -v cargo-fuzz >/dev/null; then
  echo "fuzz: cargo-fuzz missing; installing it (cargo install cargo-fuzz --locked)"
  t0=$(date +%s)
  cargo install cargo-fuzz --locked \
    || { echo "fuzz: cannot install cargo-fuzz" >&2; exit 1; }
  echo "fuzz: cargo-fuzz installed in $(($(date +%s) - t0)) s"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo fmt --manifest-path fuzz/Cargo.toml -- --check
# The committed seeds are what fuzz/seed-corpora.sh writes from the vectors.
FUZZ_CORPUS_OUT="$work/seeds" fuzz/seed-corpora.sh >/dev/null
diff -r "$work/seeds" fuzz/corpus >/dev/null \
  || { echo "fuzz: fuzz/corpus is not what fuzz/seed-corpora.sh writes; run it and commit" >&2; exit 1; }

t0=$(date +%s)
# Its own target dir (fuzz/target), whatever the caller set for the main build.
env -u CARGO_TARGET_DIR cargo +nightly fuzz build
build_s=$(($(date +%s) - t0))
bin_dir=fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release
mapfile -t targets < <(env -u CARGO_TARGET_DIR cargo +nightly fuzz list)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets listed" >&2; exit 1; }

# run TARGET: fuzzes TARGET for $seconds; new inputs go to a scratch corpus,
# the committed seeds in fuzz/corpus/TARGET are only read.
run() {
  local t=$1
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  "$bin_dir/$t" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
    -timeout=10 -artifact_prefix="$work/$t/artifacts/" \
    "$work/$t/corpus" "fuzz/corpus/$t" >"$work/$t/log" 2>&1
}

failed=()
for ((i = 0; i < ${#targets[@]}; i += parallel)); do
  pids=()
  batch=("${targets[@]:i:parallel}")
  echo "fuzz: running ${batch[*]} for ${seconds} s"
  for t in "${batch[@]}"; do run "$t" & pids+=($!); done
  for j in "${!pids[@]}"; do
    if ! wait "${pids[$j]}"; then failed+=("${batch[$j]}"); fi
  done
done

printf '\n%-20s %12s %8s %8s %8s\n' target executions exec/s cov corpus
for t in "${targets[@]}"; do
  log=$work/$t/log
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  corp=$(grep -Eo 'corp: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  printf '%-20s %12s %8s %8s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${corp:-?}"
done
echo "fuzz: build ${build_s} s, total $(($(date +%s) - started)) s"

if [ ${#failed[@]} -gt 0 ]; then
  for t in "${failed[@]}"; do
    echo "=== fuzz target $t FAILED; last lines of its log:" >&2
    tail -40 "$work/$t/log" >&2
    for a in "$work/$t/artifacts"/*; do
      [ -e "$a" ] || continue
      echo "--- crashing input $(basename "$a") (base64; reproduce with" \
           "cargo +nightly fuzz run $t FILE):" >&2
      base64 "$a" >&2
    done
  done
  exit 1
fi
