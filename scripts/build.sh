#!/usr/bin/env bash
# Why this exists: `sam build` compiles both functions with cargo-lambda for the stack's
# architecture (template Parameter `Architecture`, arm64 by default: Graviton runs this CPU-bound
# import at a lower price per GB-second). Cross-compiling for arm64 needs Rust's
# aarch64-unknown-linux-gnu standard library, which a fresh rustup install lacks. This script adds
# it (`rustup target add`) and runs `sam build --beta-features`; when the target cannot be added
# (no rustup, offline, a Rust without that target) it builds for x86_64 instead, says so plainly,
# and prints the deploy command that matches: the Architecture the stack is deployed with must be
# the one the binaries were built for, or Lambda cannot start them.
#
# Usage:  bash scripts/build.sh [more `sam build` arguments, e.g. a function's logical id]
#   ARCHITECTURE=x86_64 bash scripts/build.sh   builds for x86_64 on purpose (default: arm64)
# Extra options go to `sam build` as they are; do not pass --parameter-overrides with them (the
# x86_64 build sets Architecture through it). Needs `sam` (AWS SAM CLI) and `cargo-lambda`; both
# are looked up on PATH, then in the repo's .local/lint/sam and .venv (what scripts/test.sh
# installs).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

# No telemetry, no update checks; the build itself needs no AWS credentials.
export SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true

log() { echo "[build] $*" >&2; }
die() {
    log "$*"
    exit 1
}

ARCHITECTURE="${ARCHITECTURE:-arm64}"
case "$ARCHITECTURE" in
arm64 | x86_64) ;;
*) die "ARCHITECTURE must be arm64 or x86_64, not '$ARCHITECTURE'" ;;
esac

# --- tools --------------------------------------------------------------------------------------
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup (https://rustup.rs)"
if ! command -v sam >/dev/null 2>&1 && [[ -x "$ROOT/.local/lint/sam/bin/sam" ]]; then
    PATH="$ROOT/.local/lint/sam/bin:$PATH"
fi
if ! command -v cargo-lambda >/dev/null 2>&1 && [[ -x "$ROOT/.venv/bin/cargo-lambda" ]]; then
    PATH="$PATH:$ROOT/.venv/bin"
fi
export PATH
command -v sam >/dev/null 2>&1 ||
    die "sam not found: install the AWS SAM CLI (pip install aws-sam-cli, or see https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html)"
command -v cargo-lambda >/dev/null 2>&1 ||
    die "cargo-lambda not found: pip install cargo-lambda (or see https://www.cargo-lambda.info/guide/installation.html)"

# --- the Rust target ----------------------------------------------------------------------------
rust_target() {
    case "$1" in
    arm64) echo aarch64-unknown-linux-gnu ;;
    x86_64) echo x86_64-unknown-linux-gnu ;;
    esac
}

# True when the toolchain cargo uses has the standard library for target $1.
has_target() {
    local sysroot
    sysroot="$(rustc --print sysroot 2>/dev/null)" || return 1
    compgen -G "$sysroot/lib/rustlib/$1/lib/libstd-*.rlib" >/dev/null
}

# Makes sure target $1 is installed; on failure sets WHY and returns 1.
ensure_target() {
    local target="$1" out
    if has_target "$target"; then return 0; fi
    if ! command -v rustup >/dev/null 2>&1; then
        WHY="rustup is not installed, and this Rust has no $target standard library"
        return 1
    fi
    log "rustup target add $target"
    if ! out="$(rustup target add "$target" 2>&1)"; then
        echo "$out" >&2
        WHY="\`rustup target add $target\` failed (output above)"
        return 1
    fi
    if ! has_target "$target"; then
        WHY="\`rustup target add $target\` reported success, but cargo's toolchain still lacks it"
        return 1
    fi
}

WHY=""
FELL_BACK=""
if [[ "$ARCHITECTURE" == arm64 ]] && ! ensure_target aarch64-unknown-linux-gnu; then
    cat >&2 <<EOF
[build] ==========================================================================================
[build] Cannot build for arm64: $WHY.
[build] Building for x86_64 instead. The functions will be x86_64 Lambdas, so the stack must be
[build] deployed with the template parameter Architecture=x86_64 (the command is printed at the
[build] end). To build for arm64 (the default, cheaper per GB-second), fix the above and run
[build] 'rustup target add aarch64-unknown-linux-gnu', then this script again.
[build] ==========================================================================================
EOF
    ARCHITECTURE=x86_64
    FELL_BACK=1
fi
if [[ "$ARCHITECTURE" == x86_64 ]] && ! ensure_target x86_64-unknown-linux-gnu; then
    die "cannot build for x86_64 either: $WHY"
fi

# --- sam build ----------------------------------------------------------------------------------
# arm64 is the template's default; x86_64 goes in as a parameter override, which SAM hands to
# cargo-lambda as the target architecture.
# The override goes last: --parameter-overrides takes every word up to the next option, so a
# function name after it (`scripts/build.sh TrackFunction`) would be read as a parameter.
args=(build --beta-features "$@")
if [[ "$ARCHITECTURE" == x86_64 ]]; then
    args+=(--parameter-overrides Architecture=x86_64)
fi
log "sam ${args[*]} ($(rust_target "$ARCHITECTURE"), release profile)"
sam "${args[@]}"

# --- what was built -----------------------------------------------------------------------------
# ELF e_machine (byte 18 of the header): b7 = aarch64, 3e = x86-64.
elf_arch() {
    case "$(od -An -tx1 -j18 -N1 "$1" | tr -d ' \n')" in
    b7) echo arm64 ;;
    3e) echo x86_64 ;;
    *) echo unknown ;;
    esac
}
for bin in .aws-sam/build/*/bootstrap; do
    [[ -f "$bin" ]] || continue
    built="$(elf_arch "$bin")"
    log "$bin: $(wc -c <"$bin" | awk '{ printf "%.1f MB", $1 / 1e6 }'), $built"
    [[ "$built" == "$ARCHITECTURE" ]] ||
        die "$bin is not an $ARCHITECTURE binary ($built): a stale build? Remove .aws-sam and run this again"
done

# A deploy parameter saved by an earlier `sam deploy --guided` wins over the template's default.
# SAM writes them as parameter_overrides = "... Architecture=\"x86_64\" ...".
saved="$(grep -o 'Architecture=[\\"]*[a-z0-9_]*' samconfig.toml 2>/dev/null | head -n1 | sed 's/.*=[\\"]*//' || true)"
if [[ -n "$saved" && "$saved" != "$ARCHITECTURE" ]]; then
    log "WARNING: samconfig.toml saves Architecture=$saved in parameter_overrides, but these binaries are $ARCHITECTURE:"
    log "         deploy with --parameter-overrides Architecture=$ARCHITECTURE (and the other overrides you use)"
fi
if [[ "$ARCHITECTURE" == x86_64 ]]; then
    log "built for x86_64${FELL_BACK:+ (arm64 was not possible, see above)}. Deploy with:"
    log "  sam deploy --guided --parameter-overrides Architecture=x86_64"
    log "(a later deploy of this build also needs Architecture=x86_64; --guided saves it in samconfig.toml)"
else
    log "built for arm64. Deploy with: sam deploy --guided"
fi
