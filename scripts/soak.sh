#!/usr/bin/env bash
# The mixed-cluster soak (issue 6 h): 3 Go harness + 3 `protogossip node`
# processes under random graceful/kill -9 restarts, checking reconvergence,
# clean exits, no panics and bounded memory. Not part of CI (the test is
# #[ignore]d). Usage: scripts/soak.sh [SECONDS] (default 600);
# PROTOGOSSIP_SOAK_SEED=<n> repeats a run's choices. See docs/interop.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PROTOGOSSIP_SOAK_SECS="${1:-${PROTOGOSSIP_SOAK_SECS:-600}}"
exec cargo test --test interop_soak -- --ignored --nocapture
