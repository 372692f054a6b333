#!/usr/bin/env bash
# Checks Cargo.lock against the RustSec advisory database, offline (`make audit`).
#
#   scripts/audit.sh ADVISORY_DB     # a copy of https://github.com/rustsec/advisory-db (a git clone or a plain copy)
#
# Installs cargo-audit (one exact version) into <target>/tools when it is missing. The database is
# copied into <target>/advisory-db and made a git repository there when it is a plain copy
# (cargo-audit opens the database as one); it is never fetched. Prints cargo-audit's report;
# exits non-zero when it finds a vulnerability (warnings, e.g. unmaintained crates, are shown but
# do not fail).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DB=${1:-}
[ -n "$DB" ] && [ -d "$DB/crates" ] ||
  { echo "audit: no advisory database${DB:+ at $DB}: make audit ADVISORY_DB=/path/to/advisory-db" >&2; exit 2; }

CARGO_AUDIT_VERSION=0.22.2
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
TOOLS=$TARGET/tools
if [ ! -x "$TOOLS/bin/cargo-audit" ] ||
  ! grep -qF "\"cargo-audit $CARGO_AUDIT_VERSION " "$TOOLS/.crates.toml" 2>/dev/null; then
  echo "audit: installing cargo-audit $CARGO_AUDIT_VERSION into $TOOLS (cargo install)" >&2
  cargo install cargo-audit --version "=$CARGO_AUDIT_VERSION" --locked --root "$TOOLS" --quiet --force
fi

COPY=$TARGET/advisory-db
if [ -d "$DB/.git" ]; then
  COPY=$DB
else
  # a fresh copy each time: the source may have been refreshed
  rm -rf "$COPY" && mkdir -p "$COPY" && cp -R "$DB"/. "$COPY"/
  git -C "$COPY" init -q
  git -C "$COPY" add -A
  git -C "$COPY" -c user.name=audit -c user.email=audit@localhost commit -qm "advisory database copy" --no-gpg-sign
fi
[ "$COPY" = "$DB" ] || echo "audit: advisory database $DB, copied to $COPY" >&2
exec "$TOOLS/bin/cargo-audit" audit --db "$COPY" --no-fetch --stale --file Cargo.lock
