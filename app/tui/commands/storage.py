"""Palette commands per disk, snapshot, instance backup and running image import."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from backend.inventory.records import InstanceState

if TYPE_CHECKING:
    from app.tui.commands.palette import Command, Controls


def storage_commands(app: Controls) -> Iterator[Command]:
    """Palette entries: one per action and disk, snapshot, instance and running import."""
    owners = {i.id: i.name for i in app.instances}
    for d in app.cloud.disks.list():
        ref = f"{d.name} ({d.size_gib} GiB, {d.state.value})"
        yield f"Snapshots of disk {d.name}", f"{ref}: details and snapshot tree", \
            partial(app.open_disk_detail, d.id)
        if d.instance_id:
            yield f"Detach disk {d.name}", f"{ref}: from {owners.get(d.instance_id, '?')}", \
                partial(app.detach_disk, d.id)
        else:
            yield f"Attach disk {d.name}", f"{ref}: to an instance", partial(app.attach_disk, d.id)
            yield f"Delete disk {d.name}", f"{ref}: asks first", partial(app.delete_disk, d.id)
        yield f"Resize disk {d.name}", f"{ref}: grow", partial(app.resize_disk, d.id)
        yield f"Snapshot disk {d.name}", f"{ref}: take a snapshot", partial(app.snapshot_disk, d.id)
    for s in app.cloud.snapshots.list():
        ref = f"snapshot of {s.disk_name}"
        yield f"Roll back to snapshot {s.name}", f"{ref}: asks first", \
            partial(app.rollback_snapshot, s.id)
        yield f"Delete snapshot {s.name}", f"{ref}: asks first", partial(app.delete_snapshot, s.id)
    yield "Backups", "list, restore onto a stopped instance, delete", app.open_backups
    for inst in app.instances:
        yield f"Back up {inst.name}", f"{inst.name}: all its disks, with progress", \
            partial(app.backup_instance, inst.id)
        if inst.state is InstanceState.STOPPED:
            yield f"Create image from {inst.name}", "an image of its system disk", \
                partial(app.create_image, inst.id)
    for op in app.ops.running.values():
        if op.cancel is not None:
            yield f"Cancel {op.label}", "stop it and remove what it wrote", \
                partial(app.action_cancel_op, op.id)
