#!/usr/bin/env bash
# Installs the real Debian package and checks it as a Debian desktop and a Debian server would,
# then removes it and checks nothing is left (`make package-test`, after `make package`).
#
#   scripts/package-test.sh [PATH.deb]    # default: the newest <target>/package/token-keeper_*.deb
#
# Installs with apt on this machine (root, or sudo): run it on a CI machine or a throw-away
# container, not beside a Token Keeper you use (it refuses when token-keeper is installed).
# Installs the checkers it needs first: lintian, appstream, desktop-file-utils, man-db,
# shared-mime-info, systemd (for systemd-analyze).
#
# Checks, each printed as "ok - ..." (or "not ok - ..." and exit 1 at the end):
#   lintian: no errors (warnings are printed, and each must be in packaging/linux/lintian-expected);
#   every file the package promises is installed; `man -w` finds the pages; bash completes
#   `tokenkeeper st` to `status` from the installed completion; appstreamcli and
#   desktop-file-validate accept the metainfo and the desktop entry; the MIME and desktop
#   databases learnt the profile file type; `systemd-analyze --user verify` accepts the unit;
#   the installed daemon answers on its socket and exits 0 at SIGTERM (the unit's stop);
#   the installed tray app's "Start at login" entry starts /usr/bin/token-keeper;
#   after `apt-get purge`, no file of the package is left.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGET=${CARGO_TARGET_DIR:-$PWD/target}
case $TARGET in /*) ;; *) TARGET=$PWD/$TARGET ;; esac
DEB=${1:-$(ls -t "$TARGET"/package/token-keeper_*.deb 2>/dev/null | head -n1)}
[ -n "$DEB" ] && [ -f "$DEB" ] || { echo "package-test: no package: run \`make package\` first" >&2; exit 2; }
DEB=$(cd "$(dirname "$DEB")" && pwd)/$(basename "$DEB")
PACKAGE=token-keeper
APP_ID=org.tokenkeeper.app

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)
FAILED=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILED=$((FAILED + 1)); }
check() { # check DESCRIPTION COMMAND...: runs it quietly, shows its output when it fails
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$what"; else not_ok "$what"; printf '%s\n' "$out" | sed 's/^/    /'; fi
}

if dpkg -s "$PACKAGE" >/dev/null 2>&1; then
  echo "package-test: $PACKAGE is installed on this machine; remove it first (this test installs and purges it)" >&2
  exit 2
fi

# ---- the checkers ----
NEED=()
for tool in lintian:lintian appstreamcli:appstream desktop-file-validate:desktop-file-utils man:man-db \
  update-mime-database:shared-mime-info systemd-analyze:systemd; do
  command -v "${tool%%:*}" >/dev/null || NEED+=("${tool#*:}")
done
if [ ${#NEED[@]} -gt 0 ]; then
  echo "package-test: installing ${NEED[*]} (apt)"
  "${SUDO[@]}" apt-get update -qq >/dev/null &&
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${NEED[@]}" >/dev/null ||
    { echo "package-test: could not install ${NEED[*]}" >&2; exit 1; }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tk-package-test.XXXXXX")
DAEMON_PID=
cleanup() {
  [ -z "$DAEMON_PID" ] || kill "$DAEMON_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- lintian, on the .deb itself ----
lintian --tag-display-limit 0 --display-level '>=warning' "$DEB" >"$WORK/lintian.txt" 2>&1
if grep -q '^E: ' "$WORK/lintian.txt"; then
  not_ok "lintian: errors"; sed 's/^/    /' "$WORK/lintian.txt"
else
  ok "lintian: no errors"
fi
UNEXPECTED=$(grep '^W: ' "$WORK/lintian.txt" | sed 's/^W: [^ ]*: //' | while read -r tag rest; do
  grep -qx "$tag" <(grep -v '^#' packaging/linux/lintian-expected | awk '{print $1}') || echo "$tag $rest"
done)
if [ -n "$UNEXPECTED" ]; then
  not_ok "lintian: warnings not explained in packaging/linux/lintian-expected"; printf '%s\n' "$UNEXPECTED" | sed 's/^/    /'
else
  ok "lintian: warnings are the expected ones ($(grep -c '^W: ' "$WORK/lintian.txt") lines)"
fi
sed 's/^/    lintian: /' "$WORK/lintian.txt"

# ---- install with apt, as a user would ----
if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$DEB" \
  >"$WORK/install.txt" 2>&1; then
  not_ok "apt-get install $DEB"; sed 's/^/    /' "$WORK/install.txt"; exit 1
fi
ok "apt-get install $(basename "$DEB")"
mapfile -t FILES < <(dpkg -L "$PACKAGE" | while read -r f; do [ -d "$f" ] || echo "$f"; done)

# ---- every promised file ----
for f in /usr/bin/tokenkeeper /usr/lib/tokenkeeper/tokenkeeper /usr/bin/token-keeper \
  /usr/share/man/man1/tokenkeeper.1.gz /usr/share/man/man1/tokenkeeper-login.1.gz /usr/share/man/man1/token-keeper.1.gz \
  /usr/share/bash-completion/completions/tokenkeeper /usr/share/zsh/vendor-completions/_tokenkeeper \
  /usr/share/fish/vendor_completions.d/tokenkeeper.fish \
  /usr/share/applications/$APP_ID.desktop /usr/share/metainfo/$APP_ID.metainfo.xml \
  /usr/share/mime/packages/$APP_ID.xml /usr/share/icons/hicolor/128x128/apps/$APP_ID.png \
  /usr/lib/systemd/user/tokenkeeper.service \
  /usr/share/doc/$PACKAGE/copyright /usr/share/doc/$PACKAGE/changelog.gz; do
  check "installed: $f" test -s "$f"
done
check "no other desktop entry (one app, one entry)" \
  test "$(printf '%s\n' "${FILES[@]}" | grep -c '^/usr/share/applications/')" = 1
check "tokenkeeper runs from the PATH" env -i PATH=/usr/bin:/bin tokenkeeper --version

# ---- manual pages ----
check "man -w tokenkeeper" test "$(man -w tokenkeeper)" = /usr/share/man/man1/tokenkeeper.1.gz
check "man -w tokenkeeper-exec" test "$(man -w tokenkeeper-exec)" = /usr/share/man/man1/tokenkeeper-exec.1.gz
check "man -w token-keeper" test "$(man -w token-keeper)" = /usr/share/man/man1/token-keeper.1.gz
check "the manual page renders without warnings" \
  bash -c '! man --warnings -l -Tutf8 /usr/share/man/man1/tokenkeeper.1.gz 2>&1 >/dev/null | grep .'

# ---- completion: bash, from the installed script, as bash-completion loads it ----
COMPLETED=$(bash -c '
  source /usr/share/bash-completion/completions/tokenkeeper || exit 1
  fn=$(complete -p tokenkeeper | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
  COMP_WORDS=(tokenkeeper st); COMP_CWORD=1; COMP_LINE="tokenkeeper st"; COMP_POINT=${#COMP_LINE}
  "$fn" tokenkeeper st tokenkeeper
  printf "%s\n" "${COMPREPLY[@]}"' 2>&1)
check "bash completes \`tokenkeeper st\` to status (got: $(echo $COMPLETED))" test "$COMPLETED" = status
check "zsh completion defines _tokenkeeper" grep -q '^#compdef tokenkeeper' /usr/share/zsh/vendor-completions/_tokenkeeper
check "fish completion knows status" grep -q "'status'\|-a \"status\"\|status" /usr/share/fish/vendor_completions.d/tokenkeeper.fish

# ---- desktop and software centre ----
check "appstreamcli validate" appstreamcli validate --no-net --pedantic /usr/share/metainfo/$APP_ID.metainfo.xml
check "desktop-file-validate" desktop-file-validate /usr/share/applications/$APP_ID.desktop
mkdir -p "$WORK/tree" && dpkg-deb -x "$DEB" "$WORK/tree"
check "appstreamcli validate-tree (metainfo, desktop entry and icon belong together)" \
  appstreamcli validate-tree --no-net "$WORK/tree"
check "the MIME database knows *.tokenkeeper" grep -q ':application/x-tokenkeeper-profile:\*\.tokenkeeper' /usr/share/mime/globs2
check "the desktop database opens profile files with Token Keeper" \
  grep -q "^application/x-tokenkeeper-profile=.*$APP_ID.desktop" /usr/share/applications/mimeinfo.cache

# ---- the systemd user unit ----
# systemd-analyze --user needs a runtime directory even to verify a file; no user manager is needed
RUN=$WORK/run && mkdir -m 700 "$RUN"
VERIFY=$(XDG_RUNTIME_DIR=$RUN systemd-analyze --user verify /usr/lib/systemd/user/tokenkeeper.service 2>&1)
rc=$?
check "systemd-analyze --user verify tokenkeeper.service (rc $rc, no complaint)" test "$rc" = 0 -a -z "$VERIFY"
[ -z "$VERIFY" ] || printf '%s\n' "$VERIFY" | sed 's/^/    /'
EXEC=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/user/tokenkeeper.service)
check "the unit starts the installed command ($EXEC)" test "$EXEC" = "/usr/bin/tokenkeeper daemon"

# The unit's command, run as the unit runs it, in a session with a real keyring: it answers on its
# socket, and SIGTERM (what `systemctl --user stop` sends) ends it with exit 0.
if [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  /usr/bin/tokenkeeper daemon >"$WORK/daemon.log" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 150); do [ -S "$XDG_RUNTIME_DIR/tokenkeeper/tokenkeeper.sock" ] && break; sleep 0.1; done
  check "the installed daemon answers \`tokenkeeper list\`" /usr/bin/tokenkeeper list
  kill -TERM "$DAEMON_PID"
  for _ in $(seq 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$DAEMON_PID" 2>/dev/null; then
    not_ok "the daemon stops within 10 s of SIGTERM"
  else
    wait "$DAEMON_PID"
    check "the daemon exits 0 at SIGTERM" test $? = 0
  fi
  DAEMON_PID=
  check "the daemon said why it stopped" grep -q 'SIGTERM: stopping' "$WORK/daemon.log"
  # Start at login, clicked in the installed app's real tray menu: the entry starts /usr/bin/token-keeper
  if TRAY_APP_BIN=/usr/bin/token-keeper TOKENKEEPER_BIN=/usr/bin/tokenkeeper \
    cargo test -q -p tokenkeeper-tests --test tray_autostart >"$WORK/autostart.txt" 2>&1; then
    ok "Start at login in the installed app writes an entry that starts /usr/bin/token-keeper"
  else
    not_ok "Start at login in the installed app"; tail -n 30 "$WORK/autostart.txt" | sed 's/^/    /'
  fi
else
  not_ok "the daemon and Start at login need a desktop session: run me under tests/env/session.sh (make package-test does)"
fi

# ---- remove: nothing of the package is left ----
if "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "$PACKAGE" >"$WORK/purge.txt" 2>&1; then
  ok "apt-get purge $PACKAGE"
else
  not_ok "apt-get purge $PACKAGE"; sed 's/^/    /' "$WORK/purge.txt"
fi
LEFT=$(for f in "${FILES[@]}"; do [ ! -e "$f" ] || echo "$f"; done)
check "no file of the package is left${LEFT:+: $LEFT}" test -z "$LEFT"
check "dpkg no longer knows it" bash -c "! dpkg -s $PACKAGE >/dev/null 2>&1"
check "the MIME database forgot *.tokenkeeper" bash -c '! grep -q tokenkeeper /usr/share/mime/globs2'

if [ "$FAILED" -gt 0 ]; then
  echo "package-test: $FAILED check(s) failed"
  exit 1
fi
echo "package-test: all checks passed"
