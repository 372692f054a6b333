#!/bin/sh
# dunst runs this for every notification it shows (rule [log_everything] in dunstrc.in), with the details in
# DUNST_* environment variables. Appends one JSON object per line to $NOTIFY_LOG:
#   {"id":"3","app":"tokenkeeper","summary":"...","body":"...","urgency":"CRITICAL","category":"",
#    "stack_tag":"","icon":"","time_ms":1700000000123}
# urgency is LOW, NORMAL or CRITICAL. Properly escaped (jq, or python3 when jq is missing).
LOG=${NOTIFY_LOG:-/tmp/notifications.jsonl}
if command -v jq >/dev/null 2>&1; then
  jq -nc \
    --arg id "${DUNST_ID:-}" --arg app "${DUNST_APP_NAME:-$1}" --arg summary "${DUNST_SUMMARY:-$2}" \
    --arg body "${DUNST_BODY:-$3}" --arg urgency "${DUNST_URGENCY:-$5}" --arg category "${DUNST_CATEGORY:-}" \
    --arg stack_tag "${DUNST_STACK_TAG:-}" --arg icon "${DUNST_ICON_PATH:-$4}" \
    --argjson time_ms "$(date +%s%3N)" \
    '{id:$id, app:$app, summary:$summary, body:$body, urgency:$urgency, category:$category,
      stack_tag:$stack_tag, icon:$icon, time_ms:$time_ms}' >> "$LOG"
else
  /usr/bin/env python3 -c '
import json, os, sys, time
e = os.environ.get
a = sys.argv[1:] + [""] * 5
rec = {"id": e("DUNST_ID", ""), "app": e("DUNST_APP_NAME") or a[0], "summary": e("DUNST_SUMMARY") or a[1],
       "body": e("DUNST_BODY") or a[2], "urgency": e("DUNST_URGENCY") or a[4], "category": e("DUNST_CATEGORY", ""),
       "stack_tag": e("DUNST_STACK_TAG", ""), "icon": e("DUNST_ICON_PATH") or a[3], "time_ms": int(time.time() * 1000)}
with open(os.environ.get("NOTIFY_LOG", "/tmp/notifications.jsonl"), "a") as f:
    f.write(json.dumps(rec) + "\n")
' "$@"
fi
