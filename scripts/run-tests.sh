#!/usr/bin/env bash
# Runs the whole test suite once and judges it (make test runs this inside tests/env/session.sh).
#   scripts/run-tests.sh [ARGS for the test binaries...]   e.g. scripts/run-tests.sh harness_
# Output is shown and kept in $TEST_LOG (default <target dir>/test-logs/run-tests.log).
# Fails when cargo fails, when any "test result: FAILED" appears, or when no test ran at all.
# Last line, always: "tests: N passed, N failed" (summed over every "test result:" line).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGET_DIR=${CARGO_TARGET_DIR:-target}
LOG=${TEST_LOG:-$TARGET_DIR/test-logs/run-tests.log}
mkdir -p "$(dirname "$LOG")"

# The engine's locked-keychain test locks this session's throwaway keyring and unlocks it again
# with its password (session.sh's KEYRING_PASSWORD).
export TOKENKEEPER_TEST_KEYRING_PASSWORD=${TOKENKEEPER_TEST_KEYRING_PASSWORD:-${KEYRING_PASSWORD:-test-password}}

cargo test --workspace --no-fail-fast -- --test-threads=2 "$@" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}

# "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.31s"
read -r passed failed results < <(sed 's/\x1b\[[0-9;]*m//g' "$LOG" | awk '
  /test result:/ {
    n++
    for (i = 1; i <= NF; i++) {
      if ($(i) ~ /^passed;?$/) p += $(i - 1)
      if ($(i) ~ /^failed;?$/) f += $(i - 1)
    }
  }
  END { printf "%d %d %d\n", p, f, n }')

status=0
if [ "$rc" -ne 0 ]; then echo "run-tests: cargo test exited with $rc" >&2; status=1; fi
if grep -q 'test result: FAILED' "$LOG"; then echo "run-tests: some tests failed (see $LOG)" >&2; status=1; fi
if [ $((passed + failed)) -eq 0 ]; then echo "run-tests: no test ran ($results result lines)" >&2; status=1; fi
echo "tests: $passed passed, $failed failed"
exit "$status"
