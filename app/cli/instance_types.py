"""`lecs type list`: the instance types (vCPUs and memory) an instance is created with."""

from __future__ import annotations

import argparse
from typing import Any

from app import render
from app.cli.output import noun, out, verb
from backend import Cloud


async def type_list(cloud: Cloud, args: argparse.Namespace) -> None:
    types = cloud.types.list()
    out(args, types, lambda: render.table(
        ["NAME", "VCPUS", "MEMORY", "DESCRIPTION"],
        [[t.name, t.vcpus, f"{t.memory_mib} MiB", t.description] for t in types]))


def register(nouns: Any) -> None:
    t = noun(nouns, "type", "instance types")
    verb(t, "list", type_list, "list instance types")
