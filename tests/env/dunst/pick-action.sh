#!/bin/sh
# dunst's "dmenu": `dunstctl context` pipes the action menu here, one line per action, e.g.
#   #Sign in again (HighQ reporting stopped working) [3,signin]
# Print the line to choose: the first containing the contents of $PICK_ACTION_FILE when that file exists
# and is not empty (a test can change its choice while dunst runs), else $PICK_ACTION (default
# "Sign in again"). Printing nothing picks nothing. Every menu is also written to
# $PICK_ACTION_FILE.menu (replaced each time), so a test can read which actions a notification offers.
want=${PICK_ACTION:-Sign in again}
if [ -n "${PICK_ACTION_FILE:-}" ] && [ -s "$PICK_ACTION_FILE" ]; then
  want=$(cat "$PICK_ACTION_FILE")
fi
menu=$(cat)
if [ -n "${PICK_ACTION_FILE:-}" ]; then
  # whole or not at all: dunst runs this script in the background, a test waits for the file
  printf '%s\n' "$menu" >"$PICK_ACTION_FILE.menu.tmp" && mv "$PICK_ACTION_FILE.menu.tmp" "$PICK_ACTION_FILE.menu"
fi
printf '%s\n' "$menu" | grep -F -- "$want" | head -n1
