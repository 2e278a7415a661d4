"""`lecs NOUN VERB …`: the scriptable twin of the dashboard. Errors are one line, no traceback.

The parser and the runner; the verbs live in one module per noun group, each with a
`register(nouns)` called here in the order `lecs --help` lists them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import NoReturn

from app.cli import (
    accesskeys,
    doctor,
    events,
    images,
    instance_types,
    instances,
    metrics,
    network,
    serve,
    storage,
)
from backend import Cloud
from backend.inventory.errors import LecsError

NOUNS = (instance_types, images, instances, events, storage, network, metrics, accesskeys,
         serve, doctor)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"lecs: error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


def build_parser() -> Parser:
    parser = Parser(prog="lecs", description="lecs: a local Elastic Compute Service over QEMU."
                    " Run with no arguments for the dashboard.")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    # Every noun's and verb's parser is a Parser too: add_subparsers defaults to the parent's class.
    nouns = parser.add_subparsers(dest="noun", metavar="NOUN", parser_class=Parser)
    for module in NOUNS:
        module.register(nouns)
    return parser


class Signalled(Exception):
    """SIGTERM or SIGHUP (a closed terminal) arrived: the operation was cancelled cleanly."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


async def _run(args: argparse.Namespace) -> None:
    # SIGTERM and SIGHUP cancel the operation like ctrl+c: its own clean-up runs (files,
    # QEMU, rows), then lecs exits; only SIGKILL leaves work for the next start's recovery.
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def cancel(signum: int) -> None:
        received.append(signum)
        task.cancel()

    for signum in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, cancel, signum)
    try:
        await _operate(args)
    except asyncio.CancelledError:
        if received:
            raise Signalled(received[0]) from None
        raise


# Verbs that change nothing; every other verb's refusal is in the audit trail.
READING = frozenset({"list", "show", "port", "watch", "ssh", "console", "console-log",
                     "export", "tree", "check"})
RESOURCE_ARGS = ("instance", "disk", "image", "group", "snapshot", "backup", "alarm",
                 "keypair", "network", "name")


def _audit_refusal(cloud: Cloud, args: argparse.Namespace, exc: LecsError) -> None:
    """A mutating verb refused before the engine recorded anything (a bad tag, a bad size,
    a name that does not resolve): record it, as the engine records its own refusals."""
    action = f"{args.noun}.{getattr(args, 'verb', '') or args.noun}"
    resource = next((str(getattr(args, a)) for a in RESOURCE_ARGS
                     if isinstance(getattr(args, a, None), str)), "")
    try:
        cloud.audit.record(action, resource, {"refused": True}, "failure", str(exc))
    except LecsError:  # a read-only or busy inventory: the refusal itself is all there is
        pass


async def _operate(args: argparse.Namespace) -> None:
    cloud = await Cloud.open()
    before = cloud.audit.recorded
    try:
        await args.handler(cloud, args)
    except LecsError as exc:
        if getattr(args, "verb", "") not in READING and args.noun != "doctor" \
                and cloud.audit.recorded == before:
            _audit_refusal(cloud, args, exc)
        raise
    finally:
        cloud.close()


def run_cli(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if not getattr(args, "handler", None):
        build_parser().print_help()
        return 2
    try:
        asyncio.run(_run(args))
    except LecsError as exc:
        sys.stderr.write(f"lecs: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("lecs: interrupted\n")
        return 130
    except Signalled as exc:
        sys.stderr.write(f"lecs: interrupted by {exc}\n")
        return 128 + exc.signum
    except BrokenPipeError:  # `lecs … | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:  # the last line of defence: never a traceback for a user
        if os.environ.get("LECS_DEBUG"):
            raise
        sys.stderr.write(f"lecs: internal error: {type(exc).__name__}: {exc}\n")
        return 1
    return 0
