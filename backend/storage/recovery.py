"""What a killed disk operation leaves, made right (the journal's `disk.sync` handler).

One rule for create, attach, detach, resize and delete: the row follows reality.
- No row (a create killed before its row, or a delete after it): the file and key go.
- `creating`: the create died; row, file and key go (rolled back).
- `resizing`: the file's virtual size (read with -U: QEMU may hold it) becomes the row's.
- An attach or detach on a running instance: the row follows QEMU's device. QEMU has it: the
  disk is attached (an attach that got that far is finished, a detach the guest never
  acknowledged did not happen). QEMU has no device: the disk is not attached, and a block
  node or secret left behind is removed (neither needs the guest's cooperation).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.inventory.records import DiskState as D
from backend.inventory.records import InstanceState

if TYPE_CHECKING:
    from backend.storage.disks import Disks

GIB = 1 << 30


async def sync(disks: Disks, action: str, data: dict[str, Any]) -> None:
    disk_id = str(data["disk"])
    if not disk_id.startswith("d-") or "/" in disk_id:
        return  # not an id lecs made: touch nothing
    async with disks.locks.hold(disk_id):
        outcome = await _sync(disks, disk_id, data)
    if outcome:
        disks.audit.record("disk.recover", disk_id, {"interrupted": action, "outcome": outcome},
                           "success", "")


def _forget_files(disks: Disks, disk_id: str, path: str) -> None:
    if path:
        file = Path(path).resolve()
        if file.is_relative_to(disks.paths.disks.resolve()):
            file.unlink(missing_ok=True)
    disks.keys.remove(disk_id)


async def _sync(disks: Disks, disk_id: str, data: dict[str, Any]) -> str:
    from backend.drivers.qemu import img

    row = disks.store.row("SELECT * FROM disks WHERE id = ?", [disk_id])
    if row is None:
        _forget_files(disks, disk_id, str(data.get("path", "")))
        return "no row: its file removed"
    if row["state"] == D.CREATING:
        with disks.store.transaction() as db:
            db.execute("DELETE FROM disks WHERE id = ?", [disk_id])
        _forget_files(disks, disk_id, row["path"])
        return "rolled back: deleted"
    fields: dict[str, Any] = {}
    if row["state"] == D.RESIZING:
        size = int((await img.info(Path(row["path"]), shared=True))["virtual-size"])
        fields["size_gib"] = -(-size // GIB)
        fields["state"] = (D.IN_USE if row["instance_id"] else D.AVAILABLE).value
    instance_id = data.get("instance")
    if instance_id:
        fields.update(await _follow_qemu(disks, row, str(instance_id),
                                         int(data.get("position") or row["position"] or 1)))
    if not fields:
        return ""
    with disks.store.transaction() as db:
        db.table("disks").update(disk_id, fields)
    return ", ".join(f"{k}={v}" for k, v in fields.items())


async def _follow_qemu(disks: Disks, row: dict[str, Any], instance_id: str,
                       position: int) -> dict[str, Any]:
    inst = disks.store.row("SELECT state FROM instances WHERE id = ?", [instance_id])
    if inst is None or inst["state"] != InstanceState.RUNNING:
        return {}  # offline: the row's one transaction happened or not, nothing else to do
    device, node = await disks.driver.disk_plugged(instance_id, row["id"])
    if device:  # QEMU has it (an attach that got that far): the attach is done
        if row["instance_id"] == instance_id:
            return {}
        return {"instance_id": instance_id, "position": position, "state": D.IN_USE.value}
    if node:  # a half-made attach or a half-done detach: the rest needs no guest
        await disks.driver.unplug_disk(instance_id, disks.drive(row), disks.detach_timeout)
    if row["instance_id"] == instance_id:  # a detach the guest had finished
        return {"instance_id": None, "position": 0, "state": D.AVAILABLE.value}
    return {}
