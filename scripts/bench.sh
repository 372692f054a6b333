#!/usr/bin/env bash
# `make bench`: the engine's speed and memory figures, on the release build, against the real
# services (run inside tests/env/session.sh: private keychain and notification daemon).
#
#  1. `tokenkeeper token NAME` with the daemon running and a fresh token, side by side with `cat` of
#     a file of the token's size and `secret-tool lookup` of a secret of that size in the same
#     keychain (hyperfine, whole-process medians);
#  2. `tokenkeeper refresh NAME` (through the daemon) against a single curl refresh POST to the same
#     local OAuth server (the curl side rotates its own grant through a tiny shell wrapper);
#  3. the daemon's idle RSS, private memory (RssAnon) and CPU over IDLE_SECS (default 60) with
#     INTEGRATIONS (default 100) integrations.
# Figures are printed and written to target/bench/engine.txt (+ hyperfine JSON beside it).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
[ -n "${TK_TEST_SESSION:-}" ] || exec dbus-run-session -- "$REPO/tests/env/session.sh" "$0" "$@"

TK=${TOKENKEEPER_BIN:-$REPO/target/release/tokenkeeper}
[ -x "$TK" ] || { echo "bench: build it first: cargo build --release -p tokenkeeper" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing (scripts/ensure-deps.sh)" >&2; exit 1; }
IDLE_SECS=${IDLE_SECS:-60}
INTEGRATIONS=${INTEGRATIONS:-100}
RUNS=${RUNS:-200}
OUT=$REPO/target/bench
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tk-bench.XXXXXX")
export XDG_CONFIG_HOME=$WORK/config XDG_STATE_HOME=$WORK/state XDG_RUNTIME_DIR=$WORK/run
export TOKENKEEPER_KEYCHAIN_SERVICE=tokenkeeper-bench-$$
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
report() { echo "$*" | tee -a "$OUT/engine.txt"; }
: >"$OUT/engine.txt"

# ---- the OAuth server: access tokens for an hour, so nothing renews during the measurements ----
(cd tests/fixtures/oidc-server && PORT=0 AT_TTL=3600 AUTO_LOGIN=alice exec node server.mjs) >"$WORK/oidc.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do PORT=$(sed -n 's/^LISTENING \([0-9]*\).*/\1/p' "$WORK/oidc.log"); [ -n "$PORT" ] && break; sleep 0.05; done
ISSUER=http://127.0.0.1:$PORT

sign_in() { # NAME: add + login through the loopback redirect, curl playing the browser
  printf 'test-secret\n' | "$TK" add "$1" --yes --provider oauth2 --issuer "$ISSUER" --client-id test-native \
    --client-secret-stdin --scope "openid offline_access email" >/dev/null
  coproc LOGIN { "$TK" login "$1" --no-browser 2>/dev/null; }
  local url; read -r url <&"${LOGIN[0]}"
  curl -sfL -o /dev/null -c "$WORK/jar" -b "$WORK/jar" "$url"
  wait "$LOGIN_PID"
}
sign_in bench
sign_in curlside

# ---- 1. token: daemon vs cat vs secret-tool ----
"$TK" daemon >"$WORK/daemon.log" 2>&1 &
DAEMON=$!; PIDS+=($DAEMON)
for _ in $(seq 200); do [ -S "$XDG_RUNTIME_DIR/tokenkeeper/tokenkeeper.sock" ] && break; sleep 0.05; done
TOKEN=$("$TK" token bench)
printf '%s\n' "$TOKEN" >"$WORK/token.txt"
printf '%s' "$TOKEN" | secret-tool store --label bench service tk-bench-$$ username same-size
report "== token: ${#TOKEN}-byte access token; $RUNS runs each (hyperfine -N, whole processes)"
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$OUT/token.json" --style basic \
  "$TK token bench" "cat $WORK/token.txt" "secret-tool lookup service tk-bench-$$ username same-size" >"$WORK/h1.txt"
python3 - "$OUT/token.json" <<'EOF' | tee -a "$OUT/engine.txt"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
med = {x["command"].split()[0].rsplit("/", 1)[-1]: x["median"] * 1000 for x in r}
for x in r:
    print(f"  {x['command'][:60]:60s} median {x['median']*1000:6.2f} ms  mean {x['mean']*1000:6.2f} ms")
t, c, s = med["tokenkeeper"], med["cat"], med["secret-tool"]
print(f"  token/cat = {t/c:.2f} (target <= 1.5)   token/secret-tool = {t/s:.2f} (target <= 0.5)")
EOF

# ---- 2. refresh: tokenkeeper refresh (via the daemon) vs one curl refresh POST ----
secret-tool lookup service "$TOKENKEEPER_KEYCHAIN_SERVICE" username curlside | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])' >"$WORK/rt"
"$TK" remove curlside >/dev/null # its grant now belongs to the curl side alone
cat >"$WORK/curl-refresh.sh" <<EOF
#!/bin/sh
rt=\$(cat $WORK/rt)
curl -sf -u test-native:test-secret -d grant_type=refresh_token --data-urlencode "refresh_token=\$rt" $ISSUER/token | sed -n 's/.*"refresh_token":"\([^"]*\)".*/\1/p' >$WORK/rt.new && mv $WORK/rt.new $WORK/rt
EOF
chmod +x "$WORK/curl-refresh.sh"
report "== refresh: 50 runs each"
hyperfine -N --warmup 3 --runs 50 --export-json "$OUT/refresh.json" --style basic \
  "$TK refresh bench" "$WORK/curl-refresh.sh" >"$WORK/h2.txt"
python3 - "$OUT/refresh.json" <<'EOF' | tee -a "$OUT/engine.txt"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
for x in r:
    print(f"  {x['command'][:60]:60s} median {x['median']*1000:6.2f} ms")
print(f"  refresh/curl = {r[0]['median']/r[1]['median']:.2f} (target <= 1.2)")
EOF
kill "$DAEMON"; wait "$DAEMON" 2>/dev/null || true

# ---- 3. idle daemon with many integrations ----
report "== idle daemon: $INTEGRATIONS integrations, ${IDLE_SECS}s"
for i in $(seq "$INTEGRATIONS"); do
  printf 'test-secret\n' | "$TK" add "idle-$i" --yes --provider oauth2 --authorize-url "$ISSUER/auth" --token-url "$ISSUER/token" \
    --client-id test-native --client-secret-stdin >/dev/null
  printf '{"access_token":"idle-at-%s","token_type":"bearer","expires_in":86400,"refresh_token":"idle-rt-%s"}' "$i" "$i" |
    "$TK" login "idle-$i" --from-response - >/dev/null 2>&1
done
"$TK" daemon >"$WORK/daemon-idle.log" 2>&1 &
DAEMON=$!; PIDS+=($DAEMON)
sleep 5
ticks() { awk '{print $14 + $15}' "/proc/$DAEMON/stat"; }
HZ=$(getconf CLK_TCK)
c0=$(ticks); t0=$(date +%s.%N)
sleep "$IDLE_SECS"
c1=$(ticks); t1=$(date +%s.%N)
grep -E '^(VmRSS|RssAnon|VmHWM|Threads)' "/proc/$DAEMON/status" | tr -s ' \t' ' ' | sed 's/^/  /' | tee -a "$OUT/engine.txt"
python3 -c "import sys; c=(int(sys.argv[2])-int(sys.argv[1]))/int(sys.argv[3]); w=float(sys.argv[5])-float(sys.argv[4]); print(f'  CPU over {w:.0f} s idle: {c:.2f} s = {100*c/w:.3f} %')" "$c0" "$c1" "$HZ" "$t0" "$t1" | tee -a "$OUT/engine.txt"
report "figures written to $OUT/engine.txt"
