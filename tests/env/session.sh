#!/usr/bin/env bash
# Run a command inside a headless desktop session made of real services, on the current D-Bus session bus:
#   - a real, unlocked Secret Service (gnome-keyring-daemon, "login" collection), and
#   - a real notification daemon (dunst on a private Xvfb display) that logs every notification it shows.
#
# Usage: dbus-run-session -- tests/env/session.sh CMD [ARGS...]
#
# Exports to CMD:
#   HOME             a fresh temp dir (or $KEYRING_HOME when set: the login keyring then persists there)
#   XDG_RUNTIME_DIR  a fresh private dir (0700); XDG_{CONFIG,DATA,CACHE,STATE}_HOME under HOME
#   CARGO_HOME, RUSTUP_HOME, PYENV_ROOT, npm_config_cache   kept pointing at the caller's toolchains
#                    and caches despite the new HOME
#   DISPLAY          the Xvfb display dunst draws on
#   NOTIFY_LOG       JSON lines, one per notification shown (default $TK_SESSION_DIR/notifications.jsonl):
#                    {"id","app","summary","body","urgency"(LOW|NORMAL|CRITICAL),"category","stack_tag","icon","time_ms"}
#   PICK_ACTION_FILE write an action label here to choose which action `dunstctl context` invokes
#                    (else $PICK_ACTION, default "Sign in again"; see dunst/pick-action.sh)
#   TK_TEST_SESSION=1 and TK_SESSION_DIR (this session's scratch dir, removed on exit unless KEEP_SESSION=1)
# Other inputs: KEYRING_PASSWORD (default test-password), SESSION_TIMEOUT (seconds to wait for each
# daemon, default 15).
#
# Exit status: CMD's. 70 when a daemon does not come up (its log is printed). The daemons are stopped on
# exit; SIGINT/SIGTERM/SIGHUP are passed on to CMD as SIGTERM.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "session.sh: $*" >&2; exit 70; }

[ $# -gt 0 ] || { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] ||
  die "no D-Bus session bus; run me as: dbus-run-session -- $0 $*"
for tool in gnome-keyring-daemon dunst Xvfb dbus-send; do
  command -v "$tool" >/dev/null || die "$tool is not installed (run scripts/ensure-deps.sh)"
done

SESSION_TIMEOUT=${SESSION_TIMEOUT:-15}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tk-session.XXXXXX")
export TK_SESSION_DIR=$WORK TK_TEST_SESSION=1

PIDS=()     # daemons to stop on exit
CHILDREN=() # those of them that are our children (reaped with wait)
alive() { # a zombie counts as gone: the machine's init may be slow to reap orphans
  kill -0 "$1" 2>/dev/null || return 1
  [ -r "/proc/$1/status" ] || return 0
  ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${CHILDREN[@]}"; do wait "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do # the keyring daemon is not our child: poll it
    for _ in $(seq 40); do alive "$p" || break; sleep 0.05; done
    ! alive "$p" || kill -9 "$p" 2>/dev/null || true
  done
  if [ "${KEEP_SESSION:-0}" = 1 ]; then echo "session.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---- environment: keep the caller's toolchains reachable, then switch HOME ----
ORIG_HOME=${HOME:-}
if [ -n "$ORIG_HOME" ]; then
  [ -n "${CARGO_HOME:-}" ] || { [ ! -d "$ORIG_HOME/.cargo" ] || export CARGO_HOME=$ORIG_HOME/.cargo; }
  [ -n "${RUSTUP_HOME:-}" ] || { [ ! -d "$ORIG_HOME/.rustup" ] || export RUSTUP_HOME=$ORIG_HOME/.rustup; }
  [ -n "${PYENV_ROOT:-}" ] || { [ ! -d "$ORIG_HOME/.pyenv" ] || export PYENV_ROOT=$ORIG_HOME/.pyenv; }
  [ -n "${npm_config_cache:-}" ] || { [ ! -d "$ORIG_HOME/.npm" ] || export npm_config_cache=$ORIG_HOME/.npm; }
fi
if [ -n "${KEYRING_HOME:-}" ]; then mkdir -p "$KEYRING_HOME"; HOME=$(cd "$KEYRING_HOME" && pwd); else HOME=$WORK/home; fi
export HOME
mkdir -p "$HOME"
# never touch a real desktop's data: everything derives from the new HOME
export XDG_CONFIG_HOME=$HOME/.config XDG_DATA_HOME=$HOME/.local/share XDG_CACHE_HOME=$HOME/.cache \
  XDG_STATE_HOME=$HOME/.local/state
export XDG_RUNTIME_DIR=$WORK/run
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
unset GNOME_KEYRING_CONTROL SSH_AUTH_SOCK XAUTHORITY DISPLAY WAYLAND_DISPLAY

name_owner_pid() { # prints the PID owning bus name $1, or nothing
  dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus / \
    org.freedesktop.DBus.GetConnectionUnixProcessID "string:$1" 2>/dev/null | awk '{print $2}'
}
wait_for_name() { # $1 bus name, $2 log file to show on failure; prints the owner's PID
  local tries=$((SESSION_TIMEOUT * 20)) pid
  while :; do
    pid=$(name_owner_pid "$1")
    if [ -n "$pid" ]; then echo "$pid"; return 0; fi
    tries=$((tries - 1))
    if [ $tries -le 0 ]; then
      echo "session.sh: nobody owns $1 on the session bus after ${SESSION_TIMEOUT}s" >&2
      [ ! -s "$2" ] || { echo "--- $2:" >&2; tail -n 20 "$2" >&2; }
      return 1
    fi
    sleep 0.05
  done
}

# ---- Secret Service: gnome-keyring, unlocked ----
# --unlock reads the password on stdin: it creates the "login" collection in a fresh HOME, or unlocks it.
# Without it the daemon wants a GUI prompt and clients fail with "no storage access".
KEYRING_ENV=$(printf '%s' "${KEYRING_PASSWORD:-test-password}" |
  gnome-keyring-daemon --unlock --components=secrets 2>"$WORK/keyring.log") ||
  { cat "$WORK/keyring.log" >&2; die "gnome-keyring-daemon failed to start"; }
eval "$KEYRING_ENV"
export GNOME_KEYRING_CONTROL
# the daemon may not own its bus name yet when --unlock returns
KEYRING_PID=$(wait_for_name org.freedesktop.secrets "$WORK/keyring.log") || die "the Secret Service did not come up"
PIDS+=("$KEYRING_PID")

# ---- notifications: Xvfb + dunst ----
export NOTIFY_LOG=${NOTIFY_LOG:-$WORK/notifications.jsonl}
: >>"$NOTIFY_LOG"
export PICK_ACTION=${PICK_ACTION:-Sign in again} PICK_ACTION_FILE=${PICK_ACTION_FILE:-$WORK/pick-action}
sed "s#@DUNST_DIR@#$HERE/dunst#g" "$HERE/dunst/dunstrc.in" >"$WORK/dunstrc"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$WORK/display" >"$WORK/xvfb.log" 2>&1 &
PIDS+=($!) CHILDREN+=($!)
tries=$((SESSION_TIMEOUT * 50))
until [ -s "$WORK/display" ]; do
  kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$WORK/xvfb.log" >&2; die "Xvfb exited"; }
  tries=$((tries - 1))
  [ $tries -gt 0 ] || { cat "$WORK/xvfb.log" >&2; die "Xvfb did not report its display"; }
  sleep 0.02
done
export DISPLAY=":$(tr -d '[:space:]' <"$WORK/display")"
dunst -config "$WORK/dunstrc" >"$WORK/dunst.log" 2>&1 &
DUNST_PID=$!
PIDS+=("$DUNST_PID") CHILDREN+=("$DUNST_PID")
OWNER=$(wait_for_name org.freedesktop.Notifications "$WORK/dunst.log") || die "the notification daemon did not come up"
[ "$OWNER" = "$DUNST_PID" ] || die "org.freedesktop.Notifications is owned by PID $OWNER, not by our dunst ($DUNST_PID)"

# ---- run CMD; pass termination signals on; keep its exit status ----
exec 3<&0 # an asynchronous command would otherwise get /dev/null as stdin
"$@" 0<&3 3<&- &
CHILD=$!
exec 3<&-
forward() { kill -TERM "$CHILD" 2>/dev/null || true; }
trap forward INT TERM HUP
rc=0
wait "$CHILD" || rc=$?
# wait returns early (status > 128) when a trapped signal arrives: wait again until CMD is really gone
while kill -0 "$CHILD" 2>/dev/null; do rc=0; wait "$CHILD" || rc=$?; done
exit "$rc"
