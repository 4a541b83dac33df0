#!/usr/bin/env python3
"""Why this exists: the sample events in events/ are what users copy to invoke the functions, so
each must keep working. This invokes every events/*.json through `cargo lambda watch` (the same
runtime emulator users run) with local stand-ins behind it, and checks every answer; a sample
that stops working fails the run.

Run it through scripts/invoke-samples.sh, which starts the local stack (moto S3/SQS and the FTP,
FTPS and SFTP servers, scripts/local-stack.sh) when it is not up and installs cargo-lambda.

What it does, all on 127.0.0.1:
  - seeds moto S3 with the data file each s3:// sample names (the key's file name, from events/),
    creates a fresh SQS queue (QUEUE_URL);
  - puts the data file matching each ftp/ftps/sftp sample's pattern on the local server;
  - starts the carrier stand-in (test-support's `carrier-stand-in` binary: DHL, and UPS and FedEx
    with their token endpoints, answering from test-support/fixtures/, the answers the Rust tests
    use) and reads the calls it reports;
  - starts `cargo lambda watch` (both functions, debug build, workspace target dir) and runs
    `cargo lambda invoke <function> --data-file <copy of the sample, placeholders filled in>`;
    Track's carrier is an environment variable (CARRIER), so the UPS and FedEx samples get a
    `cargo lambda watch` of their own with CARRIER=ups / fedex;
  - checks each answer (and, for the import, the events that reached the queue; for Track, the
    calls the stand-in received).

The function comes from the file name: track*.json -> track, import-*.json ->
import-tracking-events; the carrier too: track-ups*.json -> ups, track-fedex*.json -> fedex,
any other track*.json -> dhl. Placeholders (see events/README.md): a `*.example.com` host of an
ftp/ftps/sftp source becomes the local server; `ftp_username`, `ftp_password` and
`host_key_fingerprint` (in metadata or authorization.connection_context) become the local
servers' values; an ftps source also gets the local throw-away CA as `ca_certificate`.
Relative file paths are relative to the repository root, which is where the function runs.

Expected counts per data file are in EXPECTED below. Exit status: 0 when every sample passed.
"""
import argparse
import fnmatch
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Dummy credentials, always: without them the SDK credential chain reaches for the EC2 metadata
# address, which is off loopback.
for key, value in {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}.items():
    os.environ[key] = value
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_SESSION_TOKEN", None)

import boto3  # noqa: E402  (ships with moto[server] in .venv)
from botocore.config import Config  # noqa: E402

IMPORT_FN = "import-tracking-events"
TRACK_FN = "track"

# What importing each data file once gives. Both hold the same 61 good events; the CSV has 2 bad
# records (no tracking number, a bad date), the JSON Lines file also a truncated line.
EXPECTED = {
    "sample-reference.csv": {"records_read": 63, "events_emitted": 61, "records_rejected": 2},
    "sample-reference.jsonl": {"records_read": 64, "events_emitted": 61, "records_rejected": 3},
}

# The classic "Scheduled Event" carries no request: the function's DEFAULT_SOURCE and
# DEFAULT_PROFILE apply (in a deployment they come from the template's parameters).
DEFAULT_SOURCE = "s3://carrier-drop/outbound/sample-reference.csv"
DEFAULT_PROFILE = "reference"

# Whatever a sample asks for, the stand-in answers a shipment in transit (every carrier's
# test-support/fixtures/<carrier>/in-transit.json).
STUB_STANDARDIZED = "IT"
CARRIERS = ("dhl", "ups", "fedex")
DUMMY_DHL_KEY = "dummy-local-key"


def log(msg):
    print(f"[invoke-samples] {msg}", file=sys.stderr, flush=True)


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(
            f"invoke-samples: {name} is not set: run scripts/invoke-samples.sh, which starts the "
            "local stack (scripts/local-stack.sh) when it is not up"
        )
    return value


def require_loopback(url, what):
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        sys.exit(f"invoke-samples: refusing non-loopback {what} {url!r}")
    return url


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def carrier_for(path):
    """Track's carrier for a sample (the CARRIER its watch runs with); dhl for the imports too."""
    for carrier in CARRIERS[1:]:
        if path.name.startswith(f"track-{carrier}"):
            return carrier
    return "dhl"


def function_for(path):
    name = path.name
    if name.startswith("track"):
        return TRACK_FN
    if name.startswith("import-"):
        return IMPORT_FN
    return None


def aws_client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


# ---------------------------------------------------------------------------------------------
# Where a sample names its source. Which object of the event is the request (the event itself,
# an EventBridge event's detail, nothing for a classic schedule) is the function's to decide;
# this only looks for the `metadata` objects that name a source, wherever they are.


def dicts_in(value):
    """Every JSON object in `value`, depth first."""
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from dicts_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from dicts_in(v)


def metadata_with_source(event):
    """The `metadata` object that names the sample's source, if any."""
    for obj in dicts_in(event):
        metadata = obj.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("source"), str):
            return metadata
    return None


def source_of(event):
    metadata = metadata_with_source(event)
    return metadata["source"] if metadata and metadata["source"] else DEFAULT_SOURCE


def data_file_for(name):
    """The events/ data file a source's file name or pattern stands for (by its extension)."""
    for data in EXPECTED:
        if name == data or fnmatch.fnmatchcase(data, name):
            return data
    suffix = name[name.rfind("*") + 1:] if "*" in name else Path(name).suffix
    for data in EXPECTED:
        if data.endswith(suffix):
            return data
    return None


class Stage:
    """The local stand-ins and what each sample needs from them."""

    def __init__(self, events_dir):
        self.events_dir = events_dir
        self.endpoint = require_loopback(
            os.environ.get("AWS_ENDPOINT_URL") or env("MOTO_ENDPOINT"), "AWS endpoint"
        )
        self.s3 = aws_client("s3", self.endpoint)
        self.sqs = aws_client("sqs", self.endpoint)
        self.host = env("CARRIER_HOST")
        require_loopback(f"ftp://{self.host}/", "carrier host")
        self.ports = {
            "ftp": env("CARRIER_FTP_PORT"),
            "ftps": env("CARRIER_FTPS_PORT"),
            "sftp": env("CARRIER_SFTP_PORT"),
        }
        self.roots = {
            "ftp": Path(env("CARRIER_FTP_ROOT")),
            "ftps": Path(env("CARRIER_FTP_ROOT")),
            "sftp": Path(env("CARRIER_SFTP_ROOT")),
        }
        self.user = env("CARRIER_USER")
        self.password = env("CARRIER_PASSWORD")
        self.fingerprint = env("CARRIER_SSH_HOST_KEY_FINGERPRINT")
        self.ca_pem = Path(env("CARRIER_CA_CERT")).read_text()
        self.queue_url = None

    def make_queue(self):
        name = f"invoke-samples-{uuid.uuid4().hex[:12]}"
        self.queue_url = self.sqs.create_queue(
            QueueName=name, Attributes={"MaximumMessageSize": "262144"}
        )["QueueUrl"]
        require_loopback(self.queue_url, "queue URL")
        return self.queue_url

    def seed(self, source):
        """Puts the data file `source` names where it names it. Returns the data file's name."""
        parts = urllib.parse.urlsplit(source)
        scheme = parts.scheme
        if scheme == "s3":
            key = parts.path.lstrip("/")
            data = data_file_for(key.rsplit("/", 1)[-1])
            if data is None:
                raise Failure(f"no data file in events/ for {source}")
            bucket = parts.netloc
            existing = {b["Name"] for b in self.s3.list_buckets().get("Buckets", [])}
            if bucket not in existing:
                self.s3.create_bucket(Bucket=bucket)
            self.s3.upload_file(str(self.events_dir / data), bucket, key)
            return data
        if scheme in ("ftp", "ftps", "sftp"):
            path = parts.path.lstrip("/")
            directory, _, pattern = path.rpartition("/")
            data = data_file_for(pattern)
            if data is None:
                raise Failure(f"no data file in events/ for {source}")
            name = pattern.replace("*", "20261126").replace("?", "0")
            target_dir = self.roots[scheme] / directory
            target_dir.mkdir(parents=True, exist_ok=True)
            # Exactly one file matches: a pattern matching two would import both.
            for old in target_dir.iterdir():
                if old.is_file() and fnmatch.fnmatchcase(old.name, pattern):
                    old.unlink()
            shutil.copyfile(self.events_dir / data, target_dir / name)
            return data
        # A plain path (or file://): relative to the repository root, where the function runs.
        path = source[len("file://"):] if scheme == "file" else source
        data = data_file_for(Path(path).name)
        if data is None or not (REPO / path).is_file() and not Path(path).is_file():
            raise Failure(f"{source}: no such file (relative paths are from the repository root)")
        return data

    def fill_placeholders(self, event):
        """The sample with its placeholders replaced by the local servers' values: a
        `*.example.com` host in an FTP/FTPS/SFTP source, and the credential keys wherever the
        sample has them (metadata or connection_context)."""
        metadata = metadata_with_source(event)
        if metadata is None:
            return event
        parts = urllib.parse.urlsplit(metadata["source"])
        if parts.scheme not in ("ftp", "ftps", "sftp"):
            return event
        if (parts.hostname or "").endswith("example.com"):
            userinfo = parts.netloc.rpartition("@")[0]
            netloc = f"{userinfo + '@' if userinfo else ''}{self.host}:{self.ports[parts.scheme]}"
            metadata["source"] = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        values = {
            "ftp_username": self.user,
            "ftp_password": self.password,
            "host_key_fingerprint": self.fingerprint,
        }
        for place in dicts_in(event):
            for key, value in values.items():
                if isinstance(place.get(key), str):
                    place[key] = value
        if parts.scheme == "ftps":
            holders = [d for d in dicts_in(event) if "ftp_password" in d]
            (holders[0] if holders else metadata)["ca_certificate"] = self.ca_pem
        return event

    def drain(self):
        """Every message on the queue (deleted as read): the envelopes, parsed."""
        bodies = []
        while True:
            resp = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = resp.get("Messages", [])
            if not messages:
                self.drained = bodies
                return bodies
            for m in messages:
                bodies.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The carrier stand-in: test-support's binary, one JSON line per call on its stdout.


class StandIn:
    def __init__(self, exe):
        self.calls = []
        self.proc = subprocess.Popen(
            [str(exe)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            start_new_session=True,
        )
        first = self.proc.stdout.readline()
        try:
            self.url = require_loopback(json.loads(first)["listening"], "carrier stand-in")
        except (ValueError, KeyError):
            self.stop()
            raise Failure(f"the carrier stand-in did not start: {first!r}")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.calls.append(json.loads(line))
            except ValueError:
                pass

    def calls_since(self, count, carrier):
        """The calls to `carrier` after the first `count` calls (waiting briefly for the reader
        thread, which may be a line behind the answer)."""
        for _ in range(20):
            calls = [c for c in self.calls[count:] if c.get("carrier") == carrier]
            if calls and calls[-1].get("endpoint") == "track":
                return calls
            time.sleep(0.05)
        return [c for c in self.calls[count:] if c.get("carrier") == carrier]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---------------------------------------------------------------------------------------------
# cargo lambda watch / invoke


class Watch:
    def __init__(self, cargo_lambda, port, env_file, log_path):
        self.cargo_lambda = cargo_lambda
        self.port = port
        self.log_path = log_path
        self.log = open(log_path, "w")
        cmd = [
            cargo_lambda, "lambda", "watch",
            "-A", "127.0.0.1", "-P", str(port),
            # Others may be editing the sources: compile what is there once, never reload mid-run.
            "--ignore-changes",
            "--color", "never",
            "--env-file", str(env_file),
        ]
        log(f"starting {' '.join(cmd[1:])} (log: {log_path})")
        # A session of its own, so stopping it reaches the function processes it started.
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"cargo lambda watch exited ({self.proc.returncode})")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise Failure(f"cargo lambda watch did not listen on 127.0.0.1:{self.port} in {timeout} s")

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        # Whatever of the group is left (function processes, cargo): the group is ours alone.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()

    def tail(self, lines=40):
        try:
            text = Path(self.log_path).read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def invoke(self, function, data_file, timeout):
        cmd = [
            self.cargo_lambda, "lambda", "invoke", function,
            "-A", "127.0.0.1", "-P", str(self.port),
            "--data-file", str(data_file), "--output-format", "json",
        ]
        try:
            done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"no answer within {timeout} s")
        if done.returncode != 0:
            text = (done.stdout + done.stderr).strip()
            raise Failure(f"cargo lambda invoke failed ({done.returncode}): {text[-2000:]}")
        try:
            return json.loads(done.stdout)
        except json.JSONDecodeError:
            raise Failure(f"answer is not JSON: {done.stdout[-2000:]!r}")


# ---------------------------------------------------------------------------------------------
# Checks


def check(cond, what):
    if not cond:
        raise Failure(what)


def check_import(stage, answer, data):
    want = EXPECTED[data]
    files = answer.get("files_imported")
    check(isinstance(files, int) and files >= 1, f"files_imported is {files!r}, expected >= 1")
    check(files == 1, f"files_imported is {files}, expected 1 (one {data} staged)")
    for key, value in want.items():
        check(answer.get(key) == value * files, f"{key} is {answer.get(key)!r}, expected {value * files}")
    check(answer.get("status") == "complete", f"status is {answer.get('status')!r}")
    envelopes = stage.drain()
    events = sum(len(e.get("events") or []) for e in envelopes)
    check(len(envelopes) == answer.get("messages_sent"),
          f"{len(envelopes)} messages on the queue, answer says messages_sent={answer.get('messages_sent')}")
    check(events == answer["events_emitted"],
          f"{events} events on the queue, answer says events_emitted={answer['events_emitted']}")
    ids = {e.get("import_id") for e in envelopes}
    check(ids == {answer.get("import_id")}, f"queue import_ids {ids} != answer's {answer.get('import_id')!r}")
    return (f"{answer['source']} [{answer['profile']}]: {files} file, {answer['records_read']} records, "
            f"{answer['events_emitted']} events, {answer['records_rejected']} rejected, "
            f"{len(envelopes)} message(s) on the queue")


def tracking_number_of(event):
    for ident in event.get("identifiers") or []:
        if str(ident.get("type", "")).lower() == "tracking_number" and str(ident.get("value", "")).strip():
            return ident["value"].strip()
    return (event.get("tracking_number") or "").strip()


def api_key_of(event):
    """The key Track should send: the request's, else DHL_API_KEY (the test's dummy)."""
    token = ((event.get("authorization") or {}).get("access_token") or "").strip()
    return token or ((event.get("metadata") or {}).get("api_key") or "").strip() or DUMMY_DHL_KEY


def client_id_of(event):
    """The OAuth client id Track should send: authorization.connection_context's, else
    metadata's (the samples carry their own)."""
    context = (event.get("authorization") or {}).get("connection_context") or {}
    return (context.get("client_id") or (event.get("metadata") or {}).get("client_id") or "").strip()


def check_calls(carrier, event, calls):
    """What the stand-in received for one Track invocation."""
    want = tracking_number_of(event)
    tracks = [c for c in calls if c.get("endpoint") == "track"]
    check(len(tracks) == 1, f"the {carrier} stand-in got {len(tracks)} tracking calls, expected 1")
    track = tracks[0]
    check(track.get("status") == 200, f"the {carrier} stand-in answered {track.get('status')}")
    check(track.get("tracking_number") == want,
          f"the stand-in was asked for {track.get('tracking_number')!r}, expected {want!r}")
    if carrier == "dhl":
        check(track.get("api_key") == api_key_of(event),
              "the stand-in got a different DHL-API-Key than the sample's")
        return ""
    tokens = [c for c in calls if c.get("endpoint") == "token"]
    # The watch's Track process keeps its token between invocations: at most one request.
    check(len(tokens) <= 1, f"{len(tokens)} token requests for one invocation")
    for token in tokens:
        check(token.get("status") == 200 and token.get("client_id") == client_id_of(event),
              f"the token request named client {token.get('client_id')!r} (status "
              f"{token.get('status')}), expected the sample's {client_id_of(event)!r}")
    if carrier == "ups":
        check(track.get("trans_id") == event.get("transaction_id"),
              "UPS's transId is not the request's transaction_id")
    return f", {len(tokens)} token request(s)"


def check_track(answer, event, carrier, calls):
    info = answer.get("tracking_info") or {}
    want = tracking_number_of(event)
    calls_note = check_calls(carrier, event, calls)
    check(info.get("tracking_number"), "tracking_info.tracking_number is missing")
    check(info.get("tracking_number") == want,
          f"tracking_info.tracking_number is {info.get('tracking_number')!r}, expected {want!r}")
    check(info.get("standardized_status_code"), "tracking_info.standardized_status_code is missing")
    check(info.get("standardized_status_code") == STUB_STANDARDIZED,
          f"standardized_status_code is {info.get('standardized_status_code')!r}, expected {STUB_STANDARDIZED}")
    check(info.get("events"), "tracking_info.events is empty")
    warnings = (answer.get("metadata") or {}).get("warning_messages")
    check(not warnings, f"unexpected warnings: {warnings}")
    return (f"{info.get('carrier_name')} {info['tracking_number']}: {info['standardized_status_code']} "
            f"({info.get('carrier_status_description', '')}), {len(info['events'])} events{calls_note}")


# ---------------------------------------------------------------------------------------------


# The README demo (--demo): the same run, on events/import-s3.json and events/track.json, showing
# what came back instead of one line per sample.

DEMO_SAMPLES = ("import-s3.json", "track.json")
DEMO_EVENTS_SHOWN = 2


def section(title):
    print(f"\n== {title}", flush=True)


def show_json(value):
    print(json.dumps(value, indent=2, ensure_ascii=False), flush=True)


def demo_first_message(envelopes):
    """The first chunk on the queue, its events cut to the first DEMO_EVENTS_SHOWN."""
    if not envelopes:
        raise Failure("the queue is empty")
    first = min(envelopes, key=lambda e: e.get("chunk") if isinstance(e.get("chunk"), int) else 0)
    events = first.get("events") or []
    shown = dict(first)
    shown["events"] = events[:DEMO_EVENTS_SHOWN]
    show_json(shown)
    more = len(events) - len(shown["events"])
    others = len(envelopes) - 1
    note = f"({more} more event(s) in this message not shown" if more > 0 else "(all events shown"
    note += f"; {others} more message(s) on the queue)" if others else "; the only message on the queue)"
    print(note, flush=True)


def _terminate(signum, _frame):
    # Unwind through the `finally` that stops watch and the stand-in.
    raise SystemExit(128 + signum)


def start_watch(args, env_file, log_path):
    """`cargo lambda watch` with `env_file`, listening. A free port may be taken before watch
    binds it: then another is tried (unless one was given)."""
    for attempt in (1, 2, 3):
        port = args.port or free_port()
        watch = Watch(args.cargo_lambda, port, env_file, log_path)
        try:
            watch.wait_ready()
            return watch
        except Failure:
            exited = watch.proc.poll() is not None
            watch.stop()
            if args.port or attempt == 3 or not exited:
                raise
            log(f"watch exited on port {port}; retrying on another")


def run_sample(args, stage, stand_in, watch, tmp, path, carrier):
    """Invokes one sample and checks its answer; the summary line, or raises Failure."""
    shown = os.path.relpath(path, REPO)
    function = function_for(path)
    event = json.loads(path.read_text())
    if function == IMPORT_FN:
        data = stage.seed(source_of(event))
        if args.demo:
            section(f"seeded {source_of(event)} with events/{data} (moto at {stage.endpoint})")
        stage.drain()
        event = stage.fill_placeholders(event)
    data_file = tmp / path.name
    data_file.write_text(json.dumps(event, indent=2))
    if args.demo and event == json.loads(path.read_text()):
        data_file = Path(shown)  # nothing filled in: invoke the sample itself
    if args.demo:
        section(f"cargo lambda invoke {function} --data-file {os.path.relpath(data_file, REPO)}")
    calls_before = len(stand_in.calls)
    answer = watch.invoke(function, data_file, args.invoke_timeout)
    if args.demo:
        section("import summary" if function == IMPORT_FN else "Track response")
        show_json(answer)
    if function == IMPORT_FN:
        summary = check_import(stage, answer, data)
        if args.demo:
            section("first message on the queue")
            demo_first_message(stage.drained)
        return summary
    return check_track(answer, event, carrier, stand_in.calls_since(calls_before, carrier))


def function_env(stage, events_dir, queue_url, stand_in_url):
    return {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": stage.endpoint,
        "QUEUE_URL": queue_url,
        "DEFAULT_SOURCE": DEFAULT_SOURCE,
        "DEFAULT_PROFILE": DEFAULT_PROFILE,
        # What the samples may name (the operator's list, as the template sets it): any bucket of
        # the local S3, the sample files, and the local carrier servers by address and port (the
        # network guard refuses loopback unless an entry names the server).
        "ALLOWED_SOURCES": ",".join(
            ["s3://", f"{events_dir}/"]
            + [f"{scheme}://{stage.host}:{port}/" for scheme, port in stage.ports.items()]
        ),
        "SOURCE_CONNECT_TIMEOUT_MS": "10000",
        "SOURCE_READ_TIMEOUT_MS": "20000",
        "CARRIER_BASE_URL": stand_in_url,
        "DHL_API_KEY": DUMMY_DHL_KEY,
        "RETRY_ATTEMPTS": "1",
        "RUST_LOG": "info",
        "NO_COLOR": "1",
    }


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cargo-lambda", default=shutil.which("cargo-lambda") or "cargo-lambda",
                    help="the cargo-lambda executable")
    ap.add_argument("--stand-in", default=str(REPO / "target" / "debug" / "carrier-stand-in"),
                    help="test-support's carrier-stand-in executable")
    ap.add_argument("--events", default=str(REPO / "events"), help="directory of sample events")
    ap.add_argument("--port", type=int, default=0, help="watch's port (default: a free one)")
    ap.add_argument("--log-dir", default=str(REPO / ".local"), help="where watch's log goes")
    ap.add_argument("--invoke-timeout", type=int, default=900,
                    help="seconds for one invoke (the first one may compile the function)")
    ap.add_argument("--demo", action="store_true",
                    help="the README demo: import events/import-s3.json and call Track with "
                    "events/track.json, printing the summary, the first queue message and the answer")
    ap.add_argument("only", nargs="*", help="only these sample files (default: every events/*.json)")
    return ap.parse_args()


def main():
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    args = parse_args()

    started = time.monotonic()
    events_dir = Path(args.events).resolve()
    samples = [
        (Path(p) if Path(p).exists() else REPO / p).resolve() for p in args.only
    ] or sorted(events_dir.glob("*.json"))
    if args.demo and not args.only:
        samples = [events_dir / name for name in DEMO_SAMPLES]
    if not samples:
        sys.exit(f"invoke-samples: no *.json in {events_dir}")

    stage = Stage(events_dir)
    queue_url = stage.make_queue()
    stand_in = StandIn(args.stand_in)
    log(f"queue {queue_url}; carrier stand-in at {stand_in.url}")

    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="invoke-samples-"))
    base_env = function_env(stage, events_dir, queue_url, stand_in.url)

    passed = failures = 0
    watch = None
    try:
        for carrier in CARRIERS:
            group = [p for p in samples if carrier_for(p) == carrier]
            if not group:
                continue
            failures_before = failures
            env_file = tmp / f"functions-{carrier}.env"
            env = dict(base_env, CARRIER=carrier)
            env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
            watch = start_watch(args, env_file, log_dir / f"invoke-samples-watch-{carrier}.log")
            if args.demo:
                section(f"cargo lambda watch on 127.0.0.1:{watch.port} (both functions; carrier "
                        f"stand-in at {stand_in.url}, queue {queue_url})")
                print(f"(the first invoke compiles the functions: on a fresh clone that takes a "
                      f"few minutes; log: {watch.log_path})", flush=True)
            for path in group:
                shown = os.path.relpath(path, REPO)
                function = function_for(path)
                if function is None:
                    print(f"FAIL {shown}: cannot tell the function from the file name "
                          "(track*.json or import-*.json)", flush=True)
                    failures += 1
                    continue
                t0 = time.monotonic()
                try:
                    summary = run_sample(args, stage, stand_in, watch, tmp, path, carrier)
                    if args.demo:
                        print(flush=True)
                    print(f"ok {shown} → {function}: {summary} ({time.monotonic() - t0:.1f} s)",
                          flush=True)
                    passed += 1
                except Failure as e:
                    failures += 1
                    print(f"FAIL {shown} → {function}: {e}", flush=True)
                except Exception as e:  # a bug here, or a stand-in down: still a failure
                    failures += 1
                    print(f"FAIL {shown} → {function}: {type(e).__name__}: {e}", flush=True)
            if failures > failures_before:
                log(f"cargo lambda watch log tail ({watch.log_path}):\n{watch.tail()}")
            watch.stop()
            watch = None
    except Failure as e:
        print(f"FAIL cargo lambda watch: {e}", flush=True)
        failures = len(samples) - passed
    finally:
        if watch is not None:
            watch.stop()
        stand_in.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            stage.sqs.delete_queue(QueueUrl=queue_url)
        except Exception:
            pass
    print(f"samples: {passed} ok, {failures} failed "
          f"({time.monotonic() - started:.0f} s)", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
