#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets, fuzz/corpus/<target>/, from the
# golden vectors protoactor-go wrote (compat-tests/vectors) plus a few hand
# seeds. Files are named by the SHA-1 of their content (as libFuzzer names
# them), so identical seeds collapse into one file and a second run changes
# nothing. The corpora are committed; run this again when the vectors change.
# Needs bash and coreutils only. FUZZ_CORPUS_OUT=DIR writes elsewhere
# (scripts/fuzz.sh does, to check the committed corpora are current).
set -euo pipefail
cd "$(dirname "$0")/.."
vectors=compat-tests/vectors
out=${FUZZ_CORPUS_OUT:-fuzz/corpus}

# seed TARGET: writes stdin as one seed of TARGET.
seed() {
  local tmp sum
  tmp=$(mktemp)
  cat >"$tmp"
  sum=$(sha1sum "$tmp" | cut -d' ' -f1)
  mkdir -p "$out/$1"
  mv "$tmp" "$out/$1/$sum"
  chmod 644 "$out/$1/$sum"
}

# bytes HEX...: writes the bytes spelled in hex ("0a 02 ff").
bytes() {
  local b
  for b in $*; do printf "\\x$b"; done
}

# varint N: protobuf's base-128 varint.
varint() {
  local n=$1
  while [ "$n" -ge 128 ]; do
    printf "\\x$(printf %02x $(((n & 127) | 128)))"
    n=$((n >> 7))
  done
  printf "\\x$(printf %02x "$n")"
}

# u16 N: two bytes, little endian.
u16() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $(($1 >> 8)))"; }

# field1 FILE: FILE's bytes as field 1 (length-delimited) of a message:
# GossipRequest.state / GossipResponse.state of a GossipState.
field1() { bytes 0a; varint "$(stat -c %s "$1")"; cat "$1"; }

rm -rf "$out"

# remote_message: RemoteMessage frames (handshakes, batches) as Go writes them.
for f in "$vectors"/remote/*.bin; do seed remote_message <"$f"; done
# A batch with one JSON envelope (serializer 1, body "{}") of a type nobody
# registered, for 127.0.0.1:8090/x: the router counts it as an unknown type.
# (The harness once expected "bad serializer" for every JSON envelope.)
{
  bytes 0a 2e                               # RemoteMessage.message_batch, 46 bytes
  bytes 0a 0b; printf 'myapp.Hello'         #   type_names[0]
  bytes 12 13 0a 0e; printf '127.0.0.1:8090'; bytes 12 01; printf 'x'
                                            #   targets[0] = PID{127.0.0.1:8090, x}
  bytes 1a 0a 08 00 12 02; printf '{}'; bytes 18 00 28 01
                                            #   envelope: type 0, body {}, target 0, serializer 1
} | seed remote_message

# gossip_values: GossipKeyValues as Go writes them, and bare values.
for f in "$vectors"/gossip_values/*.bin "$vectors"/cluster/*.bin \
         "$vectors"/gossip/member_state_*.bin; do
  seed gossip_values <"$f"
done

# gossip_core: config byte 0, then one raw request (op 0) or response (op 2)
# from member m1 (1), owners mapped onto the member pool (0x80), a tick
# (op 5, 1000 ms), and the same message again unmapped.
core_seed() { # OP FILE
  { bytes 00 "0$1" 81; u16 "$(stat -c %s "$2")"; cat "$2"
    bytes 05; u16 1000
    bytes "0$1" 01; u16 "$(stat -c %s "$2")"; cat "$2"; } | seed gossip_core
}
for f in "$vectors"/gossip/request_*.bin; do core_seed 0 "$f"; done
for f in "$vectors"/gossip/response_*.bin; do core_seed 2 "$f"; done
tmp=$(mktemp)
for f in "$vectors"/merge/*.remote.bin "$vectors"/gossip/state_*.bin; do
  field1 "$f" >"$tmp"
  core_seed 0 "$tmp"
done
rm -f "$tmp"
# A hand seed touching every op: a structured request from m2 with its
# heartbeat, a topology blocking m1 and us, and an entry under our id with
# sequence i64::MAX; our own write; a snapshot; ticks past the expiration; a
# response; a failed request; leave.
{
  bytes 00                                  # config: mixed, fraction, full
  bytes 05; u16 1000                        # tick
  bytes 01 02                               # structured request from m2
  bytes 02                                  #   2 owners
  bytes 02 02                               #   m2, 2 entries
  bytes 00 05 00 00 00 00 00 00 00 00 00    #     heartbeat seq 5, heartbeat, ts 0
  bytes 02 06 01 07 00 00 00 00 00 00 00 02 01 00 00 00 00 00 00 00 00 00
                                            #     topology seq 6, hash 7, blocked m1 + us, ts 0
  bytes 00 01                               #   us, 1 entry
  bytes 04 ff ff ff ff ff ff ff ff 7f 02 00 00 00 00 00 00 00 00
                                            #     app seq i64::MAX, Empty, ts 0
  bytes 06 04 03 00 02 0a 00                # set_state app = raw topology bytes 0a 00
  bytes 07 1e                               # snapshot: everyone
  bytes 05; u16 5000                        # tick past the 3 s expiration
  bytes 03 00 01 03 00                      # structured response to the first request: m3, empty
  bytes 04 00                               # a request failed
  bytes 08                                  # leave
  bytes 05; u16 300                         # tick
} | seed gossip_core

# automanaged_health: /_health bodies as Go's echo serves them, and Go's null.
for f in "$vectors"/automanaged/*.body; do seed automanaged_health <"$f"; done
printf 'null' | seed automanaged_health
printf '{"id":"a","address":"127.0.0.1","auto_manage_port":6330,"port":-1,"kinds":null,"cluster_name":"c"}' \
  | seed automanaged_health

# etcd_member_value: values as Go's etcd provider writes them (hand seeds;
# the vectors hold none).
printf '{"id":"c@a","name":"c@a","host":"127.0.0.1","address":"127.0.0.1","port":8090,"kinds":["k"],"alive":true}' \
  | seed etcd_member_value
printf '{"id":"c@b","host":"","address":"10.0.0.2","port":8090,"kinds":null,"alive":false}' \
  | seed etcd_member_value
printf '{"id":"c@c","port":4294967296}' | seed etcd_member_value

# config_toml: the CLI's config file, every key, and each provider.
cat <<'TOML' | seed config_toml
cluster = "c"
host = "127.0.0.1"
port = 8090
kinds = ["a", ""]
provider = "automanaged"
automanaged_port = 6330
automanaged_hosts = ["127.0.0.1:6330"]
automanaged_refresh_ms = 2000
http = "127.0.0.1:6331"
profile = "go-2024-08"
gossip_interval_ms = 300
heartbeat_expiration_ms = 20000
TOML
printf 'provider = "static"\nseeds = ["a@127.0.0.1:1", "b@[::1]:2"]\nhttp = "off"\n' | seed config_toml
printf 'provider = "etcd"\netcd_endpoints = ["127.0.0.1:2379"]\nprofile = "mixed"\n' | seed config_toml
printf 'gossip_interval_ms = 0\nheartbeat_expiration_ms = 18446744073709551615\n' | seed config_toml

for d in "$out"/*/; do
  printf '%-20s %3d seeds\n' "$(basename "$d")" "$(ls "$d" | wc -l)"
done
