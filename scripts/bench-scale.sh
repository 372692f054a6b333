#!/usr/bin/env bash
# Scale benchmark: one release `tokenkeeper daemon` keeping n OAuth integrations alive against a
# fast local token endpoint, with the session's real keychain (run inside tests/env/session.sh).
#   SCALE_N=100,1000,10000  SCALE_LIFETIME_S=120  SCALE_WINDOW_S=130
#   SCALE_STORE=memory   the keeper in-process with the in-memory store (release build of the driver)
#   SCALE_STORE=openbao  shared integrations on a three-node OpenBao Raft cluster, two daemons
#                        (SCALE_N=1000,10000 by default; SCALE_IDLE_N=1000 SCALE_IDLE_S=60 the idle
#                        cost; tests/tests/shared_scale_bench.rs)
set -euo pipefail
cd "$(dirname "$0")/.."
export TOKENKEEPER_BIN="${TOKENKEEPER_BIN:-$PWD/target/release/tokenkeeper}"
if [[ "${SCALE_STORE:-}" == openbao ]]; then
  # `bao` from scripts/ensure-openbao.sh, run by the Makefile outside the session (inside it, HOME
  # is a temporary directory: the cache, and the link to it, would vanish with the session)
  cargo test -p tokenkeeper-tests --test shared_scale_bench -- --nocapture --test-threads=1
elif [[ "${SCALE_STORE:-}" == memory ]]; then
  # the keeper runs inside the driver, so the driver is what must be optimised
  cargo test --release -p tokenkeeper-tests --test scale_bench -- --nocapture --test-threads=1
else
  # the driver (token endpoint, seeding, sampling) need not be optimised; the daemon it measures is
  cargo test -p tokenkeeper-tests --test scale_bench -- --nocapture --test-threads=1
fi
