"""`lecs instance …`: create, list, show, power, tag, delete, serial console and ssh."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from app import render
from app.cli.output import Handler, noun, out, verb
from backend import Cloud
from backend.inventory.errors import ValidationError
from backend.inventory.validate import tags as parse_tags


def _instance_rows(instances: list[Any]) -> str:
    return render.table(
        ["ID", "NAME", "STATE", "TYPE", "VCPU/MEM", "IMAGE", "PORTS", "UPTIME", "TAGS"],
        [[i.id, i.name, i.state.value, i.type, f"{i.vcpus}/{i.memory_mib}M", i.image_name,
          " ".join(f"{f.host_port}->{f.guest_port}" for f in i.forwards),
          render.duration(i.uptime), ",".join(f"{k}={v}" for k, v in i.tags.items())]
         for i in instances])


def _instance_detail(inst: Any, egress: str = "") -> str:
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
    if egress:
        lines.append(f"isolation: {egress}")
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
    out(args, inst, lambda: _instance_detail(inst, cloud.sgs.egress_status(inst.id)))


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


def register(nouns: Any) -> None:
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
