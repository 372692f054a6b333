#!/usr/bin/env bash
# Renders Token Keeper's icons from the SVG sources in this folder (needs rsvg-convert, from
# Debian's librsvg2-bin). Run from anywhere; writes the PNGs into icons/.
#   tray-<state>.png       for light panels (dark key)
#   tray-<state>-dark.png  for dark panels (light key)
#   32x32.png 128x128.png 128x128@2x.png icon.png   the app icon for Tauri's bundler
set -euo pipefail
SRC=$(cd "$(dirname "$0")" && pwd)
OUT=$(dirname "$SRC")
command -v rsvg-convert >/dev/null || { echo "render.sh: rsvg-convert is missing (apt-get install librsvg2-bin)" >&2; exit 1; }

check='<path d="M38 46.5l5.5 5.5l10.5-11" fill="none" stroke="#ffffff" stroke-width="4.5" stroke-linecap="round" stroke-linejoin="round"/>'
bang='<path d="M46 36v12" stroke="#1f1f1f" stroke-width="5" stroke-linecap="round"/><circle cx="46" cy="55" r="3" fill="#1f1f1f"/>'
cross='<path d="M39.5 39.5l13 13M52.5 39.5l-13 13" stroke="#ffffff" stroke-width="4.5" stroke-linecap="round"/>'

for panel in light dark; do
  if [ $panel = light ]; then key='#2d2d2d'; outline='#2d2d2d'; ring='#ffffff'; suffix=''
  else key='#f2f2f2'; outline='#f2f2f2'; ring='#1f1f1f'; suffix='-dark'; fi
  for state in ok attention broken; do
    case $state in
      ok) badge='#1e8e3e'; mark=$check ;;
      attention) badge='#f4b400'; mark=$bang ;;
      broken) badge='#d93025'; mark=$cross ;;
    esac
    svg="$SRC/tray-$state$suffix.svg"
    sed -e "s|@STATE@|$state|; s|@PANEL@|$panel|; s|@KEY@|$key|; s|@OUTLINE@|$outline|" \
        -e "s|@BADGE@|$badge|; s|@RING@|$ring|" -e "s|@MARK@|$mark|" "$SRC/tray.svg.in" >"$svg"
    rsvg-convert -w 64 -h 64 "$svg" -o "$OUT/tray-$state$suffix.png"
  done
done

rsvg-convert -w 32 -h 32 "$SRC/app.svg" -o "$OUT/32x32.png"
rsvg-convert -w 128 -h 128 "$SRC/app.svg" -o "$OUT/128x128.png"
rsvg-convert -w 256 -h 256 "$SRC/app.svg" -o "$OUT/128x128@2x.png"
rsvg-convert -w 512 -h 512 "$SRC/app.svg" -o "$OUT/icon.png"
echo "render.sh: icons written to $OUT"
