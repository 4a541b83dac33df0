#!/usr/bin/env bash
# Why this exists: the import's performance claims need numbers from one run on one machine,
# measured the same way every time. This is a benchmark, not a test: it builds the `profiling`
# profile (the release build's code, plus line tables and symbols so that `perf record` on the
# same binaries shows source lines; Cargo.toml), generates deterministic reference-layout files
# under .local/bench, and measures
#   (1) the csv-crate ceiling (examples/csv_ceiling) on 200 MB, best of 3;
#   (2) `tracking-import --sink null` on the same file, best of 3, under /usr/bin/time -v;
#       throughput ratio (2)/(1) (target >= 0.25) and batch packing: batch_requests against
#       ceil(message_bytes / MAX_BATCH_BYTES) (target within 10 %);
#   (3) peak RSS of the null sink on 50 MB and 1 GB (memory must stay flat as input grows).
# Prints a table and writes .local/bench/results.json. Knobs: BENCH_SKIP_1GB=1,
# MAX_BATCH_BYTES (default 1048576), BENCH_RUNS (default 3), BENCH_ENFORCE=1 (exit 3 if a target
# is missed), BENCH_IMPORT_BIN (another tracking-import binary to measure).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
# The null sink must not need AWS; make sure nothing could reach it anyway.
unset AWS_ENDPOINT_URL AWS_PROFILE AWS_SESSION_TOKEN 2>/dev/null || true

BENCH_DIR="$ROOT/.local/bench"
RUNS="${BENCH_RUNS:-3}"
export MAX_BATCH_BYTES="${MAX_BATCH_BYTES:-1048576}"
mkdir -p "$BENCH_DIR/runs"

log() { echo "[bench] $*" >&2; }

if [[ ! -x /usr/bin/time ]]; then
    log "/usr/bin/time missing; installing Debian package 'time'"
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq time >/dev/null
fi

log "cargo build --profile profiling --examples --bins -p import-tracking-events"
cargo build --profile profiling --examples --bins -p import-tracking-events

BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/profiling"
GEN="$BIN_DIR/examples/gen_reference"
CEILING="$BIN_DIR/examples/csv_ceiling"
# BENCH_IMPORT_BIN: measure another build of the binary (e.g. a copy from an older commit).
IMPORT="${BENCH_IMPORT_BIN:-$BIN_DIR/tracking-import}"

# gen NAME SIZE: .local/bench/NAME, the deterministic reference file (scripts/bench-files.sh).
# shellcheck source=scripts/bench-files.sh
source scripts/bench-files.sh
gen() { gen_reference_file "$GEN" "$BENCH_DIR" "$1" "$2"; }

# event_file CSV: write the invocation event pointing at CSV, print its path.
event_file() {
    local csv="$BENCH_DIR/$1" ev="$BENCH_DIR/$2"
    python3 -c 'import json,sys; json.dump({"transaction_id":"bench","metadata":{"source":sys.argv[1],"profile":"reference"}}, open(sys.argv[2],"w"))' "$csv" "$ev"
    echo "$ev"
}

gen ref-50MB.csv 50MB
gen ref-200MB.csv 200MB
if [[ "${BENCH_SKIP_1GB:-0}" != "1" ]]; then
    gen ref-1GB.csv 1GB
fi
EV_50=$(event_file ref-50MB.csv event-50MB.json)
EV_200=$(event_file ref-200MB.csv event-200MB.json)
EV_1G=""
if [[ "${BENCH_SKIP_1GB:-0}" != "1" ]]; then
    EV_1G=$(event_file ref-1GB.csv event-1GB.json)
fi

# (1) ceiling
for i in $(seq 1 "$RUNS"); do
    log "csv_ceiling ref-200MB.csv run $i/$RUNS"
    "$CEILING" "$BENCH_DIR/ref-200MB.csv" >"$BENCH_DIR/runs/ceiling-$i.json"
done

# run_import TAG EVENT: tracking-import --sink null under /usr/bin/time -v. The summary JSON
# (stdout) goes to runs/TAG.json, time's report to runs/TAG.time, stderr to runs/TAG.err.
run_import() {
    local tag="$1" ev="$2" rc=0
    /usr/bin/time -v -o "$BENCH_DIR/runs/$tag.time" \
        "$IMPORT" --event "$ev" --sink null \
        >"$BENCH_DIR/runs/$tag.json" 2>"$BENCH_DIR/runs/$tag.err" || rc=$?
    if [[ $rc -ne 0 ]]; then
        log "tracking-import ($tag) exited with $rc; stderr tail:"
        tail -n 20 "$BENCH_DIR/runs/$tag.err" >&2 || true
        tail -n 5 "$BENCH_DIR/runs/$tag.time" >&2 || true
        exit 1
    fi
}

# (2) the import, null sink
for i in $(seq 1 "$RUNS"); do
    log "tracking-import --sink null ref-200MB.csv run $i/$RUNS"
    run_import "import-200MB-$i" "$EV_200"
done

# (3) memory flatness
log "tracking-import --sink null ref-50MB.csv (peak RSS)"
run_import import-50MB "$EV_50"
if [[ -n "$EV_1G" ]]; then
    log "tracking-import --sink null ref-1GB.csv (peak RSS)"
    run_import import-1GB "$EV_1G"
fi

rc=0
python3 - "$BENCH_DIR" "$RUNS" "$MAX_BATCH_BYTES" "${BENCH_SKIP_1GB:-0}" "${BENCH_ENFORCE:-0}" <<'PY' || rc=$?
import json, math, os, platform, re, sys, time

bench_dir, runs, max_batch, skip_1g, enforce = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5] == "1"
rdir = os.path.join(bench_dir, "runs")
MB = 1e6

def load_json(path):
    with open(path) as f:
        text = f.read()
    try:
        return json.loads(text)
    except ValueError as e:
        sys.exit(f"bench: {path} is not one JSON object ({e}); content head: {text[:300]!r}")

def parse_time_v(path):
    """GNU time -v report -> (max RSS KiB, wall seconds)."""
    rss = wall = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("Maximum resident set size (kbytes):"):
                rss = int(line.rsplit(":", 1)[1])
            elif line.startswith("Elapsed (wall clock) time"):
                v = line.rsplit(": ", 1)[1]  # [h:]mm:ss.ss
                secs = 0.0
                for part in v.split(":"):
                    secs = secs * 60 + float(part)
                wall = secs
    if rss is None or wall is None:
        sys.exit(f"bench: could not parse /usr/bin/time -v output in {path}")
    return rss, wall

REQUIRED = ["import_id", "source", "bytes_read", "records_read", "events_emitted",
            "records_rejected", "messages_sent", "batch_requests", "elapsed_ms", "message_bytes"]

def load_import(tag):
    s = load_json(os.path.join(rdir, tag + ".json"))
    if not isinstance(s, dict):
        sys.exit(f"bench: {tag}.json: summary is not a JSON object")
    # A run summary lists each file's own; the benchmark imports one file.
    if isinstance(s.get("files"), list) and len(s["files"]) == 1:
        s = s["files"][0]
    missing = [k for k in REQUIRED if k not in s]
    if missing:
        sys.exit(f"bench: {tag}.json: summary lacks keys {missing}")
    rss, wall = parse_time_v(os.path.join(rdir, tag + ".time"))
    s["_max_rss_kib"], s["_wall_s"] = rss, wall
    s["_mb_per_s"] = s["bytes_read"] / MB / (s["elapsed_ms"] / 1e3) if s["elapsed_ms"] > 0 else float("inf")
    return s

ceilings = [load_json(os.path.join(rdir, f"ceiling-{i}.json")) for i in range(1, runs + 1)]
ceiling = min(ceilings, key=lambda c: c["elapsed_ms"])
imports = [load_import(f"import-200MB-{i}") for i in range(1, runs + 1)]
best = min(imports, key=lambda s: s["elapsed_ms"])
ratio = best["_mb_per_s"] / ceiling["mb_per_s"]
ideal_batches = math.ceil(best["message_bytes"] / max_batch) if best["message_bytes"] > 0 else 0
batch_excess = (best["batch_requests"] - ideal_batches) / ideal_batches if ideal_batches else float("inf")
imp50 = load_import("import-50MB")
imp1g = None if skip_1g else load_import("import-1GB")

checks = {
    "throughput_ratio_ge_0_25": ratio >= 0.25,
    "batch_requests_within_10pct": ideal_batches > 0 and abs(batch_excess) <= 0.10,
    "records_match_ceiling": best["records_read"] == ceiling["records"],
    "bytes_match_file": best["bytes_read"] == ceiling["bytes"],
}
rss_ratio = None
if imp1g is not None:
    rss_ratio = imp1g["_max_rss_kib"] / imp50["_max_rss_kib"]
    # Flat: 20x the input may cost at most 25 % (or 16 MiB, whichever is more) extra peak memory.
    rss_growth_kib = imp1g["_max_rss_kib"] - imp50["_max_rss_kib"]
    checks["rss_flat_1GB_vs_50MB"] = rss_growth_kib <= max(0.25 * imp50["_max_rss_kib"], 16 * 1024)

def strip(s):
    return {k: v for k, v in s.items() if not k.startswith("_")} | {
        "mb_per_s": round(s["_mb_per_s"], 1), "max_rss_kib": s["_max_rss_kib"], "wall_s": s["_wall_s"]}

results = {
    "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    "max_batch_bytes": max_batch,
    "ceiling_200MB": {"best": ceiling, "runs": ceilings},
    "import_null_200MB": {"best": strip(best), "runs": [strip(s) for s in imports]},
    "throughput_ratio": round(ratio, 4),
    "batch": {"batch_requests": best["batch_requests"], "message_bytes": best["message_bytes"],
              "ideal_batch_requests": ideal_batches,
              "excess_fraction": None if math.isinf(batch_excess) else round(batch_excess, 4)},
    "rss": {"import_null_50MB_kib": imp50["_max_rss_kib"],
            "import_null_200MB_kib": max(s["_max_rss_kib"] for s in imports),
            "import_null_1GB_kib": None if imp1g is None else imp1g["_max_rss_kib"],
            "ratio_1GB_over_50MB": None if rss_ratio is None else round(rss_ratio, 3)},
    "import_null_50MB": strip(imp50),
    "import_null_1GB": None if imp1g is None else strip(imp1g),
    "checks": checks,
    "all_ok": all(checks.values()),
}
with open(os.path.join(bench_dir, "results.json"), "w") as f:
    json.dump(results, f, indent=2)
    f.write("\n")

ok = lambda b: "PASS" if b else "FAIL"
mib = lambda kib: f"{kib / 1024:.1f} MiB"
rows = [
    ("csv ceiling, 200 MB (best of %d)" % runs, f"{ceiling['mb_per_s']:.1f} MB/s", f"{ceiling['elapsed_ms']:.0f} ms, {ceiling['records']} records"),
    ("import --sink null, 200 MB (best of %d)" % runs, f"{best['_mb_per_s']:.1f} MB/s", f"{best['elapsed_ms']:.0f} ms, {best['records_read']} records, {best['events_emitted']} events, {best['records_rejected']} rejected"),
    ("throughput ratio import/ceiling", f"{ratio:.3f}", f"target >= 0.25: {ok(checks['throughput_ratio_ge_0_25'])}"),
    ("messages / message bytes", f"{best['messages_sent']}", f"{best['message_bytes'] / MB:.1f} MB encoded ({best['message_bytes'] / max(best['bytes_read'], 1):.2f}x input)"),
    ("batch requests vs ideal", f"{best['batch_requests']} vs {ideal_batches}", f"ceil(message_bytes/{max_batch}); within 10 %: {ok(checks['batch_requests_within_10pct'])}"),
    ("records/bytes match ceiling", "", f"records {ok(checks['records_match_ceiling'])}, bytes {ok(checks['bytes_match_file'])}"),
    ("peak RSS, 50 MB", mib(imp50["_max_rss_kib"]), ""),
    ("peak RSS, 200 MB (max of runs)", mib(results["rss"]["import_null_200MB_kib"]), ""),
]
if imp1g is not None:
    rows.append(("peak RSS, 1 GB", mib(imp1g["_max_rss_kib"]), f"1GB/50MB = {rss_ratio:.2f}, flat (growth <= max(25 %, 16 MiB)): {ok(checks['rss_flat_1GB_vs_50MB'])}"))
else:
    rows.append(("peak RSS, 1 GB", "skipped", "BENCH_SKIP_1GB=1"))
w0 = max(len(r[0]) for r in rows)
w1 = max(len(r[1]) for r in rows)
print()
for a, b, c in rows:
    print(f"  {a:<{w0}}  {b:>{w1}}  {c}")
print(f"\n  results: {os.path.join(bench_dir, 'results.json')}  all_ok={results['all_ok']}")
if enforce and not results["all_ok"]:
    sys.exit(3)
PY
exit "$rc"
