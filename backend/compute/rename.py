"""`lecs instance rename NAME NEW` (ECS ModifyInstanceAttribute InstanceName): one
transaction; the unique index on instances.name decides a race. The id, disks (and their
names), ports and QEMU stay as they are; a hostname that was the old name by default follows
the new one at the next boot (a seed made from the name is rewritten then)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.compute.guard import guarded
from backend.compute.records import Instance
from backend.inventory import validate
from backend.inventory.errors import ConflictError

if TYPE_CHECKING:
    from backend.compute.instances import Instances


async def rename(inst: Instances, ref: str, new: str) -> Instance:
    async with guarded(inst, "rename", ref, {"new_name": new}) as g:
        validate.name(new, "instance name")
        if new == g.row["name"]:
            return inst.get(g.row["id"], reconcile=False)
        g.audit.parameters["old_name"] = g.row["name"]
        try:
            inst._set(g.row["id"], name=new)
        except ConflictError:
            raise ConflictError(f"an instance named {new!r} exists already") from None
    return inst.get(g.row["id"], reconcile=False)
