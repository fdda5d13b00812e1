#!/usr/bin/env bash
# A real run of the whole product: the SendGrid stand-in, two `newsletter scheduler`
# processes firing every minute (NEWSLETTER_SCHEDULE='* * * * *') on one database, and a
# list of active subscribers. Passes when one issue reaches every active subscriber exactly
# once within two minutes. Usage: benchmarks/two_schedulers.sh [SUBSCRIBERS] [DATABASE_URL]
set -euo pipefail
cd "$(dirname "$0")/.."
make -s install
BIN=.venv/bin
count=${1:-500}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true' EXIT

export NEWSLETTER_DATABASE_URL=${2:-sqlite:///$work/run.db}
export NEWSLETTER_CONTENT_DIR=$work/content
export NEWSLETTER_SCHEDULE='* * * * *'
export NEWSLETTER_AUTO_SEND=true
export NEWSLETTER_BACKEND=sendgrid
export SENDGRID_API_KEY=run-key
export NEWSLETTER_SENDGRID_HOST=http://127.0.0.1:3031
export NEWSLETTER_SECRET_KEY=two-schedulers-run
export NEWSLETTER_BATCH_SIZE=50
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

# Content published today, so the current week has something to pick.
mkdir -p "$NEWSLETTER_CONTENT_DIR/comparisons"
cp content/reviewers.yaml "$NEWSLETTER_CONTENT_DIR/"
source=content/comparisons/code-llama-4-vs-mistral-large-3.yaml
sed "s/^published: .*/published: $(date -u +%F)/" "$source" \
  > "$NEWSLETTER_CONTENT_DIR/comparisons/$(basename "$source")"

"$BIN/newsletter" db upgrade >/dev/null
"$BIN/python" - "$count" <<'PY'
import sys
from sqlmodel import insert
from newsletter.core.database import get_engine, session_scope
from subscribers.models import Subscriber
rows = [{"email": f"run{i:06d}@example.com", "status": "active"} for i in range(int(sys.argv[1]))]
rows += [{"email": "left@example.com", "status": "unsubscribed"}]
with session_scope(get_engine()) as session:
    session.exec(insert(Subscriber), params=rows)
PY

"$BIN/newsletter" dev sendgrid --port 3031 --key run-key >"$work/standin.log" 2>&1 &
sleep 1
"$BIN/newsletter" scheduler >"$work/scheduler-1.log" 2>&1 & first=$!
"$BIN/newsletter" scheduler >"$work/scheduler-2.log" 2>&1 & second=$!
started=$(date +%s)

while :; do
  status=$("$BIN/python" -c "
from sqlmodel import select
from newsletter.core.database import get_engine, session_scope
from newsletter.publishing.models import Issue
with session_scope(get_engine()) as s:
    print(' '.join(i.status for i in s.exec(select(Issue))) or 'none')")
  elapsed=$(( $(date +%s) - started ))
  if [ "$status" = sent ]; then break; fi
  for pid in $first $second; do
    kill -0 "$pid" 2>/dev/null || { echo "FAIL: a scheduler exited:"; cat "$work"/scheduler-*.log; exit 1; }
  done
  if [ "$elapsed" -gt 120 ]; then echo "FAIL: no sent issue after ${elapsed}s (status: $status)"; exit 1; fi
  sleep 2
done

"$BIN/python" - "$count" <<'PY'
import json, sys, urllib.request
accepted = json.load(urllib.request.urlopen("http://127.0.0.1:3031/_standin/accepted"))
got = accepted["recipients"]
expected = {f"run{i:06d}@example.com" for i in range(int(sys.argv[1]))}
assert len(got) == len(set(got)), f"{len(got) - len(set(got))} duplicate deliveries"
assert set(got) == expected, f"missing {len(expected - set(got))}, unexpected {len(set(got) - expected)}"
print(f"OK: {len(got)} subscribers got the issue exactly once")
PY
echo "sent within $(( $(date +%s) - started ))s; scheduler logs:"
grep -h -E "built|taken|sending|accepted" "$work"/scheduler-*.log || true
