"""`orders`: order files through the whole pipeline on the embedded emulator, a local server,
and the operator's tools (reports, the dead-letter queue).

    orders run PATH... [--json] [--export DIR]
    orders serve [--port P] [--s3-port P] [--api-key KEY]
    orders report BATCH_ID [--format jsonl|csv] (--endpoint URL | --stage STAGE)
    orders dlq list|review|redrive ... (--endpoint URL | --stage STAGE) [--json]
    orders senders add ID --name NAME | list | rotate-key ID | disable ID (--endpoint | --stage)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chalicelib.pipeline.batches import BatchRecords
from orderflow_cli.run import run_files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="orders", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="process order files on the embedded emulator")
    run.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    run.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    run.add_argument("--export", type=Path, metavar="DIR", help="write the table, DLQ, batches")
    serve = commands.add_parser("serve", help="serve the HTTP API and S3 on 127.0.0.1")
    serve.add_argument("--port", type=int, default=8000, help="the API's port (default 8000)")
    serve.add_argument("--s3-port", type=int, default=0, help="emulated S3's port (default: free)")
    serve.add_argument(
        "--api-key", help="the demo sender's key, 8+ characters (default: a new random one)"
    )
    report = commands.add_parser("report", help="print a batch's rejection report")
    report.add_argument("batch_id")
    report.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    report.add_argument(
        "--endpoint",
        default=os.environ.get("ORDERFLOW_ENDPOINT"),
        help="the emulated AWS endpoint of a running `orders serve` (its 'emulated S3' line)",
    )
    report.add_argument("--stage", help="the stage whose resources to read (default: local)")
    dlq = commands.add_parser("dlq", help="what the pipeline refused: list, review, redrive")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    for name, text in (
        ("list", "messages waiting in the DLQ and its redrive queue, by reason"),
        ("review", "the reviewer's records: what was retried, repaired, archived"),
        ("redrive", "send archived orders (possibly edited) back through the pipeline"),
    ):
        sub = dlq_commands.add_parser(name, help=text)
        _stack_options(sub)
        if name == "review":
            sub.add_argument("--batch", help="only this batch")
            sub.add_argument("--reason", help="only this reason (invalid, conflict, ...)")
        if name == "redrive":
            sub.add_argument("ids", nargs="*", metavar="ID", help="review ids (<batch_id>:<row>)")
            sub.add_argument("--reason", help="every archived order of this reason")
            sub.add_argument(
                "--edited",
                type=Path,
                help='JSON Lines of {"review_id", "order"}: send these orders instead',
            )
    senders = commands.add_parser("senders", help="the senders (tenants) and their API keys")
    sender_commands = senders.add_subparsers(dest="senders_command", required=True)
    for name, text in (
        ("add", "a new sender; prints its API key, once"),
        ("list", "every sender: id, status, name, live keys"),
        ("rotate-key", "a new API key for the sender (printed once); its old key stops at once"),
        ("disable", "refuse every key of the sender from now on (its data stays)"),
    ):
        sub = sender_commands.add_parser(name, help=text)
        if name != "list":
            sub.add_argument("sender_id", metavar="ID", help="lower-case letters, digits, hyphens")
        if name == "add":
            sub.add_argument("--name", required=True, help="the sender's display name")
        _stack_options(sub)
    args = parser.parse_args(argv)
    if args.command == "senders":
        return senders_command(args)
    if args.command == "dlq":
        return dlq_command(args)
    if args.command == "serve":
        return serve_api(args.port, args.s3_port, args.api_key)
    if args.command == "report":
        return print_report(args.batch_id, args.format, args.endpoint, args.stage or "local")
    return run_files(args.paths, as_json=args.json, export=args.export)


def dlq_command(args: argparse.Namespace) -> int:
    from orderflow_cli import dlq
    from orderflow_cli.stack import open_stack

    stack = open_stack(args.endpoint, args.stage)
    result: Any
    if args.dlq_command == "list":
        result = dlq.waiting(stack)
        lines = [
            f"{queue}: {reason}: {n}"
            for queue, reasons in result.items()
            for reason, n in reasons.items()
        ] or ["nothing waits"]
    elif args.dlq_command == "review":
        result = stack.reviews.query(batch_id=args.batch, reason=args.reason)
        lines = [
            f"{r['review_id']:<45} {r.get('order_id') or '-':<12} {r['reason']:<13} "
            f"{r['decision']:<8} {r['ended']:<9} {r.get('why', '')}"
            for r in result
        ] or ["no review records"]
    else:
        if not args.ids and not args.reason:
            print("orders: dlq redrive needs review ids or --reason", file=sys.stderr)
            return 2
        edited: dict[str, Any] = {}
        if args.edited:
            for line in args.edited.read_text().splitlines():
                if line.strip():
                    entry = json.loads(line)
                    edited[entry["review_id"]] = entry["order"]
        try:
            result = dlq.redrive(stack, args.ids, reason=args.reason, edited=edited)
        except dlq.RedriveRefused as refused:
            print(f"orders: dlq redrive: {refused}", file=sys.stderr)
            return 1
        lines = [f"sent {result['sent']} order(s) as {result['key']}"]
        if result["already"]:
            lines.append(f"already redriven: {', '.join(sorted(result['already']))}")
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print("\n".join(lines))
    return 0


def _stack_options(sub: argparse.ArgumentParser) -> None:
    """Where an operator's command reads and writes: `orders serve` or a stage; and --json."""
    sub.add_argument("--endpoint", default=os.environ.get("ORDERFLOW_ENDPOINT"))
    sub.add_argument("--stage", default="local")
    sub.add_argument("--json", action="store_true", help="one JSON document on stdout")


def senders_command(args: argparse.Namespace) -> int:
    from chalicelib.senders import SenderError, SenderRegistry
    from orderflow_cli.stack import open_stack

    stack = open_stack(args.endpoint, args.stage)
    registry = SenderRegistry(stack.dynamodb, stack.names["SENDERS_TABLE"])
    result: Any
    try:
        if args.senders_command == "add":
            sender, key = registry.add(args.sender_id, args.name)
            result = {**sender.to_dict(), "api_key": key}
            lines = [f"sender {sender.sender_id} added; its API key (shown once): {key}"]
        elif args.senders_command == "rotate-key":
            key = registry.rotate_key(args.sender_id)
            result = {"sender_id": args.sender_id, "api_key": key}
            lines = [f"sender {args.sender_id}: new API key (shown once): {key}; the old one"
                     " no longer works"]  # fmt: skip
        elif args.senders_command == "disable":
            result = registry.disable(args.sender_id).to_dict()
            lines = [f"sender {args.sender_id} disabled: its keys are refused from now on"]
        else:
            result = [s.to_dict() for s in registry.every()]
            lines = [
                f"{s['sender_id']:<40} {s['status']:<9} keys {s['keys']}  {s['name']}"
                for s in result
            ] or ["no senders"]
    except SenderError as error:
        print(f"orders: senders {args.senders_command}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else "\n".join(lines))
    return 0


def print_report(batch_id: str, form: str, endpoint: str | None, stage: str) -> int:
    """Prints the report of a batch processed by `orders serve` (--endpoint) or a stage."""
    from orderflow_cli.stack import open_stack

    stack = open_stack(endpoint, stage)
    names, s3 = stack.names, stack.s3
    record = BatchRecords(stack.dynamodb, names["BATCHES_TABLE"]).get(batch_id)
    if record is None:
        print(f"orders: no batch {batch_id!r} in stage {stage}", file=sys.stderr)
        return 1
    keys = record.get("report_keys")
    if not keys:
        print(
            f"orders: batch {batch_id} ({record.get('status')}) rejected nothing", file=sys.stderr
        )
        return 0
    body = s3.get_object(Bucket=names["BUCKET_NAME"], Key=keys[form])["Body"]
    if form == "csv":
        for part in body.iter_chunks():
            sys.stdout.buffer.write(part)
        sys.stdout.flush()
        return 0
    # JSON Lines: each rejection with what the DLQ reviewer decided, once it has run.
    reviewed = {r.get("row"): r for r in stack.reviews.query(batch_id=batch_id)}
    for line in body.iter_lines():
        rejection = json.loads(line)
        review = reviewed.get(rejection["row"])
        if review:
            rejection["review"] = {k: review.get(k) for k in ("decision", "ended", "why")}
        print(json.dumps(rejection, ensure_ascii=False))
    return 0


def serve_api(port: int, s3_port: int, api_key: str | None) -> int:
    from orderflow_cli.emulator.server import IN_MEMORY_NOTICE, LocalServer

    print(IN_MEMORY_NOTICE, file=sys.stderr, flush=True)
    server = LocalServer(port, s3_port, api_key)
    server.start()
    print(f"orderflow API   {server.url}", flush=True)
    print(f"emulated S3     {server.s3_url}", flush=True)
    print(
        f"API key         {server.api_key}   (sender 'demo'; send it as: -H 'x-api-key: ...')",
        flush=True,
    )
    print("Ctrl-C stops the server.", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored (&)
        signal.signal(signum, lambda *_: stop.set())
    try:
        stop.wait()
        print("stopping", flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
