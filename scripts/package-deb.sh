#!/usr/bin/env bash
# Builds the Debian package of Token Keeper: the tray app, the `tokenkeeper` command and what a
# Debian user expects around them (manual pages, shell completions, desktop entry, AppStream
# metainfo, the profile file's MIME type, a systemd user unit, copyright and changelog).
#
#   scripts/package-deb.sh            # release build, then <target>/package/token-keeper_VERSION_ARCH.deb
#   PACKAGE_NO_BUILD=1 scripts/...    # package the release binaries already built
#
# Prints the path of the .deb as its last line. `make package` runs it; `make package-test`
# installs the result and checks it (scripts/package-test.sh).
#
# Why not the Tauri bundler's deb (`tauri build --bundles deb`): it names the desktop file and
# the doc directory after the product name ("Token Keeper.desktop", "/usr/share/doc/Token
# Keeper/"), writes no copyright file, computes no library dependencies and cannot compress man
# pages, so lintian rejects its package. The app is still built by the Tauri CLI (it embeds the
# front end); the package is assembled here from packaging/linux/ and built by dpkg-deb, with
# its dependencies from dpkg-shlibdeps: Debian's own tools.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGET=${CARGO_TARGET_DIR:-$PWD/target}
case $TARGET in /*) ;; *) TARGET=$PWD/$TARGET ;; esac
RELEASE=$TARGET/release
LINUX=packaging/linux
APP_ID=org.tokenkeeper.app
PACKAGE=token-keeper

say() { echo "package-deb: $*" >&2; }
die() { echo "package-deb: $*" >&2; exit 1; }

VERSION=$(cargo metadata --no-deps --format-version 1 | jq -r '.packages[] | select(.name == "tokenkeeper") | .version')
[ -n "$VERSION" ] || die "cannot read the version from Cargo.toml"
grep -q "^$PACKAGE ($VERSION)" "$LINUX/changelog" ||
  die "$LINUX/changelog has no entry for $VERSION: add one (newest first)"
ARCH=$(dpkg --print-architecture)

if [ "${PACKAGE_NO_BUILD:-0}" != 1 ]; then
  # one package at a time: built together, cargo would unify their features (the command would
  # link the app's GUI libraries)
  cargo build --release -p tokenkeeper
  # the Tauri CLI builds the app for release with its front end embedded (ui/dist); no bundle
  ui/node_modules/.bin/tauri build --no-bundle
fi
for bin in tokenkeeper tokenkeeper-full token-keeper; do
  [ -x "$RELEASE/$bin" ] || die "$RELEASE/$bin is missing (run without PACKAGE_NO_BUILD=1)"
done

OUT=$TARGET/package
ROOT=$OUT/root
rm -rf "$ROOT"
umask 022
mkdir -p "$ROOT/DEBIAN"

# ---- the programs ----
install -Dm755 "$RELEASE/tokenkeeper" "$ROOT/usr/bin/tokenkeeper"
# the front door (`tokenkeeper`, which answers `token` itself) hands every other command to this
install -Dm755 "$RELEASE/tokenkeeper-full" "$ROOT/usr/lib/tokenkeeper/tokenkeeper"
install -Dm755 "$RELEASE/token-keeper" "$ROOT/usr/bin/token-keeper"
CLI=$ROOT/usr/bin/tokenkeeper

# ---- manual pages: the command's, from the same definitions as --help; the app's, by hand ----
MAN=$ROOT/usr/share/man/man1
mkdir -p "$MAN"
"$CLI" man | gzip -9n >"$MAN/tokenkeeper.1.gz"
# every command the main page refers to (tokenkeeper-login(1), ...) has its own page
for command in $("$CLI" man | grep -o 'tokenkeeper\\-[a-z]*(1)' | sed 's/^tokenkeeper\\-//; s/(1)$//' | sort -u); do
  [ "$command" = help ] && continue
  "$CLI" man "$command" | gzip -9n >"$MAN/tokenkeeper-$command.1.gz"
done
gzip -9nc "$LINUX/token-keeper.1" >"$MAN/token-keeper.1.gz"

# ---- shell completions, where bash-completion, zsh and fish look for a package's own ----
install -d "$ROOT/usr/share/bash-completion/completions" "$ROOT/usr/share/zsh/vendor-completions" \
  "$ROOT/usr/share/fish/vendor_completions.d"
"$CLI" completions bash >"$ROOT/usr/share/bash-completion/completions/tokenkeeper"
"$CLI" completions zsh >"$ROOT/usr/share/zsh/vendor-completions/_tokenkeeper"
"$CLI" completions fish >"$ROOT/usr/share/fish/vendor_completions.d/tokenkeeper.fish"

# ---- desktop: entry, icons, software-centre metadata, the profile file's type ----
install -Dm644 "$LINUX/$APP_ID.desktop" "$ROOT/usr/share/applications/$APP_ID.desktop"
install -Dm644 "$LINUX/$APP_ID.metainfo.xml" "$ROOT/usr/share/metainfo/$APP_ID.metainfo.xml"
install -Dm644 "$LINUX/$APP_ID.mime.xml" "$ROOT/usr/share/mime/packages/$APP_ID.xml"
for icon in 32x32:32x32.png 128x128:128x128.png 256x256:128x128@2x.png 512x512:icon.png; do
  install -Dm644 "icons/${icon#*:}" "$ROOT/usr/share/icons/hicolor/${icon%%:*}/apps/$APP_ID.png"
done

# ---- the headless keeper as a systemd user service (not enabled: see the unit) ----
install -Dm644 "$LINUX/tokenkeeper.service" "$ROOT/usr/lib/systemd/user/tokenkeeper.service"

# ---- documentation ----
DOC=$ROOT/usr/share/doc/$PACKAGE
install -Dm644 "$LINUX/copyright" "$DOC/copyright"
gzip -9nc "$LINUX/changelog" >"$DOC/changelog.gz"

# ---- control: library dependencies from the binaries themselves ----
SHLIBS=$OUT/shlibs
rm -rf "$SHLIBS" && mkdir -p "$SHLIBS/debian"
# dpkg-shlibdeps reads the package list from a debian/control; this minimal one is enough
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$PACKAGE" "$PACKAGE" >"$SHLIBS/debian/control"
DEPENDS=$(cd "$SHLIBS" && dpkg-shlibdeps -O "$ROOT/usr/bin/tokenkeeper" "$ROOT/usr/lib/tokenkeeper/tokenkeeper" "$ROOT/usr/bin/token-keeper" |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$DEPENDS" ] || die "dpkg-shlibdeps found no dependencies"
# loaded at run time (dlopen), so invisible to dpkg-shlibdeps: the tray icon needs one of them
DEPENDS="$DEPENDS, libayatana-appindicator3-1 | libappindicator3-1"
INSTALLED_SIZE=$(du -sk --apparent-size "$ROOT/usr" | cut -f1)

cat >"$ROOT/DEBIAN/control" <<EOF
Package: $PACKAGE
Version: $VERSION
Architecture: $ARCH
Maintainer: Token Keeper developers <maintainers@tokenkeeper.org>
Installed-Size: $INSTALLED_SIZE
Depends: $DEPENDS
Recommends: gnome-keyring
Suggests: dbus-user-session
Section: utils
Priority: optional
Homepage: https://tokenkeeper.org/
Description: keeps the sign-ins of your integrations working
 Reports, sync jobs and spreadsheets that fetch data from services such as
 HighQ, Jira, GitHub, Google or Microsoft 365 stop working when their sign-in
 runs out. Token Keeper renews those sign-ins (OAuth tokens) in the background,
 checks saved API tokens, and tells you in plain words, from the system tray,
 when only you can help.
 .
 The package holds the tray app (token-keeper) and the tokenkeeper command,
 which hands valid tokens to scripts and runs the same keeper headless on a
 server (a systemd user unit is included, not enabled).
EOF
(cd "$ROOT" && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$ROOT/DEBIAN/control" "$ROOT/DEBIAN/md5sums"

DEB=$OUT/${PACKAGE}_${VERSION}_${ARCH}.deb
rm -f "$DEB"
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$DEB" >&2
say "built $(du -h "$DEB" | cut -f1) package"
echo "$DEB"
