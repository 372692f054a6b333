#!/usr/bin/env bash
# Scale benchmark: one release `tokenkeeper daemon` keeping n OAuth integrations alive against a
# fast local token endpoint, with the session's real keychain (run inside tests/env/session.sh).
#   SCALE_N=100,1000,10000  SCALE_LIFETIME_S=120  SCALE_WINDOW_S=130
#   SCALE_STORE=memory   the keeper in-process with the in-memory store (release build of the driver)
set -euo pipefail
cd "$(dirname "$0")/.."
export TOKENKEEPER_BIN="${TOKENKEEPER_BIN:-$PWD/target/release/tokenkeeper}"
if [[ "${SCALE_STORE:-}" == memory ]]; then
  # the keeper runs inside the driver, so the driver is what must be optimised
  cargo test --release -p tokenkeeper-tests --test scale_bench -- --nocapture --test-threads=1
else
  # the driver (token endpoint, seeding, sampling) need not be optimised; the daemon it measures is
  cargo test -p tokenkeeper-tests --test scale_bench -- --nocapture --test-threads=1
fi
