"""What every noun module shares: declaring a noun and its verbs, and printing a result."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from app import render
from backend import Cloud
from backend.inventory.errors import ValidationError

Handler = Callable[[Cloud, argparse.Namespace], Coroutine[Any, Any, Any]]


def noun(nouns: Any, name: str, help_text: str) -> Any:
    """`lecs NAME …`: a noun whose VERB is required; its parsers share the root's class."""
    return nouns.add_parser(name, help=help_text).add_subparsers(
        dest="verb", metavar="VERB", required=True)


def verb(noun: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
    """`lecs NOUN NAME …` run by `handler`; every verb also takes --json."""
    p: argparse.ArgumentParser = noun.add_parser(name, help=help_text)
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="machine-readable output")
    p.set_defaults(handler=handler)
    return p


def destructive(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A verb that deletes or overwrites: it asks on a terminal, and takes --yes."""
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    return p


def confirm(args: argparse.Namespace, question: str) -> None:
    """Ask `question? [y/N]` on a terminal; without one, only --yes goes ahead."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise ValidationError(f"refusing to {question} without --yes")
    if input(f"{question}? [y/N] ").strip().lower() not in {"y", "yes"}:
        raise ValidationError("nothing done")


def out(args: argparse.Namespace, value: Any, text: Callable[[], str]) -> None:
    print(render.dumps(value) if args.json else text())


def progress_bar(args: argparse.Namespace) -> Callable[[float, str], None] | None:
    """A one-line bar on stderr (a terminal only; --json and pipes stay clean)."""
    if args.json or not sys.stderr.isatty():
        return None
    last = [-1]

    def show(fraction: float, label: str) -> None:
        width, pct = 30, int(fraction * 100)
        if pct == last[0]:
            return
        last[0] = pct
        done = int(fraction * width)
        sys.stderr.write(f"\r{label} [{'#' * done}{'.' * (width - done)}] {pct:3d}%")
        if fraction >= 1:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
