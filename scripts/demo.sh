#!/usr/bin/env bash
# `make run`: Token Keeper keeping a real OAuth token alive, on this machine, in a minute.
#
# 1. starts the local OAuth / OpenID Connect server of the tests (tests/fixtures/oidc-server) with
#    access tokens that live 20 s and a user "alice" who signs in by herself;
# 2. creates the integration "demo" with the `tokenkeeper` CLI (target/debug/tokenkeeper), in a
#    sandbox under ./.demo/ (config, state, runtime dirs; keychain service "tokenkeeper-demo");
# 3. signs in (`tokenkeeper login demo --no-browser`; curl plays the browser);
# 4. runs the keeper in the foreground: the tray app (target/debug/token-keeper) on a desktop,
#    `tokenkeeper daemon` headless. Ctrl-C stops everything.
#
# Without a desktop session (no D-Bus session bus, or no Secret Service on it) it re-runs itself
# inside tests/env/session.sh: a private keychain and notification daemon, headless.
# DEMO_HEADLESS=1 forces that. Every run starts from scratch (./.demo/ is recreated).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

has_bus_name() { # owned or activatable on the session bus
  dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner "string:$1" \
    2>/dev/null | grep -q 'boolean true' && return 0
  dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ListActivatableNames \
    2>/dev/null | grep -q "\"$1\""
}
if [ -z "${TK_TEST_SESSION:-}" ]; then
  if [ "${DEMO_HEADLESS:-0}" = 1 ] || [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] || ! has_bus_name org.freedesktop.secrets; then
    echo "demo: no desktop session here: starting a private keychain and notification daemon (headless)"
    exec dbus-run-session -- "$REPO/tests/env/session.sh" "$REPO/scripts/demo.sh" "$@"
  fi
fi

TK=${TOKENKEEPER_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/debug/tokenkeeper}
[ -x "$TK" ] || { echo "demo: $TK is missing: run \`cargo build -p tokenkeeper\` (or \`make run\`)" >&2; exit 1; }
FIXTURE=$REPO/tests/fixtures/oidc-server
[ -d "$FIXTURE/node_modules/oidc-provider" ] || { echo "demo: run scripts/ensure-deps.sh first" >&2; exit 1; }

DEMO=$REPO/.demo
SERVICE=tokenkeeper-demo
demo_env() {
  export XDG_CONFIG_HOME=$DEMO/config XDG_STATE_HOME=$DEMO/state XDG_CACHE_HOME=$DEMO/cache \
    XDG_DATA_HOME=$DEMO/data XDG_RUNTIME_DIR=$RUNTIME TOKENKEEPER_KEYCHAIN_SERVICE=$SERVICE
  unset BROWSER
}

# ---- a fresh sandbox: forget the previous run (its keychain items too) ----
RUNTIME=$DEMO/run
if [ -d "$DEMO/config" ]; then
  (demo_env; "$TK" remove demo >/dev/null 2>&1) || true
fi
command -v secret-tool >/dev/null && secret-tool clear service "$SERVICE" 2>/dev/null || true
rm -rf "$DEMO"
mkdir -p "$DEMO"/{config,state,cache,data,run}
# a Unix socket path must stay under 108 bytes: use a short runtime dir when the repo is deep
if [ ${#RUNTIME} -gt 70 ]; then RUNTIME=$(mktemp -d "${TMPDIR:-/tmp}/tk-demo.XXXXXX"); fi
chmod 700 "$RUNTIME"

SERVER_PID=""
LOGIN_PID=""
DAEMON_PID=""
cleanup() {
  [ -z "$DAEMON_PID" ] || { kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null; } || true
  [ -z "$LOGIN_PID" ] || kill "$LOGIN_PID" 2>/dev/null || true
  [ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true
  [ -z "$SERVER_PID" ] || wait "$SERVER_PID" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. the OAuth server ----
(cd "$FIXTURE" && PORT=0 AT_TTL=20 RT_TTL=86400 RT_EXPIRES_IN=1 AUTO_LOGIN=alice exec node server.mjs) >"$DEMO/oauth-server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 300); do
  PORT=$(sed -n 's/^LISTENING \([0-9]*\).*/\1/p' "$DEMO/oauth-server.log" | head -n1)
  [ -n "$PORT" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.05
done
[ -n "$PORT" ] || { echo "demo: the OAuth server did not start:" >&2; cat "$DEMO/oauth-server.log" >&2; exit 1; }
ISSUER=http://127.0.0.1:$PORT

demo_env

# ---- 2. the integration ----
printf 'test-secret\n' | "$TK" add demo --yes --provider oauth2 --issuer "$ISSUER" --client-id test-native \
  --client-secret-stdin --scope "openid offline_access email"

# ---- 3. sign in: the CLI prints the address, curl is the browser, the fixture's alice consents ----
"$TK" login demo --no-browser >"$DEMO/login.out" 2>"$DEMO/login.err" &
LOGIN_PID=$!
URL=""
for _ in $(seq 300); do
  URL=$(grep -m1 -E '^https?://' "$DEMO/login.out" || true)
  [ -n "$URL" ] && break
  kill -0 "$LOGIN_PID" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$URL" ]; then
  echo "demo: \`tokenkeeper login demo --no-browser\` printed no address:" >&2
  cat "$DEMO/login.out" "$DEMO/login.err" >&2
  exit 1
fi
code=$(curl -sS -L --max-redirs 15 --max-time 30 -c "$DEMO/cookies" -b "$DEMO/cookies" -o /dev/null \
  -w '%{http_code}' "$URL") || true
rc=0
wait "$LOGIN_PID" || rc=$?
LOGIN_PID=""
rm -f "$DEMO/cookies"
if [ "$rc" -ne 0 ]; then
  echo "demo: sign-in failed (browser got HTTP ${code:-none}, login exited with $rc):" >&2
  cat "$DEMO/login.err" >&2
  exit 1
fi

# ---- 4. the keeper ----
q() { printf '%q' "$1"; }
cat <<EOF

  Token Keeper demo
  -----------------
  OAuth server   $ISSUER  (a real OpenID Connect provider, in memory; log: .demo/oauth-server.log)
  Integration    "demo": signed in as alice; its access token lives only 20 seconds.

  The keeper starts now. It renews the token in the background well before it expires (about every 10
  seconds here), without anyone asking for it: the lines "OAuth server: token renewed" below
  come from the server's log; the others are the keeper's own log.

  In another terminal, paste these lines to ask this keeper for the token like a script would:

    export XDG_CONFIG_HOME=$(q "$XDG_CONFIG_HOME") XDG_STATE_HOME=$(q "$XDG_STATE_HOME") XDG_CACHE_HOME=$(q "$XDG_CACHE_HOME") XDG_DATA_HOME=$(q "$XDG_DATA_HOME") XDG_RUNTIME_DIR=$(q "$XDG_RUNTIME_DIR") TOKENKEEPER_KEYCHAIN_SERVICE=$SERVICE DBUS_SESSION_BUS_ADDRESS=$(q "$DBUS_SESSION_BUS_ADDRESS")
    $(q "$TK") list
    $(q "$TK") token demo

  Ctrl-C stops the keeper and the OAuth server.

EOF
# show each renewal as the provider sees it (tail ends with the server)
tail --pid="$SERVER_PID" -n0 -F "$DEMO/oauth-server.log" 2>/dev/null | {
  n=0
  while IFS= read -r line; do
    case "$line" in
      *"grant.success grant_type=refresh_token"*)
        n=$((n + 1)); echo "$(date +%H:%M:%S)  OAuth server: token renewed (#$n): new access token and rotated refresh token";;
      *"grant.error grant_type=refresh_token"*)
        echo "$(date +%H:%M:%S)  OAuth server: a renewal was refused: ${line#*error=}";;
    esac
  done
} &
export RUST_LOG=${RUST_LOG:-info}
# On a desktop the keeper is the tray app (its icon, menu and window); headless, the daemon.
APP=${TOKENKEEPER_APP_BIN:-$(dirname "$TK")/token-keeper}
if [ -z "${TK_TEST_SESSION:-}" ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; } && [ -x "$APP" ]; then
  echo "  Starting the tray app: look for the Token Keeper icon in your panel."
  "$APP" &
else
  "$TK" daemon &
fi
DAEMON_PID=$!
# Ctrl-C reaches the daemon directly (same process group); a TERM for this script is passed on
trap 'kill -TERM "$DAEMON_PID" 2>/dev/null || true' INT TERM
rc=0
wait "$DAEMON_PID" || rc=$?
while kill -0 "$DAEMON_PID" 2>/dev/null; do rc=0; wait "$DAEMON_PID" || rc=$?; done
DAEMON_PID=""
exit "$rc"
