"""`lecs disk …`, `lecs snapshot …`, `lecs backup …` (registered by app.cli.parser.build_parser)."""

from __future__ import annotations

import argparse
from typing import Any

from app import render
from app.cli.output import confirm, destructive, noun, out, progress_bar, verb
from backend import Cloud
from backend.inventory.errors import ValidationError
from backend.inventory.records import Disk
from backend.storage.records import Backup, Snapshot


def yes_no(value: str) -> bool:
    if value.lower() in {"yes", "y", "true", "1", "on"}:
        return True
    if value.lower() in {"no", "n", "false", "0", "off"}:
        return False
    raise ValidationError(f"expected yes or no, not {value!r}")


# ---- disk ---------------------------------------------------------------------------
def _owners(cloud: Cloud) -> dict[str, str]:
    return {i.id: i.name for i in cloud.instances.list(reconcile=False)}


def _disk_rows(disks: list[Disk], owners: dict[str, str]) -> str:
    return render.table(
        ["ID", "NAME", "SIZE", "ROLE", "STATE", "ATTACHED TO", "DEL W/ INST", "ENCRYPTED"],
        [[d.id, d.name, f"{d.size_gib} GiB", d.role, d.state.value,
          owners.get(d.instance_id or "", "-"), "yes" if d.delete_with_instance else "no",
          "yes" if d.encrypted else "no"] for d in disks])


async def disk_list(cloud: Cloud, args: argparse.Namespace) -> None:
    disks = cloud.disks.list(args.instance)
    out(args, disks, lambda: _disk_rows(disks, _owners(cloud)))


async def disk_show(cloud: Cloud, args: argparse.Namespace) -> None:
    disk = cloud.disks.get(args.disk)
    tree = cloud.snapshots.tree(disk.id)

    def text() -> str:
        lines = [f"{k}: {v}" for k, v in render.to_jsonable(disk).items()]
        lines.append(f"attached_to_name: {_owners(cloud).get(disk.instance_id or '', '-')}")
        lines.append("snapshots:" + ("" if tree else " -"))
        lines += [f"  {'  ' * depth}{'* ' if s.current else ''}{s.name} ({s.id}, "
                  f"{render.when(s.created_at)})" for depth, s in tree]
        return "\n".join(lines)

    out(args, {**render.to_jsonable(disk),
               "snapshots": [{"depth": d, **render.to_jsonable(s)} for d, s in tree]}, text)


async def disk_create(cloud: Cloud, args: argparse.Namespace) -> None:
    disk = await cloud.disks.create(args.name, args.size, encrypted=args.encrypted,
                                    delete_with_instance=args.delete_with_instance)
    out(args, disk, lambda: f"created disk {disk.name} ({disk.id}, {disk.size_gib} GiB"
        f"{', encrypted' if disk.encrypted else ''}): {disk.state.value}")


async def disk_attach(cloud: Cloud, args: argparse.Namespace) -> None:
    disk = await cloud.disks.attach(args.disk, args.instance, args.delete_with_instance)
    out(args, disk, lambda: f"attached {disk.name} to {args.instance}: {disk.state.value}")


async def disk_detach(cloud: Cloud, args: argparse.Namespace) -> None:
    disk = await cloud.disks.detach(args.disk)
    out(args, disk, lambda: f"detached {disk.name}: {disk.state.value}")


async def disk_resize(cloud: Cloud, args: argparse.Namespace) -> None:
    disk = await cloud.disks.resize(args.disk, args.size)
    out(args, disk, lambda: f"resized {disk.name} to {disk.size_gib} GiB")


async def disk_set(cloud: Cloud, args: argparse.Namespace) -> None:
    disk = cloud.disks.set_delete_with_instance(args.disk, yes_no(args.delete_with_instance))
    out(args, disk, lambda: f"{disk.name}: delete_with_instance="
        f"{'yes' if disk.delete_with_instance else 'no'}")


async def disk_delete(cloud: Cloud, args: argparse.Namespace) -> None:
    disk = cloud.disks.get(args.disk)
    confirm(args, f"delete disk {disk.name} ({disk.id}) and its snapshots")
    await cloud.disks.delete(disk.id)
    out(args, {"deleted": disk.id, "name": disk.name}, lambda: f"deleted disk {disk.name}")


# ---- snapshot -----------------------------------------------------------------------
def _snapshot_rows(snaps: list[Snapshot]) -> str:
    return render.table(
        ["ID", "NAME", "DISK", "STATE", "CREATED", "SIZE", "PARENT", "CURRENT"],
        [[s.id, s.name, s.disk_name, s.state.value, render.when(s.created_at),
          render.size(s.size_bytes), s.parent_id or "-", "*" if s.current else ""]
         for s in snaps])


async def snapshot_list(cloud: Cloud, args: argparse.Namespace) -> None:
    snaps = cloud.snapshots.list(args.disk)
    out(args, snaps, lambda: _snapshot_rows(snaps))


async def snapshot_show(cloud: Cloud, args: argparse.Namespace) -> None:
    snap = cloud.snapshots.get(args.snapshot)
    out(args, snap, lambda: "\n".join(f"{k}: {v}" for k, v in render.to_jsonable(snap).items()))


async def snapshot_create(cloud: Cloud, args: argparse.Namespace) -> None:
    snap = await cloud.snapshots.create(args.disk, args.name)
    out(args, snap, lambda: f"created snapshot {snap.name} ({snap.id}) of {snap.disk_name}"
        f"{' (live)' if snap.online else ''}")


async def snapshot_rollback(cloud: Cloud, args: argparse.Namespace) -> None:
    snap = cloud.snapshots.get(args.snapshot)
    confirm(args, f"roll disk {snap.disk_name} back to {snap.name}, losing later writes")
    snap = await cloud.snapshots.rollback(snap.id)
    out(args, snap, lambda: f"rolled {snap.disk_name} back to {snap.name}")


async def snapshot_delete(cloud: Cloud, args: argparse.Namespace) -> None:
    snap = cloud.snapshots.get(args.snapshot)
    confirm(args, f"delete snapshot {snap.name} ({snap.id}) of disk {snap.disk_name}")
    await cloud.snapshots.delete(snap.id)
    out(args, {"deleted": snap.id, "name": snap.name}, lambda: f"deleted snapshot {snap.name}")


# ---- backup -------------------------------------------------------------------------
def _backup_rows(backups: list[Backup]) -> str:
    return render.table(
        ["ID", "NAME", "INSTANCE", "STATE", "CREATED", "DISKS", "SIZE", "MODE"],
        [[b.id, b.name, b.instance_name, b.state.value, render.when(b.created_at),
          len(b.disks), render.size(b.size_bytes), "live" if b.online else "offline"]
         for b in backups])


def _backup_detail(b: Backup) -> str:
    lines = [f"{k}: {v}" for k, v in render.to_jsonable(b).items() if k != "disks"]
    lines += [f"disk: {d.disk_id} {d.disk_name} {d.role} {render.size(d.virtual_size)}"
              f" (stored {render.size(d.size_bytes)}){' encrypted' if d.encrypted else ''}"
              for d in b.disks]
    return "\n".join(lines)


async def backup_list(cloud: Cloud, args: argparse.Namespace) -> None:
    backups = cloud.backups.list(args.instance)
    out(args, backups, lambda: _backup_rows(backups))


async def backup_show(cloud: Cloud, args: argparse.Namespace) -> None:
    backup = cloud.backups.get(args.backup)
    out(args, backup, lambda: _backup_detail(backup))


async def backup_create(cloud: Cloud, args: argparse.Namespace) -> None:
    backup = await cloud.backups.create(args.instance, args.name, progress_bar(args))
    out(args, backup, lambda: f"created backup {backup.name} ({backup.id}) of "
        f"{backup.instance_name}: {len(backup.disks)} disk(s), {render.size(backup.size_bytes)}"
        f"{' (live, crash-consistent)' if backup.online else ''}")


async def backup_restore(cloud: Cloud, args: argparse.Namespace) -> None:
    backup = cloud.backups.get(args.backup)
    confirm(args, f"overwrite the disks of {backup.instance_name} with backup {backup.name}")
    backup = await cloud.backups.restore(backup.id, progress_bar(args))
    out(args, backup, lambda: f"restored {backup.instance_name} from {backup.name}")


async def backup_delete(cloud: Cloud, args: argparse.Namespace) -> None:
    backup = cloud.backups.get(args.backup)
    confirm(args, f"delete backup {backup.name} ({backup.id}) of {backup.instance_name}")
    cloud.backups.delete(backup.id)
    out(args, {"deleted": backup.id, "name": backup.name},
        lambda: f"deleted backup {backup.name}")


# ---- parser -------------------------------------------------------------------------
def register(nouns: Any) -> None:
    d = noun(nouns, "disk", "data and system disks (EVS)")
    verb(d, "list", disk_list, "list disks").add_argument("--instance")
    verb(d, "show", disk_show, "show a disk and its snapshot tree").add_argument("disk")
    p = verb(d, "create", disk_create, "create a blank qcow2 data disk")
    p.add_argument("name")
    p.add_argument("--size", required=True, help="GiB")
    p.add_argument("--encrypted", action="store_true", help="qcow2 LUKS with its own key")
    p.add_argument("--delete-with-instance", action="store_true")
    p = verb(d, "attach", disk_attach, "attach to a stopped or running instance")
    p.add_argument("disk")
    p.add_argument("instance")
    flag = p.add_mutually_exclusive_group()
    flag.add_argument("--delete-with-instance", dest="delete_with_instance",
                      action="store_true", default=None)
    flag.add_argument("--keep-with-instance", dest="delete_with_instance",
                      action="store_false")
    verb(d, "detach", disk_detach, "detach (live from a running instance)").add_argument("disk")
    p = verb(d, "resize", disk_resize, "grow a disk (online if its instance runs)")
    p.add_argument("disk")
    p.add_argument("--size", required=True, help="new size in GiB")
    p = verb(d, "set", disk_set, "change a disk's flags")
    p.add_argument("disk")
    p.add_argument("--delete-with-instance", required=True, metavar="yes|no")
    p = verb(d, "delete", disk_delete, "delete a disk that is not in use")
    destructive(p).add_argument("disk")

    s = noun(nouns, "snapshot", "disk snapshots")
    verb(s, "list", snapshot_list, "list snapshots").add_argument("--disk")
    verb(s, "show", snapshot_show, "show a snapshot").add_argument("snapshot")
    p = verb(s, "create", snapshot_create, "snapshot a disk (live if its instance runs)")
    p.add_argument("disk")
    p.add_argument("--name")
    p = verb(s, "rollback", snapshot_rollback, "roll a disk back (its instance stopped)")
    destructive(p).add_argument("snapshot")
    destructive(verb(s, "delete", snapshot_delete, "delete a snapshot")).add_argument(
        "snapshot")

    b = noun(nouns, "backup", "instance backups (all disks together)")
    verb(b, "list", backup_list, "list backups").add_argument("--instance")
    verb(b, "show", backup_show, "show a backup").add_argument("backup")
    p = verb(b, "create", backup_create, "back up all disks of an instance (live or stopped)")
    p.add_argument("instance")
    p.add_argument("--name")
    p = verb(b, "restore", backup_restore, "restore all disks of a stopped instance")
    destructive(p).add_argument("backup")
    destructive(verb(b, "delete", backup_delete, "delete a backup")).add_argument("backup")
