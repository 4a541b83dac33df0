#!/usr/bin/env bash
# Why this exists: the one command the README gives for "run the tests". It checks formatting and
# lints, then runs the whole workspace test suite against local stand-ins on 127.0.0.1 (moto for
# S3 + SQS; FTP, FTPS and SFTP servers), invokes every sample event through cargo-lambda, and lints
# the SAM template, so nothing ever needs real AWS. Works on a fresh clone with only
# rustup (Rust 1.95 with rustfmt and clippy) and python3 + venv/pip; moto is installed into .venv.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A test run builds each workspace crate once: incremental caches would only add gigabytes of disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# rustfmt and clippy are rustup components; a minimal toolchain may lack them.
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        if command -v rustup >/dev/null 2>&1; then
            echo "[test] installing rustup component $component" >&2
            rustup component add "$component"
        else
            echo "[test] cargo ${component/rustfmt/fmt} is missing and rustup is not available" >&2
            exit 1
        fi
    fi
done

# shellcheck source=scripts/local-stack.sh
source scripts/local-stack.sh
stack_up # installs a trap that stops moto on exit, whatever the outcome

echo "[test] cargo fmt --all --check" >&2
cargo fmt --all --check

echo "[test] cargo clippy --workspace --all-targets -- -D warnings" >&2
cargo clippy --workspace --all-targets -- -D warnings

echo "[test] cargo test --workspace" >&2
mkdir -p .local
cargo test --workspace 2>&1 | tee .local/test-output.log

# The schema drift test rewrites schema/ under UPDATE_SCHEMA; a run that changed the committed
# contract must not pass.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && ! git diff --exit-code --stat -- schema/; then
    echo "[test] schema/ differs from the committed contract (see the diff above)" >&2
    exit 1
fi

# Every sample in events/ through `cargo lambda watch` + `cargo lambda invoke`, with the local
# stand-ins behind it: a sample that stops working fails here.
echo "[test] scripts/invoke-samples.sh" >&2
samples_rc=0
scripts/invoke-samples.sh 2>&1 | tee .local/samples-output.log || samples_rc=$?

if [[ -x scripts/check-template.sh ]]; then
    echo "[test] scripts/check-template.sh" >&2
    scripts/check-template.sh
fi

# cargo prints one result line per test binary (doc-test binaries often say "0 passed" last);
# close with the totals (each sample invocation counts as a test) on one plain line.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /^samples: [0-9]+ ok, [0-9]+ failed/ { p += $2; f += $4 }
     END { printf "tests: %d passed, %d failed\n", p, f }' .local/test-output.log .local/samples-output.log
exit "$samples_rc"
