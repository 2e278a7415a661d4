"""`lecs instance rename|pause|resume|resize|rebuild|console-log …` (issue #15): verbs of
the instance noun beyond create/start/stop, registered by app/cli/instances.py."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.output import confirm, destructive, out, verb
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


async def instance_rebuild(cloud: Cloud, args: argparse.Namespace) -> None:
    inst = cloud.instances.get(args.instance)
    old = next((d for d in inst.disks if d.role == "system"), None)
    fate = "kept as a detached disk" if args.keep_old else "deleted"
    confirm(args, f"replace the system disk of {inst.name} ({inst.id}) with a fresh one from"
            f" image {args.image}; the old one ({old.name if old else '-'}) is {fate}")
    done = await cloud.instance_ops.rebuild(inst.id, args.image, keep_old=args.keep_old)
    out(args, done, lambda: f"{done.name}: rebuilt from {done.image_name}, old system disk"
        f" {fate}")


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
    p = verb(ins, "rebuild", instance_rebuild, "replace a stopped instance's system disk with"
             " a fresh one from an image (data disks, ports, groups, tags stay)")
    destructive(p).add_argument("instance")
    p.add_argument("--image", required=True)
    p.add_argument("--keep-old", action="store_true", help="keep the old system disk as a"
                   " detached disk (default: delete it)")
    p = verb(ins, "console-log", instance_console_log, "print the serial console's output"
             " (a stopped instance: its last boot)")
    p.add_argument("instance")
    p.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
