#!/usr/bin/env bash
# Why this exists: on Lambda the import's JSON crosses the function's network link to SQS, and
# at ~5x the CSV's size that link, not the parser, can set the pace. This benchmark (not a test)
# measures delivery under a model: the import pinned to one CPU (`taskset -c 0`, as Lambda gives
# at 1769 MB) sends to a local SQS stand-in (test-support's `sqs-stand-in`, on CPU 1) that answers
# SendMessageBatch after a fixed latency per request plus the request's bytes over one shared
# link. The model is a model, not a measurement of AWS: LATENCY_MS (default 20) and LINK_MB_S
# (default 80) are its parameters. The stand-in keeps no messages; it counts requests, bytes and
# events, and checks that every body decodes.
#
# For each file (SIZES, default "50MB 200MB" reference-layout CSVs) it reports the null sink's
# wall time on the same CPU (best of RUNS, default 3), then for each ENCODINGS (default
# "json gzip", ENVELOPE_ENCODING) and SEND_CONCURRENCY in CONCURRENCY (default "1 4 16"): the
# end-to-end wall time and its ratio to the null sink's, CPU time, bytes on the wire (request
# bodies) per event, requests, and peak RSS. Results go to .local/bench/delivery.json.
# SKIP_BUILD=1 uses what target/profiling/ has.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN STATE_BUCKET 2>/dev/null || true

SIZES="${SIZES:-50MB 200MB}"
ENCODINGS="${ENCODINGS:-json gzip}"
CONCURRENCY="${CONCURRENCY:-1 4 16}"
RUNS="${RUNS:-3}"
LATENCY_MS="${LATENCY_MS:-20}"
LINK_MB_S="${LINK_MB_S:-80}"
DIR="$ROOT/.local/bench"
RUN_DIR="$DIR/delivery"
mkdir -p "$RUN_DIR"
log() { echo "[bench-delivery] $*" >&2; }

if [[ -z "${SKIP_BUILD:-}" ]]; then
    log "cargo build --profile profiling (import, generator, stand-in)"
    cargo build --profile profiling -q -p import-tracking-events --bins --examples
    cargo build --profile profiling -q -p test-support --bin sqs-stand-in
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/profiling"

# The same deterministic files as scripts/bench.sh.
# shellcheck source=scripts/bench-files.sh
source scripts/bench-files.sh
gen() { gen_reference_file "$BIN/examples/gen_reference" "$DIR" "$1" "$2"; }

SERVER_PID=""
stop_stand_in() {
    [[ -z "$SERVER_PID" ]] || { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; } || true
    SERVER_PID=""
}
trap stop_stand_in EXIT

# start_stand_in: a fresh stand-in (fresh counts, idle link) on CPU 1; sets STAND_IN_URL.
start_stand_in() {
    stop_stand_in
    coproc STAND_IN { exec taskset -c 1 "$BIN/sqs-stand-in" "$LATENCY_MS" "$LINK_MB_S"; }
    SERVER_PID=$STAND_IN_PID
    local line
    read -r line <&"${STAND_IN[0]}"
    STAND_IN_URL=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["listening"])' "$line")
}

# run TAG EVENT SINK: the import on CPU 0 under /usr/bin/time; summary to TAG.json.
run() {
    local tag="$1" event="$2" sink="$3"
    if ! taskset -c 0 /usr/bin/time -f '{"wall_s": %e, "user_s": %U, "sys_s": %S, "max_rss_kib": %M}' \
        -o "$RUN_DIR/$tag.time" "$BIN/tracking-import" --event "$event" --sink "$sink" \
        >"$RUN_DIR/$tag.json" 2>"$RUN_DIR/$tag.err"; then
        log "$tag failed:"; tail -n 5 "$RUN_DIR/$tag.err" >&2; exit 1
    fi
}

for size in $SIZES; do
    gen "ref-$size.csv" "$size"
    event="$RUN_DIR/event-$size.json"
    printf '{"transaction_id":"bench","metadata":{"source":"%s","profile":"reference"}}' \
        "$DIR/ref-$size.csv" >"$event"
    for encoding in $ENCODINGS; do
        for i in $(seq 1 "$RUNS"); do
            log "$size $encoding null sink, run $i/$RUNS"
            ENVELOPE_ENCODING=$encoding run "null-$size-$encoding-$i" "$event" null
        done
        for concurrency in $CONCURRENCY; do
            start_stand_in
            log "$size $encoding SEND_CONCURRENCY=$concurrency against $STAND_IN_URL"
            QUEUE_URL="$STAND_IN_URL/000000000000/bench" AWS_ENDPOINT_URL="$STAND_IN_URL" \
                SEND_CONCURRENCY=$concurrency ENVELOPE_ENCODING=$encoding \
                run "sqs-$size-$encoding-$concurrency" "$event" sqs
            curl -s --max-time 600 -X POST -H 'x-amz-target: Counts' "$STAND_IN_URL/" \
                >"$RUN_DIR/sqs-$size-$encoding-$concurrency.counts"
            stop_stand_in
        done
    done
done

python3 - "$RUN_DIR" "$SIZES" "$ENCODINGS" "$CONCURRENCY" "$RUNS" "$LATENCY_MS" "$LINK_MB_S" <<'PY'
import json, os, sys
d, sizes, encodings, concurrency, runs, latency, link = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4].split(), int(sys.argv[5]), sys.argv[6], sys.argv[7]
load = lambda name: json.load(open(os.path.join(d, name)))
def summary(tag):
    s = load(tag + ".json")
    return s["files"][0] if len(s.get("files", [])) == 1 else s
results = {"model": {"latency_ms": float(latency), "link_mb_per_s": float(link)}, "rows": []}
print(f"model: {latency} ms per request, one {link} MB/s link; import on CPU 0, stand-in on CPU 1")
print(f"{'file':>6} {'encoding':>8} {'sink':>9} {'wall s':>7} {'vs null':>7} {'cpu s':>6} {'wire MB':>8} {'B/event':>7} {'requests':>8} {'RSS MiB':>7}")
best_null = lambda size, enc: min((load(f"null-{size}-{enc}-{i}.time") for i in range(1, runs + 1)), key=lambda t: t["wall_s"])
for size in sizes:
    # The json null sink is today's baseline; without a json run, each encoding's own.
    null_json = best_null(size, "json") if "json" in encodings else None
    for enc in encodings:
        null = best_null(size, enc)
        s = summary(f"null-{size}-{enc}-1")
        print(f"{size:>6} {enc:>8} {'null':>9} {null['wall_s']:>7.2f} {'1.00':>7} {null['user_s'] + null['sys_s']:>6.2f} {'':>8} {'':>7} {'':>8} {null['max_rss_kib'] / 1024:>7.1f}")
        results["rows"].append({"file": size, "encoding": enc, "sink": "null", **null, "events": s["events_emitted"]})
        for c in concurrency:
            t = load(f"sqs-{size}-{enc}-{c}.time")
            counts = load(f"sqs-{size}-{enc}-{c}.counts")
            s = summary(f"sqs-{size}-{enc}-{c}")
            assert counts["bad_bodies"] == 0, counts
            assert counts["events"] == s["events_emitted"], (counts, s["events_emitted"])
            per_event = counts["request_bytes"] / max(counts["events"], 1)
            row = {"file": size, "encoding": enc, "sink": f"sqs c={c}", **t, **counts,
                   "ratio_to_null": t["wall_s"] / null["wall_s"], "ratio_to_null_json": t["wall_s"] / (null_json or null)["wall_s"],
                   "bytes_per_event": per_event}
            results["rows"].append(row)
            print(f"{size:>6} {enc:>8} {'sqs c=' + c:>9} {t['wall_s']:>7.2f} {row['ratio_to_null']:>7.2f} {t['user_s'] + t['sys_s']:>6.2f} {counts['request_bytes'] / 1e6:>8.1f} {per_event:>7.0f} {counts['requests']:>8} {t['max_rss_kib'] / 1024:>7.1f}")
json.dump(results, open(os.path.join(d, "..", "delivery.json"), "w"), indent=2)
PY
