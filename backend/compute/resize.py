"""`lecs instance resize NAME --type T` (ECS ModifyInstanceSpec): a stopped instance gets
another instance type; its next start launches QEMU with the new vCPUs and memory. One
transaction, so its journal entry only says who holds the inventory meanwhile.

`--live` is refused, and says why: QEMU 7.2 hot-adds vCPUs (`device_add` of a CPU model)
and memory (`pc-dimm` or `virtio-mem`) only into room reserved at launch (`-smp
…,maxcpus=N`, `-m …,slots=N,maxmem=M`), and the guest must online what was added; lecs
launches without reserve (every reserved slot costs every guest), so a type change is a
stop, resize, start — as on ECS for most families."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.compute.guard import guarded
from backend.compute.records import Instance
from backend.inventory.errors import LecsError, ValidationError

if TYPE_CHECKING:
    from backend.compute.instances import Instances

LIVE_REFUSED = ("--live is not supported: QEMU 7.2 hot-adds vCPUs and memory only into room"
                " reserved at launch (maxcpus, slots/maxmem), which lecs does not reserve;"
                " stop the instance, resize it, start it")


async def resize(inst: Instances, ref: str, itype: str, live: bool = False) -> Instance:
    params = {"type": itype, "live": live}
    async with guarded(inst, "resize", ref, params, check=not live) as g:
        if live:
            raise LecsError(LIVE_REFUSED)
        flavor = inst.catalogue.get(itype)
        if flavor.name == g.row["type"]:
            raise ValidationError(f"instance {g.row['name']!r} is of type {itype} already")
        g.audit.parameters["old_type"] = g.row["type"]
        inst._set(g.row["id"], type=flavor.name)
    return inst.get(g.row["id"], reconcile=False)
