"""`lecs instance …`: create, list, show, power, tag, delete, serial console and ssh."""

from __future__ import annotations

import argparse
import os
from typing import Any

from app import render
from app.cli import instance_ops
from app.cli.output import Handler, confirm, destructive, noun, out, progress_bar, verb
from backend import Cloud
from backend.compute.readiness import Readiness
from backend.inventory.errors import LecsError, ValidationError
from backend.inventory.records import InstanceState
from backend.inventory.validate import tags as parse_tags


def _instance_rows(instances: list[Any]) -> str:
    return render.table(
        ["ID", "NAME", "STATE", "TYPE", "VCPU/MEM", "IMAGE", "PORTS", "UPTIME", "TAGS"],
        [[i.id, i.name, i.state.value, i.type, f"{i.vcpus}/{i.memory_mib}M", i.image_name,
          " ".join(f"{f.host_port}->{f.guest_port}" for f in i.forwards),
          render.duration(i.uptime), ",".join(f"{k}={v}" for k, v in i.tags.items())]
         for i in instances])


def _instance_detail(inst: Any, answer: str = "", egress: str = "",
                     seed: dict[str, str] | None = None, level: str = "") -> str:
    state = inst.state.value + (f" ({level})" if level else "") + (f", {answer}" if answer else "")
    if inst.state is InstanceState.PAUSED and not inst.last_error:  # not an I/O error's pause
        state += f" (lecs instance pause; `lecs instance resume {inst.name}` continues it)"
    lines = [
        f"id:        {inst.id}", f"name:      {inst.name}", f"state:     {state}",
        f"type:      {inst.type} ({inst.vcpus} vCPU, {inst.memory_mib} MiB)",
        f"image:     {inst.image_name} ({inst.image_id})", f"login:     {inst.login_user}",
        f"accel:     {inst.accel}",
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
    if seed:
        lines.append(f"seed:      {seed['path']} ({seed['device']}; user-data:"
                     f" {seed['user_data']})")
    return "\n".join(lines)


async def instance_list(cloud: Cloud, args: argparse.Namespace) -> None:
    instances = cloud.instances.list()
    wanted_tags = parse_tags(args.tag)
    if args.state:
        known = {s.value for s in InstanceState}
        if args.state not in known:
            raise ValidationError(f"invalid --state {args.state!r}: one of"
                                  f" {', '.join(sorted(known - {'deleted'}))}")
        instances = [i for i in instances if i.state.value == args.state]
    instances = [i for i in instances
                 if all(i.tags.get(k) == v for k, v in wanted_tags.items())]
    out(args, instances, lambda: _instance_rows(instances))


async def instance_show(cloud: Cloud, args: argparse.Namespace) -> None:
    inst = cloud.instances.get(args.instance)
    answer = ""
    if inst.state in (InstanceState.RUNNING, InstanceState.PAUSED):
        try:  # QEMU's own runstate: a guest an I/O error paused shows as paused
            if await cloud.instances.follow_status(inst.id):
                inst = cloud.instances.get(inst.id, reconcile=False)
        except LecsError as exc:  # alive (the pid is proven) but QMP does not answer
            answer = f"not answering ({exc})"
    isolation = cloud.sgs.egress_status(inst.id)
    seed = cloud.instances.net.seed_view(
        inst.id, disk_image=not cloud.images.get(inst.image_id).is_kernel)
    level = cloud.instances.readiness(inst)  # booting, ready, configured (running only)
    shown = {**render.to_jsonable(inst), "qmp": answer or "ok", "isolation": isolation,
             "seed": seed, "readiness": level.value if level else None}
    out(args, shown if args.json else inst,
        lambda: _instance_detail(inst, answer, isolation, seed, level.value if level else ""))


async def instance_port(cloud: Cloud, args: argparse.Namespace) -> None:
    """`lecs instance port web1 80` → 127.0.0.1:50345: where a guest port is on the host."""
    inst = cloud.instances.get(args.instance)
    proto = args.udp and "udp" or "tcp"
    found = [f for f in inst.forwards if f.guest_port == args.port and f.protocol == proto]
    if not found:
        open_ports = ", ".join(f"{f.protocol}/{f.guest_port}" for f in inst.forwards) or "none"
        raise ValidationError(f"instance {inst.name!r} forwards no {proto} port {args.port}"
                              f" (forwarded: {open_ports}; add a rule to one of its groups)")
    fwd = found[0]
    host = "127.0.0.1" if fwd.host_addr == "0.0.0.0" else fwd.host_addr
    out(args, {"host": host, "port": fwd.host_port, "bound": fwd.host_addr,
               "guest_port": fwd.guest_port, "protocol": fwd.protocol},
        lambda: f"{host}:{fwd.host_port}")


async def instance_create(cloud: Cloud, args: argparse.Namespace) -> None:
    from backend.network.instance_net import check_user_data_file

    user_data = check_user_data_file(args.user_data) if args.user_data else None
    create: dict[str, Any] = dict(
        image=args.image, itype=args.type or cloud.types.default(), tags=parse_tags(args.tag),
        disk_gib=args.disk,
        start=not args.no_start, wait=_level(args.wait), wait_timeout=args.timeout,
        sgs=args.sg or None, keypair=args.keypair, user_data=user_data,
        hostname=args.hostname, network=args.network)
    if args.count is not None:  # NAME-1 … NAME-N, side by side
        await instance_ops.create_many(cloud, args, **create)
        return
    inst = await cloud.instances.create(args.name, **create)
    out(args, inst, lambda: f"created {inst.name} ({inst.id}): {inst.state.value}, ports "
        + " ".join(f"{f.host_addr}:{f.host_port}->{f.guest_port}" for f in inst.forwards))


def _wait_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", nargs="?", const="ready", default=None, metavar="LEVEL",
                   choices=[r.value for r in Readiness if r is not Readiness.BOOTING],
                   help="wait until the guest is ready (SSH answers); --wait=configured:"
                   " until its user-data ran (cloud-init finished)")


def _level(wait: str | None) -> Readiness | bool:
    return Readiness(wait) if wait else False


def _power(verb: str) -> Handler:
    async def run(cloud: Cloud, args: argparse.Namespace) -> None:
        method = getattr(cloud.instances, verb.replace("-", "_"))
        kwargs: dict[str, Any] = {}
        if verb in ("start", "reboot"):
            kwargs = {"wait": _level(args.wait), "timeout": args.timeout}
        if verb == "reboot":
            kwargs.update(force=args.force, shutdown_timeout=args.shutdown_timeout,
                          progress=None if args.force else progress_bar(args))
        elif verb == "stop":
            kwargs = {"timeout": args.timeout, "progress": progress_bar(args)}
        inst = await method(args.instance, **kwargs)
        out(args, inst, lambda: f"{inst.name}: {inst.state.value}")

    return run


async def instance_delete(cloud: Cloud, args: argparse.Namespace) -> None:
    inst = cloud.instances.get(args.instance)
    confirm(args, f"delete instance {inst.name} ({inst.id}) and its system disk")
    await cloud.instances.delete(inst.id)
    out(args, {"deleted": inst.id, "name": inst.name}, lambda: f"deleted {inst.name}")


async def instance_tag(cloud: Cloud, args: argparse.Namespace) -> None:
    inst = cloud.instances.tag(args.instance, parse_tags(args.tag), args.remove)
    out(args, inst.tags, lambda: ", ".join(f"{k}={v}" for k, v in inst.tags.items()) or "-")


async def instance_console(cloud: Cloud, args: argparse.Namespace) -> None:
    from app.cli.serial import attach

    inst = cloud.instances.get(args.instance)
    await attach(inst)


def _ssh_options(p: argparse.ArgumentParser, defaults: bool = True) -> argparse.ArgumentParser:
    p.add_argument("--user", default="" if defaults else argparse.SUPPRESS,
                   help="login user (default: its image's login user, e.g. root for the tiny"
                   " guest, debian for Debian's cloud image)")
    p.add_argument("--identity", "-i", default="" if defaults else argparse.SUPPRESS,
                   help="private key (default: the key pair's, when lecs knows it)")
    return p


def _ssh_command(args: argparse.Namespace) -> list[str]:
    """The remote command after `--`; options between NAME and `--` (which argparse leaves
    in the remainder) are the verb's own."""
    rest = list(args.command)
    if "--" not in rest:
        return rest
    cut = rest.index("--")
    if cut:
        parser = _ssh_options(argparse.ArgumentParser(add_help=False, exit_on_error=False),
                              defaults=False)
        try:
            _known, extra = parser.parse_known_args(rest[:cut], namespace=args)
        except argparse.ArgumentError as exc:
            raise ValidationError(f"lecs instance ssh: {exc}") from None
        if extra:
            raise ValidationError(f"lecs instance ssh: unknown {' '.join(extra)!r} before --"
                                  " (options: --user, --identity/-i; then -- COMMAND)")
    return rest[cut + 1:]


async def instance_ssh(cloud: Cloud, args: argparse.Namespace) -> None:
    from backend.compute.console import ssh_argv

    command = _ssh_command(args)
    inst = cloud.instances.get(args.instance)
    key = args.identity or (cloud.keypairs.get(inst.key_pair).private_key_path
                            if inst.key_pair else "")
    argv = ssh_argv(inst, args.user or inst.login_user, key or None, command)
    cloud.close()
    os.execv(argv[0], argv)


def register(nouns: Any) -> None:
    ins = noun(nouns, "instance", "instances")
    p = verb(ins, "list", instance_list, "list instances")
    p.add_argument("--tag", action="append", default=[], help="KEY=VALUE: only those tagged so"
                   " (repeatable: all must match)")
    p.add_argument("--state", help="only instances in this state (running, stopped, …)")
    verb(ins, "show", instance_show, "show an instance").add_argument("instance")
    p = verb(ins, "create", instance_create, "create (and start) an instance")
    p.add_argument("name")
    p.add_argument("--image", required=True)
    p.add_argument("--type", help="instance type (default: t1.nano, see `lecs type list`)")
    p.add_argument("--disk", type=int, help="system disk size in GiB")
    p.add_argument("--tag", action="append", default=[], help="KEY=VALUE, repeatable")
    p.add_argument("--no-start", action="store_true", help="create stopped")
    p.add_argument("--sg", action="append", default=[],
                   help="security group, repeatable (default: default)")
    p.add_argument("--keypair", help="key pair whose public key the guest authorizes")
    p.add_argument("--user-data", metavar="FILE", help="a #! script or #cloud-config")
    p.add_argument("--hostname", help="guest hostname (NoCloud meta-data)")
    p.add_argument("--network", help="a bridge network (root); default user-mode networking")
    _wait_option(p)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--count", type=int, metavar="N", help="make NAME-1 … NAME-N side by side")
    bulk, several = instance_ops.bulk, instance_ops.several  # several names, --tag, --all
    p = several(verb(ins, "start", bulk("start", _power("start")), "start stopped instances"))
    _wait_option(p)
    p.add_argument("--timeout", type=float, default=120.0)
    p = several(verb(ins, "stop", bulk("stop", _power("stop")), "ACPI power-off (pressed again"
                     " every 3 s), then quit after --timeout"))
    p.add_argument("--timeout", type=float, default=None, help="seconds (default 30)")
    p = several(verb(ins, "reboot", bulk("reboot", _power("reboot")), "clean reboot: the"
                     " guest shuts down (ACPI power button, pressed again every 3 s) and starts"
                     " again"))
    p.add_argument("--force", action="store_true",
                   help="reset at once, without the guest's shutdown (unsynced data is lost)")
    p.add_argument("--shutdown-timeout", type=float, default=None,
                   help="seconds for the guest to shut down before it is reset (default 30)")
    _wait_option(p)
    p.add_argument("--timeout", type=float, default=120.0)
    verb(ins, "force-stop", _power("force-stop"), "power off at once").add_argument("instance")
    p = verb(ins, "delete", bulk("delete", instance_delete), "delete instances and their"
             " system disks")
    several(destructive(p))
    p = verb(ins, "tag", instance_tag, "add or remove tags")
    p.add_argument("instance")
    p.add_argument("--tag", action="append", default=[], help="KEY=VALUE to set")
    p.add_argument("--remove", action="append", default=[], help="KEY to remove")
    verb(ins, "console", instance_console, "attach to the serial console (ctrl+] detaches)"
         ).add_argument("instance")
    p = verb(ins, "port", instance_port, "the host address:port of a guest port")
    p.add_argument("instance")
    p.add_argument("port", type=int)
    p.add_argument("--udp", action="store_true", help="a udp port (default tcp)")
    p = verb(ins, "ssh", instance_ssh, "ssh to the instance's forwarded port 22 (exits with"
             " ssh's status)")
    _ssh_options(p).add_argument("instance")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND …: run it instead of"
                   " a login shell")
    instance_ops.register(ins)
