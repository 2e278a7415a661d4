"""`lecs NOUN VERB …`: the scriptable twin of the dashboard. Errors are one line, no traceback."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from app import render
from app.cli.output import Handler, noun, out, verb
from backend import Cloud
from backend.inventory.errors import LecsError, ValidationError
from backend.inventory.validate import tags as parse_tags

# Nouns that live in their own modules; each has `register(nouns)` (see build_parser).
EXTENSIONS = ("app.cli.storage", "app.cli.network", "app.cli.metrics")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"lecs: error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


# ---- type ---------------------------------------------------------------------------
async def type_list(cloud: Cloud, args: argparse.Namespace) -> None:
    types = cloud.types.list()
    out(args, types, lambda: render.table(
        ["NAME", "VCPUS", "MEMORY", "DESCRIPTION"],
        [[t.name, t.vcpus, f"{t.memory_mib} MiB", t.description] for t in types]))


# ---- image --------------------------------------------------------------------------
async def image_list(cloud: Cloud, args: argparse.Namespace) -> None:
    images = cloud.images.list()
    out(args, images, lambda: render.table(
        ["ID", "NAME", "FORMAT", "SIZE", "STATE", "OS", "CHECKSUM"],
        [[i.id, i.name, i.format, render.size(i.size_bytes), i.state.value, i.os,
          _short_checksum(i.checksum, 12)] for i in images]))


def _short_checksum(checksum: str, digits: int = 16) -> str:
    """`blake3:0123…` — the algorithm and the first `digits` hex digits."""
    algorithm, _, value = checksum.rpartition(":")
    if not value:
        return ""
    return f"{algorithm}:{value[:digits]}…" if algorithm else f"{value[:digits]}…"


def _image_disks(image: Any) -> list[str]:
    return [f"disk {d.position}: {d.role} {d.size_gib} GiB {d.format}"
            f"{' encrypted' if d.encrypted else ''} {_short_checksum(d.checksum)}"
            f" (from {d.source_disk_name or '?'}) {d.path}" for d in image.disks]


async def image_show(cloud: Cloud, args: argparse.Namespace) -> None:
    image = cloud.images.get(args.image)
    out(args, image, lambda: "\n".join(
        [f"{k}: {v}" for k, v in render.to_jsonable(image).items() if k != "disks"]
        + _image_disks(image)))


def _progress(args: argparse.Namespace) -> Callable[[float, str], None] | None:
    if args.json or not sys.stderr.isatty():
        return None

    def show(fraction: float, label: str) -> None:
        width = 30
        done = int(fraction * width)
        sys.stderr.write(f"\r{label} [{'#' * done}{'.' * (width - done)}] {fraction:4.0%}")
        if fraction >= 1:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


async def image_import(cloud: Cloud, args: argparse.Namespace) -> None:
    if args.kernel or args.initrd:
        if not (args.kernel and args.initrd) or args.path:
            raise ValidationError("a kernel image needs --kernel and --initrd and no PATH")
        image = await cloud.images.import_kernel(
            args.kernel, args.initrd, args.name,
            cmdline=args.cmdline or "console=ttyS0 panic=-1 quiet", os_name=args.os or "")
    else:
        if not args.path:
            raise ValidationError("give a disk image PATH or URL, or --kernel and --initrd")
        if args.path.startswith(("http://", "https://")):
            image = await cloud.images.import_url(args.path, args.name, args.os or "",
                                                  args.checksum, progress=_progress(args))
        else:
            image = await cloud.images.import_disk(args.path, args.name, args.os or "",
                                                   progress=_progress(args))
    out(args, image, lambda: f"imported {image.name} ({image.id}, {image.format}, "
        f"{render.size(image.size_bytes)}, {_short_checksum(image.checksum)})")


async def image_create_from_instance(cloud: Cloud, args: argparse.Namespace) -> None:
    image = await cloud.images.create_from_instance(args.instance, args.name, _progress(args),
                                                    full=args.full)
    data = f" + {len(image.data_disks)} data disk(s)" if args.full else ""
    out(args, image, lambda: f"created image {image.name} ({image.id}) from {args.instance}:"
        f" system disk{data}")


async def image_delete(cloud: Cloud, args: argparse.Namespace) -> None:
    cloud.images.delete(args.image)
    out(args, {"deleted": args.image}, lambda: f"deleted image {args.image}")


# ---- instance -----------------------------------------------------------------------
def _instance_rows(instances: list[Any]) -> str:
    return render.table(
        ["ID", "NAME", "STATE", "TYPE", "VCPU/MEM", "IMAGE", "PORTS", "UPTIME", "TAGS"],
        [[i.id, i.name, i.state.value, i.type, f"{i.vcpus}/{i.memory_mib}M", i.image_name,
          " ".join(f"{f.host_port}->{f.guest_port}" for f in i.forwards),
          render.duration(i.uptime), ",".join(f"{k}={v}" for k, v in i.tags.items())]
         for i in instances])


def _instance_detail(inst: Any) -> str:
    lines = [
        f"id:        {inst.id}", f"name:      {inst.name}", f"state:     {inst.state.value}",
        f"type:      {inst.type} ({inst.vcpus} vCPU, {inst.memory_mib} MiB)",
        f"image:     {inst.image_name} ({inst.image_id})", f"accel:     {inst.accel}",
        f"pid:       {inst.pid or '-'}", f"uptime:    {render.duration(inst.uptime)}",
        f"created:   {render.when(inst.created_at)}",
        f"tags:      {', '.join(f'{k}={v}' for k, v in inst.tags.items()) or '-'}",
        f"runtime:   {inst.runtime_dir}",
    ]
    if inst.last_error:
        lines.append(f"error:     {inst.last_error}")
    lines.append(f"groups:    {', '.join(inst.security_groups) or '-'}")
    if inst.key_pair or inst.hostname:
        lines.append(f"key pair:  {inst.key_pair or '-'}   hostname: {inst.hostname or '-'}")
    if inst.network:
        lines.append(f"network:   {inst.network} {inst.ip}")
    elif inst.egress_restricted:
        lines.append("egress:    denied (restrict=on)")
    for f in inst.forwards:
        lines.append(f"forward:   {f.protocol} {f.host_addr}:{f.host_port} -> guest {f.guest_port}")
    for d in inst.disks:
        lines.append(f"disk:      {d.id} {d.name} {d.role} {d.size_gib} GiB {d.state.value}")
    return "\n".join(lines)


async def instance_list(cloud: Cloud, args: argparse.Namespace) -> None:
    instances = cloud.instances.list()
    out(args, instances, lambda: _instance_rows(instances))


async def instance_show(cloud: Cloud, args: argparse.Namespace) -> None:
    inst = cloud.instances.get(args.instance)
    out(args, inst, lambda: _instance_detail(inst))


async def instance_create(cloud: Cloud, args: argparse.Namespace) -> None:
    from backend.network.instance_net import check_user_data_file

    user_data = check_user_data_file(args.user_data) if args.user_data else None
    inst = await cloud.instances.create(
        args.name, args.image, args.type, tags=parse_tags(args.tag), disk_gib=args.disk,
        start=not args.no_start, wait=args.wait, wait_timeout=args.timeout,
        sgs=args.sg or None, keypair=args.keypair, user_data=user_data,
        hostname=args.hostname, network=args.network)
    out(args, inst, lambda: f"created {inst.name} ({inst.id}): {inst.state.value}, ports "
        + " ".join(f"{f.host_addr}:{f.host_port}->{f.guest_port}" for f in inst.forwards))


def _power(verb: str) -> Handler:
    async def run(cloud: Cloud, args: argparse.Namespace) -> None:
        method = getattr(cloud.instances, verb.replace("-", "_"))
        kwargs = {"wait": args.wait, "timeout": args.timeout} if verb == "start" else {}
        inst = await method(args.instance, **kwargs)
        out(args, inst, lambda: f"{inst.name}: {inst.state.value}")

    return run


async def instance_delete(cloud: Cloud, args: argparse.Namespace) -> None:
    inst = cloud.instances.get(args.instance)
    if not args.yes:
        if not sys.stdin.isatty():
            raise ValidationError(f"refusing to delete {inst.name} without --yes")
        answer = input(f"delete instance {inst.name} ({inst.id}) and its system disk? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            raise ValidationError("not deleted")
    await cloud.instances.delete(inst.id)
    out(args, {"deleted": inst.id, "name": inst.name}, lambda: f"deleted {inst.name}")


async def instance_tag(cloud: Cloud, args: argparse.Namespace) -> None:
    inst = cloud.instances.tag(args.instance, parse_tags(args.tag), args.remove)
    out(args, inst.tags, lambda: ", ".join(f"{k}={v}" for k, v in inst.tags.items()) or "-")


async def instance_console(cloud: Cloud, args: argparse.Namespace) -> None:
    from app.cli.serial import attach

    inst = cloud.instances.get(args.instance)
    await attach(inst)


async def instance_ssh(cloud: Cloud, args: argparse.Namespace) -> None:
    from backend.compute.console import ssh_argv

    inst = cloud.instances.get(args.instance)
    key = args.identity or (cloud.keypairs.get(inst.key_pair).private_key_path
                            if inst.key_pair else "")
    argv = ssh_argv(inst, args.user, key or None)
    cloud.close()
    os.execv(argv[0], argv)


# ---- event, doctor ------------------------------------------------------------------
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


async def doctor(cloud: Cloud, args: argparse.Namespace) -> None:
    from app.cli.doctor import checks

    results = checks(cloud)
    out(args, results, lambda: "\n".join(
        f"{'ok  ' if r['ok'] else 'FAIL'} {r['check']}: {r['detail']}" for r in results))
    if not all(r["ok"] for r in results if r.get("required")):
        raise SystemExit(1)


# ---- parser -------------------------------------------------------------------------
def build_parser() -> Parser:
    parser = Parser(prog="lecs", description="lecs: a local Elastic Compute Service over QEMU."
                    " Run with no arguments for the dashboard.")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    nouns = parser.add_subparsers(dest="noun", metavar="NOUN", parser_class=Parser)

    t = noun(nouns, "type", "instance types")
    verb(t, "list", type_list, "list instance types")

    im = noun(nouns, "image", "images")
    verb(im, "list", image_list, "list images")
    verb(im, "show", image_show, "show an image").add_argument("image")
    p = verb(im, "import", image_import, "import a disk image (file or http(s) URL) or a"
             " kernel+initrd")
    p.add_argument("path", nargs="?", help="a file, or an http:// or https:// URL")
    p.add_argument("--checksum", help="sha256:HEX (or blake3:HEX) to verify a download against")
    p.add_argument("--name", required=True)
    p.add_argument("--kernel")
    p.add_argument("--initrd")
    p.add_argument("--cmdline")
    p.add_argument("--os")
    p = verb(im, "create-from-instance", image_create_from_instance,
             "an image of a stopped instance's system disk (--full: and its data disks)")
    p.add_argument("instance")
    p.add_argument("--name", required=True)
    p.add_argument("--full", "--with-data", action="store_true", dest="full",
                   help="a full-instance image: the system disk and every attached data disk")
    verb(im, "delete", image_delete, "delete an image").add_argument("image")

    ins = noun(nouns, "instance", "instances")
    verb(ins, "list", instance_list, "list instances")
    verb(ins, "show", instance_show, "show an instance").add_argument("instance")
    p = verb(ins, "create", instance_create, "create (and start) an instance")
    p.add_argument("name")
    p.add_argument("--image", required=True)
    p.add_argument("--type", required=True)
    p.add_argument("--disk", type=int, help="system disk size in GiB")
    p.add_argument("--tag", action="append", default=[], help="KEY=VALUE, repeatable")
    p.add_argument("--no-start", action="store_true", help="create stopped")
    p.add_argument("--sg", action="append", default=[],
                   help="security group, repeatable (default: default)")
    p.add_argument("--keypair", help="key pair whose public key the guest authorizes")
    p.add_argument("--user-data", metavar="FILE", help="a #! script or #cloud-config")
    p.add_argument("--hostname", help="guest hostname (NoCloud meta-data)")
    p.add_argument("--network", help="a bridge network (root); default user-mode networking")
    p.add_argument("--wait", action="store_true", help="wait until the guest is ready")
    p.add_argument("--timeout", type=float, default=120.0)
    p = verb(ins, "start", _power("start"), "start a stopped instance")
    p.add_argument("instance")
    p.add_argument("--wait", action="store_true")
    p.add_argument("--timeout", type=float, default=120.0)
    for name, text in (("stop", "ACPI power-off, then quit after a timeout"),
                       ("reboot", "reset the instance"),
                       ("force-stop", "power off at once")):
        verb(ins, name, _power(name), text).add_argument("instance")
    p = verb(ins, "delete", instance_delete, "delete an instance and its system disk")
    p.add_argument("instance")
    p.add_argument("--yes", "-y", action="store_true")
    p = verb(ins, "tag", instance_tag, "add or remove tags")
    p.add_argument("instance")
    p.add_argument("--tag", action="append", default=[], help="KEY=VALUE to set")
    p.add_argument("--remove", action="append", default=[], help="KEY to remove")
    verb(ins, "console", instance_console, "attach to the serial console (ctrl+] detaches)"
         ).add_argument("instance")
    p = verb(ins, "ssh", instance_ssh, "ssh to the instance's forwarded port")
    p.add_argument("instance")
    p.add_argument("--user", default="root")
    p.add_argument("--identity", "-i", default="", help="private key (default: the key"
                   " pair's, when lecs knows it)")

    ev = noun(nouns, "event", "the audit trail")
    p = verb(ev, "list", event_list, "list events, newest first")
    p.add_argument("--resource")
    p.add_argument("--limit", type=int, default=50)

    for module in EXTENSIONS:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module).register(nouns)

    p = nouns.add_parser("doctor", help="check QEMU, qemu-img, KVM, dirs")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(handler=doctor)
    return parser


async def _run(args: argparse.Namespace) -> None:
    cloud = await Cloud.open()
    try:
        await args.handler(cloud, args)
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
