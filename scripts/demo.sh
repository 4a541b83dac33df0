#!/usr/bin/env bash
# Why this exists: the README's demo command. It shows the whole path end to end without AWS:
# a local moto server stands in for S3 and SQS, the sample carrier file is dropped into
# s3://carrier-drop/outbound/, the import runs once (`tracking-import --sink sqs`), and the first
# SQS message is read back so you can see the envelope the consumers receive.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

SAMPLE="events/sample-reference.csv"
EVENT="events/import-s3.json"
for f in "$SAMPLE" "$EVENT"; do
    [[ -f "$f" ]] || { echo "[demo] missing $f" >&2; exit 1; }
done

# shellcheck source=scripts/local-stack.sh
source scripts/local-stack.sh
stack_up # stops moto again on exit

PY="$MOTO_PYTHON"
TOOL="scripts/localstack_tool.py"

echo "== seeding s3://carrier-drop/outbound/sample-reference.csv"
"$PY" "$TOOL" seed --bucket carrier-drop --key outbound/sample-reference.csv --file "$SAMPLE"

echo "== creating queue tracking-events"
QUEUE_URL=$("$PY" "$TOOL" mkqueue tracking-events)
export QUEUE_URL
echo "$QUEUE_URL"

echo "== tracking-import --event $EVENT --sink sqs"
SUMMARY=$(cargo run --release -q -p import-tracking-events --bin tracking-import -- \
    --event "$EVENT" --sink sqs)
echo "$SUMMARY" | "$PY" -m json.tool

echo "== first message on the queue (envelope head)"
FIRST=$("$PY" "$TOOL" receive --queue-url "$QUEUE_URL" --max 1)
if [[ -z "$FIRST" ]]; then
    echo "[demo] the queue is empty" >&2
    exit 1
fi
printf '%s\n' "$FIRST" | "$PY" -c '
import json, sys
m = json.loads(sys.stdin.readline())
if not isinstance(m, dict):
    sys.exit(f"[demo] message body is not a JSON object: {str(m)[:200]}")
head = {k: m.get(k) for k in ("schema", "import_id", "chunk", "first_record", "last_record")}
events = m.get("events")
if not isinstance(events, list):  # fall back to the first list-valued field
    events = next((v for v in m.values() if isinstance(v, list)), [])
head["events"] = len(events)
print(json.dumps(head, indent=2))
print("first event:")
print(json.dumps(events[0] if events else None, indent=2))
'
