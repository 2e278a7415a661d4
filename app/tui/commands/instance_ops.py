"""Palette commands per instance for issue #15: pause/resume, rename, resize, rebuild,
clone, console output (app/tui/actions/instance_ops.py does each)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from backend.inventory.records import InstanceState as S

if TYPE_CHECKING:
    from app.tui.commands.palette import Command, Controls
    from backend.compute.records import Instance


def instance_ops_commands(app: Controls, inst: Instance) -> Iterator[Command]:
    ref = f"{inst.name} ({inst.state.value})"
    if inst.state is S.RUNNING:
        yield f"Pause {inst.name}", f"{ref}: freeze the guest (asks first)", \
            partial(app.pause_resume, [inst.id])
    if inst.state is S.PAUSED:
        yield f"Resume {inst.name}", f"{ref}: let the guest run again", \
            partial(app.pause_resume, [inst.id])
    yield f"Rename {inst.name}", f"{ref}: a new name (id, disks, ports stay)", \
        partial(app.rename_instance, inst.id)
    yield f"Resize {inst.name}", f"{ref}: another instance type (stopped; pick from a list)", \
        partial(app.resize_instance, inst.id)
    yield f"Rebuild {inst.name}", f"{ref}: new system disk from an image (stopped; asks" \
        " first)", partial(app.rebuild_instance, inst.id)
    yield f"Clone {inst.name}", f"{ref}: new instances with their own disks", \
        partial(app.clone_instance, inst.id)
    yield f"Console log {inst.name}", f"{ref}: the serial output without attaching", \
        partial(app.open_console_log, inst.id)
