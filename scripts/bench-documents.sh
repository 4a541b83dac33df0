#!/usr/bin/env bash
# Benchmark, not a test: structured documents (XML, a JSON document, an X12 214) at 50 MB and 1 GB through
# `tracking-import --sink null` (profiling build), against the bare parser's pass over the same
# file (examples/document_ceiling). Reports MB/s, the ratio to the bare parser, and peak RSS
# (flat from 50 MB to 1 GB is the point). Files are generated once under .local/bench/documents:
# shipments of 10 events, the profiles of profiles/examples/{xml,json}-shipments.toml and the
# built-in x12-214 (through profiles/examples/x12-214-acme.toml).
#   SIZES="50 1000" FORMATS="xml json x12" scripts/bench-documents.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DIR="$ROOT/.local/bench/documents"
mkdir -p "$DIR"
SIZES=${SIZES:-"50 1000"}
FORMATS=${FORMATS:-"xml json x12"}
export AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
cargo build -q --profile profiling --bin tracking-import --example document_ceiling
BIN="$ROOT/target/profiling"

gen() { # gen FORMAT MB -> path
    local format=$1 mb=$2 out="$DIR/ship-$2MB.$1"
    [ -s "$out" ] || python3 - "$format" "$mb" "$out.tmp" <<'PY'
import sys
fmt, mb, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
target = mb * 1_000_000
codes = ["PU", "IT", "IT", "IT", "IT", "IT", "IT", "IT", "IT", "DL"]
def x12_set(n):
    scans = "".join(
        f"AT7*{c}*NS***202611{1 + i:02d}*{i:02d}15*CT~\nMS1*CITY {n % 997}*IL*US~\n"
        for i, c in enumerate(["AF", "X6", "X6", "X6", "X6", "X6", "X6", "X6", "X1", "D1"]))
    body = f"B10*PRO{n:010d}*SID{n}*ACMF~\nL11*SH{n:010d}*2I~\nLX*1~\n{scans}AT8*G*L*12.5*1~\n"
    count = body.count("~") + 2
    return f"ST*214*{n % 10000:04d}~\n{body}SE*{count}*{n % 10000:04d}~\n"
with open(out, "w") as f:
    size, n = 0, 0
    if fmt == "x12":
        f.write("ISA*00*          *00*          *02*ACMF           *ZZ*SHIPPERY       *261127*2300*^*00501*000000201*0*P*>~\nGS*QM*ACMF*SHIPPERY*20261127*2300*201*X*005010~\n")
    else:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<TrackingFile>\n' if fmt == "xml" else "[\n")
    while size < target:
        n += 1
        if fmt == "x12":
            chunk = x12_set(n)
        elif fmt == "xml":
            events = "".join(
                f'      <Event><Code>{c}</Code><Text>Scan {i} at hub</Text><Time>2026-11-{1 + i:02d}T{i:02d}:15:00</Time><Where><City>City {n % 997}</City><Country>CA</Country></Where></Event>\n'
                for i, c in enumerate(codes))
            chunk = f'  <Shipment id="SH{n:010d}">\n    <Events>\n{events}    </Events>\n    <Service>EXP</Service>\n  </Shipment>\n'
        else:
            events = ",\n".join(
                f'    {{"status": "{c}", "at": "2026-11-{1 + i:02d}T{i:02d}:15:00Z", "location": {{"city": "City {n % 997}", "state": "ON"}}, "weight_kg": 1.25}}'
                for i, c in enumerate(codes))
            chunk = ("" if n == 1 else ",\n") + f'  {{"events": [\n{events}\n  ], "tracking_number": "SH{n:010d}", "service": {{"code": "GND", "name": "Ground"}}}}'
        f.write(chunk)
        size += len(chunk)
    if fmt == "x12":
        f.write(f"GE*{n}*201~\nIEA*1*000000201~\n")
    else:
        f.write("</TrackingFile>\n" if fmt == "xml" else "\n]\n")
PY
    [ -s "$out" ] || mv "$out.tmp" "$out"
    echo "$out"
}

printf '%-6s %6s %10s %10s %8s %9s %9s\n' format MB import_MB/s bare_MB/s ratio rss_MB bare_rss
for format in $FORMATS; do
    profile="profiles/examples/${format}-shipments.toml"
    [ "$format" = x12 ] && profile="profiles/examples/x12-214-acme.toml"
    for mb in $SIZES; do
        file=$(gen "$format" "$mb")
        ev="$DIR/ev-$format-$mb.json"
        python3 -c 'import json,sys; json.dump({"transaction_id":"bench","metadata":{"source":sys.argv[1],"profile":sys.argv[2]}}, open(sys.argv[3],"w"))' "$file" "$profile" "$ev"
        if ! /usr/bin/time -f "%e %M" -o "$DIR/time-import" "$BIN/tracking-import" --event "$ev" --sink null > "$DIR/summary.json" 2> "$DIR/import.err"; then
            echo "bench-documents: the import of $file failed:" >&2
            tail -5 "$DIR/import.err" >&2
            exit 1
        fi
        /usr/bin/time -f "%e %M" -o "$DIR/time-bare" "$BIN/examples/document_ceiling" "$format" "$file" > "$DIR/bare.json" 2>/dev/null
        read -r t_imp rss_imp < "$DIR/time-import"
        read -r t_bare rss_bare < "$DIR/time-bare"
        python3 - "$format" "$mb" "$file" "$t_imp" "$rss_imp" "$t_bare" "$rss_bare" "$DIR/summary.json" <<'PY'
import json, os, sys
fmt, mb, path, ti, ri, tb, rb, summary = sys.argv[1:]
size = os.path.getsize(path) / 1e6
s = json.load(open(summary))
f = s["files"][0]
assert f["status"] == "complete" and f["records_rejected"] == 0, f
imp, bare = size / float(ti), size / float(tb)
print(f"{fmt:<6} {mb:>6} {imp:>10.1f} {bare:>10.1f} {imp / bare:>8.2f} {int(ri) / 1024:>9.1f} {int(rb) / 1024:>9.1f}   ({f['events_emitted']} events)")
PY
    done
done
