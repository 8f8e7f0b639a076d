#!/usr/bin/env bash
# Runs every check and test of protogossip: formatting, lints, the API docs, the no_std
# build, the Rust tests (unit, golden-vector replay, simulations, interop),
# the Go side (vet, vector regeneration check), the fuzz targets (60 s each),
# that a library user compiles none of the CLI's dependencies, and the
# package (`cargo publish --dry-run`). `.ci/run` calls exactly this script.
# Needs Rust (rustup) and Go; the Debian packages below are installed when
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

step() { printf '\n=== %s\n' "$*"; }

# System packages the tests need: protoc (the etcd-client crate compiles
# etcd's protos with it; our own protos need none) and a real etcd server for
# the etcd provider's tests; ip, tc and curl for the partition scenario;
# promtool (Debian's `prometheus`, without the recommended node exporter) to
# lint a running node's /metrics; `script` (bsdutils) for a terminal in the
# log colour test; openssl for the test API server's service-account key
# (scripts/kube-apiserver.sh). Installed from Debian when missing.
need=()
command -v protoc >/dev/null || need+=(protobuf-compiler)
command -v etcd >/dev/null || need+=(etcd-server)
command -v tc >/dev/null || need+=(iproute2)
command -v curl >/dev/null || need+=(curl)
command -v promtool >/dev/null || need+=(prometheus)
command -v script >/dev/null || need+=(bsdutils)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]} (Debian packages)"
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing ${need[*]}: install them (sudo apt-get install ${need[*]}) and run again" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v promtool >/dev/null || { echo "promtool missing after installing prometheus" >&2; exit 1; }

# No incremental compilation: a full run rebuilds everything once, and the
# incremental caches of ~40 test binaries took about 11 GB of disk.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

step "cargo fmt --check"
cargo fmt --all -- --check

step "docs: quirk ids and doc anchors defined in the repository"
scripts/check-doc-ids.sh

step "no import cycle among the modules of the gossip core and the transport"
scripts/check-module-cycles.sh src/gossip src/remote >/dev/null \
  || { scripts/check-module-cycles.sh src/gossip src/remote; exit 1; }

step "clippy (std, all targets and features)"
cargo clippy --all-targets --all-features -- -D warnings

step "rustdoc: the API docs build without a broken or private link"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features --quiet

step "a library user compiles none of the CLI's dependencies"
# `default-features = false, features = ["std"]` (and with etcd): no clap,
# toml or tracing-subscriber among the normal dependencies.
for features in std std,etcd std,k8s; do
  cli_deps=$(cargo tree -e normal --no-default-features --features "$features" --prefix none \
    | grep -E '^(clap|toml|tracing-subscriber) ' | sort -u || true)
  if [ -n "$cli_deps" ]; then
    echo "--features $features pulls in the CLI's dependencies:" >&2
    echo "$cli_deps" >&2
    exit 1
  fi
done

step "clippy (no_std library)"
cargo clippy --no-default-features --lib -- -D warnings

step "no_std build for thumbv7m-none-eabi"
if rustup target list --installed 2>/dev/null | grep -qx thumbv7m-none-eabi \
   || rustup target add thumbv7m-none-eabi; then
  cargo build --no-default-features --target thumbv7m-none-eabi --lib
else
  echo "note: could not add the thumbv7m-none-eabi target (rustup had no network?);"
  echo "      building the no_std library for the host instead"
  cargo build --no-default-features --lib
fi

step "kube-apiserver for the k8s provider's tests (built once from the Go module, then reused)"
# tests/interop_k8s.rs starts real API servers with this script; building
# here keeps the build out of the tests' deadlines and its time visible.
kube_start=$SECONDS
scripts/kube-apiserver.sh build >/dev/null
echo "kube-apiserver ready in $((SECONDS - kube_start)) s"

step "Rust tests (unit, golden vectors, simulations, interop)"
# The Go/Rust partition scenario (tests/interop_partition.rs) needs network
# namespaces with a veth pair and tc, that is root. Where a probe shows this
# script can make them, the test must not skip.
netns_probe() {
  local ns="pgprobe$$" ok=0
  ip netns add "$ns" 2>/dev/null || return 1
  ip -n "$ns" link add pgp0 type veth peer name pgp1 2>/dev/null \
    && ip netns exec "$ns" tc qdisc add dev pgp0 root pfifo limit 0 2>/dev/null || ok=1
  ip netns del "$ns" 2>/dev/null || true
  return $ok
}
if [ "$(id -u)" -eq 0 ] && netns_probe; then
  export PROTOGOSSIP_REQUIRE_NETNS=1
else
  echo "note: no network namespaces here (not root, or no veth/tc): the partition scenario will be skipped"
fi
cargo test --all-features 2>&1 | tee "$log"

step "golden vectors replayed"
cargo test --all-features --test compat -- --nocapture 2>&1 | grep -E '^replayed [0-9]+ vector cases' \
  || { echo "the vector replay did not report its count" >&2; exit 1; }

step "fuzz targets (scripts/fuzz.sh: build, then each target 60 s, two at a time)"
scripts/fuzz.sh 60

step "Go: vet and tests (go-interop)"
(cd go-interop && go vet ./... && go test ./... 2>&1 | tee -a "$log")

step "Go: the interop application protos regenerate to the committed code"
# protoc-gen-go at the version go.mod pins, installed into a private bin dir.
pgg_version=$(cd go-interop && go list -m -f '{{.Version}}' google.golang.org/protobuf)
pgg_bin=${CARGO_TARGET_DIR:-$root/target}/go-bin/protoc-gen-go-$pgg_version
GOBIN=$pgg_bin go install "google.golang.org/protobuf/cmd/protoc-gen-go@$pgg_version" \
  || { echo "could not install protoc-gen-go $pgg_version" >&2; exit 1; }
# protoc-gen-go-grain from the protoactor-go version go.mod pins (the grain
# client and server of interop/grains.proto), into the same private bin dir.
pa_version=$(cd go-interop && go list -m -f '{{.Version}}' github.com/asynkron/protoactor-go)
GOBIN=$pgg_bin go install "github.com/asynkron/protoactor-go/protobuf/protoc-gen-go-grain@$pa_version" \
  || { echo "could not install protoc-gen-go-grain $pa_version" >&2; exit 1; }
PATH="$pgg_bin:$PATH" go-interop/proto/gen.sh --check

step "Go: golden vectors regenerate to the committed bytes"
if [ -x go-interop/regen-vectors.sh ]; then
  go-interop/regen-vectors.sh --check
else
  echo "go-interop/regen-vectors.sh missing" >&2
  exit 1
fi

step "cargo publish --dry-run (the package builds from what it ships)"
# Each excluded test target gets a "not included" warning: that is the
# include list working. Any other warning or an error fails the step.
dirty=()
[ -z "$(git status --porcelain 2>/dev/null)" ] || dirty=(--allow-dirty)
publish_log=$(mktemp)
if ! cargo publish --dry-run "${dirty[@]}" >"$publish_log" 2>&1; then
  cat "$publish_log" >&2; rm -f "$publish_log"; exit 1
fi
unexpected=$(grep -E '^(warning|error)' "$publish_log" \
  | grep -Ev '^warning: ignoring (test|bench|example) `[a-z0-9_]+` as `[^`]+` is not included in the published package$' \
  | grep -Fvx 'warning: aborting upload due to dry run' || true)
grep -E '^ *Packaged ' "$publish_log" || true
rm -f "$publish_log"
if [ -n "$unexpected" ]; then
  echo "cargo publish --dry-run: $unexpected" >&2
  exit 1
fi

# One closing line over all Rust test binaries.
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
printf '\nall checks done in %s\n' "$root"
printf 'tests: %s passed, %s failed\n' "$passed" "$failed"
