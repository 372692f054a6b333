#!/bin/sh
# dunst's "dmenu": `dunstctl context` pipes the action menu here, one line per action, e.g.
#   #Sign in again (HighQ reporting stopped working) [3,signin]
# Print the line to choose: the first containing the contents of $PICK_ACTION_FILE when that file exists
# and is not empty (a test can change its choice while dunst runs), else $PICK_ACTION (default
# "Sign in again"). Printing nothing picks nothing.
want=${PICK_ACTION:-Sign in again}
if [ -n "${PICK_ACTION_FILE:-}" ] && [ -s "$PICK_ACTION_FILE" ]; then
  want=$(cat "$PICK_ACTION_FILE")
fi
grep -F -- "$want" | head -n1
