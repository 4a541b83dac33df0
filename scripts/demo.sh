#!/usr/bin/env bash
# Why this exists: the README's demo command. It shows the whole path end to end without AWS,
# through the Lambda binaries themselves: local stand-ins on 127.0.0.1 (moto for S3 and SQS, the
# FTP/FTPS/SFTP carrier servers, a DHL stub), the sample carrier file dropped into
# s3://carrier-drop/outbound/, `cargo lambda watch` running both functions, then
#   cargo lambda invoke import-tracking-events --data-file events/import-s3.json
# (the summary it answers and the first message read back from the queue: the envelope consumers
# receive) and
#   cargo lambda invoke track --data-file events/track.json
# against the DHL stub. Everything is stopped afterwards; a failing step exits non-zero.
#
# The work is scripts/invoke-samples.sh --demo (it installs cargo-lambda into .venv and runs
# scripts/invoke_samples.py, which also checks each answer). Works on a fresh clone with rustup and
# python3 + venv/pip; the first run compiles both functions (a few minutes).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

# Dummy credentials, always: nothing may reach for real AWS or the EC2 metadata address.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
    AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN 2>/dev/null || true
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

for f in events/sample-reference.csv events/import-s3.json events/track.json; do
    [[ -f "$f" ]] || { echo "[demo] missing $f" >&2; exit 1; }
done
command -v cargo >/dev/null 2>&1 || { echo "[demo] cargo not found: install Rust with rustup" >&2; exit 1; }

# A directory of our own for the stack's logs and carrier files (stack_up wipes its carriers
# dir, so a test run using .local is left alone).
export LOCAL_DIR="${LOCAL_DIR:-$REPO_ROOT/.local/demo}"

echo "== starting the local stack on 127.0.0.1 (moto S3/SQS, FTP, FTPS, SFTP)"
# shellcheck source=scripts/local-stack.sh
source scripts/local-stack.sh
stack_up # installs an EXIT trap that stops the stack, whatever the outcome
echo "moto at $MOTO_ENDPOINT; FTP :$CARRIER_FTP_PORT, FTPS :$CARRIER_FTPS_PORT, SFTP :$CARRIER_SFTP_PORT"

# Not exec: the stack's EXIT trap must still run afterwards. invoke_samples.py stops watch and the
# DHL stub itself, and exits non-zero when a step fails. stack_run passes a Ctrl-C or SIGTERM on
# (as SIGTERM) to invoke-samples.sh, which passes it on to invoke_samples.py; once that has
# stopped watch, this script stops the stack and exits 130/143.
rc=0
stack_run scripts/invoke-samples.sh --demo || rc=$?
if [[ $rc -ne 0 ]]; then
    echo "[demo] failed (exit $rc); logs in $LOCAL_DIR" >&2
    exit "$rc"
fi
echo "== done: stopping the local stack"
