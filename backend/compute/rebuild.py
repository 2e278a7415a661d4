"""`lecs instance rebuild NAME --image IMG [--keep-old]` (ECS ReplaceSystemDisk): a stopped
instance gets a fresh copy-on-write system disk from IMG (another image or the same one).
Its id, name, data disks, security groups, key pair, tags and host ports stay; so do its
NoCloud seed and user-data record. The old system disk is deleted, or with `--keep-old` kept
as a detached disk (`NAME-old-<its id>`, available: attach it elsewhere, snapshot it,
delete it), with its snapshots.

Journal: effect `instance.rebuild` (the new disk's id and file, the old one's, keep-old)
before the new file exists. The switch is one transaction; recovery (`recover`) looks
whether it happened: no → the new file goes (rolled back); yes → the old file goes unless
kept (finished). Both are idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.compute.guard import guarded
from backend.compute.records import Instance
from backend.compute.system_disk import make_system_disk
from backend.inventory import journal
from backend.inventory.errors import ConflictError, StateError
from backend.inventory.ids import new_id
from backend.inventory.records import DiskState

if TYPE_CHECKING:
    from backend.compute.instances import Instances

EFFECT = "instance.rebuild"


async def rebuild(inst: Instances, ref: str, image: str, keep_old: bool = False) -> Instance:
    params = {"image": image, "keep_old": keep_old}
    async with guarded(inst, "rebuild", ref, params) as g:
        source = inst.images.get(image)
        if source.state.value != "available":
            raise StateError(f"image {source.name!r} is {source.state.value}, not available")
        instance_id, name = g.row["id"], g.row["name"]
        old = inst.store.row("SELECT * FROM disks WHERE instance_id = ? AND role = 'system'",
                             [instance_id])
        if old is None:
            raise StateError(f"instance {name!r} has no system disk to replace")
        wanted = f"{name}-system"
        if inst.store.row("SELECT id FROM disks WHERE name = ? AND id != ?", [wanted, old["id"]]):
            raise ConflictError(f"a disk named {wanted!r} exists already (the new system disk"
                                " needs that name)")
        g.audit.parameters["old_disk"] = old["id"]
        disk_id = new_id("d")
        path = inst.paths.disks / f"{disk_id}.qcow2"
        g.op.effect(EFFECT, instance=instance_id, disk=disk_id, file=str(path),
                    old=old["id"], old_file=old["path"], keep_old=keep_old)
        blank = source.is_kernel and not source.path  # a kernel alone: a blank disk
        try:
            made = await make_system_disk(inst.paths, disk_id, instance_id, name, source,
                                          old["size_gib"] if blank else None)
            journal.step("disk")
            _switch(inst, instance_id, source.id, made, old, keep_old)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        journal.step("switched")
        if not keep_old:
            _remove_file(inst, old["path"], old["id"])
    return inst.get(instance_id, reconcile=False)


def _switch(inst: Instances, instance_id: str, image_id: str, made: dict[str, Any],
            old: dict[str, Any], keep_old: bool) -> None:
    """One transaction: the old system disk detached (kept) or gone, the new one in."""
    with inst.store.transaction() as db:
        if keep_old:
            db.table("disks").update(old["id"], {
                "name": f"{inst._row(instance_id)['name']}-old-{old['id']}", "role": "data",
                "instance_id": None, "state": DiskState.AVAILABLE.value,
                "delete_with_instance": 0, "position": 0})
        else:
            db.execute("DELETE FROM snapshots WHERE disk_id = ?", [old["id"]])
            db.execute("DELETE FROM tags WHERE resource_id = ?", [old["id"]])
            db.table("disks").delete(old["id"])
        db.table("disks").insert(made)
        db.table("instances").update(instance_id, {"image_id": image_id})


def _remove_file(inst: Instances, name: str, disk_id: str) -> None:
    from backend.storage.keystore import key_path

    path = Path(name).resolve()
    if path.is_relative_to(inst.paths.home.resolve()):  # never anything outside LECS_HOME
        path.unlink(missing_ok=True)
    key_path(inst.paths, disk_id).unlink(missing_ok=True)


async def recover(inst: Instances, action: str, data: dict[str, Any]) -> None:
    instance_id, disk_id = str(data["instance"]), str(data["disk"])
    async with inst.locks.hold(instance_id):
        switched = inst.store.row("SELECT id FROM disks WHERE id = ?", [disk_id]) is not None
        if not switched:
            _remove_file(inst, str(data["file"]), disk_id)
        elif not data.get("keep_old") and inst.store.row(
                "SELECT id FROM disks WHERE id = ?", [str(data["old"])]) is None:
            _remove_file(inst, str(data["old_file"]), str(data["old"]))
    inst.audit.record("instance.recover", instance_id,
                      {"interrupted": action,
                       "outcome": "finished" if switched else "rolled back"}, "success", "")
