"""Palette commands per instance (details, console, ssh, tags, power, delete), and each image's
delete."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from app.tui.commands.instance_ops import instance_ops_commands

if TYPE_CHECKING:
    from app.tui.commands.palette import Command, Controls

INSTANCE_OPS = (
    ("start", "Start", "boot the instance"),
    ("stop", "Stop", "power the guest off cleanly"),
    ("reboot", "Reboot", "reset the guest (asks first)"),
    ("force-stop", "Force stop", "kill QEMU (asks first)"),
    ("delete", "Delete", "delete with its system disk (asks first)"),
)


def instance_commands(app: Controls) -> Iterator[Command]:
    for inst in app.instances:
        ref = f"{inst.name} ({inst.state.value})"
        yield f"Details {inst.name}", f"{ref}: disks, ports, events", \
            partial(app.open_detail, inst.id)
        yield f"Console {inst.name}", f"{ref}: serial console", partial(app.open_console, inst.id)
        yield f"SSH {inst.name}", f"{ref}: ssh to the forwarded port", \
            partial(app.ssh_to, inst.id)
        yield f"Tags {inst.name}", f"{ref}: edit tags", partial(app.open_tags, inst.id)
        for op, label, what in INSTANCE_OPS:
            yield f"{label} {inst.name}", f"{ref}: {what}", partial(app.instance_op, op, inst.id)
        yield from instance_ops_commands(app, inst)
    for image in app.cloud.images.list():
        yield f"Delete image {image.name}", f"{image.id}: asks first", \
            partial(app.delete_image, image.id)

