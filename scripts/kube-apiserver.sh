#!/usr/bin/env bash
# A real Kubernetes API server for the k8s provider's tests.
#
#   scripts/kube-apiserver.sh build        builds (or reuses) kube-apiserver; prints its path
#   scripts/kube-apiserver.sh start DIR    starts etcd + kube-apiserver on loopback, state in DIR,
#                                          writes DIR/kubeconfig; waits until /readyz answers
#   scripts/kube-apiserver.sh restart DIR  stops both and starts them again (same ports, same data)
#   scripts/kube-apiserver.sh stop DIR     stops both and removes DIR
#
# The binary is built from the `k8s.io/kubernetes` Go module served by the Go
# module proxy: a normal Go module build, nothing is downloaded from anywhere
# else. The module's go.mod replaces every `k8s.io/*` staging module with
# `./staging/src/...`, a directory the module zip leaves out, so the build
# runs in a throw-away main module that requires k8s.io/kubernetes and
# replaces each of those with the published `k8s.io/*` module of the same
# minor (v1.34.0 -> v0.34.0), with GOWORK=off. The binary is kept under the Go
# build cache, keyed by version, and reused.
#
# The server: Debian's etcd (`etcd`, Debian package etcd-server) on loopback,
# kube-apiserver on 127.0.0.1 with a static token file, AlwaysAllow
# authorization and a self-signed serving certificate it generates into
# --cert-dir. No controller manager, no scheduler, no kubelet: pods created
# through the API stay Pending unless a test sets their status.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.34.0}
staging_version=v0.${KUBE_VERSION#v1.}
cache_root=${KUBE_APISERVER_CACHE:-$(go env GOCACHE)/protogossip-kube-apiserver}
bin_dir=$cache_root/$KUBE_VERSION
bin=$bin_dir/kube-apiserver

log() { printf 'kube-apiserver.sh: %s\n' "$*" >&2; }

build() {
  if [ -x "$bin" ]; then
    echo "$bin"
    return
  fi
  command -v go >/dev/null || { log "go is needed to build kube-apiserver"; exit 1; }
  export GOWORK=off GOFLAGS=-mod=mod
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/kube-apiserver-build.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN
  log "building kube-apiserver $KUBE_VERSION in $work (first time only; minutes)"
  local start=$SECONDS
  (
    cd "$work"
    go mod init protogossip.test/kube-apiserver-build >/dev/null 2>&1
    # The module's own go.mod names the staging modules it replaces.
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" \
      | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
    [ -f "$gomod" ] || { log "could not download k8s.io/kubernetes@$KUBE_VERSION"; exit 1; }
    local goversion
    goversion=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")
    go mod edit -go="$goversion" -require="k8s.io/kubernetes@$KUBE_VERSION"
    grep -E '^[[:space:]]*k8s\.io/[^ ]+ => \./staging/' "$gomod" \
      | awk '{print $1}' | sort -u | while read -r m; do
        go mod edit -replace="$m=$m@$staging_version"
      done
    cat > main.go <<'EOF'
package main

import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"
EOF
    go mod tidy >/dev/null
    rm main.go
    mkdir -p "$bin_dir"
    local pkg=k8s.io/component-base/version
    local minor=${KUBE_VERSION#v1.}
    minor=${minor%%.*}
    go build -trimpath -o "$bin.tmp" -ldflags "-s -w \
      -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor \
      -X $pkg.gitTreeState=clean" k8s.io/kubernetes/cmd/kube-apiserver
    mv "$bin.tmp" "$bin"
  )
  log "built $bin in $((SECONDS - start)) s"
  echo "$bin"
}


free_port() {
  # A loopback port nobody listens on now, below the ephemeral range.
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

# Starts etcd and the API server with the ports and files already in DIR and
# waits until /readyz answers.
launch() {
  local dir=$1 apiserver
  apiserver=$(build)
  local etcd_port peer_port api_port
  read -r etcd_port peer_port api_port <"$dir/ports"
  etcd --name kube --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "kube=http://127.0.0.1:$peer_port" \
    >>"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  "$apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$api_port" --cert-dir "$dir/certs" \
    --token-auth-file "$dir/tokens.csv" \
    --authorization-mode AlwaysAllow \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$dir/sa.pub" \
    --service-account-signing-key-file "$dir/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --disable-admission-plugins ServiceAccount \
    >>"$dir/apiserver.log" 2>&1 &
  echo $! >"$dir/apiserver.pid"
  local token deadline=$((SECONDS + 120))
  token=$(cut -d, -f1 "$dir/tokens.csv")
  until curl -sfk -H "Authorization: Bearer $token" "https://127.0.0.1:$api_port/readyz" >/dev/null 2>&1; do
    local f
    for f in etcd apiserver; do
      if ! kill -0 "$(cat "$dir/$f.pid")" 2>/dev/null; then
        log "$f exited; its log ends:"
        tail -n 30 "$dir/$f.log" >&2
        halt "$dir"
        exit 1
      fi
    done
    if [ $SECONDS -ge $deadline ]; then
      log "kube-apiserver not ready after 120 s; its log ends:"
      tail -n 30 "$dir/apiserver.log" >&2
      halt "$dir"
      exit 1
    fi
    sleep 0.5
  done
  log "kube-apiserver ready on https://127.0.0.1:$api_port (kubeconfig $dir/kubeconfig)"
}

start() {
  local dir=${1:?usage: start DIR}
  build >/dev/null
  command -v etcd >/dev/null || { log "etcd is needed (Debian package etcd-server)"; exit 1; }
  command -v openssl >/dev/null || { log "openssl is needed"; exit 1; }
  command -v curl >/dev/null || { log "curl is needed"; exit 1; }
  mkdir -p "$dir/certs"
  local api_port token=protogossip-test-token
  echo "$(free_port) $(free_port) $(free_port)" >"$dir/ports"
  read -r _ _ api_port <"$dir/ports"
  echo "$token,admin,admin,system:masters" >"$dir/tokens.csv"
  # The service-account token issuer needs a key pair even with no
  # controller manager; a throw-away one.
  openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
  openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$api_port
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $token
contexts:
- name: local
  context:
    cluster: local
    user: admin
    namespace: default
current-context: local
EOF
  launch "$dir"
}

# Stops both processes, keeping DIR (etcd's data, certificates, ports).
halt() {
  local dir=$1 f
  for f in apiserver etcd; do
    if [ -f "$dir/$f.pid" ]; then
      local pid
      pid=$(cat "$dir/$f.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$f.pid"
    fi
  done
}

restart() {
  local dir=${1:?usage: restart DIR}
  halt "$dir"
  launch "$dir"
}

stop() {
  local dir=${1:?usage: stop DIR}
  halt "$dir"
  rm -rf "$dir"
}

case "${1:-}" in
  build) build ;;
  start) start "${2:-}" ;;
  restart) restart "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 build | start DIR | restart DIR | stop DIR" >&2; exit 2 ;;
esac
