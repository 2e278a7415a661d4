"""`lecs event list` and `lecs event export`: the audit trail, newest first."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import re
import time
from typing import Any

from app import render
from app.cli.output import noun, out, verb
from backend import Cloud
from backend.inventory.errors import ValidationError
from backend.inventory.records import Event

AGO = re.compile(r"^(\d+)([smhdw])$")
UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
COLUMNS = ("id", "time", "user", "action", "resource", "result", "duration_ms", "error",
           "parameters")


def when(value: str | None, option: str) -> float | None:
    """'30m', '2h', '7d' (that long ago) or an ISO date/time ('2026-12-01', '…T10:00')."""
    if value is None:
        return None
    ago = AGO.match(value.strip())
    if ago:
        return time.time() - int(ago[1]) * UNIT[ago[2]]
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(f"invalid {option} {value!r}: use a duration ago (30m, 2h, 7d)"
                              " or a date/time (2026-12-01, 2026-12-01T10:00)") from None
    return moment.timestamp()


def _events(cloud: Cloud, args: argparse.Namespace, limit: int) -> list[Event]:
    since, until = when(args.since, "--since"), when(args.until, "--until")
    if since is not None and until is not None and since > until:
        raise ValidationError("--since is after --until: nothing lies between them")
    return cloud.audit.list(args.resource, limit, since=since, until=until)


async def event_list(cloud: Cloud, args: argparse.Namespace) -> None:
    if args.limit < 1:
        raise ValidationError(f"invalid --limit {args.limit}: must be at least 1")
    events = _events(cloud, args, args.limit)
    out(args, events, lambda: render.table(
        ["TIME", "USER", "ACTION", "RESOURCE", "RESULT", "MS", "DETAIL"],
        [[render.when(e.time), e.user, e.action, e.resource, e.result, f"{e.duration_ms:.0f}",
          e.error or e.parameters.get("detail", "")] for e in events]))


def _record(e: Event) -> dict[str, Any]:
    return {"id": e.id, "time": dt.datetime.fromtimestamp(e.time).astimezone().isoformat(),
            "user": e.user, "action": e.action, "resource": e.resource, "result": e.result,
            "duration_ms": e.duration_ms, "error": e.error, "parameters": e.parameters}


async def event_export(cloud: Cloud, args: argparse.Namespace) -> None:
    """Every matching event, oldest first, as JSON lines or CSV on stdout."""
    events = list(reversed(_events(cloud, args, -1)))  # LIMIT -1: no limit
    if args.format == "jsonl":
        for e in events:
            print(json.dumps(_record(e), sort_keys=True))
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for e in events:
        row = _record(e)
        row["parameters"] = json.dumps(row["parameters"], sort_keys=True)
        writer.writerow(row)
    print(buffer.getvalue(), end="")


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resource", help="an id or the name of any resource")
    p.add_argument("--since", help="from: 30m, 2h, 7d ago, or 2026-12-01[T10:00]")
    p.add_argument("--until", help="to: the same forms")


def register(nouns: Any) -> None:
    ev = noun(nouns, "event", "the audit trail")
    p = verb(ev, "list", event_list, "list events, newest first")
    _filters(p)
    p.add_argument("--limit", type=int, default=50)
    p = verb(ev, "export", event_export, "write the audit trail as JSON lines or CSV")
    _filters(p)
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
