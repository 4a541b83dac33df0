#!/usr/bin/env bash
# Why this exists: peak memory of a real SQS import must not grow with the file. This runs
# `tracking-import --sink sqs` against moto on 127.0.0.1 for a 5 MB and a 50 MB reference file and
# reports peak RSS of each. A benchmark, not a test (moto is slow as a queue fills: never read its
# throughput as SQS's). It builds the `profiling` profile (release code plus line tables, the same
# binaries scripts/bench.sh measures; SKIP_BUILD=1 uses what target/profiling/ has).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

[[ -n "${SKIP_BUILD:-}" ]] || cargo build --profile profiling -q -p import-tracking-events --bins --examples
BIN_DIR="${CARGO_TARGET_DIR:-target}/profiling"
# shellcheck source=scripts/local-stack.sh
source scripts/local-stack.sh
stack_up

DIR=.local/bench
mkdir -p "$DIR"
TOOL=scripts/localstack_tool.py
SIZES=("$@"); [[ ${#SIZES[@]} -gt 0 ]] || SIZES=(5MB 50MB)
for size in "${SIZES[@]}"; do
    file="$DIR/sqs-ref-$size.csv"
    [[ -f "$file" ]] || "$BIN_DIR/examples/gen_reference" --bytes "$size" --out "$file" >/dev/null
    "$MOTO_PYTHON" "$TOOL" seed --bucket bench-drop --key "ref-$size.csv" --file "$file" >/dev/null
    QUEUE_URL=$("$MOTO_PYTHON" "$TOOL" mkqueue "bench-$size")
    export QUEUE_URL
    printf '{"transaction_id":"bench","metadata":{"source":"s3://bench-drop/ref-%s.csv","profile":"reference"}}' \
        "$size" > "$DIR/sqs-event-$size.json"
    /usr/bin/time -f "%M" -o "$DIR/sqs-rss-$size.txt" \
        "$BIN_DIR/tracking-import" --event "$DIR/sqs-event-$size.json" --sink sqs > "$DIR/sqs-summary-$size.json"
    python3 - "$size" "$DIR/sqs-summary-$size.json" "$DIR/sqs-rss-$size.txt" <<'PY'
import json, sys
size, summary, rss = sys.argv[1], json.load(open(sys.argv[2])), int(open(sys.argv[3]).read().split()[-1])
print(f"{size:>5}: peak RSS {rss/1024:.1f} MiB, {summary['records_read']} records, "
      f"{summary['messages_sent']} messages, {summary['batch_requests']} batch requests, {summary['elapsed_ms']} ms")
PY
done
