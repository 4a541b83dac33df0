#!/usr/bin/env python3
"""Why this exists: no aws CLI is installed, so the demo (and any test that wants it) drives the
local moto server through boto3 (which ships with moto[server] in .venv).

Subcommands:
  seed --bucket B --key K --file F        create bucket B if needed, upload F as s3://B/K
  mkqueue NAME [--attr Name=Value ...]    create SQS queue NAME, print its URL
  receive --queue-url URL [--max N] [--wait S] [--delete]
                                          print up to N message bodies, one JSON value per line
  reset                                   wipe all moto state (POST /moto-api/reset)

The endpoint comes from --endpoint-url, else $AWS_ENDPOINT_URL, else $MOTO_ENDPOINT. It must be a
loopback address: this tool refuses to talk to anything else (in particular, real AWS).
Run it with .venv/bin/python (that is where boto3 is).
"""
import argparse
import ipaddress
import json
import os
import sys
import urllib.parse
import urllib.request

os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402


def loopback_endpoint(url):
    if not url:
        sys.exit("localstack_tool: no endpoint (set AWS_ENDPOINT_URL or pass --endpoint-url)")
    host = urllib.parse.urlsplit(url).hostname or ""
    ok = host == "localhost"
    if not ok:
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = False
    if not ok:
        sys.exit(f"localstack_tool: refusing non-loopback endpoint {url!r}")
    return url


def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def cmd_seed(args):
    s3 = client("s3", args.endpoint)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if args.bucket not in existing:
        s3.create_bucket(Bucket=args.bucket)
    s3.upload_file(args.file, args.bucket, args.key)
    size = s3.head_object(Bucket=args.bucket, Key=args.key)["ContentLength"]
    print(f"s3://{args.bucket}/{args.key} ({size} bytes)", file=sys.stderr)


def cmd_mkqueue(args):
    sqs = client("sqs", args.endpoint)
    attrs = {}
    for a in args.attr or []:
        name, _, value = a.partition("=")
        attrs[name] = value
    resp = sqs.create_queue(QueueName=args.name, Attributes=attrs)
    print(resp["QueueUrl"])


def cmd_receive(args):
    sqs = client("sqs", args.endpoint)
    got = 0
    while got < args.max:
        resp = sqs.receive_message(
            QueueUrl=args.queue_url,
            MaxNumberOfMessages=min(10, args.max - got),
            WaitTimeSeconds=args.wait,
            MessageAttributeNames=["All"],
        )
        msgs = resp.get("Messages", [])
        if not msgs:
            break
        for m in msgs:
            body = m["Body"]
            try:
                value = json.loads(body)
            except ValueError:
                value = body  # not JSON: print it as a JSON string
            print(json.dumps(value, separators=(",", ":")))
            if args.delete:
                sqs.delete_message(QueueUrl=args.queue_url, ReceiptHandle=m["ReceiptHandle"])
            got += 1
    print(f"received {got} message(s)", file=sys.stderr)


def cmd_reset(args):
    req = urllib.request.Request(args.endpoint.rstrip("/") + "/moto-api/reset", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint-url", dest="endpoint",
                   default=os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("MOTO_ENDPOINT"))
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("seed", help="create bucket if needed and upload a file")
    s.add_argument("--bucket", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--file", required=True)
    s.set_defaults(func=cmd_seed)

    q = sub.add_parser("mkqueue", help="create a queue and print its URL")
    q.add_argument("name")
    q.add_argument("--attr", action="append", metavar="NAME=VALUE",
                   help="queue attribute, e.g. MaximumMessageSize=1048576")
    q.set_defaults(func=cmd_mkqueue)

    r = sub.add_parser("receive", help="print message bodies as JSON lines")
    r.add_argument("--queue-url", required=True)
    r.add_argument("--max", type=int, default=10)
    r.add_argument("--wait", type=int, default=1, help="long-poll seconds per receive (0-20)")
    r.add_argument("--delete", action="store_true", help="delete each message after printing")
    r.set_defaults(func=cmd_receive)

    z = sub.add_parser("reset", help="wipe all moto state")
    z.set_defaults(func=cmd_reset)

    args = p.parse_args()
    args.endpoint = loopback_endpoint(args.endpoint)
    args.func(args)


if __name__ == "__main__":
    main()
