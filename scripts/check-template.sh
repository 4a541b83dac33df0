#!/usr/bin/env bash
# Why this exists: template.yaml is only ever exercised by a real deploy, so this script keeps it
# honest offline. It runs the three linters the project holds the template to — `sam validate
# --lint`, `cfn-lint` (informational findings included) and `checkov` — and exits non-zero on any
# finding. Every check the template skips carries its reason in the template itself (`Metadata:
# checkov: skip:`), so a new finding means a real change, not noise. The tools are installed on
# first use into venvs under .local/lint/ at pinned versions: aws-sam-cli and checkov pin
# conflicting boto3 versions, so they cannot share one venv (nor the repo's .venv, which moto uses).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SAM_CLI_VERSION=1.170.0
CFN_LINT_VERSION=1.58.0
CHECKOV_VERSION=3.3.30
TEMPLATE=${TEMPLATE:-template.yaml}
LINT_DIR=.local/lint

# No telemetry, no update checks, never the EC2 metadata address.
export SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true

log() { echo "[check-template] $*" >&2; }

# ensure_venv DIR PACKAGE==VERSION...: creates DIR with the packages unless it already has exactly
# these (recorded in DIR/.installed after a successful install).
ensure_venv() {
    local dir=$1
    shift
    local want="$*"
    if [[ -x "$dir/bin/python" && -f "$dir/.installed" && "$(cat "$dir/.installed")" == "$want" ]]; then
        return
    fi
    log "installing $want into $dir"
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" >"$dir.pip.log" 2>&1 || {
        cat "$dir.pip.log" >&2
        log "pip install failed for $want"
        exit 1
    }
    echo "$want" >"$dir/.installed"
}

ensure_venv "$LINT_DIR/sam" "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION"
ensure_venv "$LINT_DIR/checkov" "checkov==$CHECKOV_VERSION"

failed=()

log "sam validate --lint ($SAM_CLI_VERSION)"
"$LINT_DIR/sam/bin/sam" validate --lint --template-file "$TEMPLATE" || failed+=("sam validate --lint")

log "cfn-lint ($CFN_LINT_VERSION), informational findings included"
"$LINT_DIR/sam/bin/cfn-lint" --include-checks I --non-zero-exit-code informational -- "$TEMPLATE" \
    || failed+=("cfn-lint")

# --skip-download: no call to the Prisma Cloud API for guidelines (offline, and nothing leaves).
# checkov exits 0 on a template it cannot parse, so its parsing-error count is checked too.
log "checkov ($CHECKOV_VERSION)"
checkov_out=$LINT_DIR/checkov-output.txt
checkov_rc=0
"$LINT_DIR/checkov/bin/checkov" --file "$TEMPLATE" --framework cloudformation \
    --quiet --compact --skip-download >"$checkov_out" 2>&1 || checkov_rc=$?
cat "$checkov_out"
if ((checkov_rc != 0)) || grep -q "Parsing errors: [1-9]" "$checkov_out" \
    || ! grep -q "Passed checks: [1-9]" "$checkov_out"; then
    failed+=("checkov")
fi

if ((${#failed[@]})); then
    log "FAILED: ${failed[*]}"
    exit 1
fi
log "template clean under sam validate --lint, cfn-lint and checkov"
