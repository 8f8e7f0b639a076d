#!/usr/bin/env bash
# Regenerates compat-tests/vectors with protoactor-go's own code (cmd/vectors).
#   regen-vectors.sh          rewrite the vectors in the tree
#   regen-vectors.sh --check  rewrite them, then fail (exit 1) if anything in
#                             compat-tests/vectors differs from what is committed
set -euo pipefail
cd "$(dirname "$0")"
out=../compat-tests/vectors

check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

go run ./cmd/vectors -out "$out"

if [ "$check" = 1 ]; then
  status=$(git status --porcelain -- "$out")
  if [ -n "$status" ]; then
    echo "vectors changed on regeneration:" >&2
    echo "$status" >&2
    git --no-pager diff --stat -- "$out" >&2
    exit 1
  fi
  echo "vectors are up to date"
fi
