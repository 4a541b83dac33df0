#!/usr/bin/env bash
# Why this exists: the tests and the demo need S3 and SQS, but this project must never talk to
# real AWS (or any non-loopback address) from a developer machine or CI. This helper runs moto
# (a local AWS emulator) from a private venv on 127.0.0.1 and points every AWS SDK at it. Carriers
# also drop files on FTP, FTPS and SFTP servers, so it runs one of each on 127.0.0.1 too
# (scripts/carrier_servers.py: pyftpdlib and asyncssh, with keys and a CA made anew each time).
#
# Usage (sourced):   source scripts/local-stack.sh; stack_up; ...; (stack_down runs on EXIT)
#                    stack_run CMD ...   # run CMD so that Ctrl-C / SIGTERM to the script stops it too
# Usage (executed):  scripts/local-stack.sh up            # start, print the env, wait for Ctrl-C
#                    scripts/local-stack.sh run CMD ...   # start, run CMD with the env, stop
#
# Environment knobs: MOTO_VERSION and the carrier servers' versions (pinned below), MOTO_PORT
# (fixed port instead of a free one), VENV_DIR (default <repo>/.venv), LOCAL_DIR (default
# <repo>/.local).
#
# Exported for the carrier servers (tests fail, never skip, without them):
#   CARRIER_HOST (127.0.0.1), CARRIER_FTP_PORT, CARRIER_FTPS_PORT, CARRIER_SFTP_PORT,
#   CARRIER_FTP_PASV_ELSEWHERE_PORT (FTP whose PASV answers name 127.0.0.2, not itself),
#   CARRIER_FTP_ROOT (served by FTP and FTPS), CARRIER_SFTP_ROOT (the SFTP chroot),
#   CARRIER_USER, CARRIER_PASSWORD (one account on all three servers, password random per run),
#   CARRIER_CA_CERT (PEM of the CA that signed the FTPS certificate), CARRIER_OTHER_CA_CERT (PEM
#   of an unrelated CA), CARRIER_SSH_HOST_KEY_FINGERPRINT (SHA256:...), CARRIER_SSH_CLIENT_KEY
#   (path of an OpenSSH private key the SFTP server accepts for CARRIER_USER).
set -euo pipefail

STACK_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${MOTO_VERSION:=5.2.5}"
: "${PYFTPDLIB_VERSION:=2.2.0}"
: "${PYOPENSSL_VERSION:=26.4.0}"
: "${ASYNCSSH_VERSION:=2.24.1}"
: "${VENV_DIR:=$STACK_REPO_ROOT/.venv}"
: "${LOCAL_DIR:=$STACK_REPO_ROOT/.local}"
STACK_PID=""
CARRIER_PIDS="" # space-separated: the FTP, FTPS and SFTP servers
STACK_CHILD_PID="" # the command stack_run is waiting for

# Dummy credentials, always: without them the SDK credential chain falls through to the EC2
# instance-metadata address, which is off loopback.
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN 2>/dev/null || true

_stack_log() { echo "[local-stack] $*" >&2; }

# Create the venv and install moto and the carrier servers' packages once; a venv that already
# has them all is reused.
stack_venv() {
    if [[ -x "$VENV_DIR/bin/moto_server" && -x "$VENV_DIR/bin/python" ]] &&
        "$VENV_DIR/bin/python" -c 'import pyftpdlib, OpenSSL, asyncssh' >/dev/null 2>&1; then
        return 0
    fi
    mkdir -p "$LOCAL_DIR"
    if [[ ! -x "$VENV_DIR/bin/python" ]]; then
        _stack_log "creating venv $VENV_DIR"
        if ! python3 -m venv "$VENV_DIR"; then
            _stack_log "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
            return 1
        fi
    fi
    _stack_log "installing moto[server]==$MOTO_VERSION, pyftpdlib, pyopenssl, asyncssh into $VENV_DIR (about 30 s)"
    local pip_log="$LOCAL_DIR/pip-install.log"
    if ! "$VENV_DIR/bin/python" -m pip install -q --disable-pip-version-check \
        "moto[server]==$MOTO_VERSION" "pyftpdlib==$PYFTPDLIB_VERSION" \
        "pyopenssl==$PYOPENSSL_VERSION" "asyncssh==$ASYNCSSH_VERSION" >"$pip_log" 2>&1; then
        cat "$pip_log" >&2
        _stack_log "pip install failed (full log: $pip_log)"
        return 1
    fi
    # Show warnings/errors pip printed even on success (quiet mode prints only those).
    if [[ -s "$pip_log" ]]; then cat "$pip_log" >&2; fi
}

# Print a free TCP port on 127.0.0.1: 5555 if it is free, else one the kernel picks.
stack_free_port() {
    python3 - <<'PY'
import socket
for port in (5555, 0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        continue
    print(s.getsockname()[1])
    s.close()
    break
PY
}

# True once moto's admin API answers on PORT (curl if present, else Python).
_stack_ready() {
    local url="http://127.0.0.1:$1/moto-api/"
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null --max-time 2 "$url"
    else
        python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2).read()' \
            "$url" >/dev/null 2>&1
    fi
}

# Start moto once; on a port race (someone grabbed the free port first) retry on a new port.
_stack_start() {
    local port="$1" log="$2"
    _stack_log "starting moto_server on 127.0.0.1:$port (log: $log)"
    "$VENV_DIR/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    STACK_PID=$!
    local deadline=$((SECONDS + 60))
    until _stack_ready "$port"; do
        if ! kill -0 "$STACK_PID" 2>/dev/null; then
            wait "$STACK_PID" 2>/dev/null || true
            STACK_PID=""
            _stack_log "moto_server exited during startup; log tail:"
            tail -n 30 "$log" >&2 || true
            return 1
        fi
        if ((SECONDS >= deadline)); then
            _stack_log "moto_server did not answer within 60 s; log tail:"
            tail -n 30 "$log" >&2 || true
            stack_down
            return 2
        fi
        sleep 0.2
    done
}

# Start one carrier server (carrier_servers.py KIND ARGS...) and wait until it has written the
# port it listens on (the server picks a free one itself, so there is no port race). Sets
# CARRIER_STARTED_PORT (not printed: a $(...) subshell would lose the server's pid).
_carrier_start() {
    local name="$1" port_file="$2"
    shift 2
    local log="$LOCAL_DIR/carrier-$name.log"
    rm -f "$port_file"
    "$VENV_DIR/bin/python" "$STACK_REPO_ROOT/scripts/carrier_servers.py" "$@" \
        --port-file "$port_file" >"$log" 2>&1 &
    local pid=$!
    CARRIER_PIDS="$CARRIER_PIDS $pid"
    local deadline=$((SECONDS + 30))
    until [[ -s "$port_file" ]]; do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
            _stack_log "$name server did not start; log tail:"
            tail -n 30 "$log" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    CARRIER_STARTED_PORT="$(cat "$port_file")"
    _stack_log "$name server on 127.0.0.1:$CARRIER_STARTED_PORT (pid $pid, log: $log)"
}

# Make throw-away keys and a CA, start the FTP, FTPS and SFTP servers, export their settings.
stack_carriers_up() {
    local dir="$LOCAL_DIR/carriers"
    rm -rf "$dir"
    mkdir -p "$dir/keys" "$dir/ftp-root" "$dir/sftp-root"
    "$VENV_DIR/bin/python" "$STACK_REPO_ROOT/scripts/carrier_servers.py" keys --dir "$dir/keys"
    local password
    password="$("$VENV_DIR/bin/python" -c 'import secrets; print(secrets.token_urlsafe(18))')"
    export CARRIER_HOST=127.0.0.1
    export CARRIER_USER=carrier
    export CARRIER_PASSWORD="$password"
    export CARRIER_FTP_ROOT="$dir/ftp-root"
    export CARRIER_SFTP_ROOT="$dir/sftp-root"
    export CARRIER_CA_CERT="$dir/keys/ca.pem"
    export CARRIER_OTHER_CA_CERT="$dir/keys/other-ca.pem"
    export CARRIER_SSH_CLIENT_KEY="$dir/keys/client_key"
    CARRIER_SSH_HOST_KEY_FINGERPRINT="$(cat "$dir/keys/ssh_host_key.fingerprint")"
    export CARRIER_SSH_HOST_KEY_FINGERPRINT
    # --password=VALUE: a random password may start with "-", which argparse would take for a flag.
    local common=(--user "$CARRIER_USER" "--password=$CARRIER_PASSWORD")
    _carrier_start ftp "$dir/ftp.port" ftp --root "$CARRIER_FTP_ROOT" "${common[@]}"
    export CARRIER_FTP_PORT="$CARRIER_STARTED_PORT"
    _carrier_start ftps "$dir/ftps.port" ftp --root "$CARRIER_FTP_ROOT" "${common[@]}" \
        --cert "$dir/keys/server.pem" --key "$dir/keys/server-key.pem"
    export CARRIER_FTPS_PORT="$CARRIER_STARTED_PORT"
    # The same files behind a server whose PASV answers point at another address (127.0.0.2,
    # where nothing listens): the import must connect to the control connection's address.
    _carrier_start ftp-pasv-elsewhere "$dir/ftp-pasv-elsewhere.port" ftp --root "$CARRIER_FTP_ROOT" \
        "${common[@]}" --masquerade 127.0.0.2
    export CARRIER_FTP_PASV_ELSEWHERE_PORT="$CARRIER_STARTED_PORT"
    _carrier_start sftp "$dir/sftp.port" sftp --root "$CARRIER_SFTP_ROOT" "${common[@]}" \
        --host-key "$dir/keys/ssh_host_key" --authorized-key "$dir/keys/client_key.pub"
    export CARRIER_SFTP_PORT="$CARRIER_STARTED_PORT"
}

# Signals. Bash runs a trap only once the foreground command has finished, and a signal sent to
# the script's pid alone (kill, a CI runner's timeout, a supervisor) never reaches that command:
# the script would sit waiting for its child, which runs on, and be left behind half-stopped. So
# a long-running child goes through stack_run, which starts it in the background and waits for
# it; the traps below then run at once, stop that child (SIGTERM, then SIGKILL after 30 s) and
# exit 128+signal, which runs the EXIT trap (stack_down when stack_up ran). A child started in
# the background ignores SIGINT (bash does that without job control), so SIGTERM is what it gets
# for Ctrl-C too; invoke_samples.py stops its `cargo lambda watch` on SIGTERM.
stack_signal_traps() {
    trap '_stack_on_signal 130' INT
    trap '_stack_on_signal 143' TERM
    trap '_stack_on_signal 129' HUP
}

_stack_on_signal() {
    # A second Ctrl-C must not cut the clean-up short (it would orphan what is being stopped).
    trap '' INT TERM HUP
    _stack_log "interrupted: stopping what this script started, then exiting $1"
    local pid="$STACK_CHILD_PID"
    STACK_CHILD_PID=""
    if [[ -n "$pid" ]]; then _stack_stop_pid "$pid" 300; fi
    exit "$1"
}

# stack_run CMD [ARGS...]: run CMD (stdin kept) and return its exit status; a signal to this shell
# stops CMD first. Installs the INT/TERM/HUP traps of stack_signal_traps (not the EXIT trap).
stack_run() {
    stack_signal_traps
    "$@" <&0 &
    STACK_CHILD_PID=$!
    local rc=0
    wait "$STACK_CHILD_PID" || rc=$?
    STACK_CHILD_PID=""
    return "$rc"
}

# Start moto on 127.0.0.1 and export the endpoint. Installs an EXIT trap that calls stack_down
# (replacing any EXIT trap the caller had), and INT/TERM/HUP traps (stack_signal_traps) so the
# EXIT trap also runs then, after stopping the command stack_run is waiting for.
stack_up() {
    if [[ -n "$STACK_PID" ]] && kill -0 "$STACK_PID" 2>/dev/null; then
        return 0
    fi
    stack_venv
    mkdir -p "$LOCAL_DIR"
    trap stack_down EXIT
    stack_signal_traps
    local log="$LOCAL_DIR/moto.log" port attempt rc
    for attempt in 1 2 3; do
        port="${MOTO_PORT:-$(stack_free_port)}"
        rc=0
        _stack_start "$port" "$log" || rc=$?
        if [[ $rc -eq 0 ]]; then break; fi
        if [[ $rc -ne 1 || -n "${MOTO_PORT:-}" || $attempt -eq 3 ]]; then return 1; fi
        _stack_log "retrying on another port"
    done

    export MOTO_PORT_IN_USE="$port"
    export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
    export MOTO_ENDPOINT="$AWS_ENDPOINT_URL"
    # For tests and scripts that want to drive moto from Python (boto3 ships with moto).
    export MOTO_PYTHON="$VENV_DIR/bin/python"
    export LOCALSTACK_TOOL="$STACK_REPO_ROOT/scripts/localstack_tool.py"
    _stack_log "moto ready at $AWS_ENDPOINT_URL (pid $STACK_PID)"
    stack_carriers_up
}

# Stop one process: TERM, up to TENTHS/10 s (default 5 s) to exit, then KILL.
_stack_stop_pid() {
    local pid="$1" tenths="${2:-50}" _
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 "$tenths"); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

stack_down() {
    local pid
    for pid in $CARRIER_PIDS; do
        _stack_stop_pid "$pid"
    done
    CARRIER_PIDS=""
    if [[ -n "$STACK_PID" ]]; then
        if kill -0 "$STACK_PID" 2>/dev/null; then
            kill "$STACK_PID" 2>/dev/null || true
            local _
            for _ in $(seq 1 50); do
                kill -0 "$STACK_PID" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$STACK_PID" 2>/dev/null || true
        fi
        wait "$STACK_PID" 2>/dev/null || true
        # Silent on purpose: test.sh's output should end with cargo test's result lines.
        STACK_PID=""
    fi
    return 0
}

# Executed directly rather than sourced.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    case "${1:-}" in
    up)
        stack_up
        echo "export AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL MOTO_ENDPOINT=$MOTO_ENDPOINT AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true"
        env | grep '^CARRIER_' | sed 's/^/export /'
        _stack_log "running; Ctrl-C to stop"
        wait "$STACK_PID" || true
        ;;
    run)
        shift
        [[ $# -gt 0 ]] || { echo "usage: $0 run CMD [ARGS...]" >&2; exit 2; }
        stack_up
        stack_run "$@"
        ;;
    *)
        echo "usage: $0 up | run CMD [ARGS...]   (or: source it and call stack_up / stack_down)" >&2
        exit 2
        ;;
    esac
fi
