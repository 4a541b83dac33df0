#!/usr/bin/env bash
# Why this exists: the sample events in events/ are what users invoke the functions with, so a
# sample that stops working must fail CI. This starts `cargo lambda watch` on 127.0.0.1 with the
# local stand-ins behind it (moto S3/SQS, the FTP/FTPS/SFTP test servers, test-support's carrier
# stand-in for DHL, UPS and FedEx) and invokes
# every events/*.json with `cargo lambda invoke --data-file`, checking each answer
# (scripts/invoke_samples.py does the work; events/README.md lists the placeholders it fills in).
#
# Usage:  scripts/invoke-samples.sh [events/x.json ...]     (default: every events/*.json)
#   - called from scripts/test.sh after stack_up: uses the stack that is up (MOTO_ENDPOINT set);
#   - run on its own: starts the local stack itself (in .local/invoke-samples, so a stack another
#     run has up in .local is left alone) and stops it on exit.
# Prints one line per sample (`ok events/… → …` or `FAIL events/… → …`); exits non-zero on any
# failure. Knobs: CARGO_LAMBDA_VERSION (pinned below), VENV_DIR (default <repo>/.venv),
# INVOKE_SAMPLES_PORT (watch's port; default a free one).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

: "${CARGO_LAMBDA_VERSION:=1.9.2}"
: "${VENV_DIR:=$REPO_ROOT/.venv}"

# Dummy credentials, always: without them the SDK credential chain reaches for the EC2 metadata
# address, which is off loopback.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
    AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN 2>/dev/null || true

_log() { echo "[invoke-samples] $*" >&2; }

if [[ -z "${MOTO_ENDPOINT:-}" ]]; then
    # Standalone: a stack of our own, in a directory of our own (stack_up wipes its carriers dir).
    export LOCAL_DIR="${LOCAL_DIR:-$REPO_ROOT/.local/invoke-samples}"
fi
# Always sourced, for stack_run (signal forwarding); the stack itself is started only standalone.
# shellcheck source=scripts/local-stack.sh
source "$REPO_ROOT/scripts/local-stack.sh"
if [[ -z "${MOTO_ENDPOINT:-}" ]]; then
    stack_up # installs an EXIT trap that stops the stack, whatever the outcome
fi

# cargo-lambda from PyPI (it brings zig), pinned, into the same venv as moto.
CARGO_LAMBDA="$VENV_DIR/bin/cargo-lambda"
installed="$("$CARGO_LAMBDA" lambda --version 2>/dev/null | awk '{print $2}' || true)"
if [[ "$installed" != "$CARGO_LAMBDA_VERSION" ]]; then
    if [[ ! -x "$VENV_DIR/bin/python" ]]; then
        _log "creating venv $VENV_DIR"
        python3 -m venv "$VENV_DIR"
    fi
    _log "installing cargo-lambda==$CARGO_LAMBDA_VERSION into $VENV_DIR (about 20 s)"
    mkdir -p "$REPO_ROOT/.local"
    pip_log="$REPO_ROOT/.local/pip-cargo-lambda.log"
    if ! "$VENV_DIR/bin/python" -m pip install -q --disable-pip-version-check \
        "cargo-lambda==$CARGO_LAMBDA_VERSION" >"$pip_log" 2>&1; then
        cat "$pip_log" >&2
        _log "pip install cargo-lambda failed (full log: $pip_log)"
        exit 1
    fi
fi

# The carrier stand-in: test-support's binary, serving the fixtures the Rust tests use.
_log "building the carrier stand-in (cargo build -p test-support --bin carrier-stand-in)"
cargo build -q -p test-support --bin carrier-stand-in
STAND_IN="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug/carrier-stand-in"

# boto3 comes with moto in the venv; MOTO_PYTHON is that venv's python when the stack is ours or
# test.sh's.
PYTHON="${MOTO_PYTHON:-$VENV_DIR/bin/python}"
args=(--cargo-lambda "$CARGO_LAMBDA" --stand-in "$STAND_IN" --log-dir "${LOCAL_DIR:-$REPO_ROOT/.local}")
if [[ -n "${INVOKE_SAMPLES_PORT:-}" ]]; then args+=(--port "$INVOKE_SAMPLES_PORT"); fi
# Not exec: the stack's EXIT trap (standalone) must still run afterwards. stack_run: a Ctrl-C or
# SIGTERM to this script reaches invoke_samples.py at once (as SIGTERM), which stops
# `cargo lambda watch` and the carrier stand-in; then this script exits 130/143 (and stops its stack).
stack_run "$PYTHON" "$REPO_ROOT/scripts/invoke_samples.py" "${args[@]}" "$@"
