"""`lecs event list`: the audit trail, newest first."""

from __future__ import annotations

import argparse
from typing import Any

from app import render
from app.cli.output import noun, out, verb
from backend import Cloud
from backend.inventory.errors import LecsError


async def event_list(cloud: Cloud, args: argparse.Namespace) -> None:
    resource = args.resource
    if resource and not resource.startswith(("i-", "img-", "d-")):
        try:
            resource = cloud.instances.get(resource, reconcile=False).id
        except LecsError:
            pass
    events = cloud.audit.list(resource, args.limit)
    out(args, events, lambda: render.table(
        ["TIME", "USER", "ACTION", "RESOURCE", "RESULT", "MS", "DETAIL"],
        [[render.when(e.time), e.user, e.action, e.resource, e.result, f"{e.duration_ms:.0f}",
          e.error or e.parameters.get("detail", "")] for e in events]))


def register(nouns: Any) -> None:
    ev = noun(nouns, "event", "the audit trail")
    p = verb(ev, "list", event_list, "list events, newest first")
    p.add_argument("--resource")
    p.add_argument("--limit", type=int, default=50)
