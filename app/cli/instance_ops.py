"""`lecs instance rename|pause|resume|resize|rebuild|console-log …` (issue #15): verbs of
the instance noun beyond create/start/stop, and the bulk form of the power verbs
(several names, --tag, --all), registered by app/cli/instances.py."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.output import Handler, confirm, destructive, out, verb
from backend import Cloud
from backend.compute.readiness import Readiness
from backend.inventory.errors import LecsError
from backend.inventory.validate import tags as parse_tags


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


async def instance_clone(cloud: Cloud, args: argparse.Namespace) -> None:
    made = await cloud.instance_ops.clone(args.instance, args.new_name, count=args.count,
                                          tags=parse_tags(args.tag), start=args.start)
    out(args, made, lambda: "\n".join(f"cloned {args.instance} to {i.name} ({i.id}):"
                                      f" {i.state.value}" for i in made))


# ---- bulk: several names, --tag, --all -----------------------------------------------
def several(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A verb that takes one instance, several, those tagged so, or all of them."""
    p.add_argument("instance", nargs="*", metavar="INSTANCE", help="one or more names or ids")
    p.add_argument("--tag", action="append", default=[], help="KEY=VALUE: every instance"
                   " tagged so (repeatable: all must match)")
    p.add_argument("--all", action="store_true", help="every instance (asks first)")
    if not any(a.dest == "yes" for a in p._actions):
        destructive(p)
    return p


def report(args: argparse.Namespace, results: list[Any], verb_name: str) -> None:
    """One line per instance; a non-zero exit naming each failure if any failed."""
    out(args, results, lambda: "\n".join(
        f"{r.name}: {r.state}" if r.ok else f"{r.name}: failed: {r.error}" for r in results))
    failed = [r for r in results if not r.ok]
    if failed:
        raise LecsError(f"{verb_name}: {len(failed)} of {len(results)} failed: "
                        + "; ".join(f"{r.name}: {r.error}" for r in failed))


def bulk(verb_name: str, single: Handler) -> Handler:
    """`single` for one name (as before); else the verb on each instance chosen, side by
    side, after a confirm for --all and for delete."""

    async def run(cloud: Cloud, args: argparse.Namespace) -> None:
        names, tags = list(args.instance), parse_tags(args.tag)
        if len(names) == 1 and not tags and not args.all:
            args.instance = names[0]
            await single(cloud, args)
            return
        refs = cloud.instance_ops.select(names, tags, args.all)
        if args.all or verb_name == "delete" or (tags and verb_name != "start"):
            confirm(args, f"{verb_name} {len(refs)} instance(s): {', '.join(refs)}")
        how: dict[str, Any] = {}
        if verb_name in ("start", "reboot"):
            how = {"wait": Readiness(args.wait) if args.wait else False,
                   "timeout": args.timeout}
        if verb_name == "reboot":
            how.update(force=args.force, shutdown_timeout=args.shutdown_timeout)
        elif verb_name == "stop":
            how = {"timeout": args.timeout}
        results = await cloud.instance_ops.each(verb_name, refs, **how)
        report(args, results, verb_name)

    return run


async def create_many(cloud: Cloud, args: argparse.Namespace, **create: Any) -> None:
    results = await cloud.instance_ops.create_many(args.name, args.count, **create)
    report(args, results, "create")


def register(ins: Any) -> None:
    p = verb(ins, "rename", instance_rename, "give an instance a new name (id, disks, ports"
             " stay)")
    p.add_argument("instance")
    p.add_argument("new_name", metavar="NEW")
    several(verb(ins, "pause", bulk("pause", instance_pause), "freeze the guest (QMP stop):"
                 " memory kept, vCPUs stopped"))
    several(verb(ins, "resume", bulk("resume", instance_resume), "let a paused guest run"
                 " again (QMP cont)"))
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
    p = verb(ins, "clone", instance_clone, "new instances with copies of an instance's disks"
             " (a running one: a crash-consistent copy), its groups, key pair and tags")
    p.add_argument("instance")
    p.add_argument("new_name", metavar="NEW")
    p.add_argument("--count", type=int, metavar="N", help="NEW-1 … NEW-N")
    p.add_argument("--tag", action="append", default=[], help="KEY=VALUE set on the clones"
                   " (over the source's; repeatable)")
    p.add_argument("--start", action="store_true", help="start the clones")
    p = verb(ins, "console-log", instance_console_log, "print the serial console's output"
             " (a stopped instance: its last boot)")
    p.add_argument("instance")
    p.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
