#!/bin/sh
# Stands in for the keeper's web browser in the headless tray tests: the app opens the sign-in
# address with the system's opener (xdg-open, which runs $BROWSER when no desktop is detected), and
# this "browser" follows the redirects with a cookie jar, as a person's browser would. The local
# OAuth server's AUTO_LOGIN user signs in and consents by itself, so the last redirect lands on the
# app's loopback listener and the sign-in completes.
# TRAY_BROWSER_LOG, when set, gets one line per address opened (for the test to check).
set -u
jar=$(mktemp "${TMPDIR:-/tmp}/tk-browser.XXXXXX")
[ -z "${TRAY_BROWSER_LOG:-}" ] || echo "$1" >>"$TRAY_BROWSER_LOG"
curl -sS -L --max-redirs 20 --max-time 60 -c "$jar" -b "$jar" -o /dev/null "$1"
rc=$?
rm -f "$jar"
exit $rc
