"""`lecs instance rename|pause|resume|resize|console-log …` (issue #15): verbs of the instance noun
beyond create/start/stop, registered by app/cli/instances.py."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.output import out, verb
from backend import Cloud


async def instance_rename(cloud: Cloud, args: argparse.Namespace) -> None:
    inst = await cloud.instance_ops.rename(args.instance, args.new_name)
    out(args, inst, lambda: f"renamed {args.instance} to {inst.name} ({inst.id})")


async def instance_pause(cloud: Cloud, args: argparse.Namespace) -> None:
    inst = await cloud.instance_ops.pause(args.instance)
    out(args, inst, lambda: f"{inst.name}: {inst.state.value}")


async def instance_resume(cloud: Cloud, args: argparse.Namespace) -> None:
    inst = await cloud.instance_ops.resume(args.instance)
    out(args, inst, lambda: f"{inst.name}: {inst.state.value}")


async def instance_console_log(cloud: Cloud, args: argparse.Namespace) -> None:
    log = cloud.instance_ops.console_log(args.instance, args.tail)
    out(args, log, lambda: log.text)


async def instance_resize(cloud: Cloud, args: argparse.Namespace) -> None:
    inst = await cloud.instance_ops.resize(args.instance, args.type, live=args.live)
    out(args, inst, lambda: f"{inst.name}: {inst.type} ({inst.vcpus} vCPU,"
        f" {inst.memory_mib} MiB) from its next start")


def register(ins: Any) -> None:
    p = verb(ins, "rename", instance_rename, "give an instance a new name (id, disks, ports"
             " stay)")
    p.add_argument("instance")
    p.add_argument("new_name", metavar="NEW")
    verb(ins, "pause", instance_pause, "freeze the guest (QMP stop): memory kept, vCPUs"
         " stopped").add_argument("instance")
    verb(ins, "resume", instance_resume, "let a paused guest run again (QMP cont)"
         ).add_argument("instance")
    p = verb(ins, "resize", instance_resize, "change the instance type of a stopped instance")
    p.add_argument("instance")
    p.add_argument("--type", required=True, help="the new type (see `lecs type list`)")
    p.add_argument("--live", action="store_true", help="grow a running instance (refused:"
                   " QEMU 7.2 needs room reserved at launch)")
    p = verb(ins, "console-log", instance_console_log, "print the serial console's output"
             " (a stopped instance: its last boot)")
    p.add_argument("instance")
    p.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
